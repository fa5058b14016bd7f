"""The desk answers "when is the next free cryotherapy morning with Dr. Okafor?" in a real
browser: a first-available search from the booking page, a result chosen, the visit booked."""

from datetime import date, datetime, time

import pytest
import time_machine
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from clinic.models import StaffMember
from treatments.models import Appointment

from ..factories import (
    PatientFactory,
    RoomFactory,
    StaffMemberFactory,
    TimeOffFactory,
    UserFactory,
)
from ..treatments.conftest import open_all_week
from .conftest import after_swap, log_in, submit_and_wait, wait_for, wait_for_text

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

MONDAY = date(2026, 6, 1)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


@pytest.fixture
def monday_morning():
    """The clinic's clock at Monday 1 June 2026, 10:00, running on from there."""
    with time_machine.travel(local(MONDAY, 10), tick=True):
        yield


@pytest.fixture
def clinic(monday_morning):
    """Dr. Ortiz and Dr. Okafor work every day; Dr. Okafor is away until Wednesday night."""
    ortiz, okafor = (
        open_all_week(StaffMemberFactory(user=UserFactory(first_name=first, last_name=last)))
        for first, last in [("Ana", "Ortiz"), ("Chidi", "Okafor")]
    )
    TimeOffFactory(
        staff_member=okafor, starts_at=local(MONDAY, 0), ends_at=local(date(2026, 6, 3), 23)
    )
    RoomFactory(name="Treatment room 1")
    StaffMemberFactory(
        user=UserFactory(username="reception", first_name="Rita", last_name="Reyes"),
        role=StaffMember.Role.RECEPTIONIST,
    )
    return {"okafor": okafor, "patient": PatientFactory(first_name="Omar", last_name="Haddad")}


def test_a_receptionist_books_the_first_free_morning_found_across_days(
    browser, live_server, clinic
):
    log_in(browser, live_server, "reception")
    patient, okafor = clinic["patient"], clinic["okafor"]

    # On the booking page, the procedure and the dermatologist, then a search across days.
    browser.get(f"{live_server.url}/appointments/new/?patient={patient.pk}")
    procedure = browser.find_element(By.NAME, "procedure_type")
    after_swap(
        browser, "#slot-picker", lambda: Select(procedure).select_by_visible_text("Cryotherapy")
    )
    who = browser.find_element(By.NAME, "dermatologist")
    after_swap(browser, "#slot-picker", lambda: Select(who).select_by_visible_text(str(okafor)))
    submit_and_wait(
        browser, browser.find_element(By.XPATH, "//button[text()='First free times across days']")
    )

    # The search page keeps the choices; ask for mornings within 60 days.
    wait_for(browser, "#first-available-form")
    assert Select(browser.find_element(By.NAME, "procedure_type")).first_selected_option.text == (
        "Cryotherapy"
    )
    Select(browser.find_element(By.NAME, "part_of_day")).select_by_visible_text("Morning")
    within = browser.find_element(By.NAME, "within_days")
    within.clear()
    within.send_keys("60")
    submit_and_wait(browser, browser.find_element(By.XPATH, "//button[text()='Find free times']"))

    # Dr. Okafor's first free morning is Thursday, from 08:00.
    results = wait_for_text(browser, "#main", "Thursday 4 June 2026")
    assert "Monday 1 June" not in results.text
    first = browser.find_element(By.CSS_SELECTOR, ".first-available-results a")
    assert first.text == "Book Thu 4 Jun, 08:00"
    submit_and_wait(browser, first)

    # The booking page has that dermatologist, day and time chosen: just book.
    wait_for(browser, "#booking-form")
    checked = browser.find_element(By.CSS_SELECTOR, "#slot-picker input[name=slot]:checked")
    label = browser.find_element(By.CSS_SELECTOR, f"label[for={checked.get_attribute('id')}]")
    assert label.text.startswith("08:00")
    assert str(okafor) in browser.find_element(By.CSS_SELECTOR, "#slot-picker").text
    submit_and_wait(browser, browser.find_element(By.XPATH, "//button[text()='Book']"))

    wait_for_text(browser, ".alert-success", "Booked: Thu 04 Jun 2026, 08:00 with Dr. Chidi Okafor")
    booked = Appointment.objects.get(patient=patient)
    assert (booked.dermatologist, booked.starts_at) == (okafor, local(date(2026, 6, 4), 8))
