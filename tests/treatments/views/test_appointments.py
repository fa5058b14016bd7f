"""The front desk's booking screens: access, booking, conflicts, actions, arrivals, waitlist."""

import json
import re
from datetime import UTC, date, datetime, time, timedelta
from html import unescape
from urllib.parse import quote

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clinic.models import Reminder
from treatments.models import Appointment, WaitlistEntry
from treatments.services import appointment_book, appointment_cancel

from ...factories import AppointmentFactory, PatientFactory, StaffMemberFactory, UserFactory
from ..conftest import open_all_week

pytestmark = pytest.mark.django_db
ROLES = ["anonymous", "receptionist", "dermatologist", "manager"]


@pytest.fixture
def visit(dermatologist, cryotherapy, treatment_room, tomorrow_at):
    return appointment_book(
        patient=PatientFactory(),
        dermatologist=dermatologist,
        procedure_type=cryotherapy,
        starts_at=tomorrow_at(10),
        booked_by=None,
    )


def slot_value(dermatologist, starts_at, room) -> str:
    """The picker's value for a slot: its start in UTC, as the availability service gives it."""
    return f"{dermatologist.pk}|{starts_at.astimezone(UTC).isoformat()}|{room.pk if room else ''}"


def around(procedure_type, starts_at) -> str:
    return f"procedure_type={procedure_type.pk}&around={quote(starts_at.isoformat())}"


def alternatives_offered(client, refused) -> str:
    """The nearest free times a refused booking's page fetches (htmx), as the desk sees them."""
    page = refused.content.decode()
    loader = re.search(r'id="alternatives" data-hx-get="([^"]+)"', page)
    assert loader, "the refusal links no alternatives"
    answer = client.get(unescape(loader.group(1)), headers={"HX-Request": "true"})
    assert answer.status_code == 200
    return answer.content.decode()


def booking_form(patient, cryotherapy, dermatologist, starts_at, room):
    return {
        "patient": patient.pk,
        "procedure_type": cryotherapy.pk,
        "dermatologist": dermatologist.pk,
        "date": timezone.localdate(starts_at).isoformat(),
        "slot": slot_value(dermatologist, starts_at, room),
    }


GET_PAGES = {
    # name: (expected status for anonymous, receptionist, dermatologist, manager)
    "treatments:appointment_book": (302, 200, 403, 200),
    "treatments:slot_picker": (302, 200, 403, 200),
    "treatments:appointment_detail": (302, 200, 200, 200),
    "treatments:appointment_reschedule": (302, 200, 403, 200),
    "treatments:arrivals": (302, 200, 200, 200),
    "treatments:waitlist": (302, 200, 200, 200),
    "treatments:waitlist_add": (302, 200, 403, 200),
    "treatments:slot_alternatives": (302, 200, 403, 200),
    "treatments:alternatives_api": (302, 200, 403, 200),
}


@pytest.mark.parametrize("name", GET_PAGES)
@pytest.mark.parametrize("role_index", range(4), ids=ROLES)
def test_each_page_admits_the_roles_it_should(as_role, visit, cryotherapy, name, role_index):
    client = as_role(ROLES[role_index])
    args = (
        [visit.pk]
        if name in ("treatments:appointment_detail", "treatments:appointment_reschedule")
        else []
    )
    query = {
        "treatments:appointment_book": f"?patient={visit.patient_id}",
        "treatments:waitlist_add": f"?patient={visit.patient_id}",
        "treatments:slot_picker": f"?procedure_type={cryotherapy.pk}&date={timezone.localdate()}",
        "treatments:slot_alternatives": "?" + around(cryotherapy, visit.starts_at),
        "treatments:alternatives_api": "?" + around(cryotherapy, visit.starts_at),
    }.get(name, "")
    response = client.get(reverse(name, args=args) + query)
    assert response.status_code == GET_PAGES[name][role_index]
    if role_index == 0:
        assert response["Location"].startswith("/login/")


@pytest.mark.parametrize(
    "name", ["treatments:appointment_detail", "treatments:appointment_reschedule"]
)
def test_an_appointment_that_does_not_exist_is_a_404(receptionist_client, name):
    assert receptionist_client.get(reverse(name, args=[999999])).status_code == 404


def test_an_unknown_action_is_a_404_and_a_get_is_refused(receptionist_client, visit):
    assert (
        receptionist_client.post(
            reverse("treatments:appointment_action", args=[visit.pk, "explode"])
        ).status_code
        == 404
    )
    assert (
        receptionist_client.get(
            reverse("treatments:appointment_action", args=[visit.pk, "confirm"])
        ).status_code
        == 405
    )


def test_booking_without_a_patient_asks_who_it_is_for_and_keeps_the_chosen_time(
    receptionist_client, dermatologist
):
    found = PatientFactory(first_name="Marta", last_name="Kowalczyk")
    PatientFactory(first_name="Omar", last_name="Haddad")
    url = reverse("treatments:appointment_book")
    chosen = f"dermatologist={dermatologist.pk}&date=2030-03-04&time=09:15"
    asked = receptionist_client.get(f"{url}?{chosen}")
    assert asked.status_code == 200
    assert "who is it for?" in asked.content.decode()
    assert '<input type="hidden" name="time" value="09:15">' in asked.content.decode()
    page = receptionist_client.get(f"{url}?{chosen}&q=kowal").content.decode()
    assert (
        f'href="{url}?patient={found.pk}&amp;{chosen.replace("&", "&amp;").replace(":", "%3A")}"'
        in page
    )
    assert "Haddad" not in page


def test_the_booking_page_preselects_the_time_chosen_in_the_grid_when_it_is_free(
    receptionist_client, dermatologist, cryotherapy, treatment_room, tomorrow_at
):
    patient = PatientFactory()
    day = timezone.localdate(tomorrow_at(9))
    query = {
        "patient": patient.pk,
        "procedure_type": cryotherapy.pk,
        "dermatologist": dermatologist.pk,
        "date": day.isoformat(),
    }
    url = reverse("treatments:appointment_book")
    free = receptionist_client.get(url, {**query, "time": "09:15"}).content.decode()
    chosen = slot_value(dermatologist, tomorrow_at(9, 15), treatment_room)
    assert f'value="{chosen}" checked' in free
    assert free.count(" checked") == 1
    AppointmentFactory(
        dermatologist=dermatologist, procedure_type=cryotherapy, starts_at=tomorrow_at(9, 15)
    )
    taken = receptionist_client.get(url, {**query, "time": "09:15"}).content.decode()
    assert " checked" not in taken
    garbled = receptionist_client.get(url, {**query, "time": "nine"})
    assert garbled.status_code == 200
    assert " checked" not in garbled.content.decode()


def test_the_slot_picker_preselects_the_chosen_time_once_a_procedure_is_chosen(
    receptionist_client, dermatologist, cryotherapy, treatment_room, tomorrow_at
):
    day = timezone.localdate(tomorrow_at(9))
    picker = receptionist_client.get(
        reverse("treatments:slot_picker"),
        {
            "procedure_type": cryotherapy.pk,
            "dermatologist": dermatologist.pk,
            "date": day.isoformat(),
            "time": "10:30",
        },
    ).content.decode()
    chosen = slot_value(dermatologist, tomorrow_at(10, 30), treatment_room)
    assert f'value="{chosen}" checked' in picker


def test_the_booking_page_lists_the_free_times_of_the_day(
    receptionist_client, dermatologist, cryotherapy, treatment_room, tomorrow_at
):
    patient = PatientFactory()
    day = timezone.localdate(tomorrow_at(9))
    response = receptionist_client.get(
        reverse("treatments:appointment_book"),
        {"patient": patient.pk, "procedure_type": cryotherapy.pk, "date": day.isoformat()},
    )
    assert response.status_code == 200
    assert slot_value(dermatologist, tomorrow_at(8), treatment_room) in response.content.decode()


def test_booking_a_free_time_creates_the_visit_and_shows_it(
    receptionist_client, dermatologist, cryotherapy, treatment_room, tomorrow_at
):
    patient = PatientFactory()
    form = booking_form(patient, cryotherapy, dermatologist, tomorrow_at(9), treatment_room)
    response = receptionist_client.post(
        f"{reverse('treatments:appointment_book')}?patient={patient.pk}", form
    )
    appointment = Appointment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("treatments:appointment_detail", args=[appointment.pk])
    assert appointment.created_by == receptionist_client.staff_member.user


def test_booking_a_taken_time_is_a_409_form_error_offering_alternatives(
    receptionist_client, visit, cryotherapy, treatment_room
):
    patient = PatientFactory()
    form = booking_form(patient, cryotherapy, visit.dermatologist, visit.starts_at, treatment_room)
    response = receptionist_client.post(
        f"{reverse('treatments:appointment_book')}?patient={patient.pk}", form
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "already booked" in html
    assert "That time is taken." in html
    offers = alternatives_offered(receptionist_client, response)
    assert "The nearest free times" in offers
    offered = re.findall(
        r'name="slot" id="alternative-\d+" value="([^"]+)" form="booking-form"', offers
    )
    assert offered
    assert slot_value(visit.dermatologist, visit.starts_at, treatment_room) not in offered
    assert Appointment.objects.count() == 1


def test_the_alternatives_of_a_time_are_those_nearest_and_free(
    receptionist_client, visit, cryotherapy
):
    url = reverse("treatments:slot_alternatives")
    query = around(cryotherapy, visit.starts_at) + f"&dermatologist={visit.dermatologist_id}"
    offers = receptionist_client.get(f"{url}?{query}&form=reschedule-form").content.decode()
    starts = [
        datetime.fromisoformat(value.split("|")[1])
        for value in re.findall(r'value="([^"]+)" form="reschedule-form"', offers)
    ]
    length = timedelta(minutes=cryotherapy.duration_minutes)
    assert len(starts) == 3  # the dermatologist's three nearest, around the booked visit
    assert all(start >= visit.ends_at or start + length <= visit.starts_at for start in starts)
    assert max(abs(start - visit.starts_at) for start in starts) <= 2 * length


@pytest.mark.parametrize(
    "query",
    [
        "",
        "procedure_type=1",
        "procedure_type=1&around=2030-01-01T09:00",
        "around=x&procedure_type=x",
    ],
)
def test_a_bad_alternatives_search_is_a_400(receptionist_client, cryotherapy, query):
    assert (
        receptionist_client.get(f"{reverse('treatments:slot_alternatives')}?{query}").status_code
        == 400
    )
    api = receptionist_client.get(f"{reverse('treatments:alternatives_api')}?{query}")
    assert api.status_code == 400
    assert "fields" in api.json()


def test_a_tampered_slot_is_a_form_error_not_a_500(receptionist_client, visit, cryotherapy):
    form = {
        "patient": visit.patient_id,
        "procedure_type": cryotherapy.pk,
        "date": "2030-01-01",
        "slot": "1|not-a-time|",
    }
    response = receptionist_client.post(reverse("treatments:appointment_book"), form)
    assert response.status_code == 400
    assert "Pick one of the free times" in response.content.decode()
    assert Appointment.objects.count() == 1


def test_booking_as_json_answers_201_then_409_with_alternatives(
    receptionist_client, dermatologist, cryotherapy, treatment_room, tomorrow_at
):
    body = {
        "patient": PatientFactory().pk,
        "dermatologist": dermatologist.pk,
        "procedure_type": cryotherapy.pk,
        "starts_at": tomorrow_at(9).isoformat(),
    }
    url = reverse("treatments:appointment_book_api")

    first = receptionist_client.post(url, json.dumps(body), content_type="application/json")
    second = receptionist_client.post(url, json.dumps(body), content_type="application/json")

    assert first.status_code == 201
    assert second.status_code == 409
    assert second.json()["error"] == "No treatment room is free at that time."
    alternatives = receptionist_client.get(second.json()["alternatives_url"]).json()["alternatives"]
    assert alternatives
    assert body["starts_at"] not in [slot["starts_at"] for slot in alternatives]
    assert all(slot["dermatologist"] == dermatologist.pk for slot in alternatives)
    assert Appointment.objects.count() == 1


def test_bookings_from_the_desk_and_from_the_api_both_queue_a_confirmation(
    receptionist_client, dermatologist, cryotherapy, treatment_room, tomorrow_at
):
    patients = [
        PatientFactory(reminder_consent=True, reminder_consent_changed_at=timezone.now())
        for _ in range(2)
    ]
    form = booking_form(patients[0], cryotherapy, dermatologist, tomorrow_at(9), treatment_room)
    receptionist_client.post(
        f"{reverse('treatments:appointment_book')}?patient={patients[0].pk}", form
    )
    body = {
        "patient": patients[1].pk,
        "dermatologist": dermatologist.pk,
        "procedure_type": cryotherapy.pk,
        "starts_at": tomorrow_at(11).isoformat(),
    }
    receptionist_client.post(
        reverse("treatments:appointment_book_api"),
        json.dumps(body),
        content_type="application/json",
    )

    for patient in patients:
        [visit] = Appointment.objects.filter(patient=patient)
        [confirmation] = Reminder.objects.filter(kind=Reminder.Kind.CONFIRMATION, patient=patient)
        assert confirmation.source_key == f"appointment:{visit.pk}:booked"
        assert confirmation.status == Reminder.Status.PENDING


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[1, 2]",
        json.dumps({"patient": 1}),
        json.dumps(
            {
                "patient": 999999,
                "dermatologist": 1,
                "procedure_type": 1,
                "starts_at": "2030-01-01T10:00:00+00:00",
            }
        ),
        json.dumps({"patient": [1], "dermatologist": {"id": 1}, "starts_at": 7}),
    ],
)
def test_bad_json_bookings_are_400_with_a_message(receptionist_client, body):
    response = receptionist_client.post(
        reverse("treatments:appointment_book_api"), body, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]
    assert Appointment.objects.count() == 0


@pytest.mark.parametrize(
    ("starts_at", "message"),
    [
        ("9999-12-31T23:59:00+00:00", "too far ahead"),
        ("2030-01-01T10:00:00", "UTC offset"),
        ("next tuesday", "ISO 8601"),
    ],
)
def test_a_json_booking_names_what_is_wrong_with_its_time(
    receptionist_client, dermatologist, cryotherapy, starts_at, message
):
    body = {
        "patient": PatientFactory().pk,
        "dermatologist": dermatologist.pk,
        "procedure_type": cryotherapy.pk,
        "starts_at": starts_at,
    }
    response = receptionist_client.post(
        reverse("treatments:appointment_book_api"), body, content_type="application/json"
    )
    assert response.status_code == 400
    assert message in response.json()["fields"]["starts_at"][0]["message"]
    assert Appointment.objects.count() == 0


def test_the_json_booking_endpoint_is_the_front_desks(as_role):
    url = reverse("treatments:appointment_book_api")
    assert as_role("anonymous").post(url, "{}", content_type="application/json").status_code == 302
    assert (
        as_role("dermatologist").post(url, "{}", content_type="application/json").status_code == 403
    )
    assert as_role("receptionist").get(url).status_code == 405


def test_the_slot_picker_offers_the_next_free_day_when_the_day_is_full(
    receptionist_client, cryotherapy, dermatologist, treatment_room
):
    sunday_without_hours = timezone.localdate() + timedelta(days=400)
    dermatologist.working_hours.filter(weekday=sunday_without_hours.weekday()).delete()
    response = receptionist_client.get(
        reverse("treatments:slot_picker"),
        {"procedure_type": cryotherapy.pk, "date": sunday_without_hours.isoformat()},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "No free time" in html and "Next free" in html
    assert "<html" not in html


def test_cancelling_needs_a_reason(receptionist_client, visit):
    response = receptionist_client.post(
        reverse("treatments:appointment_action", args=[visit.pk, "cancel"]), {"reason": ""}
    )
    assert response.status_code == 400
    visit.refresh_from_db()
    assert visit.status == Appointment.Status.BOOKED


def test_cancelling_shows_the_matching_waitlist_offers(receptionist_client, visit, cryotherapy):
    day = timezone.localdate(visit.starts_at)
    waiting = WaitlistEntry.objects.create(
        patient=PatientFactory(first_name="Waiting"),
        procedure_type=cryotherapy,
        earliest_date=day,
        latest_date=day,
    )
    response = receptionist_client.post(
        reverse("treatments:appointment_action", args=[visit.pk, "cancel"]),
        {"reason": "Ill"},
        follow=True,
    )
    assert response.status_code == 200
    assert "Offer this time to the waitlist" in response.content.decode()
    assert f"waitlist_entry={waiting.pk}" in response.content.decode()


def test_checking_in_a_cancelled_visit_is_a_409(receptionist_client, visit):
    appointment_cancel(appointment=visit, reason="Ill", by=None)
    response = receptionist_client.post(
        reverse("treatments:appointment_action", args=[visit.pk, "check-in"])
    )
    assert response.status_code == 409
    assert "cancelled appointment cannot be checked in" in response.content.decode()


def test_only_a_dermatologist_completes_and_only_the_desk_cancels(
    receptionist_client, dermatologist_client, visit
):
    assert (
        receptionist_client.post(
            reverse("treatments:appointment_action", args=[visit.pk, "complete"])
        ).status_code
        == 403
    )
    response = dermatologist_client.post(
        reverse("treatments:appointment_action", args=[visit.pk, "cancel"]), {"reason": "x"}
    )
    assert response.status_code == 403
    visit.refresh_from_db()
    assert visit.status == Appointment.Status.BOOKED


def test_one_click_check_in_from_the_arrivals_list_swaps_the_row(
    receptionist_client, dermatologist, cryotherapy, treatment_room
):
    start = timezone.now() + timedelta(minutes=1)
    arriving = AppointmentFactory(
        dermatologist=dermatologist,
        procedure_type=cryotherapy,
        room=treatment_room,
        starts_at=start,
    )
    page = receptionist_client.get(reverse("treatments:arrivals")).content.decode()
    assert f"Check in {arriving.patient.full_name}" in page

    response = receptionist_client.post(
        reverse("treatments:appointment_action", args=[arriving.pk, "check-in"]),
        {"from": "arrivals"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert response.content.decode().strip().startswith(f'<tr id="arrival-{arriving.pk}"')
    arriving.refresh_from_db()
    assert arriving.status == Appointment.Status.CHECKED_IN


def test_dermatologists_see_arrivals_without_check_in_buttons(
    dermatologist_client, dermatologist, cryotherapy
):
    AppointmentFactory(
        dermatologist=dermatologist,
        procedure_type=cryotherapy,
        starts_at=timezone.now() + timedelta(minutes=5),
    )
    page = dermatologist_client.get(reverse("treatments:arrivals")).content.decode()
    assert "Check in" not in page


def test_rescheduling_through_the_page_moves_the_visit(
    receptionist_client, visit, treatment_room, tomorrow_at
):
    new_start = tomorrow_at(15)
    response = receptionist_client.post(
        reverse("treatments:appointment_reschedule", args=[visit.pk]),
        {
            "date": new_start.date().isoformat(),
            "slot": slot_value(visit.dermatologist, new_start, treatment_room),
        },
    )
    assert response.status_code == 302
    visit.refresh_from_db()
    assert visit.starts_at == new_start


def test_adding_to_and_removing_from_the_waitlist(receptionist_client, cryotherapy):
    patient = PatientFactory()
    today = timezone.localdate()
    bad = receptionist_client.post(
        reverse("treatments:waitlist_add"),
        {
            "patient": patient.pk,
            "procedure_type": cryotherapy.pk,
            "earliest_date": today.isoformat(),
            "latest_date": (today - timedelta(days=1)).isoformat(),
        },
    )
    assert bad.status_code == 400
    assert not WaitlistEntry.objects.exists()

    good = receptionist_client.post(
        reverse("treatments:waitlist_add"),
        {
            "patient": patient.pk,
            "procedure_type": cryotherapy.pk,
            "earliest_date": today.isoformat(),
            "latest_date": (today + timedelta(days=9)).isoformat(),
        },
    )
    entry = WaitlistEntry.objects.get()
    assert good.status_code == 302
    assert entry.created_by == receptionist_client.staff_member.user
    assert (
        patient.full_name
        in receptionist_client.get(reverse("treatments:waitlist")).content.decode()
    )

    receptionist_client.post(reverse("treatments:waitlist_remove", args=[entry.pk]))
    entry.refresh_from_db()
    assert entry.status == WaitlistEntry.Status.REMOVED


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("treatments:appointment_book", []),
        ("treatments:appointment_action", ["cancel"]),
        ("treatments:appointment_reschedule", []),
        ("treatments:waitlist_add", []),
        ("treatments:waitlist_remove", []),
    ],
)
def test_state_changing_views_enforce_csrf(receptionist_client, visit, name, args):
    client = Client(enforce_csrf_checks=True)
    client.force_login(receptionist_client.staff_member.user)
    pk_args = (
        []
        if name in ("treatments:appointment_book", "treatments:waitlist_add")
        else [visit.pk, *args]
    )
    response = client.post(reverse(name, args=pk_args), {"reason": "x"})
    assert response.status_code == 403


def test_a_user_without_a_staff_role_is_refused(visit):
    client = Client()
    client.force_login(UserFactory())
    assert client.get(reverse("treatments:appointment_detail", args=[visit.pk])).status_code == 403


def test_with_any_dermatologist_a_conflict_offers_a_colleague_at_the_same_time(
    receptionist_client, visit, cryotherapy
):
    from clinic.models import Room

    from ...factories import StaffMemberFactory
    from ..conftest import open_all_week

    Room.objects.create(name="Treatment room spare")
    colleague = open_all_week(StaffMemberFactory())
    patient = PatientFactory()
    form = booking_form(patient, cryotherapy, visit.dermatologist, visit.starts_at, visit.room)
    form["dermatologist"] = ""

    response = receptionist_client.post(
        f"{reverse('treatments:appointment_book')}?patient={patient.pk}", form
    )

    assert response.status_code == 409
    same_time = timezone.localtime(visit.starts_at).strftime("%H:%M")
    offers = alternatives_offered(receptionist_client, response).split("The nearest free times")[1]
    assert f"{same_time}–" in offers.split("</div>")[0] + offers
    assert str(colleague) in offers


# --- First-available search, the grouped picker, booking from a waitlist offer ---

MONDAY = date(2026, 6, 1)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


@pytest.fixture
def monday_at_ten():
    with time_machine.travel(local(MONDAY, 10), tick=False):
        yield


def search(client, **params):
    return client.get(reverse("treatments:first_available"), {"search": "1", **params})


def booking_links(html: str) -> list[str]:
    """Links to the booking page with a time chosen."""
    return [
        unescape(href)
        for href in re.findall(r'href="([^"]*appointments/new/[^"]*time=[^"]*)"', html)
    ]


def test_first_available_lists_the_first_free_mornings_by_day_with_booking_links(
    monday_at_ten, receptionist_client, dermatologist, cryotherapy, treatment_room
):
    patient = PatientFactory()

    response = search(
        receptionist_client,
        patient=patient.pk,
        procedure_type=cryotherapy.pk,
        part_of_day="morning",
        within_days="3",
    )

    html = response.content.decode()
    assert response.status_code == 200
    # Monday after 10:00: 10:15 to 11:45 (seven); then Tuesday from 08:00 up to ten in all.
    assert html.index("Monday 1 June 2026") < html.index("Tuesday 2 June 2026")
    assert "Wednesday 3 June 2026" not in html
    links = booking_links(html)
    assert len(links) == 10
    assert links[0] == (
        f"/appointments/new/?patient={patient.pk}&procedure_type={cryotherapy.pk}"
        f"&dermatologist={dermatologist.pk}&date=2026-06-01&time=10%3A15"
    )
    assert links[-1].endswith("&date=2026-06-02&time=08%3A30")


def test_first_available_keeps_the_waitlist_entry_and_skips_busy_days(
    monday_at_ten, receptionist_client, dermatologist, cryotherapy, treatment_room
):
    patient = PatientFactory()
    entry = WaitlistEntry.objects.create(
        patient=patient, procedure_type=cryotherapy, earliest_date=MONDAY, latest_date=MONDAY
    )
    for day in (MONDAY, MONDAY + timedelta(days=1)):  # away two days
        dermatologist.time_off.create(starts_at=local(day, 0), ends_at=local(day, 23, 59))

    html = search(
        receptionist_client,
        patient=patient.pk,
        waitlist_entry=entry.pk,
        procedure_type=cryotherapy.pk,
        dermatologist=dermatologist.pk,
        part_of_day="evening",
    ).content.decode()

    links = booking_links(html)
    assert "Wednesday 3 June 2026" in html and "Monday 1 June" not in html
    assert links[0].endswith(
        f"&waitlist_entry={entry.pk}&procedure_type={cryotherapy.pk}"
        f"&dermatologist={dermatologist.pk}&date=2026-06-03&time=17%3A00"
    )


@pytest.mark.parametrize(
    "params, message",
    [
        ({"within_days": "0"}, "greater than or equal to 1"),
        ({"within_days": "100000"}, "less than or equal to 366"),
        ({"date": "2026-05-31"}, "Search from today or a later day."),
        ({"date": "31/05/2026"}, "Enter a valid date."),
        ({"part_of_day": "night"}, "Select a valid choice."),
        ({"procedure_type": "x"}, "Select a valid choice."),
        ({"dermatologist": "99999"}, "Select a valid choice."),
    ],
)
def test_a_bad_first_available_search_is_a_400_form_error(
    monday_at_ten, receptionist_client, cryotherapy, params, message
):
    response = search(receptionist_client, **{"procedure_type": cryotherapy.pk, **params})

    assert response.status_code == 400
    assert message in unescape(response.content.decode())
    assert booking_links(response.content.decode()) == []


def test_first_available_without_a_patient_lists_times_but_no_booking_links(
    monday_at_ten, receptionist_client, dermatologist, cryotherapy, treatment_room
):
    html = search(receptionist_client, procedure_type=cryotherapy.pk).content.decode()

    assert "10:15</strong>–10:30" in html
    assert booking_links(html) == []
    assert "find the patient first" in html


def test_the_booking_pages_button_searches_with_what_the_form_holds(
    monday_at_ten, receptionist_client, dermatologist, cryotherapy, treatment_room
):
    patient = PatientFactory()
    page = receptionist_client.get(
        reverse("treatments:appointment_book"), {"patient": patient.pk}
    ).content.decode()
    assert f'formaction="{reverse("treatments:first_available")}"' in page

    # What the browser sends for that button: the booking form's fields, by GET.
    response = receptionist_client.get(
        reverse("treatments:first_available"),
        {
            "patient": patient.pk,
            "procedure_type": cryotherapy.pk,
            "dermatologist": "",
            "date": "2026-06-02",
            "slot": "",
            "reason": "",
        },
    )

    assert response.status_code == 200
    assert booking_links(response.content.decode())[0].endswith("&date=2026-06-02&time=08%3A00")


def test_first_available_as_json(
    monday_at_ten, receptionist_client, dermatologist, cryotherapy, treatment_room
):
    url = reverse("treatments:first_available_api")

    found = receptionist_client.get(
        url, {"procedure_type": cryotherapy.pk, "part_of_day": "afternoon", "limit": "2"}
    )
    refused = receptionist_client.get(url, {"procedure_type": cryotherapy.pk, "limit": "0"})

    assert found.status_code == 200
    assert found.json() == {
        "slots": [
            {
                "dermatologist": dermatologist.pk,
                "starts_at": local(MONDAY, 12, minute).astimezone(UTC).isoformat(),
                "ends_at": local(MONDAY, 12, minute + 15).astimezone(UTC).isoformat(),
                "room": treatment_room.pk,
            }
            for minute in (0, 15)
        ]
    }
    assert refused.status_code == 400
    assert "limit" in refused.json()["fields"]


def test_the_slot_picker_groups_times_by_dermatologist_and_part_of_day(
    monday_at_ten, receptionist_client, dermatologist, cryotherapy, treatment_room
):
    tuesday = dermatologist.working_hours.filter(weekday=1)
    tuesday.update(starts_at=time(11, 30), ends_at=time(12, 30))
    dermatologist.working_hours.create(weekday=1, starts_at=time(16, 45), ends_at=time(17, 30))
    colleague = open_all_week(StaffMemberFactory(), starts_at=time(13), ends_at=time(14))

    html = receptionist_client.get(
        reverse("treatments:appointment_book"),
        {"patient": PatientFactory().pk, "procedure_type": cryotherapy.pk, "date": "2026-06-02"},
    ).content.decode()

    groups = html.split('<fieldset class="slot-group">')[1:]
    assert len(groups) == 2
    first, second = groups
    # Each name once, in the group's legend, with the room it has throughout.
    picker = html.split('id="slot-picker"')[1].split('id="id_reason"')[0]
    assert picker.count(str(dermatologist)) == 1 and picker.count(str(colleague)) == 1
    assert f"{dermatologist}" in first and f"· {treatment_room.name}" in first
    assert re.findall(r'<legend class="small[^"]*">(\w+)</legend>', first) == [
        "Morning",
        "Afternoon",
        "Evening",
    ]
    assert re.findall(r'<legend class="small[^"]*">(\w+)</legend>', second) == ["Afternoon"]
    assert first.count('type="radio"') == 7  # 11:30, 11:45 | 12:00, 12:15, 16:45 | 17:00, 17:15
    assert second.count('type="radio"') == 4
    assert treatment_room.name not in first.split("</legend>", 1)[1]  # not on each time


def test_a_waitlist_offer_books_the_freed_time_preselected_and_closes_the_entry(
    monday_at_ten, receptionist_client, dermatologist, cryotherapy, treatment_room
):
    freed_at = local(MONDAY + timedelta(days=1), 11, 30)
    cancelled = appointment_book(
        patient=PatientFactory(),
        dermatologist=dermatologist,
        procedure_type=cryotherapy,
        starts_at=freed_at,
        booked_by=None,
    )
    waiting = WaitlistEntry.objects.create(
        patient=PatientFactory(),
        procedure_type=cryotherapy,
        earliest_date=MONDAY,
        latest_date=MONDAY + timedelta(days=7),
    )
    appointment_cancel(appointment=cancelled, reason="Ill", by=None)
    detail = receptionist_client.get(reverse("treatments:appointment_detail", args=[cancelled.pk]))

    [offer] = booking_links(detail.content.decode())
    booking_page = receptionist_client.get(offer).content.decode()

    freed_slot = slot_value(dermatologist, freed_at, treatment_room)
    assert "time=11:30" in offer and f"waitlist_entry={waiting.pk}" in offer
    [checked] = re.findall(r'<input[^>]*name="slot"[^>]*checked[^>]*>', booking_page)
    assert f'value="{freed_slot}"' in checked

    response = receptionist_client.post(
        offer,
        {
            **booking_form(waiting.patient, cryotherapy, dermatologist, freed_at, treatment_room),
            "waitlist_entry": waiting.pk,
        },
    )

    assert response.status_code == 302
    booked = Appointment.objects.get(patient=waiting.patient)
    assert booked.starts_at == freed_at and booked.status == Appointment.Status.BOOKED
    waiting.refresh_from_db()
    assert waiting.status == WaitlistEntry.Status.BOOKED


def test_a_time_that_is_not_free_preselects_nothing(
    monday_at_ten, receptionist_client, dermatologist, cryotherapy, treatment_room
):
    patient = PatientFactory()
    for wanted in ("07:00", "25:00", "soon"):  # before opening hours; not a time at all
        page = receptionist_client.get(
            reverse("treatments:appointment_book"),
            {
                "patient": patient.pk,
                "procedure_type": cryotherapy.pk,
                "dermatologist": dermatologist.pk,
                "date": "2026-06-02",
                "time": wanted,
            },
        )
        assert page.status_code == 200
        assert 'type="radio"' in page.content.decode()
        assert " checked" not in page.content.decode()


def test_the_slot_picker_says_when_the_day_has_more_free_times_than_it_shows(
    monday_at_ten, receptionist_client, dermatologist, cryotherapy, treatment_room
):
    def picker(**choice):
        query = {"procedure_type": cryotherapy.pk, "date": "2026-06-02", **choice}
        html = receptionist_client.get(reverse("treatments:slot_picker"), query).content.decode()
        return html.count('type="radio"'), "For later ones choose a dermatologist" in html

    assert picker(dermatologist=dermatologist.pk) == (40, False)  # 08:00 to 17:45, all
    open_all_week(StaffMemberFactory())
    assert picker() == (40, True)  # two dermatologists' 80, the first 40 of them shown


def test_the_waitlist_searches_the_first_free_times_an_entry_still_allows(
    monday_at_ten, receptionist_client, dermatologist, cryotherapy, treatment_room
):
    patient = PatientFactory()
    entry = WaitlistEntry.objects.create(
        patient=patient,
        procedure_type=cryotherapy,
        dermatologist=dermatologist,
        earliest_date=MONDAY - timedelta(days=3),  # added last week: today on counts
        latest_date=MONDAY + timedelta(days=6),
    )
    WaitlistEntry.objects.create(  # its days are over: nothing to search
        patient=PatientFactory(),
        procedure_type=cryotherapy,
        earliest_date=MONDAY - timedelta(days=9),
        latest_date=MONDAY - timedelta(days=1),
    )

    page = receptionist_client.get(reverse("treatments:waitlist")).content.decode()
    [search_url] = [
        unescape(url) for url in re.findall(r'href="([^"]*first-available[^"]*)"', page)
    ]
    results = receptionist_client.get(search_url)

    assert "&date=2026-06-01&within_days=7" in search_url
    assert results.status_code == 200
    assert booking_links(results.content.decode())[0] == (
        f"/appointments/new/?patient={patient.pk}&waitlist_entry={entry.pk}"
        f"&procedure_type={cryotherapy.pk}&dermatologist={dermatologist.pk}"
        "&date=2026-06-01&time=10%3A15"
    )
