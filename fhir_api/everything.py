"""A patient's whole record (`Patient/<id>/$everything`) and the clinic's (`$export`), as
FHIR resources. Reads only."""

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db.models import Q

from .search import FINDERS, show_rows

Resource = dict[str, Any]
# What a patient's record holds, Patient first; each type by the field naming the patient.
PATIENT_COMPARTMENT = {
    "Patient": "pk",
    "RelatedPerson": "patient_id",
    "Appointment": "patient_id",
    "Condition": "patient_id",
    "Procedure": "patient_id",
    "Media": "patient_id",
}
# The clinic-wide export: the record types and the clinic's own (who, where, what).
EXPORT_TYPES = (
    *PATIENT_COMPARTMENT,
    "Practitioner",
    "PractitionerRole",
    "HealthcareService",
    "Schedule",
)
EXPORT_CHUNK = 500
# The exported types whose rows know when they last changed (their meta.lastUpdated):
# `_since` keeps their rows changed after it. The others (guardians, photos, the clinic's
# staff and services) are exported whole, as the Bulk Data specification allows for
# resources without a last-updated time.
CHANGED_AT = {
    "Patient": "updated_at",
    "Appointment": "updated_at",
    "Condition": "updated_at",
    "Procedure": "updated_at",
}


def patient_everything(*, patient_id: int, resource_types: list[str]) -> list[Resource]:
    """Every resource of the patient's record of the given types (those the caller's
    scopes allow reading), one query per type."""
    resources: list[Resource] = []
    for resource_type in PATIENT_COMPARTMENT:
        if resource_type not in resource_types:
            continue
        finder = FINDERS[resource_type]
        rows = finder.rows().filter(Q(**{PATIENT_COMPARTMENT[resource_type]: patient_id}))
        resources += show_rows(resource_type, list(rows))
    return resources


def export_lines(
    *, types: list[str], since: datetime | None
) -> Iterator[tuple[str, Iterator[tuple[Resource, int | None]]]]:
    """(type, its resources each with the patient it is about) for each exported type of
    `types` (all when empty), only what changed after `since` where a type knows it; read
    in chunks of EXPORT_CHUNK rows."""
    for resource_type in EXPORT_TYPES:
        if not types or resource_type in types:
            yield resource_type, _all_of(resource_type, since=since)


def _all_of(resource_type: str, *, since: datetime | None) -> Iterator[tuple[Resource, int | None]]:
    finder = FINDERS[resource_type]
    rows = finder.rows()
    if since is not None and resource_type in CHANGED_AT:
        rows = rows.filter(**{f"{CHANGED_AT[resource_type]}__gt": since})
    last = 0
    while True:
        chunk = list(rows.filter(pk__gt=last).order_by("pk")[:EXPORT_CHUNK])
        if not chunk:
            return
        patients = [finder.patient_of(row) if finder.patient_of else None for row in chunk]
        yield from zip(show_rows(resource_type, chunk), patients, strict=True)
        last = chunk[-1].pk
