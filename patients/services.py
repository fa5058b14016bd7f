"""Writes of the patients app: patients and guardians, reminder consent, and lesions
(charting one and changing it, including resolving it)."""

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .models import Channel, Guardian, Lesion, Patient
from .selectors import patient_likely_duplicates


class LikelyDuplicate(Exception):
    """The patient to register may already be registered: the receptionist must confirm."""

    def __init__(self, patients: Iterable[Patient]):
        self.patients = list(patients)
        super().__init__(f"{len(self.patients)} registered patient(s) may be this person.")


def patient_save(*, patient: Patient, changed_fields: Iterable[str] = ()) -> Patient:
    """Validate and save a patient; a change of reminder consent records when it happened."""
    if "reminder_consent" in changed_fields or (
        patient.reminder_consent and patient.reminder_consent_changed_at is None
    ):
        patient.reminder_consent_changed_at = timezone.now()
    patient.full_clean()
    patient.save()
    return patient


def patient_unreachable_reason(*, patient: Patient, guardian: Guardian | None) -> str | None:
    """Why reminders on the preferred channel would reach nobody, or None if they would
    (or if none will be sent: the patient did not agree to reminders).

    A minor's reminders go to their guardian, an adult's to themselves.
    """
    if not patient.reminder_consent:
        return None
    contact, whose = (
        (guardian, "the guardian's") if patient.is_minor else (patient, "the patient's")
    )
    if contact is None:
        return None
    if patient.preferred_channel == Channel.EMAIL and not contact.email:
        return f"Reminders by email need {whose} email address."
    if patient.preferred_channel == Channel.SMS and not contact.phone:
        return f"Reminders by SMS need {whose} phone number."
    return None


def patient_register(
    *, patient: Patient, guardian: Guardian | None, allow_duplicate: bool
) -> Patient:
    """Register a new patient and, for a minor, the guardian who receives their reminders.

    Raises LikelyDuplicate, writing nothing, when the patient may already be registered
    and the receptionist has not said that this is a different person.
    """
    if patient.is_minor and guardian is None:
        raise ValidationError({"guardian": "A patient under 18 needs a guardian."})
    reason = patient_unreachable_reason(patient=patient, guardian=guardian)
    if reason:
        raise ValidationError({"preferred_channel": reason})
    if not allow_duplicate:
        duplicates = patient_likely_duplicates(
            first_name=patient.first_name,
            last_name=patient.last_name,
            date_of_birth=patient.date_of_birth,
            phone=patient.phone,
        )
        if duplicates:
            raise LikelyDuplicate(duplicates)
    with transaction.atomic():
        patient_save(patient=patient)
        if guardian is not None:
            guardian.patient = patient
            guardian.receives_reminders = True
            guardian.full_clean()
            guardian.save()
    return patient


def patient_set_reminder_consent(*, patient: Patient, consent: bool) -> Patient:
    """Give or withdraw consent to reminders (e.g. "stop reminders" from a link), with the time."""
    if patient.reminder_consent != consent:
        patient.reminder_consent = consent
        patient_save(patient=patient, changed_fields=["reminder_consent"])
    return patient


# What lesion_update may change; the patient never changes.
EDITABLE_FIELDS = frozenset({
    "site", "milia_type", "size_mm", "count", "colour", "first_noted", "status", "resolved_on",
    "note",
})  # fmt: skip


def _lesion_check_dates(lesion: Lesion) -> None:
    """Dates a clinician can mistype: in the future, or before the patient was born."""
    today = timezone.localdate()
    errors: dict[str, str] = {}
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


def _lesion_save(*, lesion: Lesion, by: User | None) -> Lesion:
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
    by: User | None,
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


def lesion_update(*, lesion: Lesion, by: User | None, **changes: Any) -> Lesion:
    """Change a lesion's fields; the change is kept in its history, naming `by`.

    Resolving a lesion without a resolved date resolves it today; making it active again
    (it recurred) clears the resolved date.
    """
    unknown = changes.keys() - EDITABLE_FIELDS
    if unknown:
        raise TypeError(f"lesion_update cannot change {', '.join(sorted(unknown))}")
    for name, value in changes.items():
        setattr(lesion, name, value)
    if lesion.status == Lesion.Status.TREATED and lesion.last_treated_on is None:
        raise ValidationError({"status": "A lesion is treated once a procedure on it is recorded."})
    if lesion.status in Lesion.CURRENT:
        lesion.resolved_on = None
    elif lesion.resolved_on is None:
        lesion.resolved_on = timezone.localdate()
    return _lesion_save(lesion=lesion, by=by)
