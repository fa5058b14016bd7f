"""The day view (dermatologists side by side) and the week view of one dermatologist."""

import re
from datetime import date, datetime, time, timedelta

import pytest
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
    grid = html.split('class="schedule-rooms"')[0]
    parts = re.split(r'(?=<section class="schedule-column)', grid)[1:]
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


def test_the_rooms_strip_shows_the_times_active_appointments_hold_each_room(receptionist_client):
    room, empty_room = RoomFactory(), RoomFactory()
    AppointmentFactory(room=room, starts_at=_at(A_MONDAY, 9))
    AppointmentFactory(
        room=room,
        starts_at=_at(A_MONDAY, 11),
        status=Appointment.Status.CANCELLED,
        cancellation_reason="Rescheduled by phone",
    )
    html = receptionist_client.get(_day_url(A_MONDAY)).content.decode()
    rooms = html.split('class="schedule-rooms"')[1]
    room_row = rooms.split(f'data-room="{room.pk}"')[1].split("</li>")[0]
    assert "09:00–09:15" in room_row
    assert "11:00" not in room_row
    assert "free all day" in rooms.split(f'data-room="{empty_room.pk}"')[1].split("</li>")[0]


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
def test_the_day_view_runs_the_same_six_queries_however_full_the_day(
    receptionist_client, django_assert_num_queries, dermatologists, appointments_each
):
    for _ in range(dermatologists):
        dermatologist = StaffMemberFactory()
        WorkingHoursFactory(staff_member=dermatologist)
        room = RoomFactory()
        for n in range(appointments_each):
            start = _at(A_MONDAY, 8) + timedelta(minutes=15 * n)
            AppointmentFactory(dermatologist=dermatologist, room=room, starts_at=start)
    # session, user, staff member (role check), dermatologists with their users and
    # their working hours that weekday (one LEFT JOIN), the day's appointments with
    # patient, dermatologist, room and procedure type, the rooms
    with django_assert_num_queries(6):
        html = receptionist_client.get(_day_url(A_MONDAY)).content.decode()
    assert html.count('class="schedule-card ') == dermatologists * appointments_each


@pytest.mark.parametrize("appointments", [1, 100])
def test_the_week_view_runs_the_same_six_queries_however_full_the_week(
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
    # session, user, staff member (role check), the dermatologist with their user and
    # working hours (one LEFT JOIN), the week's appointments with patient, room and
    # procedure type, the dermatologists to switch to
    with django_assert_num_queries(6):
        html = receptionist_client.get(_week_url(dermatologist.pk, A_MONDAY)).content.decode()
    assert html.count('class="schedule-card ') == appointments
