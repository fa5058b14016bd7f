"""Reads of appointments and the procedure catalogue."""

from datetime import date, datetime, time, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from .models import Appointment


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The first and last instant of a day in the clinic's time zone (23 or 25 h at DST)."""
    zone = timezone.get_current_timezone()
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return start, end


def appointments_of_day(*, day: date | None = None) -> QuerySet[Appointment]:
    """A day's appointments with everything a schedule row shows, in one query."""
    start, end = day_bounds(day or timezone.localdate())
    return (
        Appointment.objects.filter(starts_at__gte=start, starts_at__lt=end)
        .select_related("patient", "dermatologist__user", "room", "procedure_type")
        .order_by("starts_at", "dermatologist_id")
    )
