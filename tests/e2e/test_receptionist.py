"""The receptionist's day in a real browser: search, register, book, a clash, move, cancel,
check in. Screenshots of the key steps go to docs/screenshots/receptionist-*.png."""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from clinic.models import StaffMember
from patients.models import Patient
from treatments.models import Appointment

from ..factories import (
    AppointmentFactory,
    PatientFactory,
    RoomFactory,
    StaffMemberFactory,
    UserFactory,
)
from ..treatments.conftest import open_all_week
from .conftest import (
    after_swap,
    log_in,
    response_status,
    screenshot,
    set_value,
    submit_and_wait,
    wait_for,
    wait_for_text,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def clinic():
    """Two dermatologists working every day, two treatment rooms, the desk, a patient due today."""
    dermatologists = [
        open_all_week(StaffMemberFactory(user=UserFactory(first_name=first, last_name=last)))
        for first, last in [("Ana", "Ortiz"), ("Chidi", "Okafor")]
    ]
    rooms = [RoomFactory(name="Treatment room 1"), RoomFactory(name="Treatment room 2")]
    for username, first, last in [("reception", "Rita", "Reyes"), ("reception2", "Sam", "Lee")]:
        StaffMemberFactory(
            user=UserFactory(username=username, first_name=first, last_name=last),
            role=StaffMember.Role.RECEPTIONIST,
        )
    nine_today = timezone.make_aware(datetime.combine(timezone.localdate(), time(9, 0)))
    arriving = AppointmentFactory(
        patient=PatientFactory(first_name="Marta", last_name="Kowalczyk"),
        dermatologist=dermatologists[0],
        room=rooms[0],
        starts_at=nine_today,
    )
    return {"arriving": arriving, "other": PatientFactory(first_name="Omar", last_name="Haddad")}


def _open_booking_for_tomorrow(driver, live_server, patient) -> None:
    """The booking form with cryotherapy and tomorrow chosen; each change reloads the picker."""
    driver.get(f"{live_server.url}/appointments/new/?patient={patient.pk}")
    procedure = driver.find_element(By.NAME, "procedure_type")
    after_swap(
        driver, "#slot-picker", lambda: Select(procedure).select_by_visible_text("Cryotherapy")
    )
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    day = driver.find_element(By.NAME, "date")
    after_swap(driver, "#slot-picker", lambda: set_value(driver, day, tomorrow))
    wait_for(driver, "#slot-picker input[name=slot]")


def test_a_receptionists_day(new_browser, live_server, clinic):
    desk = new_browser()
    log_in(desk, live_server, "reception")

    # Find a patient by typing: the results arrive without a page load.
    desk.find_element(By.LINK_TEXT, "Patients").click()
    search = wait_for(desk, "#patient-search")
    search.send_keys("kowal")
    wait_for_text(desk, "#search-results", "Kowalczyk, Marta")
    assert desk.current_url.endswith("?q=kowal")
    screenshot(desk, "receptionist-01-search")

    # Register a baby with her mother, who receives the reminders.
    desk.find_element(By.LINK_TEXT, "Register a patient").click()
    wait_for(desk, "#id_first_name").send_keys("Lily")
    desk.find_element(By.NAME, "last_name").send_keys("Nguyen")
    born = timezone.localdate() - timedelta(days=60)
    set_value(desk, desk.find_element(By.NAME, "date_of_birth"), born.isoformat())
    Select(desk.find_element(By.NAME, "sex")).select_by_visible_text("Female")
    Select(desk.find_element(By.NAME, "preferred_channel")).select_by_visible_text("Email")
    desk.find_element(By.NAME, "reminder_consent").click()
    desk.find_element(By.NAME, "guardian_first_name").send_keys("Thu")
    desk.find_element(By.NAME, "guardian_last_name").send_keys("Nguyen")
    Select(desk.find_element(By.NAME, "guardian_relationship")).select_by_visible_text("Mother")
    desk.find_element(By.NAME, "guardian_email").send_keys("thu.nguyen@example.com")
    screenshot(desk, "receptionist-02-register-minor")
    submit_and_wait(desk, desk.find_element(By.XPATH, "//button[text()='Register']"))
    wait_for_text(desk, ".alert-success", "Lily Nguyen is registered.")
    assert "Thu Nguyen (mother)" in desk.find_element(By.ID, "main").text
    lily = Patient.objects.get(first_name="Lily", last_name="Nguyen")
    assert lily.guardians.get().receives_reminders

    # A colleague opens the form for another patient before Lily's booking is made.
    colleague = new_browser()
    log_in(colleague, live_server, "reception2")
    _open_booking_for_tomorrow(colleague, live_server, clinic["other"])

    # Book Lily's first free cryotherapy tomorrow from her page.
    desk.find_element(By.LINK_TEXT, "Book an appointment").click()
    wait_for(desk, "#booking-form")
    _open_booking_for_tomorrow(desk, live_server, lily)
    first_free = desk.find_element(By.CSS_SELECTOR, "#slot-picker input[name=slot]")
    first_free_value = first_free.get_attribute("value")
    first_free.click()
    screenshot(desk, "receptionist-03-slot-picker")
    submit_and_wait(desk, desk.find_element(By.XPATH, "//button[text()='Book']"))
    wait_for_text(desk, ".alert-success", "Booked:")
    booked = Appointment.objects.get(patient=lily)
    assert booked.procedure_type.slug == "cryotherapy"
    assert timezone.localtime(booked.starts_at).date() == timezone.localdate() + timedelta(days=1)

    # The colleague's form still offers that time: booking it is refused with alternatives.
    colleague_slot = colleague.find_element(By.CSS_SELECTOR, "#slot-picker input[name=slot]")
    assert colleague_slot.get_attribute("value") == first_free_value
    colleague_slot.click()
    submit_and_wait(colleague, colleague.find_element(By.XPATH, "//button[text()='Book']"))
    assert response_status(colleague) == 409
    wait_for_text(colleague, ".alert-warning", "That time is taken.")
    # The refusal comes at once; the page then fetches the nearest free times (htmx).
    wait_for(colleague, ".alert-warning input[name=slot]")
    alternatives = colleague.find_elements(By.CSS_SELECTOR, ".alert-warning input[name=slot]")
    assert alternatives
    screenshot(colleague, "receptionist-04-slot-taken")
    alternatives[0].click()
    submit_and_wait(colleague, colleague.find_element(By.XPATH, "//button[text()='Book']"))
    wait_for_text(colleague, ".alert-success", "Booked:")
    other_booking = Appointment.objects.get(patient=clinic["other"])
    assert other_booking.starts_at != booked.starts_at or other_booking.dermatologist_id != (
        booked.dermatologist_id
    )

    # Lily's mother asks for a later time: move the visit from its page.
    desk.find_element(By.LINK_TEXT, "Move").click()
    wait_for(desk, "#reschedule-form #slot-picker input[name=slot]")
    later = desk.find_elements(By.CSS_SELECTOR, "#slot-picker input[name=slot]")[-1]
    _, later_start, _ = later.get_attribute("value").split("|")
    later.click()
    submit_and_wait(desk, desk.find_element(By.XPATH, "//button[text()='Move']"))
    wait_for_text(desk, ".alert-success", "Moved.")
    booked.refresh_from_db()
    assert booked.starts_at == datetime.fromisoformat(later_start)
    screenshot(desk, "receptionist-05-moved")

    # The other patient cancels, with a reason.
    colleague.find_element(By.NAME, "reason").send_keys("Patient is travelling")
    submit_and_wait(
        colleague, colleague.find_element(By.XPATH, "//button[text()='Cancel the visit']")
    )
    wait_for_text(colleague, ".status-badge", "Cancelled")
    assert "Patient is travelling" in colleague.find_element(By.ID, "main").text
    screenshot(colleague, "receptionist-06-cancelled")
    other_booking.refresh_from_db()
    assert other_booking.status == Appointment.Status.CANCELLED

    # Marta arrives: one click on the arrivals list, and only her row changes.
    arriving = clinic["arriving"]
    desk.find_element(By.LINK_TEXT, "Arrivals").click()
    check_in = wait_for(desk, f"#arrival-{arriving.pk} button")
    page = desk.find_element(By.TAG_NAME, "html")
    after_swap(desk, f"#arrival-{arriving.pk}", check_in.click)
    wait_for_text(desk, f"#arrival-{arriving.pk}", "Arrived")
    assert page.is_displayed()  # the same page: htmx swapped the row, nothing reloaded
    screenshot(desk, "receptionist-07-arrivals")
    arriving.refresh_from_db()
    assert arriving.status == Appointment.Status.CHECKED_IN
