"""The day view (dermatologists side by side) and the week view of one dermatologist."""

import re
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clinic.models import StaffMember
from treatments.models import Appointment

from ...factories import (
    AppointmentFactory,
    LesionFactory,
    PatientFactory,
    RoomFactory,
    StaffMemberFactory,
    TimeOffFactory,
    UserFactory,
    WorkingHoursFactory,
)

pytestmark = pytest.mark.django_db

A_MONDAY = date(2026, 3, 2)
# America/New_York: DST ends on Sunday 1 November 2026 (a 25-hour day) and begins on
# Sunday 8 March 2026 (a 23-hour day).
DST_ENDS = date(2026, 11, 1)
DST_BEGINS = date(2026, 3, 8)


@pytest.fixture(autouse=True)
def clinic_in_new_york(settings):
    settings.TIME_ZONE = "America/New_York"


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    """An aware instant at a wall-clock time of the clinic's day."""
    return datetime.combine(day, time(hour, minute), tzinfo=timezone.get_current_timezone())


def _day_url(day: date | str | None = None) -> str:
    url = reverse("treatments:schedule_day")
    return url if day is None else f"{url}?date={day}"


def _week_url(dermatologist_id: int, day: date | str | None = None) -> str:
    url = reverse("treatments:schedule_week", args=[dermatologist_id])
    return url if day is None else f"{url}?date={day}"


def _columns(html: str, attribute: str) -> dict[str, str]:
    """Each schedule column's HTML, by the value of its data attribute, in page order."""
    grid = html.split('class="schedule-rooms"')[0] if attribute != "room" else html
    parts = re.split(r'(?=<section class="[^"]*\b(?:schedule-column|time-grid-room)\b)', grid)[1:]
    return {re.search(rf'data-{attribute}="([^"]+)"', part).group(1): part for part in parts}


def _schedule_url(name: str, dermatologist: StaffMember) -> str:
    return _day_url() if name == "day" else _week_url(dermatologist.pk)


# Access


@pytest.mark.parametrize("view", ["day", "week"])
def test_anonymous_visitors_are_sent_to_log_in(client, view):
    url = _schedule_url(view, StaffMemberFactory())
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


@pytest.mark.parametrize("view", ["day", "week"])
@pytest.mark.parametrize(
    "role_client", ["receptionist_client", "dermatologist_client", "manager_client"]
)
def test_every_staff_role_sees_the_schedules(request, role_client, view):
    response = request.getfixturevalue(role_client).get(_schedule_url(view, StaffMemberFactory()))
    assert response.status_code == 200


@pytest.mark.parametrize("view", ["day", "week"])
def test_a_user_without_a_staff_profile_is_refused(view):
    outsider = Client()
    outsider.force_login(UserFactory())
    assert outsider.get(_schedule_url(view, StaffMemberFactory())).status_code == 403


def test_an_unknown_dermatologist_has_no_week(receptionist_client):
    assert receptionist_client.get(_week_url(987654)).status_code == 404


def test_a_receptionist_has_no_week_of_appointments(receptionist_client):
    receptionist = receptionist_client.staff_member
    assert receptionist_client.get(_week_url(receptionist.pk)).status_code == 404


@pytest.mark.parametrize("view", ["day", "week"])
@pytest.mark.parametrize("bad", ["2026-13-45", "2026-02-30", "garbage", "0001-01-01", "9999-12-31"])
def test_a_bad_date_is_a_clear_400_not_a_crash(receptionist_client, view, bad):
    dermatologist = StaffMemberFactory()
    url = _day_url(bad) if view == "day" else _week_url(dermatologist.pk, bad)
    response = receptionist_client.get(url)
    assert response.status_code == 400
    assert "The schedule cannot show that date" in response.content.decode()


# The day view


def test_the_day_view_shows_each_appointment_in_its_dermatologists_column(receptionist_client):
    ortiz, lee = StaffMemberFactory(), StaffMemberFactory()
    with_ortiz = AppointmentFactory(dermatologist=ortiz, starts_at=_at(A_MONDAY, 9))
    with_lee = AppointmentFactory(dermatologist=lee, starts_at=_at(A_MONDAY, 9))
    columns = _columns(
        receptionist_client.get(_day_url(A_MONDAY)).content.decode(), "dermatologist"
    )
    assert with_ortiz.patient.full_name in columns[str(ortiz.pk)]
    assert with_ortiz.patient.full_name not in columns[str(lee.pk)]
    assert with_lee.patient.full_name in columns[str(lee.pk)]
    assert f'href="{_week_url(ortiz.pk, A_MONDAY)}"' in columns[str(ortiz.pk)]


def test_a_column_lists_its_appointments_in_time_order(receptionist_client):
    dermatologist = StaffMemberFactory()
    later = AppointmentFactory(dermatologist=dermatologist, starts_at=_at(A_MONDAY, 14))
    earlier = AppointmentFactory(dermatologist=dermatologist, starts_at=_at(A_MONDAY, 8, 30))
    column = _columns(receptionist_client.get(_day_url(A_MONDAY)).content.decode(), "dermatologist")
    html = column[str(dermatologist.pk)]
    assert html.index(earlier.patient.full_name) < html.index(later.patient.full_name)


def test_a_card_shows_the_time_patient_procedure_room_and_status(receptionist_client):
    appointment = AppointmentFactory(starts_at=_at(A_MONDAY, 9, 30), room=None)
    html = receptionist_client.get(_day_url(A_MONDAY)).content.decode()
    assert "09:30</time>–<time" in html and ">09:45</time>" in html
    assert appointment.patient.full_name in html
    assert appointment.procedure_type.name in html
    assert "no room" in html
    assert ">Booked</span>" in html
    assert f'href="{reverse("treatments:appointment_detail", args=[appointment.pk])}"' in html


def test_the_day_view_hides_nothing_of_the_day_and_mutes_what_is_cancelled(receptionist_client):
    retired = StaffMemberFactory(is_active=False)
    still_booked = AppointmentFactory(dermatologist=retired, starts_at=_at(A_MONDAY, 9))
    cancelled = AppointmentFactory(
        starts_at=_at(A_MONDAY, 10),
        status=Appointment.Status.CANCELLED,
        cancellation_reason="Patient is ill",
    )
    no_show = AppointmentFactory(starts_at=_at(A_MONDAY, 11), status=Appointment.Status.NO_SHOW)
    next_day = AppointmentFactory(starts_at=_at(A_MONDAY + timedelta(days=1), 9))
    html = receptionist_client.get(_day_url(A_MONDAY)).content.decode()
    assert still_booked.patient.full_name in html
    assert f'schedule-card schedule-card-cancelled" href="/appointments/{cancelled.pk}/' in html
    assert f'schedule-card schedule-card-no_show" href="/appointments/{no_show.pk}/' in html
    assert next_day.patient.full_name not in html


def test_an_inactive_dermatologist_without_appointments_has_no_column(receptionist_client):
    retired = StaffMemberFactory(is_active=False)
    html = receptionist_client.get(_day_url(A_MONDAY)).content.decode()
    assert str(retired.pk) not in _columns(html, "dermatologist")


def test_each_column_shows_the_dermatologists_working_hours_of_that_day(receptionist_client):
    split_shift, day_off = StaffMemberFactory(), StaffMemberFactory()
    WorkingHoursFactory(staff_member=split_shift, starts_at=time(8, 30), ends_at=time(12, 30))
    WorkingHoursFactory(staff_member=split_shift, starts_at=time(13, 30), ends_at=time(17))
    WorkingHoursFactory(staff_member=day_off, weekday=1)
    columns = _columns(
        receptionist_client.get(_day_url(A_MONDAY)).content.decode(), "dermatologist"
    )
    assert "08:30–12:30, 13:30–17:00" in columns[str(split_shift.pk)]
    assert "not working" in columns[str(day_off.pk)]


def test_the_rooms_grid_shows_the_visits_that_hold_each_room(receptionist_client):
    room, empty_room = RoomFactory(), RoomFactory()
    holding = AppointmentFactory(room=room, starts_at=_at(A_MONDAY, 9))
    cancelled = AppointmentFactory(
        room=room,
        starts_at=_at(A_MONDAY, 11),
        status=Appointment.Status.CANCELLED,
        cancellation_reason="Rescheduled by phone",
    )
    html = receptionist_client.get(_day_url(A_MONDAY)).content.decode()
    rooms = _columns(html.split('class="schedule-rooms"')[1], "room")
    assert f'data-appointment="{holding.pk}"' in rooms[str(room.pk)]
    assert ">09:00</time>–<time" in rooms[str(room.pk)]
    assert f'data-appointment="{cancelled.pk}"' not in rooms[str(room.pk)]
    assert "data-appointment" not in rooms[str(empty_room.pk)]


def test_the_date_navigation_links_point_to_the_previous_and_next_day(receptionist_client):
    html = receptionist_client.get(_day_url(A_MONDAY)).content.decode()
    assert f'href="{_day_url("2026-03-01")}"' in html
    assert f'data-hx-get="{_day_url("2026-03-01")}"' in html
    assert f'href="{_day_url("2026-03-03")}"' in html
    assert f'href="{_day_url(timezone.localdate())}"' in html
    assert 'aria-label="Days"' in html
    assert 'type="date" id="schedule-date" name="date" value="2026-03-02"' in html


def test_without_a_date_the_day_view_shows_today_in_the_clinic_time_zone(receptionist_client):
    html = receptionist_client.get(_day_url()).content.decode()
    assert f'name="date" value="{timezone.localdate():%Y-%m-%d}"' in html


def test_an_htmx_request_gets_the_calendar_without_the_page_around_it(receptionist_client):
    appointment = AppointmentFactory(starts_at=_at(A_MONDAY, 9))
    response = receptionist_client.get(_day_url(A_MONDAY), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.count('id="schedule"') == 1
    assert appointment.patient.full_name in html
    assert 'aria-label="Main"' not in html
    assert "<html" not in html
    assert "HX-Request" in response["Vary"]


def test_an_htmx_history_restore_gets_the_whole_page(receptionist_client):
    headers = {"HX-Request": "true", "HX-History-Restore-Request": "true"}
    html = receptionist_client.get(_day_url(A_MONDAY), headers=headers).content.decode()
    assert 'aria-label="Main"' in html


@pytest.mark.parametrize(
    ("role_client", "sees_it"),
    [("receptionist_client", True), ("manager_client", True), ("dermatologist_client", False)],
)
def test_only_the_front_desk_sees_the_book_links(request, role_client, sees_it):
    dermatologist = StaffMemberFactory()
    client = request.getfixturevalue(role_client)
    book = f"{reverse('treatments:appointment_book')}?date=2026-03-02"
    day_html = client.get(_day_url(A_MONDAY)).content.decode()
    week_html = client.get(_week_url(dermatologist.pk, A_MONDAY)).content.decode()
    assert (f'href="{book}"' in day_html) is sees_it
    assert (f'href="{book}&amp;dermatologist={dermatologist.pk}"' in week_html) is sees_it


def test_the_schedule_shows_no_clinical_notes(receptionist_client):
    patient = PatientFactory()
    LesionFactory(patient=patient)
    appointment = AppointmentFactory(
        patient=patient, starts_at=_at(A_MONDAY, 9), reason="Milia on the left upper eyelid"
    )
    day_html = receptionist_client.get(_day_url(A_MONDAY)).content.decode()
    week_html = receptionist_client.get(
        _week_url(appointment.dermatologist.pk, A_MONDAY)
    ).content.decode()
    for html in (day_html, week_html):
        assert patient.full_name in html
        assert "eyelid" not in html.lower()


# The time grid


def _body(column_html: str) -> str:
    return column_html.split('class="time-grid-body">')[1].split('<div class="time-grid-footer">')[
        0
    ]


def _gap_times(column_html: str) -> list[str]:
    """The times of the free gaps a column offers for booking, top to bottom."""
    return re.findall(
        r'<a class="time-grid-gap[^"]*" href="[^"]*" data-time="([0-9:]+)"', column_html
    )


@pytest.fixture
def the_day_before():
    """The clinic clock on the afternoon before A_MONDAY: all of A_MONDAY is ahead."""
    with time_machine.travel(_at(A_MONDAY - timedelta(days=1), 15), tick=False):
        yield


def test_the_grid_runs_in_five_minute_rows_from_the_first_opening_to_the_last_closing(
    receptionist_client, the_day_before
):
    early, late = StaffMemberFactory(), StaffMemberFactory()
    WorkingHoursFactory(staff_member=early, starts_at=time(8, 30), ends_at=time(12, 30))
    WorkingHoursFactory(staff_member=early, starts_at=time(13, 30), ends_at=time(15))
    WorkingHoursFactory(staff_member=late, starts_at=time(10), ends_at=time(17, 45))
    html = receptionist_client.get(_day_url(A_MONDAY)).content.decode()
    axis = html.split('time-grid-axis-body">')[1].split("</div></div>")[0]
    # 08:00 to 18:00: the hours on the axis, twelve rows each
    assert re.findall(r"<time>(\d\d:00)</time>", axis) == [f"{h:02d}:00" for h in range(8, 18)]
    assert axis.count("tg-rows-12") == 10
    columns = _columns(html, "dermatologist")
    # closed 08:00–08:30, free to 12:30, closed to 13:30 (lunch), free to 15:00, closed to 18:00
    segments = re.findall(
        r'class="time-grid-(closed|gap)[^"]*?tg-rows-(\d+)"', _body(columns[str(early.pk)])
    )
    assert segments[0] == ("closed", "6")
    assert ("closed", "12") in segments
    assert segments[-1] == ("closed", "36")
    assert sum(int(rows) for _, rows in segments) == 120


def test_free_gaps_are_offered_where_free_and_not_where_booked_or_away(
    receptionist_client, the_day_before
):
    dermatologist = StaffMemberFactory()
    WorkingHoursFactory(staff_member=dermatologist, starts_at=time(9), ends_at=time(11))
    visit = AppointmentFactory(dermatologist=dermatologist, starts_at=_at(A_MONDAY, 9, 30))
    TimeOffFactory(
        staff_member=dermatologist, starts_at=_at(A_MONDAY, 10, 30), ends_at=_at(A_MONDAY, 12)
    )
    column = _columns(
        receptionist_client.get(_day_url(A_MONDAY)).content.decode(), "dermatologist"
    )[str(dermatologist.pk)]
    assert _gap_times(column) == ["09:00", "09:15", "09:45", "10:00", "10:15"]
    assert f'data-appointment="{visit.pk}"' in column
    assert "Time off 10:30–11:00" in column


def test_a_gap_links_to_the_booking_page_with_the_dermatologist_day_and_time(
    receptionist_client, the_day_before
):
    dermatologist = StaffMemberFactory()
    WorkingHoursFactory(staff_member=dermatologist, starts_at=time(9), ends_at=time(10))
    html = receptionist_client.get(_day_url(A_MONDAY)).content.decode()
    book = reverse("treatments:appointment_book")
    assert (
        f'href="{book}?dermatologist={dermatologist.pk}&amp;date=2026-03-02&amp;time=09:45" '
        'data-time="09:45"'
    ) in html


def test_a_cancelled_visit_leaves_its_time_free_to_book_and_is_listed_below(
    receptionist_client, the_day_before
):
    dermatologist = StaffMemberFactory()
    WorkingHoursFactory(staff_member=dermatologist, starts_at=time(9), ends_at=time(10))
    cancelled = AppointmentFactory(
        dermatologist=dermatologist,
        starts_at=_at(A_MONDAY, 9),
        status=Appointment.Status.CANCELLED,
        cancellation_reason="Patient is ill",
    )
    column = _columns(
        receptionist_client.get(_day_url(A_MONDAY)).content.decode(), "dermatologist"
    )[str(dermatologist.pk)]
    assert _gap_times(column) == ["09:00", "09:15", "09:30", "09:45"]
    footer = column.split('<div class="time-grid-footer">')[1]
    assert f'schedule-card schedule-card-cancelled" href="/appointments/{cancelled.pk}/' in footer


def test_a_dermatologist_sees_the_gaps_but_not_as_booking_links(
    dermatologist_client, the_day_before
):
    colleague = StaffMemberFactory()
    WorkingHoursFactory(staff_member=colleague, starts_at=time(9), ends_at=time(10))
    column = _columns(
        dermatologist_client.get(_day_url(A_MONDAY)).content.decode(), "dermatologist"
    )[str(colleague.pk)]
    assert _gap_times(column) == []
    assert "free 09:00–10:00" in column
    assert reverse("treatments:appointment_book") not in column


def test_gaps_already_past_are_not_offered_for_booking(receptionist_client):
    dermatologist = StaffMemberFactory()
    WorkingHoursFactory(staff_member=dermatologist, starts_at=time(9), ends_at=time(11))
    with time_machine.travel(_at(A_MONDAY, 10, 7), tick=False):
        column = _columns(
            receptionist_client.get(_day_url(A_MONDAY)).content.decode(), "dermatologist"
        )[str(dermatologist.pk)]
    assert _gap_times(column) == ["10:15", "10:30", "10:45"]


def test_the_now_line_is_drawn_today_at_the_clinic_clocks_time(receptionist_client):
    dermatologist = StaffMemberFactory()
    WorkingHoursFactory(staff_member=dermatologist, starts_at=time(8), ends_at=time(17))
    with time_machine.travel(_at(A_MONDAY, 10, 37), tick=False):
        today = receptionist_client.get(_day_url(A_MONDAY)).content.decode()
        tomorrow = receptionist_client.get(_day_url(A_MONDAY + timedelta(days=1))).content.decode()
    # 10:37 is 157 minutes below the grid's top (08:00): 31 whole rows of five minutes
    assert 'class="time-grid-now" data-minute="637" data-rows-above="31"' in today
    assert (
        '<span class="tg-rows-31"></span><span class="time-grid-now-line"><span>now 10:37' in today
    )
    assert "time-grid-now" not in tomorrow


def test_there_is_no_now_line_when_the_clock_is_outside_the_grid(receptionist_client):
    dermatologist = StaffMemberFactory()
    WorkingHoursFactory(staff_member=dermatologist, starts_at=time(8), ends_at=time(17))
    with time_machine.travel(_at(A_MONDAY, 19, 30), tick=False):
        html = receptionist_client.get(_day_url(A_MONDAY)).content.decode()
    assert "time-grid-now" not in html


def test_the_stylesheet_has_a_height_for_every_span_a_column_can_use():
    from django.contrib.staticfiles import finders

    from treatments.selectors.time_grid import MOST_ROWS

    css = Path(finders.find("css/time-grid.css")).read_text()
    for rows in range(1, MOST_ROWS + 1):
        assert f".tg-rows-{rows} {{ grid-row-end: span {rows}; }}" in css


def test_a_visit_on_the_grid_spans_its_length_and_links_to_it(receptionist_client, the_day_before):
    dermatologist = StaffMemberFactory()
    WorkingHoursFactory(staff_member=dermatologist, starts_at=time(9), ends_at=time(12))
    curettage = AppointmentFactory(
        dermatologist=dermatologist,
        starts_at=_at(A_MONDAY, 9, 30),
        ends_at=_at(A_MONDAY, 10),
    )
    html = receptionist_client.get(_day_url(A_MONDAY)).content.decode()
    detail = reverse("treatments:appointment_detail", args=[curettage.pk])
    assert f'time-grid-visit tg-rows-6" href="{detail}"' in html


# The day sheet


def _sheet_url(day: date, **whose) -> str:
    query = "&".join(f"{name}={value}" for name, value in whose.items())
    return f"{reverse('treatments:schedule_day_sheet')}?date={day}" + (f"&{query}" if query else "")


@pytest.fixture
def allergic_visit():
    from treatments.services.records import alert_add

    visit = AppointmentFactory(starts_at=_at(A_MONDAY, 9, 30))
    alert_add(patient=visit.patient, kind="allergy", description="Lidocaine", by=None)
    alert_add(patient=visit.patient, kind="other", description="Old note", by=None)
    visit.patient.alerts.filter(description="Old note").update(is_active=False)
    return visit


def test_the_day_sheet_lists_a_dermatologists_visits_with_alerts_flagged(
    manager_client, allergic_visit
):
    calm = AppointmentFactory(
        dermatologist=allergic_visit.dermatologist, starts_at=_at(A_MONDAY, 11)
    )
    elsewhere = AppointmentFactory(starts_at=_at(A_MONDAY, 10))
    html = manager_client.get(
        _sheet_url(A_MONDAY, dermatologist=allergic_visit.dermatologist.pk)
    ).content.decode()
    rows = html.split('<tr class="day-sheet-row')[1:]
    assert len(rows) == 2
    assert allergic_visit.patient.full_name in rows[0] and "09:30–09:45" in rows[0]
    assert "1990-05-17" in rows[0] and allergic_visit.procedure_type.name in rows[0]
    assert "ALERT" in rows[0] and "Allergy: Lidocaine" in rows[0]
    assert "Old note" not in html
    assert calm.patient.full_name in rows[1] and "ALERT" not in rows[1]
    assert elsewhere.patient.full_name not in html


def test_the_desk_sees_the_alert_flag_but_not_what_the_alert_says(
    receptionist_client, allergic_visit
):
    html = receptionist_client.get(
        _sheet_url(A_MONDAY, dermatologist=allergic_visit.dermatologist.pk)
    ).content.decode()
    assert "ALERT" in html and "see the chart" in html
    assert "Lidocaine" not in html


def test_the_day_sheet_of_a_room_lists_the_visits_in_it(receptionist_client, allergic_visit):
    other_room = AppointmentFactory(starts_at=_at(A_MONDAY, 9, 30))
    html = receptionist_client.get(
        _sheet_url(A_MONDAY, room=allergic_visit.room.pk)
    ).content.decode()
    assert allergic_visit.patient.full_name in html
    assert str(allergic_visit.dermatologist) in html
    assert other_room.patient.full_name not in html


def test_the_day_sheet_writes_an_access_log_row_per_patient(dermatologist_client, allergic_visit):
    from clinic.models import AccessLog

    AppointmentFactory(
        dermatologist=allergic_visit.dermatologist,
        patient=allergic_visit.patient,
        starts_at=_at(A_MONDAY, 15),
    )
    url = _sheet_url(A_MONDAY, dermatologist=allergic_visit.dermatologist.pk)
    assert dermatologist_client.get(url).status_code == 200
    entry = AccessLog.objects.get()
    assert (entry.patient, entry.user, entry.action) == (
        allergic_visit.patient,
        dermatologist_client.staff_member.user,
        AccessLog.Action.EXPORT,
    )
    assert entry.path == url


def test_without_a_dermatologist_or_room_the_day_sheet_page_offers_them(receptionist_client):
    from clinic.models import AccessLog

    dermatologist, room = StaffMemberFactory(), RoomFactory()
    html = receptionist_client.get(_sheet_url(A_MONDAY)).content.decode()
    sheet = reverse("treatments:schedule_day_sheet")
    assert f'href="{sheet}?date=2026-03-02&amp;dermatologist={dermatologist.pk}"' in html
    assert f'href="{sheet}?date=2026-03-02&amp;room={room.pk}"' in html
    assert not AccessLog.objects.exists()


@pytest.mark.parametrize(
    ("whose", "status"),
    [
        ({"dermatologist": 987654}, 404),
        ({"room": 987654}, 404),
        ({"dermatologist": "ortiz"}, 404),
        ({"dermatologist": 1, "room": 1}, 400),
    ],
    ids=["unknown dermatologist", "unknown room", "not an id", "both"],
)
def test_a_day_sheet_of_nobody_is_refused_with_a_message(receptionist_client, whose, status):
    response = receptionist_client.get(_sheet_url(A_MONDAY, **whose))
    assert response.status_code == status


def test_a_receptionists_day_sheet_is_not_found(receptionist_client):
    receptionist = receptionist_client.staff_member
    url = _sheet_url(A_MONDAY, dermatologist=receptionist.pk)
    assert receptionist_client.get(url).status_code == 404


def test_a_day_sheet_for_a_bad_date_is_a_400(receptionist_client):
    assert receptionist_client.get(_sheet_url("2026-02-30", room=1)).status_code == 400


@pytest.mark.parametrize(
    "role_client", ["receptionist_client", "dermatologist_client", "manager_client"]
)
def test_every_staff_role_may_print_a_day_sheet(request, role_client, allergic_visit):
    client = request.getfixturevalue(role_client)
    url = _sheet_url(A_MONDAY, dermatologist=allergic_visit.dermatologist.pk)
    assert client.get(url).status_code == 200


def test_anonymous_visitors_and_outsiders_get_no_day_sheet(client, allergic_visit):
    url = _sheet_url(A_MONDAY, dermatologist=allergic_visit.dermatologist.pk)
    assert client.get(url)["Location"].startswith(reverse("login"))
    outsider = Client()
    outsider.force_login(UserFactory())
    assert outsider.get(url).status_code == 403


# The week view


def test_the_week_view_shows_seven_days_from_monday(receptionist_client):
    dermatologist = StaffMemberFactory()
    WorkingHoursFactory(staff_member=dermatologist, weekday=2, starts_at=time(8, 30))
    wednesday = A_MONDAY + timedelta(days=2)
    html = receptionist_client.get(_week_url(dermatologist.pk, wednesday)).content.decode()
    columns = _columns(html, "day")
    assert list(columns) == [f"{A_MONDAY + timedelta(days=n):%Y-%m-%d}" for n in range(7)]
    assert "08:30–17:00" in columns["2026-03-04"]
    assert "not working" in columns["2026-03-02"]


def test_the_week_view_shows_only_that_dermatologists_appointments(receptionist_client):
    dermatologist, colleague = StaffMemberFactory(), StaffMemberFactory()
    thursday = AppointmentFactory(dermatologist=dermatologist, starts_at=_at(date(2026, 3, 5), 10))
    sunday = AppointmentFactory(dermatologist=dermatologist, starts_at=_at(date(2026, 3, 8), 10))
    theirs = AppointmentFactory(dermatologist=colleague, starts_at=_at(date(2026, 3, 5), 10))
    next_week = AppointmentFactory(dermatologist=dermatologist, starts_at=_at(date(2026, 3, 9), 10))
    html = receptionist_client.get(_week_url(dermatologist.pk, A_MONDAY)).content.decode()
    columns = _columns(html, "day")
    assert thursday.patient.full_name in columns["2026-03-05"]
    assert sunday.patient.full_name in columns["2026-03-08"]
    assert theirs.patient.full_name not in html
    assert next_week.patient.full_name not in html


def test_the_week_navigation_links_point_to_the_previous_and_next_week(receptionist_client):
    dermatologist = StaffMemberFactory()
    html = receptionist_client.get(_week_url(dermatologist.pk, "2026-03-04")).content.decode()
    assert f'href="{_week_url(dermatologist.pk, "2026-02-23")}"' in html
    assert f'href="{_week_url(dermatologist.pk, "2026-03-09")}"' in html
    assert 'aria-label="Weeks"' in html


def test_the_dermatologist_switch_lists_the_active_dermatologists(receptionist_client):
    dermatologist, colleague = StaffMemberFactory(), StaffMemberFactory()
    retired = StaffMemberFactory(is_active=False)
    html = receptionist_client.get(_week_url(dermatologist.pk, A_MONDAY)).content.decode()
    assert f'<option value="{dermatologist.pk}" selected>' in html
    assert f'<option value="{colleague.pk}">' in html
    assert f'<option value="{retired.pk}">' not in html


def test_the_dermatologist_switch_goes_to_the_chosen_dermatologists_week(receptionist_client):
    dermatologist, colleague = StaffMemberFactory(), StaffMemberFactory()
    url = f"{_week_url(dermatologist.pk, A_MONDAY)}&dermatologist={colleague.pk}"
    response = receptionist_client.get(url)
    assert response.status_code == 302
    assert response["Location"] == _week_url(colleague.pk, A_MONDAY)


def test_switching_to_a_dermatologist_that_is_not_a_number_is_not_found(receptionist_client):
    url = f"{_week_url(StaffMemberFactory().pk, A_MONDAY)}&dermatologist=ortiz"
    assert receptionist_client.get(url).status_code == 404


# Daylight-saving time


@pytest.mark.parametrize("day", [DST_ENDS, DST_BEGINS], ids=["25-hour day", "23-hour day"])
def test_an_appointment_at_23_30_shows_on_its_day_across_a_dst_change(receptionist_client, day):
    late = AppointmentFactory(starts_at=_at(day, 23, 30))
    next_day_html = receptionist_client.get(_day_url(day + timedelta(days=1))).content.decode()
    day_html = receptionist_client.get(_day_url(day)).content.decode()
    assert late.patient.full_name in day_html
    assert "23:30</time>–<time" in day_html
    assert late.patient.full_name not in next_day_html


@pytest.mark.parametrize("day", [DST_ENDS, DST_BEGINS], ids=["25-hour day", "23-hour day"])
def test_the_grid_keeps_wall_clock_times_on_a_dst_day(receptionist_client, day):
    dermatologist = StaffMemberFactory()
    WorkingHoursFactory(
        staff_member=dermatologist, weekday=day.weekday(), starts_at=time(9), ends_at=time(10)
    )
    visit = AppointmentFactory(dermatologist=dermatologist, starts_at=_at(day, 9, 30))
    with time_machine.travel(_at(day - timedelta(days=1), 12), tick=False):
        html = receptionist_client.get(_day_url(day)).content.decode()
    column = _columns(html, "dermatologist")[str(dermatologist.pk)]
    assert _gap_times(column) == ["09:00", "09:15", "09:45"]
    assert f'time-grid-visit tg-rows-3" href="/appointments/{visit.pk}/"' in column


def test_an_appointment_at_23_30_on_the_last_day_of_dst_is_in_the_right_week_column(
    receptionist_client,
):
    late = AppointmentFactory(starts_at=_at(DST_ENDS, 23, 30))
    eve = AppointmentFactory(
        dermatologist=late.dermatologist, starts_at=_at(date(2026, 10, 31), 23)
    )
    html = receptionist_client.get(_week_url(late.dermatologist.pk, DST_ENDS)).content.decode()
    columns = _columns(html, "day")
    assert late.patient.full_name in columns["2026-11-01"]
    assert eve.patient.full_name in columns["2026-10-31"]
    following = receptionist_client.get(
        _week_url(late.dermatologist.pk, DST_ENDS + timedelta(days=1))
    ).content.decode()
    assert late.patient.full_name not in following


# Query counts


@pytest.mark.parametrize(
    ("dermatologists", "appointments_each"), [(1, 1), (5, 20)], ids=["1 in all", "100 in all"]
)
def test_the_day_view_runs_the_same_eight_queries_however_full_the_day(
    receptionist_client, django_assert_num_queries, dermatologists, appointments_each
):
    for _ in range(dermatologists):
        dermatologist = StaffMemberFactory()
        WorkingHoursFactory(staff_member=dermatologist)
        room = RoomFactory()
        for n in range(appointments_each):
            start = _at(A_MONDAY, 8) + timedelta(minutes=15 * n)
            AppointmentFactory(dermatologist=dermatologist, room=room, starts_at=start)
    # Not cached yet: session, user, staff member (role check), the schedule's versions
    # of the day and of every day, dermatologists with their users and their working
    # hours that weekday (one LEFT JOIN), the day's appointments with patient,
    # dermatologist, room and procedure type, the rooms, the day's time off
    with django_assert_num_queries(8):
        html = receptionist_client.get(_day_url(A_MONDAY)).content.decode()
    by_dermatologist, by_room = html.split('class="schedule-rooms"')
    assert by_dermatologist.count('class="schedule-card ') == dermatologists * appointments_each
    assert by_room.count('class="schedule-card ') == dermatologists * appointments_each


@pytest.mark.parametrize("appointments", [1, 100])
def test_the_week_view_runs_the_same_seven_queries_however_full_the_week(
    receptionist_client, django_assert_num_queries, appointments
):
    dermatologist = StaffMemberFactory()
    StaffMemberFactory.create_batch(3)
    for weekday in range(5):
        WorkingHoursFactory(staff_member=dermatologist, weekday=weekday)
    room = RoomFactory()
    for n in range(appointments):
        start = _at(A_MONDAY + timedelta(days=n % 7), 8) + timedelta(minutes=15 * (n // 7))
        AppointmentFactory(dermatologist=dermatologist, room=room, starts_at=start)
    # Not cached yet: session, user, staff member (role check), the schedule's versions
    # of the week's days and of every day, the dermatologist with their user and
    # working hours (one LEFT JOIN), the week's appointments with patient, room and
    # procedure type, the dermatologists to switch to
    with django_assert_num_queries(7):
        html = receptionist_client.get(_week_url(dermatologist.pk, A_MONDAY)).content.decode()
    assert html.count('class="schedule-card ') == appointments
