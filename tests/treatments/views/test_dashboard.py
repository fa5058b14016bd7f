"""The clinic manager's dashboard: who may see it, what its charts say, what it costs.

The clock is set to Wednesday 6 May 2026, 12:00 clinic time, so the known small dataset
falls on known days: the week starting Monday 4 May, the month of May.
"""

import re
from datetime import datetime

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clinic.models import Reminder, ReminderTemplate
from treatments.models import (
    AftercareText,
    Appointment,
    FollowUp,
    FollowUpOutcome,
    Procedure,
    ProcedureType,
)
from treatments.svg_charts import Series, axis_end, bar_chart, line_chart

from ...factories import AppointmentFactory, LesionFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db
URL = reverse("treatments:manager_dashboard")
Status = Appointment.Status


def at(*fields) -> datetime:
    return timezone.make_aware(datetime(*fields))


@pytest.fixture(autouse=True)
def wednesday_noon():
    with time_machine.travel(at(2026, 5, 6, 12, 0), tick=False):
        yield


def page_of(client) -> str:
    response = client.get(URL)
    assert response.status_code == 200
    return response.content.decode()


def table_row(page: str, chart_id: str, first_cell: str) -> list[str]:
    """The cells of a chart's data-table row, the row heading first."""
    chart = page[page.index(f'id="{chart_id}"') :]
    chart = chart[: chart.index("</figure>")]
    row = re.search(rf"<tr><th scope=\"row\">{re.escape(first_cell)}</th>(.*?)</tr>", chart)
    assert row, f"no row {first_cell!r} in the {chart_id} table"
    return [first_cell, *re.findall(r"<td>(.*?)</td>", row.group(1))]


# --- Who may see it --------------------------------------------------------------------


def test_the_manager_sees_the_dashboard(manager_client):
    page = page_of(manager_client)

    assert "<h1" in page and "Dashboard" in page
    assert page.count('role="img"') == 4


@pytest.mark.parametrize("role", ["receptionist", "dermatologist"])
def test_other_roles_are_refused(request, role):
    client = request.getfixturevalue(f"{role}_client")

    assert client.get(URL).status_code == 403


def test_a_user_without_a_staff_role_is_refused():
    client = Client()
    client.force_login(UserFactory())

    assert client.get(URL).status_code == 403


def test_an_anonymous_visitor_is_sent_to_log_in(client):
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={URL}"


def test_the_dashboard_only_answers_get(manager_client):
    assert manager_client.post(URL).status_code == 405


# --- What the charts say ---------------------------------------------------------------


@pytest.fixture
def monday_visits():
    """Three visits on Monday 4 May: two completed, one no-show; one cancelled, one ahead."""
    visits = [
        AppointmentFactory(starts_at=at(2026, 5, 4, 9, 0), status=Status.COMPLETED),
        AppointmentFactory(starts_at=at(2026, 5, 4, 10, 0), status=Status.COMPLETED),
        AppointmentFactory(starts_at=at(2026, 5, 4, 11, 0), status=Status.NO_SHOW),
    ]
    AppointmentFactory(
        starts_at=at(2026, 5, 5, 9, 0), status=Status.CANCELLED, cancellation_reason="Ill"
    )
    AppointmentFactory(starts_at=at(2026, 5, 8, 9, 0))
    return visits


def test_appointments_per_day_count_each_status(manager_client, monday_visits):
    page = page_of(manager_client)

    row = table_row(page, "appointments", "4 May")
    headers = ["Completed", "Checked in", "Confirmed", "Booked", "No-show", "Cancelled"]
    assert dict(zip(headers, row[1:], strict=True)) == {
        "Completed": "2",
        "Checked in": "0",
        "Confirmed": "0",
        "Booked": "0",
        "No-show": "1",
        "Cancelled": "0",
    }
    assert table_row(page, "appointments", "8 May")[4] == "1"  # booked, ahead
    assert "<title>4 May: 2 completed</title>" in page
    assert "<title>4 May: 1 no-show</title>" in page
    assert "4 appointments in the last 30 days" in page
    assert "1 booked for the next 7 days" in page


def test_the_no_show_rate_is_no_shows_among_visits_attended_or_missed(
    manager_client, monday_visits
):
    page = page_of(manager_client)

    assert table_row(page, "no-shows", "4 May") == ["4 May", "33.3% (1 of 3)"]
    assert table_row(page, "no-shows", "27 Apr") == ["27 Apr", "–"]
    assert "<title>No-show rate, 4 May: 33.3%</title>" in page
    assert "33.3% (1 of 3) of the visits attended or missed" in page


def test_a_late_evening_visit_counts_on_the_clinics_day_not_utcs(manager_client):
    # 21:30 in New York is 01:30 the next day in UTC.
    AppointmentFactory(starts_at=at(2026, 5, 4, 21, 30), status=Status.COMPLETED)

    page = page_of(manager_client)

    assert table_row(page, "appointments", "4 May")[1] == "1"
    assert table_row(page, "appointments", "5 May")[1] == "0"


def reminder(status: str, *, day: int, n: int) -> Reminder:
    when = at(2026, 5, day, 10, 0)
    return Reminder.objects.create(
        patient=PatientFactory(),
        recipient_name="Someone",
        channel="email",
        email=f"someone{n}@example.com",
        kind=Reminder.Kind.APPOINTMENT,
        send_at=when,
        sent_at=when if status == Reminder.Status.SENT else None,
        next_attempt_at=when if status == Reminder.Status.PENDING else None,
        status=status,
        skip_reason="No consent to reminders." if status == Reminder.Status.SKIPPED else "",
        idempotency_key=f"appointment:{n}:reminder-24h:email",
        source_key=f"appointment:{n}",
    )


def test_reminder_delivery_counts_outcomes_and_the_failure_rate(manager_client):
    outcomes = ["sent", "sent", "sent", "failed", "skipped"]
    for n, status in enumerate(outcomes):
        reminder(status, day=5, n=n)
    reminder("pending", day=5, n=9)  # not yet an outcome

    page = page_of(manager_client)

    assert table_row(page, "reminders", "5 May") == ["5 May", "3", "1", "1", "25% (1 of 4)"]
    assert "3 reminders sent, 1 failed and 1 skipped" in page
    assert "Failure rate: 25% (1 of 4)" in page


def test_the_recurrence_rate_is_per_procedure_and_month(manager_client, monday_visits):
    visit = monday_visits[0]
    procedure = Procedure.objects.create(
        appointment=visit,
        patient=visit.patient,
        dermatologist=visit.dermatologist,
        procedure_type=visit.procedure_type,
        performed_at=visit.starts_at,
    )
    follow_up = FollowUp.objects.create(
        patient=visit.patient,
        procedure=procedure,
        kind=FollowUp.Kind.RECURRENCE_CHECK,
        due_on=timezone.localdate(),
    )
    Outcome = FollowUpOutcome.Outcome
    for outcome in [
        Outcome.RESOLVED,
        Outcome.PARTLY_RESOLVED,
        Outcome.RECURRED,
        Outcome.NEW_NEARBY,
    ]:
        FollowUpOutcome.objects.create(
            follow_up=follow_up,
            lesion=LesionFactory(patient=visit.patient),
            outcome=outcome,
            recorded_by=visit.dermatologist.user,
        )

    page = page_of(manager_client)

    name = visit.procedure_type.name
    assert table_row(page, "recurrence", "May 2026") == ["May 2026", "50% (2 of 4)"]
    assert table_row(page, "recurrence", "Apr 2026") == ["Apr 2026", "–"]
    assert f"<title>{name}, May 2026: 50%</title>" in page
    assert f"{name} 50% (2 of 4)" in page


def test_an_empty_clinic_says_there_is_nothing_yet(manager_client):
    page = page_of(manager_client)

    assert "0 appointments in the last 30 days" in page
    assert "No visits were attended or missed in the last 12 weeks." in page
    assert "No reminders went out in the last 30 days." in page
    assert "No recurrence checks were recorded in the last 12 months." in page


def test_the_page_has_no_inline_styles_or_scripts(manager_client, monday_visits):
    page = page_of(manager_client)

    assert "style=" not in page
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)


# --- Missing translations -------------------------------------------------------------


def missing_list(page: str) -> list[tuple[str, str]]:
    """(link, text) of each entry of the "Missing translations" list."""
    listing = page[page.index('id="missing-translations"') :]
    listing = listing[: listing.index("</ul>")]
    return re.findall(r'<li><a href="([^"]+)">([^<]+)</a></li>', listing)


@pytest.fixture
def templates_in_three_languages():
    """Exactly two reminder templates, each in English, Spanish and French."""
    ReminderTemplate.objects.all().delete()
    for language in ("en", "es", "fr"):
        ReminderTemplate.objects.create(
            kind="confirmation", channel="sms", language=language, body_text="{{ when }}"
        )
        ReminderTemplate.objects.create(
            kind="appointment",
            channel="email",
            language=language,
            subject="{{ when }}",
            body_text="{{ when }}",
        )


def test_a_complete_catalogue_has_no_missing_translations(
    manager_client, templates_in_three_languages
):
    page = page_of(manager_client)

    assert "Every aftercare and reminder text is written in every patient language." in page
    assert '<ul id="missing-translations"' not in page


def test_the_dashboard_lists_exactly_the_missing_translations_with_their_admin_pages(
    manager_client, templates_in_three_languages
):
    cryotherapy = ProcedureType.objects.get(slug="cryotherapy")
    AftercareText.objects.filter(procedure_type=cryotherapy, language="fr").delete()
    ReminderTemplate.objects.filter(kind="confirmation", channel="sms", language="es").delete()
    ReminderTemplate.objects.filter(kind="appointment", language__in=["es", "fr"]).delete()

    entries = missing_list(page_of(manager_client))

    change = reverse("admin:treatments_proceduretype_change", args=[cryotherapy.pk])
    add = reverse("admin:clinic_remindertemplate_add")
    assert entries == [
        (change, "Cryotherapy aftercare (fr)"),
        (f"{add}?kind=appointment&amp;channel=email&amp;language=es", "Appointment email (es)"),
        (f"{add}?kind=appointment&amp;channel=email&amp;language=fr", "Appointment email (fr)"),
        (
            f"{add}?kind=confirmation&amp;channel=sms&amp;language=es",
            "Booking confirmation SMS (es)",
        ),
    ]


def test_a_retired_procedure_type_is_not_flagged(manager_client, templates_in_three_languages):
    ProcedureType.objects.create(slug="laser", name="Laser", duration_minutes=15, is_active=False)

    assert "Every aftercare and reminder text" in page_of(manager_client)


def test_the_missing_translations_link_opens_the_prefilled_admin_form(
    manager_client, templates_in_three_languages
):
    ReminderTemplate.objects.filter(kind="confirmation", language="fr").delete()
    href, _ = missing_list(page_of(manager_client))[0]

    form = manager_client.get(href.replace("&amp;", "&")).content.decode()

    assert '<option value="confirmation" selected>' in form
    assert '<option value="sms" selected>' in form
    assert '<option value="fr" selected>' in form


# --- What it costs ---------------------------------------------------------------------


def test_the_dashboard_costs_the_same_queries_for_a_little_and_a_lot(
    manager_client, django_assert_num_queries, monday_visits
):
    # session, user, staff member (the role), then one grouped count per chart:
    # appointments per day, no-shows per week, reminders per day, recurrences per month;
    # then the missing translations: procedure types with their aftercare languages,
    # reminder templates' kinds, channels and languages
    with django_assert_num_queries(9):
        page_of(manager_client)
    for day in range(1, 29):
        AppointmentFactory(starts_at=at(2026, 4, day, 9, 0), status=Status.COMPLETED)
        reminder("sent", day=min(day, 6), n=100 + day)
    for n in range(20):
        ProcedureType.objects.create(slug=f"type-{n}", name=f"Type {n}", duration_minutes=15)
    ReminderTemplate.objects.filter(language="en").delete()
    with django_assert_num_queries(9):
        page_of(manager_client)


# --- The chart helper ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("largest", "end"), [(0, 4), (3, 4), (5, 8), (37, 40), (99, 100), (250, 400)]
)
def test_the_y_axis_ends_on_a_round_number_of_whole_steps(largest, end):
    assert axis_end(largest) == end


def test_stacked_bars_sit_on_each_other_and_fill_the_axis():
    chart = bar_chart(
        id="c",
        title="t",
        summary="s",
        categories=["Mon"],
        series=[Series("A", [3], "a"), Series("B", [1], "b")],
        x_label="Day",
        y_label="Count",
    )

    lower, upper = chart.bars
    assert lower.y == round(upper.y + upper.height, 1)
    assert upper.y == chart.top  # 3 + 1 = 4, the axis' end
    assert lower.y + lower.height == chart.bottom


def test_a_missing_value_breaks_the_line():
    chart = line_chart(
        id="c",
        title="t",
        summary="s",
        categories=["1", "2", "3", "4"],
        series=[Series("Rate", [10, None, 20, 40], "line")],
        x_label="Week",
        y_label="Rate",
    )

    (line,) = chart.lines
    assert len(line.segments) == 2
    assert len(line.markers) == 3
    assert chart.table_rows[1] == ["2", "–"]
