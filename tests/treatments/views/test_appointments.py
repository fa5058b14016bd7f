"""The front desk's booking screens: access, booking, conflicts, actions, arrivals, waitlist."""

import json
from datetime import UTC, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clinic.models import Reminder
from treatments.models import Appointment, WaitlistEntry
from treatments.services import appointment_book, appointment_cancel

from ...factories import AppointmentFactory, PatientFactory, UserFactory

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


def test_booking_without_a_patient_sends_the_desk_to_the_search(receptionist_client):
    response = receptionist_client.get(reverse("treatments:appointment_book"))
    assert response.status_code == 302
    assert response["Location"] == reverse("treatments:patient_search")


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
    assert "The nearest free times" in html
    assert Appointment.objects.count() == 1


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
    assert second.json()["alternatives"]
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
    offers = response.content.decode().split("The nearest free times")[1]
    assert f"{same_time}–" in offers.split("</div>")[0] + offers
    assert str(colleague) in offers
