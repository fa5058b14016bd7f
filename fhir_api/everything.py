"""A patient's whole record (`Patient/<id>/$everything`) and the clinic's (`$export`), as
FHIR resources. Reads only."""

from collections.abc import Iterator
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


def export_lines() -> Iterator[tuple[str, Iterator[Resource]]]:
    """(type, its resources) for each exported type, read in chunks of EXPORT_CHUNK rows."""
    for resource_type in EXPORT_TYPES:
        yield resource_type, _all_of(resource_type)


def _all_of(resource_type: str) -> Iterator[Resource]:
    rows = FINDERS[resource_type].rows()
    last = 0
    while True:
        chunk = list(rows.filter(pk__gt=last).order_by("pk")[:EXPORT_CHUNK])
        if not chunk:
            return
        yield from show_rows(resource_type, chunk)
        last = chunk[-1].pk
