"""Patients serve themselves on a phone (390 × 844): a returning patient moves a visit within
the clinic's policy and is refused inside the cut-off; a patient sends photos for a
recurrence check and the dermatologist resolves it. axe checks every patient page.
Screenshots go to docs/screenshots/patient-move-*.png and patient-photo-*.png."""

import io
from datetime import datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from PIL import Image
from selenium.webdriver.common.by import By

from clinic.links import Action, link_token
from patients.models import Lesion
from treatments.models import (
    Appointment,
    AppointmentEvent,
    FollowUp,
    PhotoCheck,
    PhotoCheckImage,
    Procedure,
    ProcedureType,
    private_photo_storage,
)

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
    log_in,
    response_status,
    screenshot,
    serious_accessibility_violations,
    submit_and_wait,
    wait_for,
    wait_for_text,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PHONE = (390, 844)
GPS_INFO = 0x8825


def on_a_phone(driver):
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 1, "mobile": True},
    )
    return driver


def link(live_server, action: str, subject_id: int) -> str:
    token = link_token(action=action, subject_id=subject_id)
    return live_server.url + reverse("treatments:patient_link", args=[token])


def assert_accessible(driver, axe_source):
    assert serious_accessibility_violations(driver, axe_source) == []


def in_days(days: int, hour: int) -> datetime:
    day = timezone.localdate() + timedelta(days=days)
    return timezone.make_aware(datetime.combine(day, time(hour, 0)))


@pytest.fixture
def doctor():
    return open_all_week(StaffMemberFactory(user=UserFactory(first_name="Ana", last_name="Ortiz")))


def test_a_returning_patient_moves_a_visit_and_is_refused_inside_the_cut_off(
    new_browser, live_server, axe_source, doctor
):
    room = RoomFactory(name="Room by the window")
    cryotherapy = ProcedureType.objects.get(slug="cryotherapy")
    patient = PatientFactory(first_name="Grace", last_name="Okoye")
    later = AppointmentFactory(
        patient=patient,
        dermatologist=doctor,
        room=room,
        procedure_type=cryotherapy,
        starts_at=in_days(3, 10),
    )
    soon = AppointmentFactory(
        patient=patient,
        dermatologist=doctor,
        room=room,
        procedure_type=cryotherapy,
        starts_at=timezone.now().replace(second=0, microsecond=0) + timedelta(hours=3),
    )
    browser = on_a_phone(new_browser())

    browser.get(link(live_server, Action.VISIT, later.pk))
    assert_accessible(browser, axe_source)
    move = browser.find_element(By.LINK_TEXT, "Move my visit")
    submit_and_wait(browser, move)
    wait_for(browser, "label[for=slot-1]")
    assert_accessible(browser, axe_source)
    screenshot(browser, "patient-move-choose")
    chosen = browser.find_element(By.CSS_SELECTOR, "#slot-1").get_attribute("value")
    browser.find_element(By.CSS_SELECTOR, "label[for=slot-1]").click()
    submit_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "form[method=post] button"))
    wait_for_text(browser, "h1", "Your visit has moved")
    assert_accessible(browser, axe_source)
    screenshot(browser, "patient-move-done")

    later.refresh_from_db()
    assert later.starts_at == datetime.fromisoformat(chosen.split("|", 1)[1])
    assert later.self_moves == 1
    note = AppointmentEvent.objects.filter(appointment=later).last().note
    assert note.startswith("moved by the patient online from ")

    browser.get(link(live_server, Action.VISIT, soon.pk))
    refusal = wait_for(browser, "#change-by-phone").text
    assert "less than 24 hours away" in refusal and "+1 212 555 0100" in refusal
    assert not browser.find_elements(By.LINK_TEXT, "Move my visit")
    assert not browser.find_elements(By.LINK_TEXT, "Cancel my visit")
    assert_accessible(browser, axe_source)
    screenshot(browser, "patient-move-too-late")
    browser.get(link(live_server, Action.RESCHEDULE, soon.pk))
    assert response_status(browser) == 409
    assert_accessible(browser, axe_source)
    soon.refresh_from_db()
    assert (soon.starts_at, soon.status) == (soon.starts_at, Appointment.Status.BOOKED)


@pytest.fixture
def photo_media(settings, tmp_path, monkeypatch):
    settings.CLINIC_PRIVATE_MEDIA_ROOT = tmp_path / "private-media"
    for name in ("image", "thumbnail"):
        monkeypatch.setattr(
            PhotoCheckImage._meta.get_field(name), "storage", private_photo_storage()
        )


@pytest.fixture
def check_due(doctor):
    """A signed cryotherapy of one lesion six weeks ago; its recurrence check due today."""
    cryotherapy = ProcedureType.objects.get(slug="cryotherapy")
    patient = PatientFactory(first_name="Grace", last_name="Okoye")
    visit = AppointmentFactory(
        patient=patient,
        dermatologist=doctor,
        procedure_type=cryotherapy,
        starts_at=in_days(-42, 10),
        status=Appointment.Status.COMPLETED,
    )
    procedure = Procedure.objects.create(
        appointment=visit,
        patient=patient,
        dermatologist=doctor,
        procedure_type=cryotherapy,
        performed_at=visit.starts_at,
        status=Procedure.Status.SIGNED,
        signed_at=visit.starts_at,
        signed_by=doctor.user,
    )
    lesion = LesionFactory(
        patient=patient, status="treated", last_treated_on=timezone.localdate(visit.starts_at)
    )
    procedure.lesions.set([lesion])
    return FollowUp.objects.create(
        patient=patient,
        procedure=procedure,
        kind=FollowUp.Kind.RECURRENCE_CHECK,
        due_on=timezone.localdate(),
    )


def test_a_patient_sends_a_photo_and_the_dermatologist_resolves_the_check(
    new_browser, live_server, axe_source, doctor, check_due, photo_media, tmp_path
):
    exif = Image.Exif()
    exif[GPS_INFO] = {1: "N", 2: (40.0, 44.0, 54.0), 3: "W", 4: (73.0, 59.0, 10.0)}
    buffer = io.BytesIO()
    Image.new("RGB", (1200, 900), (205, 160, 150)).save(buffer, "JPEG", exif=exif)
    photo = tmp_path / "cheek.jpg"
    photo.write_bytes(buffer.getvalue())
    patient = on_a_phone(new_browser())

    patient.get(link(live_server, Action.BOOK_CHECK, check_due.pk))
    submit_and_wait(patient, patient.find_element(By.LINK_TEXT, "Send photos instead"))
    wait_for(patient, "#id_photo_1").send_keys(str(photo))
    patient.find_element(By.CSS_SELECTOR, "label[for=id_new_bumps_0]").click()
    assert_accessible(patient, axe_source)
    screenshot(patient, "patient-photo-check")
    submit_and_wait(patient, patient.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
    wait_for_text(patient, "main", "We have your photos")
    assert_accessible(patient, axe_source)
    photo_check = PhotoCheck.objects.get(follow_up=check_due)

    dermatologist = new_browser()
    log_in(dermatologist, live_server, doctor.user.username)
    dermatologist.get(live_server.url + reverse("treatments:my_day"))
    waiting = wait_for(dermatologist, "#photo-checks-waiting a")
    assert "Photo checks waiting for review: 1" in waiting.text
    submit_and_wait(dermatologist, waiting)
    submit_and_wait(dermatologist, dermatologist.find_element(By.LINK_TEXT, "Review"))
    lesion = Lesion.objects.get(patient=check_due.patient)
    dermatologist.find_element(By.CSS_SELECTOR, f"#id_lesion-{lesion.pk}-decision_0").click()
    screenshot(dermatologist, "dermatologist-photo-check")
    submit_and_wait(
        dermatologist, dermatologist.find_element(By.CSS_SELECTOR, "main form button[type=submit]")
    )
    wait_for_text(dermatologist, "main", "No photo checks are waiting.")

    photo_check.refresh_from_db()
    check_due.refresh_from_db()
    lesion.refresh_from_db()
    assert (photo_check.status, photo_check.result) == ("reviewed", "resolved")
    assert check_due.status == FollowUp.Status.DONE
    assert lesion.status == Lesion.Status.RESOLVED
