"""The main pages of each role, the patient link pages and the login link the favicon, have
a meta description and pass the W3C Nu HTML checker with no error. The checker is vnu-jar,
pinned in package.json (`npm ci` puts it under node_modules/); the pages are rendered with
Django's test client, saved to files and checked in one Java run."""

import json
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clinic.links import Action, link_token
from clinic.models import InboundSms
from clinic.views import DATABASE_UNAVAILABLE_PAGE, WRITE_CONFLICT_PAGE
from treatments.models import Procedure, ProcedureType, WaitlistEntry
from treatments.services import records
from treatments.services.reminders import claim_subject_id

from ..factories import (
    AppointmentFactory,
    GuardianFactory,
    LesionFactory,
    PatientFactory,
    RoomFactory,
    WorkingHoursFactory,
)
from ..treatments.views.test_records import cryo_form

pytestmark = pytest.mark.django_db
VNU_JAR = Path(settings.BASE_DIR) / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
JAVA = shutil.which("java")
HEAD_TAGS = ('<link rel="icon" href="/static/favicon.svg"', '<meta name="description" content="')


@pytest.fixture
def clinic(dermatologist_client):
    """A patient with a signed cryotherapy (so a follow-up is due), a lesion, a visit
    checked in and waiting to be recorded, a visit in two days (outside the 24-hour cut-off
    for changing it online), and free times every day."""
    dermatologist = dermatologist_client.staff_member
    for weekday in range(7):
        WorkingHoursFactory(staff_member=dermatologist, weekday=weekday)
    cryotherapy = ProcedureType.objects.get(slug="cryotherapy")
    room = RoomFactory()
    patient = PatientFactory(reminder_consent=True, reminder_consent_changed_at=timezone.now())
    done = AppointmentFactory(
        patient=patient,
        dermatologist=dermatologist,
        room=room,
        procedure_type=cryotherapy,
        status="checked_in",
    )
    lesion = LesionFactory(patient=patient)
    dermatologist_client.post(
        reverse("treatments:procedure_record", args=[done.pk]),
        cryo_form(done, lesions=[lesion.pk]),
    )
    procedure = Procedure.objects.get()
    records.procedure_sign(procedure=procedure, by=dermatologist.user)
    tomorrow = timezone.now().replace(microsecond=0) + timedelta(days=2)
    common = {"patient": patient, "dermatologist": dermatologist, "room": room}
    return {
        "patient": patient,
        "lesion": lesion,
        "procedure": procedure,
        "follow_up": procedure.follow_ups.get(),
        "waiting": AppointmentFactory(
            procedure_type=cryotherapy,
            status="checked_in",
            starts_at=done.starts_at + timedelta(hours=1),
            **common,
        ),
        "upcoming": AppointmentFactory(procedure_type=cryotherapy, starts_at=tomorrow, **common),
        "freed": AppointmentFactory(
            procedure_type=cryotherapy,
            starts_at=tomorrow + timedelta(hours=2),
            status="cancelled",
            cancellation_reason="Patient is ill",
            **common,
        ),
        "waitlist_entry": WaitlistEntry.objects.create(
            patient=patient,
            procedure_type=cryotherapy,
            earliest_date=timezone.localdate(),
            latest_date=timezone.localdate() + timedelta(days=7),
        ),
        "dermatologist": dermatologist,
        "guardian": GuardianFactory(patient=patient),
        "text": InboundSms.objects.create(
            provider="twilio",
            provider_message_id="SM" + "1" * 32,
            sender="+12125550123",
            body="Running 10 minutes late & sorry <3",
            received_at=timezone.now(),
            patient=patient,
        ),
    }


def staff_pages(clinic: dict) -> dict[str, list[str]]:
    """Each role's main pages, as addresses."""
    patient = clinic["patient"].pk
    cryotherapy = clinic["procedure"].procedure_type_id
    tomorrow = timezone.localdate() + timedelta(days=1)
    desk_and_manager = [
        reverse("treatments:home"),
        reverse("treatments:patient_search") + "?q=" + clinic["patient"].last_name,
        reverse("treatments:patient_register"),
        reverse("treatments:patient_detail", args=[patient]),
        reverse("treatments:patient_edit", args=[patient]),
        reverse("treatments:guardian_add", args=[patient]),
        reverse("treatments:guardian_edit", args=[clinic["guardian"].pk]),
        reverse("treatments:schedule_day"),
        reverse("treatments:schedule_week", args=[clinic["dermatologist"].pk]),
        reverse("treatments:appointment_book") + f"?patient={patient}",
        # The slot picker filled, grouped, with one time preselected.
        reverse("treatments:appointment_book")
        + f"?patient={patient}&procedure_type={cryotherapy}&date={tomorrow}&time=16:00",
        reverse("treatments:first_available")
        + f"?search=1&patient={patient}&procedure_type={cryotherapy}",
        reverse("treatments:appointment_detail", args=[clinic["upcoming"].pk]),
        reverse("treatments:appointment_reschedule", args=[clinic["upcoming"].pk]),
        reverse("treatments:arrivals"),
        reverse("treatments:waitlist"),
        reverse("treatments:waitlist_add") + f"?patient={patient}",
        reverse("treatments:follow_up_list"),
        reverse("treatments:sms_inbox"),
        reverse("treatments:schedule_day_sheet"),
        reverse("treatments:schedule_day_sheet")
        + f"?date={timezone.localdate(clinic['upcoming'].starts_at)}"
        + f"&dermatologist={clinic['dermatologist'].pk}",
        reverse("treatments:appointment_book") + "?date=2030-03-04&time=09:15&q=" + "a",
        reverse("treatments:patient_billing", args=[patient]),
    ]
    return {
        "receptionist": desk_and_manager,
        "manager": desk_and_manager,
        "dermatologist": [
            reverse("treatments:home"),
            reverse("treatments:my_day"),
            reverse("treatments:patient_chart", args=[patient]),
            reverse("treatments:procedure_record", args=[clinic["waiting"].pk]),
            reverse("treatments:procedure_detail", args=[clinic["procedure"].pk]),
            reverse("treatments:procedure_amend", args=[clinic["procedure"].pk]),
            reverse("treatments:procedure_handout", args=[clinic["procedure"].pk]),
            reverse("treatments:follow_up_outcome", args=[clinic["follow_up"].pk]),
            reverse("treatments:alert_add", args=[patient]),
            reverse("treatments:lesion_add", args=[patient]),
            reverse("treatments:lesion_edit", args=[clinic["lesion"].pk]),
            reverse("treatments:photo_upload", args=[patient]),
        ],
    }


def link(action: str, subject_id: int) -> str:
    return reverse(
        "treatments:patient_link", args=[link_token(action=action, subject_id=subject_id)]
    )


def patient_link_pages(clinic: dict) -> dict[str, tuple[str, int]]:
    """The pages behind reminder links, with the status each answers."""
    return {
        "confirm": (link(Action.CONFIRM, clinic["upcoming"].pk), 200),
        "cancel": (link(Action.CANCEL, clinic["upcoming"].pk), 200),
        "aftercare": (link(Action.AFTERCARE, clinic["procedure"].pk), 200),
        "book-check": (link(Action.BOOK_CHECK, clinic["follow_up"].pk), 200),
        "stop": (link(Action.STOP, clinic["patient"].pk), 200),
        "visit": (link(Action.VISIT, clinic["upcoming"].pk), 200),
        "reschedule": (link(Action.RESCHEDULE, clinic["upcoming"].pk), 200),
        "photo-check": (link(Action.PHOTO_CHECK, clinic["follow_up"].pk), 200),
        "claim": (
            link(
                Action.CLAIM,
                claim_subject_id(freed=clinic["freed"], entry=clinic["waitlist_entry"]),
            ),
            200,
        ),
        "refused": (reverse("treatments:patient_link", args=["not-a-real-token"]), 400),
    }


def rendered_pages(clinic: dict, as_role) -> dict[str, str]:
    """File name: the page's HTML, each fetched with the status it should answer."""
    pages: dict[str, str] = {}

    def fetch(name: str, client: Client, url: str, status: int = 200, method: str = "get"):
        response = getattr(client, method)(url)
        assert response.status_code == status, f"{name}: {url} answered {response.status_code}"
        pages[name] = response.content.decode()

    for role, urls in staff_pages(clinic).items():
        for number, url in enumerate(urls):
            fetch(f"{role}-{number:02d}.html", as_role(role), url)
    anonymous = Client()
    for name, (url, status) in patient_link_pages(clinic).items():
        fetch(f"link-{name}.html", anonymous, url, status)
    fetch("link-done.html", anonymous, link(Action.CONFIRM, clinic["upcoming"].pk), method="post")
    # The public booking page and the patient portal (issue 15), before a code is verified.
    for name in ("book_start", "portal_home"):
        fetch(f"public-{name}.html", anonymous, reverse(f"portal:{name}"))
    for name in ("booking_verify", "portal_verify"):
        fetch(f"public-{name}.html", anonymous, reverse(f"portal:{name}", args=["a-reference"]))
    fetch("login.html", anonymous, reverse("login"))
    fetch("password-reset.html", anonymous, reverse("password_reset"))
    pages["503.html"] = render_to_string("plain_answer.html", DATABASE_UNAVAILABLE_PAGE)
    pages["409.html"] = render_to_string("plain_answer.html", WRITE_CONFLICT_PAGE)
    return pages


def nu_checker_errors(folder: Path) -> list[str]:
    """The checker's errors over every .html file in folder, as `file:line: message`."""
    files = sorted(str(path) for path in folder.glob("*.html"))
    command = [JAVA, "-jar", str(VNU_JAR), "--errors-only", "--format", "json", *files]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    messages = json.loads(result.stderr or result.stdout)["messages"]
    return [
        f"{Path(message.get('url', '?')).name}:{message.get('lastLine', '?')}: {message['message']}"
        for message in messages
    ]


@pytest.mark.skipif(JAVA is None, reason="the Nu HTML checker needs java, which is not installed")
def test_the_main_pages_of_every_role_are_valid_with_a_favicon_and_a_description(
    clinic, as_role, tmp_path
):
    assert VNU_JAR.exists(), f"{VNU_JAR} is missing: run `npm ci` in the project folder"
    pages = rendered_pages(clinic, as_role)
    without = [name for name, html in pages.items() if not all(tag in html for tag in HEAD_TAGS)]
    assert without == []
    # One page made invalid on purpose, so that no other error means the pages were checked.
    pages["sentinel.html"] = pages["503.html"].replace("<p>", '<p hx-get="/">', 1)
    for name, html in pages.items():
        (tmp_path / name).write_text(html)

    errors = nu_checker_errors(tmp_path)

    assert len(pages) > 35
    assert [error.split(":", 1)[0] for error in errors] == ["sentinel.html"], errors
    assert "hx-get" in errors[0]
