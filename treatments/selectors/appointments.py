"""Reads of appointments and the procedure catalogue."""

from datetime import date, datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from clinic.clock import day_bounds
from patients.models import Patient

from ..models import Appointment, AppointmentQuerySet, WaitlistEntry

# No visit lasts this long (the catalogue's longest is four hours). An appointment that
# overlaps a span therefore starts at most this long before it: that lower bound lets
# the (dermatologist, start) and (room, start) indexes scan the span, not ten years.
LONGEST_VISIT = timedelta(days=1)


def appointments_of_day(*, day: date | None = None) -> AppointmentQuerySet:
    """A day's appointments with everything a schedule row shows, in one query."""
    start, end = day_bounds(day or timezone.localdate())
    return (
        Appointment.objects.starting_between(start, end)
        .select_related("patient", "dermatologist__user", "room", "procedure_type")
        .order_by("starts_at", "dermatologist_id")
    )


def appointment_for_page(*, pk: int) -> Appointment:
    """One appointment with what its page shows; raises Appointment.DoesNotExist."""
    return Appointment.objects.select_related(
        "patient", "dermatologist__user", "room", "procedure_type", "created_by", "estimate"
    ).get(pk=pk)


def arrivals_of_day(*, day: date | None = None) -> AppointmentQuerySet:
    """Today's expected and arrived patients, for the desk."""
    return appointments_of_day(day=day).expected()


def appointment_overlaps(
    *,
    dermatologist_id: int,
    room_id: int | None,
    starts_at: datetime,
    ends_at: datetime,
    exclude_id: int | None = None,
) -> AppointmentQuerySet:
    """Active appointments that the given time would collide with (an advisory check; the
    database has the last word)."""
    same_resource = Q(dermatologist_id=dermatologist_id)
    if room_id is not None:
        same_resource |= Q(room_id=room_id)
    overlaps = Appointment.objects.active().filter(
        same_resource,
        starts_at__gt=starts_at - LONGEST_VISIT,
        starts_at__lt=ends_at,
        ends_at__gt=starts_at,
    )
    if exclude_id is not None:
        overlaps = overlaps.exclude(pk=exclude_id)
    return overlaps.select_related("patient", "dermatologist__user", "room")


def waitlist_offers_for(*, appointment: Appointment) -> QuerySet[WaitlistEntry]:
    """Waiting patients whom a freed appointment's time would suit.

    The freed visit's length must hold their procedure, on a day and at a time of day
    they asked for, with their preferred dermatologist (or any); a procedure that needs a
    treatment room only fits when the freed visit had one.
    """
    start = timezone.localtime(appointment.starts_at)
    end = timezone.localtime(appointment.ends_at)
    minutes = int((appointment.ends_at - appointment.starts_at).total_seconds() // 60)
    entries = WaitlistEntry.objects.filter(
        Q(dermatologist__isnull=True) | Q(dermatologist_id=appointment.dermatologist_id),
        Q(earliest_time__isnull=True) | Q(earliest_time__lte=start.time()),
        Q(latest_time__isnull=True) | Q(latest_time__gte=end.time()),
        status=WaitlistEntry.Status.WAITING,
        earliest_date__lte=start.date(),
        latest_date__gte=start.date(),
        procedure_type__duration_minutes__lte=minutes,
    )
    if appointment.room_id is None:
        entries = entries.filter(procedure_type__needs_treatment_room=False)
    return entries.select_related("patient", "procedure_type", "dermatologist__user").order_by(
        "created_at"
    )


def waitlist_waiting() -> QuerySet[WaitlistEntry]:
    return (
        WaitlistEntry.objects.filter(status=WaitlistEntry.Status.WAITING)
        .select_related("patient", "procedure_type", "dermatologist__user")
        .order_by("earliest_date", "created_at")
    )


def patient_appointments(*, patient: Patient) -> QuerySet[Appointment]:
    """A patient's appointments, oldest first, with what a row on their page shows."""
    return (
        Appointment.objects.filter(patient=patient)
        .select_related("dermatologist__user", "room", "procedure_type")
        .order_by("starts_at")
    )


def patient_next_visit(*, patient: Patient) -> Appointment | None:
    """The patient's next visit still ahead that is booked or confirmed, or None."""
    return (
        Appointment.objects.filter(
            patient=patient,
            status__in=[Appointment.Status.BOOKED, Appointment.Status.CONFIRMED],
            starts_at__gt=timezone.now(),
        )
        .select_related("procedure_type", "dermatologist")
        .order_by("starts_at")
        .first()
    )
