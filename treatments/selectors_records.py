"""Reads of the clinical record: the chart, a procedure, follow-ups due."""

from datetime import timedelta

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from patients.models import Lesion, Patient, PatientAlert

from .models import Amendment, Appointment, ClinicalPhoto, FollowUp, Procedure
from .selectors import appointments_of_day

TIMELINE_LENGTH = 50
FOLLOW_UPS_AHEAD_DAYS = 30


def chart_for_patient(*, patient_id: int) -> dict:
    """Everything the chart shows, in a fixed number of queries whatever the history's length.

    The timeline holds the latest TIMELINE_LENGTH visits with their procedures and
    amendments; older ones are in the admin's history.
    """
    patient = Patient.objects.prefetch_related(
        "guardians",
        Prefetch("alerts", queryset=PatientAlert.objects.filter(is_active=True)),
    ).get(pk=patient_id)
    lesions = list(Lesion.objects.filter(patient=patient).order_by("status", "site"))
    appointments = list(
        Appointment.objects.filter(patient=patient)
        .select_related("dermatologist__user", "room", "procedure_type", "procedure")
        .order_by("-starts_at")[:TIMELINE_LENGTH]
    )
    procedures = list(
        Procedure.objects.filter(patient=patient)
        .select_related("procedure_type", "dermatologist__user", "signed_by")
        .prefetch_related(
            "lesions",
            Prefetch("amendments", queryset=Amendment.objects.select_related("author")),
        )
        .order_by("-performed_at")[:TIMELINE_LENGTH]
    )
    follow_ups = list(
        FollowUp.objects.filter(patient=patient)
        .select_related("appointment")
        .order_by("-due_on")[:TIMELINE_LENGTH]
    )
    photos = list(
        ClinicalPhoto.objects.filter(patient=patient).select_related("lesion").order_by("taken_on")
    )
    return {
        "patient": patient,
        "alerts": patient.alerts.all(),
        "active_lesions": [lesion for lesion in lesions if lesion.status == Lesion.Status.ACTIVE],
        "resolved_lesions": [lesion for lesion in lesions if lesion.status != Lesion.Status.ACTIVE],
        "lesions": lesions,
        "appointments": appointments,
        "procedures": procedures,
        "follow_ups": follow_ups,
        "photos": photos,
        "timeline": _timeline(appointments, procedures, follow_ups),
    }


def _timeline(appointments, procedures, follow_ups) -> list[dict]:
    entries = [{"at": a.starts_at, "kind": "visit", "item": a} for a in appointments]
    entries += [{"at": p.performed_at, "kind": "procedure", "item": p} for p in procedures]
    for procedure in procedures:
        entries += [
            {
                "at": amendment.created_at,
                "kind": "amendment",
                "item": amendment,
                "procedure": procedure,
            }
            for amendment in procedure.amendments.all()
        ]
    entries += [{"at": f.created_at, "kind": "follow_up", "item": f} for f in follow_ups]
    return sorted(entries, key=lambda entry: entry["at"], reverse=True)[:TIMELINE_LENGTH]


def procedure_for_page(*, pk: int) -> Procedure:
    return (
        Procedure.objects.select_related(
            "patient", "procedure_type", "dermatologist__user", "signed_by", "appointment"
        )
        .prefetch_related(
            "lesions",
            Prefetch("amendments", queryset=Amendment.objects.select_related("author")),
            "follow_ups",
        )
        .get(pk=pk)
    )


def follow_ups_due(*, today=None) -> QuerySet[FollowUp]:
    """Open and booked follow-ups due by a month from now, overdue first."""
    today = today or timezone.localdate()
    return (
        FollowUp.objects.filter(
            status__in=[FollowUp.Status.OPEN, FollowUp.Status.BOOKED],
            due_on__lte=today + timedelta(days=FOLLOW_UPS_AHEAD_DAYS),
        )
        .select_related("patient", "appointment__dermatologist__user")
        .order_by("due_on", "pk")
    )


def my_day(*, staff_member, day=None) -> QuerySet[Appointment]:
    return (
        appointments_of_day(day=day).filter(dermatologist=staff_member).select_related("procedure")
    )
