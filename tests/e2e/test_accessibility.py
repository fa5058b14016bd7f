"""axe-core on the main pages, in the browser: no serious or critical violation anywhere.

The pages are those of the demo clinic (treatments/demo.py), so they hold what a working
day shows: full schedules, charts with lesions and photos' places, signed records.
"""

from datetime import datetime, time, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from clinic.models import StaffMember
from patients.models import Lesion
from treatments.models import Appointment, Procedure, ProcedureType, WaitlistEntry
from treatments.seed.demo import DEMO_PASSWORD, seed_demo
from treatments.services import booking

from ..factories import AppointmentFactory, RoomFactory
from .conftest import (
    log_in,
    response_status,
    screenshot,
    serious_accessibility_violations,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def demo_clinic():
    """The demo clinic; early today a visit to record and a patient to check in; a waitlist."""
    seed_demo()
    ortiz = StaffMember.objects.get(user__username="dermatologist")
    patient = Lesion.objects.filter(status=Lesion.Status.ACTIVE).first().patient
    early_today = timezone.make_aware(datetime.combine(timezone.localdate(), time(7, 0)))
    to_record = AppointmentFactory(
        patient=patient,
        dermatologist=ortiz,
        room=RoomFactory(name="Treatment room 3"),
        procedure_type=ProcedureType.objects.get(slug="cryotherapy"),
        starts_at=early_today,
        status=Appointment.Status.CHECKED_IN,
    )
    # Someone still expected today, so the arrivals list has a check-in button whatever the hour.
    AppointmentFactory(
        dermatologist=ortiz,
        room=to_record.room,
        procedure_type=to_record.procedure_type,
        starts_at=early_today + timedelta(minutes=30),
    )
    today = timezone.localdate()
    booking.waitlist_entry_add(
        entry=WaitlistEntry(
            patient=patient,
            procedure_type=to_record.procedure_type,
            earliest_date=today,
            latest_date=today + timedelta(days=30),
            note="Mornings only",
        ),
        by=get_user_model().objects.get(username="reception"),
    )
    return {
        "ortiz": ortiz,
        "patient": patient,
        "to_record": to_record,
        "appointment": Appointment.objects.filter(status=Appointment.Status.BOOKED).first(),
        "procedure": Procedure.objects.filter(status=Procedure.Status.SIGNED).first(),
    }


def _check(driver, url: str, axe_source: str, found: dict) -> None:
    driver.get(url)
    wait_for(driver, "main")
    assert response_status(driver) == 200, url  # axe on an error page would prove nothing
    violations = serious_accessibility_violations(driver, axe_source)
    if violations:
        found[url] = violations


def test_the_main_pages_have_no_serious_accessibility_violation(
    new_browser, live_server, demo_clinic, axe_source
):
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    patient, procedure = demo_clinic["patient"], demo_clinic["procedure"]
    cryotherapy = demo_clinic["to_record"].procedure_type
    url = live_server.url
    found: dict[str, list] = {}

    desk = new_browser()
    _check(desk, f"{url}/login/", axe_source, found)
    log_in(desk, live_server, "reception", DEMO_PASSWORD)
    for path in [
        "/",
        "/schedule/day/",
        f"/schedule/week/{demo_clinic['ortiz'].pk}/",
        "/patients/?q=garcia",
        f"/patients/{patient.pk}/",
        f"/patients/{patient.pk}/edit/",
        f"/patients/{patient.pk}/guardians/new/",
        f"/appointments/new/?patient={patient.pk}&procedure_type={cryotherapy.pk}&date={tomorrow}",
        f"/appointments/first-available/?search=1&patient={patient.pk}"
        f"&procedure_type={cryotherapy.pk}&part_of_day=morning",
        f"/appointments/{demo_clinic['appointment'].pk}/",
        "/arrivals/",
        "/waitlist/",
        "/follow-ups/",
    ]:
        _check(desk, url + path, axe_source, found)
    # The demo's full day makes the README's picture of the schedule.
    desk.get(f"{url}/schedule/day/")
    wait_for(desk, "main")
    screenshot(desk, "receptionist-00-day-schedule")

    doctor = new_browser()
    log_in(doctor, live_server, "dermatologist", DEMO_PASSWORD)
    for path in [
        f"/patients/{patient.pk}/chart/",
        f"/appointments/{demo_clinic['to_record'].pk}/record/",
        f"/procedures/{procedure.pk}/",
        f"/procedures/{procedure.pk}/handout/",
    ]:
        _check(doctor, url + path, axe_source, found)

    manager = new_browser()
    log_in(manager, live_server, "manager", DEMO_PASSWORD)
    for path in ["/dashboard/"]:
        _check(manager, url + path, axe_source, found)
    screenshot(manager, "manager-01-dashboard")

    # One line per finding, with the pages it is on (the layout's show on every page).
    pages_by_finding: dict[str, list[str]] = {}
    for page, violations in found.items():
        for violation in violations:
            for node in violation["nodes"]:
                finding = f"{violation['id']} ({violation['impact']}) {node}"
                pages_by_finding.setdefault(finding, []).append(page.removeprefix(url))
    report = "\n".join(
        f"{finding}\n    on {', '.join(pages)}" for finding, pages in pages_by_finding.items()
    )
    assert not found, f"serious or critical accessibility violations:\n{report}"
