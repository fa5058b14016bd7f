"""The day view's time grid, the day sheet and the pages a phone shows, in a real browser.

Booking by clicking a free gap, the grid, arrivals and the day view on a phone's width
(nothing wider than the screen), the week view at 1440 px, and the day sheet as printed.
Screenshots: docs/screenshots/time-grid-day.png, day-view-phone.png, arrivals-phone.png,
day-sheet-print.png.
"""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from clinic.models import StaffMember
from patients.models import PatientAlert
from treatments.models import Appointment

from ..factories import (
    AppointmentFactory,
    PatientFactory,
    RoomFactory,
    StaffMemberFactory,
    TimeOffFactory,
    UserFactory,
)
from ..treatments.conftest import open_all_week
from .conftest import after_swap, log_in, screenshot, submit_and_wait, wait_for, wait_for_text

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PHONE = (390, 844)
WIDE = (1440, 900)

# The page's width beyond the screen, and the visible elements that stick out past its
# right edge. An element inside a container that scrolls sideways (the time grid with
# many dermatologists) and is cut off by it does not count: the page does not scroll.
OVERFLOW = """
const width = window.innerWidth;
const cutOff = (element) => {
  for (let box = element.parentElement; box && box !== document.body; box = box.parentElement) {
    if (getComputedStyle(box).overflowX !== "visible") {
      return box.getBoundingClientRect().right <= width + 1;
    }
  }
  return false;
};
const sticking = [...document.body.querySelectorAll("*")].filter((element) => {
  const box = element.getBoundingClientRect();
  return box.width > 0 && box.height > 0 && box.right > width + 1 && !cutOff(element);
});
return {
  pageWidth: document.documentElement.scrollWidth,
  width: width,
  sticking: sticking.slice(0, 10).map((e) => e.tagName + "." + e.className),
};
"""


def _at(day, hour, minute=0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


def _screen(driver, size: tuple[int, int], *, mobile: bool) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": mobile},
    )


def _assert_fits(driver) -> None:
    found = driver.execute_script(OVERFLOW)
    assert found["pageWidth"] <= found["width"], found
    assert found["sticking"] == [], found


@pytest.fixture
def clinic():
    """Two dermatologists working 08:00–18:00 every day, one of them away tomorrow
    afternoon; two rooms; the desk; a visit tomorrow at 09:00 and one today, for a patient
    allergic to lidocaine."""
    ortiz, okafor = (
        open_all_week(StaffMemberFactory(user=UserFactory(first_name=first, last_name=last)))
        for first, last in [("Ana", "Ortiz"), ("Chidi", "Okafor")]
    )
    rooms = [RoomFactory(name="Treatment room 1"), RoomFactory(name="Treatment room 2")]
    StaffMemberFactory(
        user=UserFactory(username="reception", first_name="Rita", last_name="Reyes"),
        role=StaffMember.Role.RECEPTIONIST,
    )
    tomorrow = timezone.localdate() + timedelta(days=1)
    TimeOffFactory(staff_member=okafor, starts_at=_at(tomorrow, 13), ends_at=_at(tomorrow, 18))
    allergic = PatientFactory(first_name="Marta", last_name="Kowalczyk")
    PatientAlert.objects.create(patient=allergic, kind="allergy", description="Lidocaine")
    tomorrows = AppointmentFactory(
        patient=allergic, dermatologist=ortiz, room=rooms[0], starts_at=_at(tomorrow, 9)
    )
    AppointmentFactory(
        patient=PatientFactory(first_name="Omar", last_name="Haddad"),
        dermatologist=okafor,
        room=rooms[1],
        starts_at=_at(timezone.localdate(), 9),
    )
    return {"ortiz": ortiz, "okafor": okafor, "tomorrow": tomorrow, "visit": tomorrows}


def test_the_desk_books_a_free_gap_by_clicking_it_in_the_time_grid(browser, live_server, clinic):
    log_in(browser, live_server, "reception")
    tomorrow, ortiz = clinic["tomorrow"], clinic["ortiz"]
    browser.get(f"{live_server.url}/schedule/day/?date={tomorrow.isoformat()}")
    column = wait_for(browser, f'[data-dermatologist="{ortiz.pk}"]')
    assert "Kowalczyk" in column.text
    okafor = browser.find_element(By.CSS_SELECTOR, f'[data-dermatologist="{clinic["okafor"].pk}"]')
    assert "Time off 13:00–18:00" in okafor.text
    assert not okafor.find_elements(By.CSS_SELECTOR, 'a.time-grid-gap[data-time="14:00"]')
    screenshot(browser, "time-grid-day")

    gap = column.find_element(By.CSS_SELECTOR, 'a.time-grid-gap[data-time="10:30"]')
    submit_and_wait(browser, gap)
    search = wait_for(browser, "#booking-patient-search")
    search.send_keys("kowal")
    submit_and_wait(browser, browser.find_element(By.XPATH, "//button[text()='Find']"))
    submit_and_wait(browser, browser.find_element(By.LINK_TEXT, "Book for this patient"))

    wait_for(browser, "#booking-form")
    procedure = browser.find_element(By.NAME, "procedure_type")
    after_swap(
        browser, "#slot-picker", lambda: Select(procedure).select_by_visible_text("Cryotherapy")
    )
    chosen = browser.find_element(By.CSS_SELECTOR, "#slot-picker input[name=slot]:checked")
    assert (
        "10:30"
        in browser.find_element(By.CSS_SELECTOR, f'label[for="{chosen.get_attribute("id")}"]').text
    )
    submit_and_wait(browser, browser.find_element(By.XPATH, "//button[text()='Book']"))
    wait_for_text(browser, ".alert-success", "Booked:")

    booked = Appointment.objects.exclude(pk=clinic["visit"].pk).get(patient=clinic["visit"].patient)
    assert booked.dermatologist == ortiz
    assert timezone.localtime(booked.starts_at) == _at(tomorrow, 10, 30)


def test_the_day_view_and_arrivals_fit_a_phone_and_the_week_fits_1440_pixels(
    browser, live_server, clinic
):
    log_in(browser, live_server, "reception")
    _screen(browser, PHONE, mobile=True)
    browser.get(f"{live_server.url}/schedule/day/?date={clinic['tomorrow'].isoformat()}")
    wait_for(browser, ".time-grid")
    _assert_fits(browser)
    screenshot(browser, "day-view-phone")

    browser.get(f"{live_server.url}/arrivals/")
    check_in = wait_for(browser, "button.btn-success")
    _assert_fits(browser)
    box = browser.execute_script("return arguments[0].getBoundingClientRect().toJSON()", check_in)
    assert 0 <= box["left"] and box["right"] <= PHONE[0]
    screenshot(browser, "arrivals-phone")

    browser.get(f"{live_server.url}/schedule/week/{clinic['ortiz'].pk}/")
    wait_for(browser, ".schedule-grid-week")
    _assert_fits(browser)

    _screen(browser, WIDE, mobile=False)
    browser.get(f"{live_server.url}/schedule/week/{clinic['ortiz'].pk}/")
    week = wait_for(browser, ".schedule-grid-week")
    _assert_fits(browser)
    # All seven days in view: the week does not even scroll inside its own box.
    assert browser.execute_script(
        "return arguments[0].scrollWidth <= arguments[0].clientWidth", week
    )


def test_the_printed_day_sheet_has_no_navigation_and_flags_the_alert(browser, live_server, clinic):
    log_in(browser, live_server, "reception")
    browser.get(
        f"{live_server.url}/schedule/day-sheet/?date={clinic['tomorrow'].isoformat()}"
        f"&dermatologist={clinic['ortiz'].pk}"
    )
    row = wait_for(browser, f'[data-appointment="{clinic["visit"].pk}"]')
    assert "Kowalczyk" in row.text and "ALERT" in row.text
    assert browser.find_element(By.CSS_SELECTOR, "nav.navbar").is_displayed()

    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    screenshot(browser, "day-sheet-print")
    assert not browser.find_element(By.CSS_SELECTOR, "nav.navbar").is_displayed()
    assert not [b for b in browser.find_elements(By.CSS_SELECTOR, ".btn") if b.is_displayed()]
    assert row.is_displayed() and "ALERT" in row.text
    colours = browser.execute_script(
        "const s = getComputedStyle(arguments[0]); return [s.color, s.backgroundColor];",
        row.find_element(By.TAG_NAME, "td"),
    )
    assert colours == ["rgb(0, 0, 0)", "rgb(255, 255, 255)"]


def test_a_printed_day_view_leaves_out_the_navigation(browser, live_server, clinic):
    log_in(browser, live_server, "reception")
    browser.get(f"{live_server.url}/schedule/day/?date={clinic['tomorrow'].isoformat()}")
    wait_for(browser, ".time-grid")
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    assert not browser.find_element(By.CSS_SELECTOR, "nav.navbar").is_displayed()
    assert not browser.find_element(By.CSS_SELECTOR, ".schedule-nav").is_displayed()
    assert "Kowalczyk" in browser.find_element(By.CSS_SELECTOR, ".time-grid").text
