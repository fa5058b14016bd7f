"""Reads of the clinical record: the chart, a procedure, follow-ups due."""

from collections import defaultdict
from datetime import datetime, timedelta

from django.db.models import F, FilteredRelation, Prefetch, Q, QuerySet
from django.utils import timezone

from patients.models import Lesion, Patient, PatientAlert

from .models import Amendment, Appointment, ClinicalPhoto, FollowUp, Procedure
from .selectors import appointments_of_day

TIMELINE_LENGTH = 50
FOLLOW_UPS_AHEAD_DAYS = 30


def chart_for_patient(*, patient_id: int, before: datetime | None = None) -> dict:
    """Everything the chart shows, in a fixed number of queries whatever the history's length.

    The timeline holds the latest TIMELINE_LENGTH visits (with their procedures), their
    amendments, and follow-ups; `before` pages back by date (a key, not an offset).
    Queries: the patient, guardians, alerts, visits with their procedures, lesions
    with the links to those procedures, amendments, follow-ups, photos.
    """
    patient = Patient.objects.prefetch_related(
        "guardians",
        Prefetch("alerts", queryset=PatientAlert.objects.filter(is_active=True)),
    ).get(pk=patient_id)
    appointments = Appointment.objects.filter(patient=patient)
    follow_ups = FollowUp.objects.filter(patient=patient)
    if before is not None:
        appointments = appointments.filter(starts_at__lt=before)
        follow_ups = follow_ups.filter(created_at__lt=before)
    appointments = list(
        appointments.select_related(
            "dermatologist__user",
            "room",
            "procedure_type",
            "procedure__procedure_type",
            "procedure__dermatologist__user",
            "procedure__signed_by",
        ).order_by("-starts_at")[:TIMELINE_LENGTH]
    )
    procedures = [a.procedure for a in appointments if _has_procedure(a)]
    lesions = _lesions_with_procedures(patient, procedures)
    amendments = defaultdict(list)
    for amendment in Amendment.objects.filter(procedure__in=procedures).select_related("author"):
        amendments[amendment.procedure_id].append(amendment)
    for procedure in procedures:
        procedure.timeline_amendments = amendments[procedure.pk]
    follow_ups = list(
        follow_ups.select_related("appointment").order_by("-due_on")[:TIMELINE_LENGTH]
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


def _has_procedure(appointment: Appointment) -> bool:
    try:
        return appointment.procedure is not None
    except Procedure.DoesNotExist:
        return False


def _lesions_with_procedures(patient: Patient, procedures: list[Procedure]) -> list[Lesion]:
    """The patient's lesions, and each procedure's lesions set from the same query: a LEFT
    JOIN to the links of these procedures only, so its rows stay bounded."""
    rows = Lesion.objects.filter(patient=patient).order_by("status", "site", "pk")
    if procedures:
        rows = rows.annotate(
            link=FilteredRelation(
                "procedures", condition=Q(procedures__in=[p.pk for p in procedures])
            ),
            linked_procedure_id=F("link__id"),
        )
    lesions: dict[int, Lesion] = {}
    linked = defaultdict(list)
    for row in rows:
        lesion = lesions.setdefault(row.pk, row)
        if getattr(row, "linked_procedure_id", None) is not None:
            linked[row.linked_procedure_id].append(lesion)
    for procedure in procedures:
        # What prefetch_related stores, so that procedure.lesions.all() needs no query.
        done = Lesion.objects.all()
        done._result_cache, done._prefetch_done = linked[procedure.pk], True
        procedure._prefetched_objects_cache = {"lesions": done}
    return list(lesions.values())


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
            for amendment in procedure.timeline_amendments
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
