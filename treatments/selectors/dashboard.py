"""Reads for the clinic manager's dashboard: counts grouped in the database.

Each function is one query, whatever the number of rows: the database groups by day,
week or month in the clinic's time zone (Django's Trunc functions use the current time
zone) and counts; Python only fills in the empty days.
"""

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta

from django.db.models import Count, DateField, F, Q
from django.db.models.functions import Coalesce, TruncDate, TruncMonth, TruncWeek

from clinic.clock import day_bounds
from clinic.models import Reminder

from ..models import Appointment, FollowUp, FollowUpOutcome

# Visits that were attended or missed: the no-show rate's denominator. Cancelled visits
# were never expected, and past visits still "booked" nobody has marked yet.
SEEN_OR_MISSED = [
    Appointment.Status.CHECKED_IN,
    Appointment.Status.COMPLETED,
    Appointment.Status.NO_SHOW,
]
REMINDER_OUTCOMES = [Reminder.Status.SENT, Reminder.Status.FAILED, Reminder.Status.SKIPPED]
RECURRENCE = [FollowUpOutcome.Outcome.RECURRED, FollowUpOutcome.Outcome.NEW_NEARBY]


def _start_of(day: date) -> datetime:
    return day_bounds(day)[0]


def appointments_per_day(*, first_day: date, last_day: date) -> dict[date, Counter[str]]:
    """Appointments starting on each day, counted by status."""
    rows = (
        Appointment.objects.filter(
            starts_at__gte=_start_of(first_day), starts_at__lt=_start_of(last_day + timedelta(1))
        )
        .values("status", day=TruncDate("starts_at"))
        .annotate(count=Count("id"))
        .order_by()
    )
    per_day: defaultdict[date, Counter[str]] = defaultdict(Counter)
    for row in rows:
        per_day[row["day"]][row["status"]] = row["count"]
    return per_day


def no_shows_per_week(*, first_week: date, now: datetime) -> dict[date, tuple[int, int]]:
    """(no-shows, visits attended or missed) for each week (from its Monday) until now."""
    rows = (
        Appointment.objects.filter(
            starts_at__gte=_start_of(first_week), starts_at__lt=now, status__in=SEEN_OR_MISSED
        )
        .values(week=TruncWeek("starts_at", output_field=DateField()))
        .annotate(
            visits=Count("id"), no_shows=Count("id", filter=Q(status=Appointment.Status.NO_SHOW))
        )
        .order_by()
    )
    return {row["week"]: (row["no_shows"], row["visits"]) for row in rows}


def reminder_outcomes_per_day(*, first_day: date, last_day: date) -> dict[date, Counter[str]]:
    """Reminders sent, failed for good or skipped, by the day they went out (or were due)."""
    rows = (
        Reminder.objects.alias(at=Coalesce("sent_at", "send_at"))
        .filter(
            status__in=REMINDER_OUTCOMES,
            at__gte=_start_of(first_day),
            at__lt=_start_of(last_day + timedelta(1)),
        )
        .values("status", day=TruncDate("at"))
        .annotate(count=Count("id"))
        .order_by()
    )
    per_day: defaultdict[date, Counter[str]] = defaultdict(Counter)
    for row in rows:
        per_day[row["day"]][row["status"]] = row["count"]
    return per_day


def recurrences_per_month(*, first_month: date) -> dict[tuple[str, date], tuple[int, int]]:
    """(outcomes "recurred" or "new lesions nearby", all outcomes) of recurrence checks,
    by the procedure checked on and the month of the check."""
    rows = (
        FollowUpOutcome.objects.filter(
            recorded_at__gte=_start_of(first_month),
            follow_up__kind=FollowUp.Kind.RECURRENCE_CHECK,
            follow_up__procedure__isnull=False,
        )
        .values(
            month=TruncMonth("recorded_at", output_field=DateField()),
            procedure_name=F("follow_up__procedure__procedure_type__name"),
        )
        .annotate(outcomes=Count("id"), recurred=Count("id", filter=Q(outcome__in=RECURRENCE)))
        .order_by()
    )
    return {
        (row["procedure_name"], row["month"]): (row["recurred"], row["outcomes"]) for row in rows
    }
