"""Writes of lesions: charting a lesion and changing it (including resolving it)."""

from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from .models import Lesion, Patient

# What lesion_update may change; the patient never changes.
EDITABLE_FIELDS = frozenset({
    "site", "milia_type", "size_mm", "count", "colour", "first_noted", "status", "resolved_on",
    "note",
})  # fmt: skip


def _lesion_check_dates(lesion: Lesion) -> None:
    """Dates a clinician can mistype: in the future, or before the patient was born."""
    today = timezone.localdate()
    errors = {}
    if lesion.first_noted > today:
        errors["first_noted"] = "The first noted date cannot be in the future."
    elif lesion.first_noted < lesion.patient.date_of_birth:
        errors["first_noted"] = "The first noted date cannot be before the patient's birth."
    if lesion.resolved_on is not None:
        if lesion.resolved_on > today:
            errors["resolved_on"] = "The resolved date cannot be in the future."
        elif lesion.resolved_on < lesion.first_noted:
            errors["resolved_on"] = "The resolved date cannot be before the first noted date."
    if errors:
        raise ValidationError(errors)


def _lesion_save(*, lesion: Lesion, by) -> Lesion:
    _lesion_check_dates(lesion)
    lesion.full_clean()
    # Names the user in the history row even outside a request (a task, the shell).
    lesion._history_user = by
    lesion.save()
    return lesion


def lesion_add(
    *,
    patient: Patient,
    site: str,
    milia_type: str,
    size_mm: Decimal | None,
    count: int,
    colour: str,
    first_noted: date,
    note: str,
    by,
) -> Lesion:
    """Chart a new, active lesion (or cluster of milia at one site) for the patient."""
    lesion = Lesion(
        patient=patient,
        site=site,
        milia_type=milia_type,
        size_mm=size_mm,
        count=count,
        colour=colour,
        first_noted=first_noted,
        status=Lesion.Status.ACTIVE,
        note=note,
    )
    return _lesion_save(lesion=lesion, by=by)


def lesion_update(*, lesion: Lesion, by, **changes: Any) -> Lesion:
    """Change a lesion's fields; the change is kept in its history, naming `by`.

    Resolving a lesion without a resolved date resolves it today; making it active again
    (it recurred) clears the resolved date.
    """
    unknown = changes.keys() - EDITABLE_FIELDS
    if unknown:
        raise TypeError(f"lesion_update cannot change {', '.join(sorted(unknown))}")
    for name, value in changes.items():
        setattr(lesion, name, value)
    if lesion.status == Lesion.Status.ACTIVE:
        lesion.resolved_on = None
    elif lesion.resolved_on is None:
        lesion.resolved_on = timezone.localdate()
    return _lesion_save(lesion=lesion, by=by)
