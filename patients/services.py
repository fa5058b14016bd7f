"""Writes of the patients app."""

from collections.abc import Iterable

from django.utils import timezone

from .models import Patient


def patient_save(*, patient: Patient, changed_fields: Iterable[str] = ()) -> Patient:
    """Validate and save a patient; a change of reminder consent records when it happened."""
    if "reminder_consent" in changed_fields or (
        patient.reminder_consent and patient.reminder_consent_changed_at is None
    ):
        patient.reminder_consent_changed_at = timezone.now()
    patient.full_clean()
    patient.save()
    return patient
