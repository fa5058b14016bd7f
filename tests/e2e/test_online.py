"""Patients online in a real browser at a phone's size (390×844): a new patient books a
visit reading the code from the mail outbox, a guardian opens the portal and turns
reminders back on, and every public page passes axe. Screenshots go to
docs/screenshots/online-*.png."""

import re
from datetime import date, time, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.cache import cache
from selenium.webdriver.common.by import By

from patients.models import Patient
from treatments.models import Appointment, ProcedureType

from ..factories import AppointmentFactory, GuardianFactory, StaffMemberFactory, UserFactory
from ..treatments.conftest import open_all_week
from ..treatments.services.test_reminders import at
from .conftest import (
    response_status,
    screenshot,
    serious_accessibility_violations,
    set_value,
    submit_and_wait,
    wait_for,
    wait_for_text,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
PHONE = (390, 844)
MONDAY_9 = at(2026, 5, 4, 9, 0)


@pytest.fixture
def online_clinic():
    """Monday 4 May 2026, 9:00 (the clock ticking): Dr Ana Ortiz works 9 to 17 every day,
    and a consultation may be booked online."""
    cache.clear()
    with time_machine.travel(MONDAY_9, tick=True):
        doctor = open_all_week(
            StaffMemberFactory(user=UserFactory(first_name="Ana", last_name="Ortiz")),
            starts_at=time(9, 0),
            ends_at=time(17, 0),
        )
        consultation = ProcedureType.objects.create(
            slug="consultation",
            name="Consultation",
            is_procedure=False,
            duration_minutes=20,
            needs_treatment_room=False,
            bookable_online=True,
        )
        yield {"doctor": doctor, "consultation": consultation}
    cache.clear()


@pytest.fixture
def phone(browser):
    browser.set_window_size(*PHONE)
    return browser


def code_in_outbox() -> str:
    return re.search(r"\b([0-9]{6})\b", mail.outbox[-1].body).group(1)


def accessible(driver, axe_source, name: str) -> None:
    screenshot(driver, f"online-{name}")
    assert serious_accessibility_violations(driver, axe_source) == [], name


def test_a_new_patient_books_online_with_the_emailed_code(
    phone, live_server, online_clinic, axe_source
):
    phone.get(f"{live_server.url}/book/")
    accessible(phone, axe_source, "book")
    phone.find_element(
        By.CSS_SELECTOR, f"input[name=procedure_type][value='{online_clinic['consultation'].pk}']"
    ).click()
    submit_and_wait(phone, phone.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
    first_time = wait_for(phone, "a.slot")
    assert "Ortiz" in first_time.text
    accessible(phone, axe_source, "book-times")
    submit_and_wait(phone, first_time)

    phone.find_element(By.NAME, "first_name").send_keys("Nora")
    phone.find_element(By.NAME, "last_name").send_keys("Haddad")
    set_value(phone, phone.find_element(By.NAME, "date_of_birth"), "1988-07-14")
    phone.find_element(By.NAME, "contact").send_keys("nora.haddad@example.com")
    accessible(phone, axe_source, "book-details")
    submit_and_wait(phone, phone.find_element(By.CSS_SELECTOR, "form button[type=submit]"))

    wait_for(phone, "input[name=code]").send_keys(code_in_outbox())
    accessible(phone, axe_source, "book-code")
    submit_and_wait(phone, phone.find_element(By.CSS_SELECTOR, "form button[type=submit]"))

    wait_for_text(phone, "h1", "Your visit is booked")
    assert "Ortiz" in phone.find_element(By.ID, "booked").text
    accessible(phone, axe_source, "booked")
    visit = Appointment.objects.select_related("patient").get()
    assert visit.patient.full_name == "Nora Haddad" and visit.patient.registered_online
    assert visit.starts_at == MONDAY_9 + timedelta(minutes=15)


def test_a_guardian_opens_the_portal_and_turns_reminders_back_on(
    phone, live_server, online_clinic, axe_source, worker_at_once
):
    child = GuardianFactory(
        first_name="Samir",
        email="samir@example.com",
        patient__first_name="Lina",
        patient__last_name="Haddad",
        patient__date_of_birth=date(2021, 2, 3),
    ).patient
    AppointmentFactory(
        patient=child, dermatologist=online_clinic["doctor"], starts_at=at(2026, 5, 6, 11, 0)
    )
    phone.get(f"{live_server.url}/portal/")
    accessible(phone, axe_source, "portal")
    phone.find_element(By.NAME, "contact").send_keys("samir@example.com")
    submit_and_wait(phone, phone.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
    wait_for(phone, "input[name=code]").send_keys(code_in_outbox())
    accessible(phone, axe_source, "portal-code")
    submit_and_wait(phone, phone.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))

    wait_for_text(phone, "main", "Lina Haddad")
    assert "Move or cancel" in phone.find_element(By.TAG_NAME, "main").text
    accessible(phone, axe_source, "portal-home")
    consent = phone.find_element(By.NAME, f"patient-{child.pk}-reminder_consent")
    assert not consent.is_selected()
    phone.execute_script("arguments[0].scrollIntoView({block: 'center'});", consent)
    consent.click()
    submit_and_wait(phone, phone.find_element(By.CSS_SELECTOR, "form.preferences button"))

    wait_for_text(phone, "main", "Saved.")
    child.refresh_from_db()
    assert child.reminder_consent and child.reminder_consent_changed_by is None
    submit_and_wait(phone, phone.find_element(By.CSS_SELECTOR, "header form button"))
    wait_for_text(phone, "h1", "Logged out")
    accessible(phone, axe_source, "portal-logged-out")


def test_the_refusal_and_taken_time_pages_are_accessible(
    phone, live_server, online_clinic, axe_source
):
    doctor, consultation = online_clinic["doctor"], online_clinic["consultation"]
    starts_at = at(2026, 5, 5, 10, 0)
    phone.get(
        f"{live_server.url}/book/details/?procedure_type={consultation.pk}"
        f"&dermatologist={doctor.pk}&starts_at={starts_at.isoformat().replace('+', '%2B')}"
    )
    phone.find_element(By.NAME, "first_name").send_keys("Omar")
    phone.find_element(By.NAME, "last_name").send_keys("Haddad")
    set_value(phone, phone.find_element(By.NAME, "date_of_birth"), "1979-01-30")
    phone.find_element(By.NAME, "contact").send_keys("omar@example.com")
    submit_and_wait(phone, phone.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
    AppointmentFactory(
        dermatologist=doctor, procedure_type=consultation, room=None, starts_at=starts_at
    )
    wait_for(phone, "input[name=code]").send_keys(code_in_outbox())
    submit_and_wait(phone, phone.find_element(By.CSS_SELECTOR, "form button[type=submit]"))

    wait_for_text(phone, "h1", "That time was just taken")
    assert response_status(phone) == 409
    accessible(phone, axe_source, "book-taken")
    assert Patient.objects.count() == 1  # the other booking's patient only

    phone.get(f"{live_server.url}/book/verify/not-a-real-one/")
    phone.find_element(By.NAME, "code").send_keys("123456")
    submit_and_wait(phone, phone.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
    wait_for_text(phone, "h1", "Sorry")
    assert response_status(phone) == 409
    accessible(phone, axe_source, "refused")
