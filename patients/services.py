"""Writes of the patients app."""

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .models import Channel, Guardian, Patient
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
    """Why reminders on the preferred channel would reach nobody, or None if they would.

    A minor's reminders go to their guardian, an adult's to themselves.
    """
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
