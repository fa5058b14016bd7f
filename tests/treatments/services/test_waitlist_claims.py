"""Claiming a freed time from a waitlist offer (treatments/services/patient_links.py), and
the visit page that an appointment SMS links to (treatments/views/links.py).

The offers are the real ones: a visit is booked and cancelled, and the claim links come
from the offers the cancellation put in the outbox. The clock is set to Monday 4 May
2026, 09:00 clinic time; the freed visit is on Friday 8 May at 10:00.
"""

import re
import threading
from datetime import date, datetime

import pytest
import time_machine
from django.db import connection
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from clinic.links import Action, link_token
from clinic.models import Reminder, UsedPatientLink
from treatments.models import Appointment, WaitlistEntry
from treatments.services import appointment_book, appointment_cancel, waitlist_entry_remove

from ...factories import PatientFactory, RoomFactory, StaffMemberFactory
from ..conftest import open_all_week

Kind = Reminder.Kind
ADDRESS = "12 Harbor Street, Springfield"


def at(*fields) -> datetime:
    return timezone.make_aware(datetime(*fields))


MONDAY_9 = at(2026, 5, 4, 9, 0)
FRIDAY_10 = at(2026, 5, 8, 10, 0)


def consenting(**fields):
    return PatientFactory(
        reminder_consent=True, reminder_consent_changed_at=at(2026, 1, 1, 9), **fields
    )


def link(action: str, subject_id: int) -> str:
    return reverse(
        "treatments:patient_link", args=[link_token(action=action, subject_id=subject_id)]
    )


def waiting(patient, cryotherapy) -> WaitlistEntry:
    return WaitlistEntry.objects.create(
        patient=patient,
        procedure_type=cryotherapy,
        earliest_date=date(2026, 5, 5),
        latest_date=date(2026, 5, 9),
    )


def claim_url(entry: WaitlistEntry) -> str:
    """The claim link of the offer the entry's patient was sent."""
    offer = Reminder.objects.get(kind=Kind.WAITLIST_OFFER, patient=entry.patient)
    action, subject_id = offer.context["links"]["claim_url"]
    return link(action, subject_id)


def freed_time(cryotherapy, *, clinic_time=MONDAY_9):
    """A visit on Friday 8 May at 10:00, booked and cancelled on Monday: its time is offered
    to Ana and Ben, who wait for such a time."""
    with time_machine.travel(clinic_time, tick=False):
        dermatologist = open_all_week(StaffMemberFactory())
        RoomFactory()
        visit = appointment_book(
            patient=consenting(),
            dermatologist=dermatologist,
            procedure_type=cryotherapy,
            starts_at=FRIDAY_10,
            booked_by=None,
        )
        ana = waiting(consenting(first_name="Ana"), cryotherapy)
        ben = waiting(consenting(first_name="Ben"), cryotherapy)
        appointment_cancel(appointment=visit, reason="Patient is ill")
    return visit, ana, ben


@pytest.fixture
def clock(db):
    with time_machine.travel(MONDAY_9, tick=False) as traveller:
        yield traveller


@pytest.fixture
def offer(db, cryotherapy):
    return freed_time(cryotherapy)


def booked_for(entry: WaitlistEntry) -> list[Appointment]:
    return list(Appointment.objects.active().filter(patient=entry.patient))


# --- The offer and its page -------------------------------------------------------------


def test_a_waitlist_offer_carries_a_claim_link_and_no_call_us_only(clock, offer, mailoutbox):
    from clinic.outbox import reminders_send_due

    reminders_send_due()

    offers = [m for m in mailoutbox if m.subject.startswith("An earlier visit is free")]
    assert len(offers) == 2
    assert all("The first to claim it gets it: http://127.0.0.1:8000/l/" in m.body for m in offers)


def test_the_claim_page_shows_the_freed_time_and_a_claim_button_and_changes_nothing(
    clock, client, offer
):
    visit, ana, _ = offer

    response = client.get(claim_url(ana))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Friday 8 May 2026 at 10:00" in page
    assert str(visit.dermatologist) in page
    assert "Claim this time" in page
    assert "cryotherapy" not in page.lower()
    assert booked_for(ana) == [] and UsedPatientLink.objects.count() == 0


def test_the_claim_page_reads_in_four_queries(clock, client, offer, django_assert_num_queries):
    _, ana, _ = offer
    url = claim_url(ana)
    # 1. was the link used  2. the waitlist entry with its patient and procedure type
    # 3. the freed visit with its dermatologist and room  4. is its time taken now
    with django_assert_num_queries(4):
        assert client.get(url).status_code == 200


# --- Claiming ---------------------------------------------------------------------------


def test_the_first_to_claim_books_the_freed_time_and_leaves_the_waitlist(clock, client, offer):
    visit, ana, _ = offer

    response = client.post(claim_url(ana))

    assert response.status_code == 200
    assert "The time is yours" in response.content.decode()
    [booked] = booked_for(ana)
    assert (booked.starts_at, booked.dermatologist, booked.room) == (
        FRIDAY_10,
        visit.dermatologist,
        visit.room,
    )
    ana.refresh_from_db()
    assert ana.status == WaitlistEntry.Status.BOOKED
    # Booked through the booking service: its confirmation is queued like any other.
    assert Reminder.objects.filter(kind=Kind.CONFIRMATION, patient=ana.patient).exists()


def test_a_later_claim_for_the_same_time_is_told_it_is_taken_and_stays_waiting(
    clock, client, offer
):
    _, ana, ben = offer
    bens_link = claim_url(ben)
    client.post(claim_url(ana))

    shown, posted = client.get(bens_link), client.post(bens_link)

    for response in (shown, posted):
        assert response.status_code == 409
        page = response.content.decode()
        assert "This time has been taken." in page
        assert "You are still on the waiting list" in page
    ben.refresh_from_db()
    assert ben.status == WaitlistEntry.Status.WAITING
    assert booked_for(ben) == []
    assert UsedPatientLink.objects.count() == 1  # Ana's; Ben's link may serve him again


def test_a_claim_link_works_once(clock, client, offer):
    _, ana, _ = offer
    url = claim_url(ana)
    client.post(url)

    again = client.post(url)

    assert again.status_code == 410
    assert "already been used" in again.content.decode()
    assert len(booked_for(ana)) == 1


def test_a_claim_for_a_time_now_past_is_refused_politely(client, offer):
    _, ana, _ = offer
    url = claim_url(ana)

    with time_machine.travel(at(2026, 5, 8, 10, 5), tick=False):
        response = client.post(url)

    assert response.status_code == 409
    assert "This time has passed." in response.content.decode()
    assert booked_for(ana) == []


def test_a_claim_from_a_removed_entry_is_refused_politely(clock, client, offer):
    _, ana, _ = offer
    waitlist_entry_remove(entry=ana)

    response = client.post(claim_url(ana))

    assert response.status_code == 409
    assert "You are no longer on the waiting list" in response.content.decode()
    assert booked_for(ana) == []


def test_a_claim_after_the_visit_was_reinstated_is_told_it_is_taken(clock, client, offer):
    from treatments.services import appointment_reinstate

    visit, ana, _ = offer
    url = claim_url(ana)
    appointment_reinstate(appointment=visit, by=None)

    response = client.post(url)

    assert response.status_code == 409
    assert "This time has been taken." in response.content.decode()
    ana.refresh_from_db()
    assert ana.status == WaitlistEntry.Status.WAITING


def test_a_claim_link_for_an_entry_that_no_longer_exists_is_gone(clock, client, offer):
    _, ana, _ = offer
    url = claim_url(ana)
    ana.delete()

    response = client.get(url)

    assert response.status_code == 410


# --- Two claims at once -----------------------------------------------------------------


def post_together(urls: list[str]) -> list:
    """POST each URL from its own thread (its own database connection), all at once."""
    barrier = threading.Barrier(len(urls))
    outcomes: list = [None] * len(urls)

    def run(index):
        try:
            barrier.wait()
            outcomes[index] = Client().post(urls[index]).status_code
        except Exception as error:  # collected and asserted on below
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(urls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_claims_at_once_book_the_time_exactly_once(cryotherapy):
    _, ana, ben = freed_time(cryotherapy)
    urls = [claim_url(ana), claim_url(ben)]

    with time_machine.travel(MONDAY_9, tick=True):
        outcomes = post_together(urls)

    assert sorted(outcomes, key=str) == [200, 409], outcomes
    assert Appointment.objects.active().filter(starts_at=FRIDAY_10).count() == 1
    statuses = sorted(WaitlistEntry.objects.values_list("status", flat=True))
    assert statuses == [WaitlistEntry.Status.BOOKED, WaitlistEntry.Status.WAITING]


# --- The visit page: the one link of an appointment SMS -----------------------------------


@pytest.fixture
def booked(clock, cryotherapy):
    open_all_week(dermatologist := StaffMemberFactory())
    RoomFactory(name="Room 3")
    return appointment_book(
        patient=consenting(),
        dermatologist=dermatologist,
        procedure_type=cryotherapy,
        starts_at=FRIDAY_10,
        booked_by=None,
    )


def test_the_visit_page_offers_confirm_cancel_calendar_and_stop(client, booked):
    response = client.get(link(Action.VISIT, booked.pk))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Friday 8 May 2026 at 10:00" in page
    for words in ("Confirm my visit", "Add to my calendar", "Cancel my visit", "Stop reminders"):
        assert words in page
    assert "cryotherapy" not in page.lower()


def test_the_visit_page_can_be_opened_again_and_changes_nothing(client, booked):
    url = link(Action.VISIT, booked.pk)

    assert [client.get(url).status_code for _ in range(2)] == [200, 200]
    assert client.post(url).status_code == 405
    booked.refresh_from_db()
    assert booked.status == Appointment.Status.BOOKED
    assert UsedPatientLink.objects.count() == 0


def test_the_visit_pages_confirm_button_leads_to_a_working_confirm_link(client, booked):
    page = client.get(link(Action.VISIT, booked.pk)).content.decode()
    [confirm] = re.findall(r'href="([^"]+)">Confirm my visit', page)

    assert client.post(confirm).status_code == 200

    booked.refresh_from_db()
    assert booked.status == Appointment.Status.CONFIRMED
    page = client.get(link(Action.VISIT, booked.pk)).content.decode()
    assert "You have confirmed this visit" in page and "Confirm my visit" not in page


@override_settings(CLINIC_ADDRESS=ADDRESS)
def test_the_visit_pages_calendar_file_has_the_time_and_the_clinics_address(client, booked):
    page = client.get(link(Action.VISIT, booked.pk)).content.decode()
    [calendar_url] = re.findall(r'href="([^"]+\.ics)"', page)

    response = client.get(calendar_url)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    event = Calendar.from_ical(response.content).walk("VEVENT")[0]
    assert event.decoded("dtstart") == FRIDAY_10
    assert str(event["location"]) == ADDRESS
    assert str(event["uid"]).startswith(f"appointment-{booked.pk}@")  # the emails' entry


def test_a_cancelled_visits_page_says_so_and_offers_no_calendar(client, booked):
    token = link_token(action=Action.VISIT, subject_id=booked.pk)
    appointment_cancel(appointment=booked, reason="Patient is ill")

    page = client.get(reverse("treatments:patient_link", args=[token])).content.decode()
    calendar = client.get(reverse("treatments:patient_link_calendar", args=[token]))

    assert "This visit has been cancelled." in page
    assert "Add to my calendar" not in page and "Cancel my visit" not in page
    assert calendar.status_code == 409


def test_a_calendar_file_needs_a_visit_link(client, booked):
    token = link_token(action=Action.CONFIRM, subject_id=booked.pk)

    response = client.get(reverse("treatments:patient_link_calendar", args=[token]))

    assert response.status_code == 400


def test_the_visit_page_reads_in_two_queries(client, booked, django_assert_num_queries):
    url = link(Action.VISIT, booked.pk)
    # 1. the appointment with its dermatologist (and their name) and its patient (consent)
    # 2. the clinic's self-service policy (may it still be moved or cancelled online?)
    with django_assert_num_queries(2):
        assert client.get(url).status_code == 200
