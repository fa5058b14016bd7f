"""The patient's record at the desk in a real browser: a patient stops her reminders with
the link in one of them; the receptionist finds her by MRN, corrects her phone, turns the
reminders back on at her request, and sees both changes in the record's history."""

from datetime import date

import pytest
from django.urls import reverse
from selenium.webdriver.common.by import By

from clinic.links import Action, link_token
from clinic.models import StaffMember
from patients.models import Patient
from patients.services import patient_register

from ..factories import StaffMemberFactory, UserFactory
from .conftest import log_in, submit_and_wait, wait_for, wait_for_text

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def patient() -> Patient:
    """Grace Okoye, who agreed to reminders by email at registration; the desk's Rita Reyes."""
    StaffMemberFactory(
        user=UserFactory(username="reception", first_name="Rita", last_name="Reyes"),
        role=StaffMember.Role.RECEPTIONIST,
    )
    return patient_register(
        patient=Patient(
            first_name="Grace",
            last_name="Okoye",
            date_of_birth=date(1985, 4, 2),
            email="grace.okoye@example.com",
            phone="+12125550143",
            reminder_consent=True,
        ),
        guardian=None,
        allow_duplicate=True,
    )


def test_the_desk_turns_reminders_back_on_after_the_stop_link(new_browser, live_server, patient):
    # Grace stops her reminders with the link from one of them; the page says the desk can
    # turn them back on.
    grace = new_browser()
    stop = reverse(
        "treatments:patient_link", args=[link_token(action=Action.STOP, subject_id=patient.pk)]
    )
    grace.get(live_server.url + stop)
    wait_for_text(grace, "main", "we can turn them back on for you")
    submit_and_wait(grace, grace.find_element(By.XPATH, "//button[text()='Stop reminders']"))
    wait_for_text(grace, "h1", "Reminders stopped")

    # At the desk: found by her MRN, her page says she has not agreed, and why.
    desk = new_browser()
    log_in(desk, live_server, "reception")
    desk.find_element(By.LINK_TEXT, "Patients").click()
    wait_for(desk, "#patient-search").send_keys(patient.mrn)
    wait_for_text(desk, "#search-results", "Okoye, Grace")
    submit_and_wait(desk, desk.find_element(By.LINK_TEXT, "Okoye, Grace"))
    assert wait_for(desk, "#mrn").text == patient.mrn
    assert desk.find_element(By.ID, "reminder-consent").text.startswith("No consent")
    history = desk.find_element(By.ID, "record-history").text
    assert "The patient stopped reminders through a reminder link" in history

    # She gave a new phone number and asks for the reminders again.
    submit_and_wait(desk, desk.find_element(By.LINK_TEXT, "Edit"))
    phone = wait_for(desk, "#id_phone")
    phone.clear()
    phone.send_keys("(212) 555-0199")
    consent = desk.find_element(By.ID, "id_reminder_consent")
    assert not consent.is_selected()
    consent.click()
    submit_and_wait(desk, desk.find_element(By.XPATH, "//button[text()='Save the record']"))

    wait_for_text(desk, ".alert-success", "Grace Okoye's record is saved.")
    assert (
        "+1 212-555-0199" in desk.find_element(By.ID, "contact").find_element(By.XPATH, "..").text
    )
    assert desk.find_element(By.ID, "reminder-consent").text.startswith("Agreed")
    assert "recorded by Rita Reyes" in desk.find_element(By.ID, "reminder-consent").text
    latest = desk.find_element(By.CSS_SELECTOR, "#record-history tbody tr").text
    assert "Rita Reyes" in latest
    assert "Changed: Phone, Reminder consent (given)" in latest

    patient.refresh_from_db()
    assert (str(patient.phone), patient.reminder_consent) == ("+12125550199", True)
    assert patient.reminder_consent_changed_by.username == "reception"
