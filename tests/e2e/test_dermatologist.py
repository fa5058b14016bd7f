"""The dermatologist's day in a real browser: my day, the chart, a lesion on the body map,
a photo, a cryotherapy recorded and signed, the follow-up and the printable handout.
Screenshots of the key steps go to docs/screenshots/dermatologist-*.png."""

from datetime import datetime, time

import pytest
from django.utils import timezone
from PIL import Image
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from clinic.models import StaffMember
from patients.models import Lesion
from treatments.models import Appointment, ClinicalPhoto, FollowUp, Procedure, ProcedureType

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
    after_swap,
    log_in,
    screenshot,
    submit_and_wait,
    wait,
    wait_for,
    wait_for_text,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _today_at(hour: int) -> datetime:
    return timezone.make_aware(datetime.combine(timezone.localdate(), time(hour)))


@pytest.fixture
def visit():
    """Dr. Ortiz's checked-in cryotherapy today, for a patient with two charted lesions."""
    doctor = open_all_week(
        StaffMemberFactory(
            user=UserFactory(username="dermatologist", first_name="Ana", last_name="Ortiz"),
            role=StaffMember.Role.DERMATOLOGIST,
        )
    )
    patient = PatientFactory(first_name="Grace", last_name="Okoye")
    LesionFactory(patient=patient, site=Lesion.Site.LEFT_UPPER_EYELID, count=4)
    LesionFactory(patient=patient, site=Lesion.Site.CHEEK_LEFT, count=2)
    room = RoomFactory(name="Treatment room 1")
    AppointmentFactory(
        dermatologist=doctor,
        room=room,
        starts_at=_today_at(8),
        patient=PatientFactory(first_name="Wei", last_name="Kim"),
    )
    return AppointmentFactory(
        patient=patient,
        dermatologist=doctor,
        room=room,
        procedure_type=ProcedureType.objects.get(slug="cryotherapy"),
        starts_at=_today_at(9),
        status=Appointment.Status.CHECKED_IN,
    )


@pytest.fixture
def photo_file(tmp_path):
    path = tmp_path / "eyelid.jpg"
    Image.new("RGB", (120, 90), (222, 196, 180)).save(path, "JPEG")
    return path


def test_a_dermatologists_day(browser, live_server, visit, photo_file, private_media):
    patient = visit.patient
    log_in(browser, live_server, "dermatologist")

    browser.find_element(By.LINK_TEXT, "My day").click()
    wait_for_text(browser, "main h1", "My day")
    assert "Grace Okoye" in browser.find_element(By.TAG_NAME, "table").text
    screenshot(browser, "dermatologist-01-my-day")

    # The chart, and a new lesion charted by choosing the forehead on the body map.
    browser.find_element(By.LINK_TEXT, "Grace Okoye").click()
    forehead = wait_for(browser, "a.body-map-region[data-site=forehead]")
    assert forehead.get_attribute("aria-label").startswith("Forehead")
    screenshot(browser, "dermatologist-02-chart")
    submit_and_wait(browser, forehead)
    assert Select(browser.find_element(By.NAME, "site")).first_selected_option.text == "Forehead"
    Select(browser.find_element(By.NAME, "milia_type")).select_by_visible_text("Primary")
    count = browser.find_element(By.NAME, "count")
    count.clear()
    count.send_keys("3")
    browser.find_element(By.NAME, "size_mm").send_keys("1.5")
    submit_and_wait(browser, browser.find_element(By.XPATH, "//button[text()='Chart the lesion']"))
    wait_for_text(browser, ".alert-success", "Charted:")
    marker = browser.find_element(By.CSS_SELECTOR, ".body-map-marker[data-site=forehead]")
    assert marker.text == "3"
    forehead_lesion = patient.lesions.get(site=Lesion.Site.FOREHEAD)

    # A photo of the eyelid lesion, from a file on this computer.
    eyelid = patient.lesions.get(site=Lesion.Site.LEFT_UPPER_EYELID)
    browser.find_element(By.LINK_TEXT, "Add a photo").click()
    wait_for(browser, "input[type=file][name=image]").send_keys(str(photo_file))
    Select(browser.find_element(By.NAME, "lesion")).select_by_value(str(eyelid.pk))
    browser.find_element(By.NAME, "caption").send_keys("Left upper eyelid before treatment")
    submit_and_wait(browser, browser.find_element(By.XPATH, "//button[text()='Add the photo']"))
    wait_for_text(browser, ".alert-success", "The photo was added to the chart.")
    thumbnail = wait_for(browser, ".photo-strip img")
    # Decoded, not just present: a busy machine may still be loading it.
    loaded = "return arguments[0].complete && arguments[0].naturalWidth"
    assert wait(browser).until(lambda driver: driver.execute_script(loaded, thumbnail)) > 0
    assert ClinicalPhoto.objects.get().lesion == eyelid
    screenshot(browser, "dermatologist-03-chart-with-lesion-and-photo")

    # Record the cryotherapy of the checked-in visit, on the eyelid and the forehead.
    browser.find_element(By.LINK_TEXT, "My day").click()
    submit_and_wait(browser, wait_for(browser, f"a[href$='/appointments/{visit.pk}/record/']"))
    procedure_type = Select(browser.find_element(By.NAME, "procedure_type"))
    # The technique fields follow the chosen procedure, reloaded in place.
    after_swap(browser, "#technique", lambda: procedure_type.select_by_visible_text("Curettage"))
    wait_for_text(browser, "#technique", "Anesthetic")
    procedure_type = Select(browser.find_element(By.NAME, "procedure_type"))
    after_swap(browser, "#technique", lambda: procedure_type.select_by_visible_text("Cryotherapy"))
    wait_for_text(browser, "#technique", "Freeze time")
    for lesion in (eyelid, forehead_lesion):
        browser.find_element(By.CSS_SELECTOR, f"input[name=lesions][value='{lesion.pk}']").click()
    Select(browser.find_element(By.NAME, "cryo_method")).select_by_visible_text("Cotton tip")
    browser.find_element(By.NAME, "freeze_seconds").send_keys("5")
    browser.find_element(By.NAME, "freeze_thaw_cycles").send_keys("1")
    browser.find_element(By.NAME, "halo_mm").send_keys("1.0")
    browser.find_element(By.NAME, "consent_obtained").click()
    Select(browser.find_element(By.NAME, "consent_given_by")).select_by_visible_text("Patient")
    browser.find_element(By.NAME, "note").send_keys("Tolerated well. Aftercare explained.")
    screenshot(browser, "dermatologist-04-record-cryotherapy")
    submit_and_wait(browser, browser.find_element(By.XPATH, "//button[text()='Save the record']"))
    wait_for_text(browser, ".alert-success", "Recorded. Review and sign it.")
    procedure = Procedure.objects.get(appointment=visit)
    assert set(procedure.lesions.all()) == {eyelid, forehead_lesion}
    assert procedure.procedure_code == "17110"

    # A draft is edited until it is signed.
    browser.find_element(By.LINK_TEXT, "Edit the draft").click()
    wait_for_text(browser, "h1", "Edit the draft record of")
    note = browser.find_element(By.NAME, "note")
    note.send_keys(" Blister expected.")
    submit_and_wait(browser, browser.find_element(By.XPATH, "//button[text()='Save the changes']"))
    wait_for_text(browser, ".alert-success", "Draft changed.")
    procedure.refresh_from_db()
    assert procedure.note == "Tolerated well. Aftercare explained. Blister expected."

    # Sign, after a confirmation: the record locks and the recurrence check appears.
    browser.find_element(By.LINK_TEXT, "Sign and lock…").click()
    wait_for_text(browser, "h1", "Sign and lock this record?")
    procedure.refresh_from_db()
    assert not procedure.is_signed  # asking is not signing
    submit_and_wait(
        browser, browser.find_element(By.XPATH, "//button[text()='Yes, sign and lock']")
    )
    wait_for_text(browser, ".alert-success", "Signed. The record is now locked.")
    follow_up = FollowUp.objects.get(procedure=procedure)
    due = f"{follow_up.due_on.day} {follow_up.due_on:%b %Y}"
    assert due in browser.find_element(By.ID, "main").text
    assert not browser.find_elements(By.LINK_TEXT, "Sign and lock…")
    assert not browser.find_elements(By.LINK_TEXT, "Edit the draft")
    screenshot(browser, "dermatologist-05-signed")

    # The chart shows the two lesions treated today, awaiting their check.
    browser.find_element(By.CSS_SELECTOR, "h1 a").click()
    wait_for_text(browser, "h1", patient.full_name)
    awaiting = browser.find_elements(By.XPATH, "//li[contains(., 'awaiting its check')]")
    assert len(awaiting) == 2
    browser.back()
    wait_for_text(browser, ".badge", "Signed")

    browser.find_element(By.LINK_TEXT, "Print the handout").click()
    wait_for_text(browser, "h1", "Aftercare instructions")
    handout = browser.find_element(By.TAG_NAME, "main").text
    assert "blister" in handout
    assert f"{follow_up.due_on.day} {follow_up.due_on:%B %Y}" in handout
    screenshot(browser, "dermatologist-06-handout")
