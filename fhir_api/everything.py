"""A patient's whole record (`Patient/<id>/$everything`) and the clinic's (`$export`), as
FHIR resources. Reads only."""

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db.models import Q

from .search import FINDERS, patients_of, show_rows

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


def export_chunks(
    *, types: list[str], since: datetime | None
) -> Iterator[tuple[str, Iterator[tuple[list[Resource], list[int]]]]]:
    """(type, its chunks) for each exported type of `types` (all when empty), only what
    changed after `since` where a type knows it. A chunk is EXPORT_CHUNK rows' resources
    and the patients they are about."""
    for resource_type in EXPORT_TYPES:
        if not types or resource_type in types:
            yield resource_type, _chunks_of(resource_type, since=since)


def _chunks_of(
    resource_type: str, *, since: datetime | None
) -> Iterator[tuple[list[Resource], list[int]]]:
    rows = FINDERS[resource_type].rows()
    if since is not None and resource_type in CHANGED_AT:
        rows = rows.filter(**{f"{CHANGED_AT[resource_type]}__gt": since})
    last = 0
    while True:
        chunk = list(rows.filter(pk__gt=last).order_by("pk")[:EXPORT_CHUNK])
        if not chunk:
            return
        yield show_rows(resource_type, chunk), patients_of(resource_type, chunk)
        last = chunk[-1].pk
