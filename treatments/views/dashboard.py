"""The clinic manager's dashboard: four charts drawn on the server, each with its table,
and the catalogue texts that lack a translation."""

from collections import Counter
from datetime import date, timedelta

from django.shortcuts import render
from django.utils import formats, timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_GET

from clinic.models import Reminder
from clinic.permissions import Role, role_required

from ..models import Appointment
from ..selectors.catalogue import missing_translations
from ..selectors.dashboard import (
    appointments_per_day,
    no_shows_per_week,
    recurrences_per_month,
    reminder_outcomes_per_day,
)
from ..svg_charts import Chart, Series, bar_chart, line_chart, percent

DAYS_BACK = 30  # today and the 29 days before it
DAYS_AHEAD = 7
WEEKS = 12
MONTHS = 12
# Bottom to top in a day's bar: what happened, what is expected, what did not happen.
APPOINTMENT_STATUSES = [
    Appointment.Status.COMPLETED,
    Appointment.Status.CHECKED_IN,
    Appointment.Status.CONFIRMED,
    Appointment.Status.BOOKED,
    Appointment.Status.NO_SHOW,
    Appointment.Status.CANCELLED,
]
REMINDER_STATUSES = [Reminder.Status.SENT, Reminder.Status.FAILED, Reminder.Status.SKIPPED]
LINE_CLASSES = 6  # chart-line-1 … chart-line-6 in dashboard.css


@role_required(Role.MANAGER)
@require_GET
def manager_dashboard(request):
    """Visits per day, the no-show rate, reminder delivery and recurrences, at a glance;
    below them the aftercare and reminder texts missing in a patient language."""
    today, now = timezone.localdate(), timezone.now()
    charts = [
        appointments_chart(today=today),
        no_show_chart(today=today, now=now),
        reminders_chart(today=today),
        recurrence_chart(today=today),
    ]
    context = {"charts": charts, "now": now, "missing_translations": missing_translations()}
    return render(request, "treatments/dashboard.html", context)


def _day(day: date) -> str:
    return formats.date_format(day, "j M")


def _rate(part: int, whole: int) -> float | None:
    return 100 * part / whole if whole else None


def _share(part: int, whole: int) -> str:
    if not whole:
        return "–"
    return gettext("%(percent)s (%(part)s of %(whole)s)") % {
        "percent": percent(100 * part / whole),
        "part": part,
        "whole": whole,
    }


def appointments_chart(*, today: date) -> Chart:
    days = [today + timedelta(offset) for offset in range(1 - DAYS_BACK, DAYS_AHEAD + 1)]
    counts = appointments_per_day(first_day=days[0], last_day=days[-1])
    past = sum((counts[day] for day in days if day <= today), start=Counter())
    ahead = sum(counts[day].total() for day in days if day > today)
    statuses = Appointment.Status
    return bar_chart(
        id="appointments",
        title=gettext("Appointments per day, the last %(back)s days and the next %(ahead)s")
        % {"back": DAYS_BACK, "ahead": DAYS_AHEAD},
        summary=gettext(
            "%(total)s appointments in the last %(back)s days: %(completed)s completed, "
            "%(no_shows)s no-shows, %(cancelled)s cancelled. %(ahead)s booked for the next "
            "%(days_ahead)s days."
        )
        % {
            "total": past.total(),
            "back": DAYS_BACK,
            "completed": past[statuses.COMPLETED],
            "no_shows": past[statuses.NO_SHOW],
            "cancelled": past[statuses.CANCELLED],
            "ahead": ahead,
            "days_ahead": DAYS_AHEAD,
        },
        categories=[_day(day) for day in days],
        series=[
            Series(str(status.label), [counts[day][status] for day in days], f"chart-{status}")
            for status in APPOINTMENT_STATUSES
        ],
        x_label=gettext("Day"),
        y_label=gettext("Appointments"),
        label_every=7,
        marker=(DAYS_BACK - 1, gettext("Today")),
    )


def no_show_chart(*, today: date, now) -> Chart:
    this_week = today - timedelta(today.weekday())
    weeks = [this_week - timedelta(weeks=n) for n in range(WEEKS - 1, -1, -1)]
    counts = no_shows_per_week(first_week=weeks[0], now=now)
    no_shows = [counts.get(week, (0, 0)) for week in weeks]
    missed, visits = sum(n for n, _ in no_shows), sum(v for _, v in no_shows)
    return line_chart(
        id="no-shows",
        title=gettext("No-show rate per week, the last %(weeks)s weeks") % {"weeks": WEEKS},
        summary=(
            gettext(
                "%(share)s of the visits attended or missed in the last %(weeks)s weeks were "
                "no-shows. Cancelled visits, and past visits nobody has marked yet, are left out."
            )
            if visits
            else gettext("No visits were attended or missed in the last %(weeks)s weeks.")
        )
        % {"share": _share(missed, visits), "weeks": WEEKS},
        categories=[_day(week) for week in weeks],
        series=[
            Series(
                gettext("No-show rate"),
                [_rate(n, v) for n, v in no_shows],
                "chart-line-1",
                cells=[_share(n, v) for n, v in no_shows],
            )
        ],
        x_label=gettext("Week starting"),
        y_label=gettext("No-shows"),
        label_every=2,
    )


def reminders_chart(*, today: date) -> Chart:
    days = [today + timedelta(offset) for offset in range(1 - DAYS_BACK, 1)]
    counts = reminder_outcomes_per_day(first_day=days[0], last_day=days[-1])
    total = sum((counts[day] for day in days), start=Counter())
    sent, failed, skipped = (total[status] for status in REMINDER_STATUSES)
    return bar_chart(
        id="reminders",
        title=gettext("Reminder delivery per day, the last %(back)s days") % {"back": DAYS_BACK},
        summary=(
            gettext(
                "%(sent)s reminders sent, %(failed)s failed and %(skipped)s skipped (no consent "
                "or no address) in the last %(back)s days. Failure rate: %(share)s of the "
                "reminders the clinic tried to send."
            )
            if sent or failed or skipped
            else gettext("No reminders went out in the last %(back)s days.")
        )
        % {
            "sent": sent,
            "failed": failed,
            "skipped": skipped,
            "back": DAYS_BACK,
            "share": _share(failed, sent + failed),
        },
        categories=[_day(day) for day in days],
        series=[
            Series(str(status.label), [counts[day][status] for day in days], f"chart-{status}")
            for status in REMINDER_STATUSES
        ],
        x_label=gettext("Day"),
        y_label=gettext("Reminders"),
        label_every=7,
        extra_columns={
            gettext("Failure rate"): [
                _share(counts[day][Reminder.Status.FAILED], _tried(counts[day])) for day in days
            ]
        },
    )


def _tried(counts) -> int:
    return counts[Reminder.Status.SENT] + counts[Reminder.Status.FAILED]


def recurrence_chart(*, today: date) -> Chart:
    months = [_months_before(today.replace(day=1), n) for n in range(MONTHS - 1, -1, -1)]
    counts = recurrences_per_month(first_month=months[0])
    names = sorted({name for name, _ in counts})
    series = []
    for index, name in enumerate(names):
        per_month = [counts.get((name, month), (0, 0)) for month in months]
        series.append(
            Series(
                name,
                [_rate(recurred, outcomes) for recurred, outcomes in per_month],
                f"chart-line-{index % LINE_CLASSES + 1}",
                cells=[_share(recurred, outcomes) for recurred, outcomes in per_month],
            )
        )
    totals = {name: [0, 0] for name in names}
    for (name, _), (recurred, outcomes) in counts.items():
        totals[name][0] += recurred
        totals[name][1] += outcomes
    return line_chart(
        id="recurrence",
        title=gettext("Recurrence rate by procedure, the last %(months)s months")
        % {"months": MONTHS},
        summary=(
            gettext(
                "Share of the lesions checked after a procedure that recurred or had new "
                "lesions nearby, by the month of the check: %(shares)s."
            )
            % {"shares": "; ".join(f"{name} {_share(*totals[name])}" for name in names)}
            if names
            else gettext("No recurrence checks were recorded in the last %(months)s months.")
            % {"months": MONTHS}
        ),
        categories=[formats.date_format(month, "M Y") for month in months],
        series=series,
        x_label=gettext("Month of the check"),
        y_label=gettext("Recurred"),
        label_every=2,
    )


def _months_before(first_of_month: date, count: int) -> date:
    month_index = first_of_month.year * 12 + first_of_month.month - 1 - count
    return date(month_index // 12, month_index % 12 + 1, 1)
