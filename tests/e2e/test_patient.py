"""The patient's side in a real browser: the reminders the outbox delivered to a real SMTP
server, and the links in them: confirm the visit, read the aftercare, stop reminders,
claim a freed time from the waitlist. Screenshots of the pages go to
docs/screenshots/patient-*.png."""

import re
from datetime import datetime, time, timedelta
from email.message import Message

import pytest
import time_machine
from django.utils import formats, timezone, translation
from selenium.webdriver.common.by import By

from clinic.models import Reminder, StaffMember
from clinic.outbox import reminders_send_due
from patients.models import Channel
from treatments.models import Appointment, ProcedureType, WaitlistEntry
from treatments.services import appointment_book, appointment_cancel
from treatments.services.records import procedure_record, procedure_sign

from ..clinic import test_outbox
from ..factories import (
    AppointmentFactory,
    LesionFactory,
    PatientFactory,
    RoomFactory,
    StaffMemberFactory,
    UserFactory,
)
from ..treatments.conftest import open_all_week
from .conftest import (
    gone,
    response_status,
    screenshot,
    submit_and_wait,
    wait,
    wait_for,
    wait_for_text,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# The outbox tests' SMTP server (aiosmtpd) on loopback; the email backend points at it.
smtp_server = test_outbox.smtp_server


@pytest.fixture
def treated_patient():
    """Grace Okoye, an adult who agreed to reminders by email: a cryotherapy recorded and
    signed today, and her next visit booked at 10:00 the day after tomorrow."""
    doctor = open_all_week(
        StaffMemberFactory(user=UserFactory(first_name="Ana", last_name="Ortiz")),
    )
    desk = StaffMemberFactory(role=StaffMember.Role.RECEPTIONIST)
    room = RoomFactory(name="Treatment room 1")
    cryotherapy = ProcedureType.objects.get(slug="cryotherapy")
    patient = PatientFactory(
        first_name="Grace",
        last_name="Okoye",
        email="grace.okoye@example.com",
        preferred_channel=Channel.EMAIL,
        reminder_consent=True,
        reminder_consent_changed_at=timezone.now(),
    )
    todays_visit = AppointmentFactory(
        patient=patient,
        dermatologist=doctor,
        room=room,
        procedure_type=cryotherapy,
        starts_at=timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=30),
        status=Appointment.Status.CHECKED_IN,
    )
    procedure = procedure_record(
        appointment=todays_visit,
        procedure_type=cryotherapy,
        lesions=[LesionFactory(patient=patient)],
        technique={"cryo_method": "cotton_tip", "freeze_seconds": 5, "freeze_thaw_cycles": 1},
        consent={"consent_obtained": True, "consent_given_by": "patient"},
        complications={},
        note="Tolerated well.",
        by=doctor.user,
    )
    procedure_sign(procedure=procedure, by=doctor.user)
    day = timezone.localdate() + timedelta(days=2)
    next_visit = appointment_book(
        patient=patient,
        dermatologist=doctor,
        procedure_type=cryotherapy,
        starts_at=timezone.make_aware(datetime.combine(day, time(10, 0))),
        booked_by=desk.user,
    )
    return patient, procedure, next_visit


def text_body(message: Message) -> str:
    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode(part.get_content_charset())


def press(driver, button_text: str) -> None:
    """Press the page's button, and check that the answer is a page, not a refusal."""
    submit_and_wait(driver, driver.find_element(By.XPATH, f"//button[text()='{button_text}']"))
    body = driver.find_element(By.TAG_NAME, "body").text
    assert response_status(driver) == 200, f"{button_text!r} was answered with:\n{body[:500]}"


def link_after(text: str, label: str, base_url: str) -> str:
    """The link that follows `label` in a message's text, which must be one of ours."""
    found = re.search(rf"{re.escape(label)}\s*(\S+)", text)
    assert found, f"no link after {label!r} in:\n{text}"
    assert found.group(1).startswith(f"{base_url}/l/"), found.group(1)
    return found.group(1)


def test_a_patient_follows_the_links_in_her_reminders(
    browser, live_server, settings, smtp_server, treated_patient
):
    settings.CLINIC_BASE_URL = live_server.url
    patient, procedure, visit = treated_patient

    # The sweep runs when the visit's 24-hour reminder falls due; the aftercare message
    # and the booking's confirmation have been due since the record was signed and the
    # visit booked.
    due = Reminder.objects.get(source_key=f"appointment:{visit.pk}").next_attempt_at
    with time_machine.travel(due + timedelta(minutes=1)):
        outcomes = reminders_send_due()
    assert outcomes["sent"] == 3
    assert "Booked" in {message["Subject"].split(":")[0] for message in smtp_server.messages}
    messages = {message["Subject"].split(":")[0]: message for message in smtp_server.messages}
    assert set(smtp_server.recipients()) == {"grace.okoye@example.com"}
    reminder = text_body(messages["Reminder"])
    aftercare = text_body(messages["After your visit today"])  # no word of skin or treatment
    confirm_url = link_after(reminder, "Confirm:", live_server.url)
    stop_url = link_after(reminder, "To stop reminders:", live_server.url)
    aftercare_url = link_after(aftercare, "What to do in the next days:", live_server.url)

    # Confirm the visit: the page says when, and nothing of what is treated.
    browser.get(confirm_url)
    wait_for_text(browser, "h1", "Confirm your visit")
    page = browser.find_element(By.TAG_NAME, "body").text
    assert f"{timezone.localtime(visit.starts_at):%A} " in page
    assert procedure.procedure_type.name.lower() not in page.lower()
    screenshot(browser, "patient-01-confirm")
    press(browser, "Confirm my visit")
    wait_for_text(browser, "main", "is confirmed")
    screenshot(browser, "patient-02-confirmed")
    visit.refresh_from_db()
    assert visit.status == Appointment.Status.CONFIRMED

    # The aftercare instructions, as the dermatologist gave them.
    browser.get(aftercare_url)
    wait_for_text(browser, "h1", "Your aftercare instructions")
    shown = " ".join(wait_for(browser, ".aftercare-text").text.split())
    assert procedure.aftercare_text
    assert shown == " ".join(procedure.aftercare_text.split())
    screenshot(browser, "patient-03-aftercare")

    # Stop reminders: consent is withdrawn.
    browser.get(stop_url)
    wait_for_text(browser, "h1", "Stop reminders")
    screenshot(browser, "patient-04-stop")
    press(browser, "Stop reminders")
    wait_for_text(browser, "h1", "Reminders stopped")
    screenshot(browser, "patient-05-stopped")
    patient.refresh_from_db()
    assert patient.reminder_consent is False


@pytest.fixture
def freed_time(settings):
    """A visit at 10:00 the day after tomorrow, cancelled: its time is offered to Ana and
    Ben, both on the waitlist for such a time by email, at once, at any hour the suite
    runs (quiet hours are tests/clinic/test_outbox.py's)."""
    settings.CLINIC_QUIET_HOURS = None
    doctor = open_all_week(StaffMemberFactory())
    RoomFactory(name="Treatment room 1")
    cryotherapy = ProcedureType.objects.get(slug="cryotherapy")
    day = timezone.localdate() + timedelta(days=2)
    visit = appointment_book(
        patient=PatientFactory(),
        dermatologist=doctor,
        procedure_type=cryotherapy,
        starts_at=timezone.make_aware(datetime.combine(day, time(10, 0))),
        booked_by=None,
    )
    entries = [
        WaitlistEntry.objects.create(
            patient=PatientFactory(
                first_name=name,
                email=f"{name.lower()}@example.com",
                preferred_channel=Channel.EMAIL,
                reminder_consent=True,
                reminder_consent_changed_at=timezone.now(),
            ),
            procedure_type=cryotherapy,
            earliest_date=timezone.localdate(),
            latest_date=day + timedelta(days=7),
        )
        for name in ("Ana", "Ben")
    ]
    appointment_cancel(appointment=visit, reason="Patient is ill")
    return visit, entries


def test_two_patients_claim_one_freed_time_one_gets_it_the_other_is_told(
    new_browser, live_server, settings, smtp_server, freed_time
):
    settings.CLINIC_BASE_URL = live_server.url
    visit, (ana, ben) = freed_time
    outcomes = reminders_send_due()  # the offers went out at the cancellation
    assert outcomes["sent"] == 2
    offers = {message["To"].split("<")[1].rstrip(">"): message for message in smtp_server.messages}
    windows = {}
    for entry in (ana, ben):
        url = link_after(
            text_body(offers[entry.patient.email]),
            "The first to claim it gets it:",
            live_server.url,
        )
        windows[entry.pk] = window = new_browser()
        window.get(url)
        wait_for_text(window, "h1", "An earlier time is free")
        page = window.find_element(By.TAG_NAME, "body").text
        assert f"{timezone.localtime(visit.starts_at):%A} " in page and "10:00" in page

    # Both press Claim, one right after the other: the database books one of them.
    buttons = {
        pk: window.find_element(By.XPATH, "//button[text()='Claim this time']")
        for pk, window in windows.items()
    }
    old_pages = {pk: window.find_element(By.TAG_NAME, "html") for pk, window in windows.items()}
    for pk in (ana.pk, ben.pk):
        buttons[pk].click()
    headings = {}
    for pk, window in windows.items():
        wait(window).until(gone(old_pages[pk]))
        headings[pk] = (wait_for(window, "h1").text, response_status(window))

    [winner] = [pk for pk, heading in headings.items() if heading == ("The time is yours", 200)]
    [loser] = [pk for pk in headings if pk != winner]
    assert headings[loser] == ("This time has been taken.", 409)
    assert "still on the waiting list" in windows[loser].find_element(By.TAG_NAME, "main").text
    [booked] = Appointment.objects.active().filter(starts_at=visit.starts_at)
    entries = {entry.pk: entry for entry in WaitlistEntry.objects.all()}
    assert booked.patient == entries[winner].patient
    assert entries[winner].status == WaitlistEntry.Status.BOOKED
    assert entries[loser].status == WaitlistEntry.Status.WAITING


def test_a_french_patient_reads_and_confirms_her_visit_in_french(
    browser, live_server, settings, smtp_server
):
    """Camille's language is French: the confirmation email, the visit's page (its
    <html lang>) and the confirm page speak French, dates included."""
    settings.CLINIC_BASE_URL = live_server.url
    # The confirmation goes out now, at any hour the suite runs (quiet hours are
    # tests/clinic/test_outbox.py's).
    settings.CLINIC_QUIET_HOURS = None
    doctor = open_all_week(StaffMemberFactory())
    RoomFactory()
    camille = PatientFactory(
        first_name="Camille",
        email="camille@example.com",
        preferred_channel=Channel.EMAIL,
        language="fr",
        reminder_consent=True,
        reminder_consent_changed_at=timezone.now(),
    )
    day = timezone.localdate() + timedelta(days=2)
    visit = appointment_book(
        patient=camille,
        dermatologist=doctor,
        procedure_type=ProcedureType.objects.get(slug="cryotherapy"),
        starts_at=timezone.make_aware(datetime.combine(day, time(10, 0))),
        booked_by=None,
    )
    reminders_send_due()
    [confirmation] = smtp_server.messages
    visit_url = link_after(text_body(confirmation), "l’annuler :", live_server.url)
    with translation.override("fr"):
        french_day = formats.date_format(day, "VISIT_DATE_FORMAT")  # e.g. jeudi 10 décembre 2026

    browser.get(visit_url)
    wait_for_text(browser, "h1", "Votre visite")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr"
    page = browser.find_element(By.TAG_NAME, "body").text
    assert f"le {french_day} à 10:00 avec {doctor}" in page
    assert "Des questions ? Appelez" in page
    browser.find_element(By.LINK_TEXT, "Confirmer ma visite").click()
    wait_for_text(browser, "h1", "Confirmez votre visite")
    press(browser, "Confirmer ma visite")
    wait_for_text(browser, "main", "est confirmée")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Merci"
    visit.refresh_from_db()
    assert visit.status == Appointment.Status.CONFIRMED
