"""The patient portal: a code to the email or phone the clinic has, then the patient's and
their children's visits, aftercare and reminder preferences, in a short session of its own."""

from datetime import date, timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinic.links import Action, link_token
from clinic.models import AccessLog
from portal.models import PortalSession
from portal.views import PORTAL_COOKIE

from ..factories import AppointmentFactory, GuardianFactory, PatientFactory
from .conftest import TUESDAY_10, ask_portal_code, last_code

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("worker_at_once")]
HOME = reverse("portal:portal_home")


def open_portal(client, contact: str) -> None:
    verify = ask_portal_code(client, contact)["Location"]
    response = client.post(verify, {"code": last_code()})
    assert response.status_code == 302 and response["Location"] == HOME


@pytest.fixture
def family(monday, dermatologist):
    """Marta is the guardian of two children, one with a visit on Tuesday at 10:00; her
    younger child has stopped reminders. Another family's child is not hers."""
    older = GuardianFactory(email="marta@example.com", patient__first_name="Leo").patient
    younger = GuardianFactory(
        email="marta@example.com",
        patient__first_name="Mia",
        patient__date_of_birth=date(2025, 1, 1),
    ).patient
    visit = AppointmentFactory(patient=older, dermatologist=dermatologist, starts_at=TUESDAY_10)
    stranger = GuardianFactory(email="other@example.com").patient
    return {"older": older, "younger": younger, "visit": visit, "stranger": stranger}


def test_a_guardian_sees_her_childrens_visits_and_no_one_elses(client, family):
    open_portal(client, "Marta@Example.com")

    page = client.get(HOME)

    html = page.content.decode()
    assert page.status_code == 200
    assert family["older"].full_name in html and family["younger"].full_name in html
    assert family["stranger"].full_name not in html
    token = link_token(action=Action.VISIT, subject_id=family["visit"].pk)
    assert html.count("/l/") == 1 and len(token) == 55  # the visit's own page, to move or cancel
    logged = AccessLog.objects.filter(action="portal_view", online_viewer="marta@example.com")
    assert set(logged.values_list("patient", flat=True)) == {
        family["older"].pk,
        family["younger"].pk,
    }
    assert not logged.filter(user__isnull=False).exists()


def test_a_guardian_re_enables_reminders_and_the_consent_is_recorded(client, family, monday):
    child = family["younger"]
    open_portal(client, "marta@example.com")
    prefix = f"patient-{child.pk}"

    response = client.post(
        reverse("portal:portal_preferences", args=[child.pk]),
        {
            f"{prefix}-preferred_channel": "email",
            f"{prefix}-language": "es",
            f"{prefix}-reminder_consent": "on",
        },
    )

    assert response.status_code == 302
    child.refresh_from_db()
    assert (child.reminder_consent, child.language) == (True, "es")
    assert child.reminder_consent_changed_at is not None
    assert child.reminder_consent_changed_by is None  # nobody at the clinic
    latest = child.history.first()
    assert latest.history_change_reason == (
        "Changed online in the patient portal by marta@example.com"
    )


def test_a_preference_that_reaches_nobody_is_refused(client, family):
    child = family["younger"]  # the guardian has no phone
    open_portal(client, "marta@example.com")
    prefix = f"patient-{child.pk}"

    response = client.post(
        reverse("portal:portal_preferences", args=[child.pk]),
        {
            f"{prefix}-preferred_channel": "sms",
            f"{prefix}-language": "en",
            f"{prefix}-reminder_consent": "on",
        },
    )

    assert response.status_code == 400
    assert "SMS need" in response.content.decode()
    child.refresh_from_db()
    assert not child.reminder_consent


def test_another_familys_patient_cannot_be_changed(client, family):
    open_portal(client, "marta@example.com")
    stranger = family["stranger"]

    response = client.post(
        reverse("portal:portal_preferences", args=[stranger.pk]),
        {f"patient-{stranger.pk}-reminder_consent": "on"},
    )

    assert response.status_code == 404
    stranger.refresh_from_db()
    assert not stranger.reminder_consent


def test_the_session_ends_after_fifteen_idle_minutes(client, family, monday):
    open_portal(client, "marta@example.com")
    monday.shift(timedelta(minutes=14))
    still_open = client.get(HOME)
    monday.shift(timedelta(minutes=15, seconds=1))

    ended = client.get(HOME)

    assert family["older"].full_name in still_open.content.decode()
    assert family["older"].full_name not in ended.content.decode()
    assert 'name="contact"' in ended.content.decode()
    assert PortalSession.objects.get().ended_at is not None


def test_logging_out_ends_the_session_for_good(client, family):
    open_portal(client, "marta@example.com")
    key = client.cookies[PORTAL_COOKIE].value

    client.post(reverse("portal:portal_logout"))
    replayed = Client()
    replayed.cookies[PORTAL_COOKIE] = key
    page = replayed.get(HOME)

    assert family["older"].full_name not in page.content.decode()
    assert PortalSession.objects.get().ended_at is not None


def test_a_staff_login_is_not_a_portal_session(receptionist_client, family):
    page = receptionist_client.get(HOME)

    assert 'name="contact"' in page.content.decode()
    assert family["older"].full_name not in page.content.decode()


def test_the_portal_opens_with_the_emailed_link(client, family):
    ask_portal_code(client, "marta@example.com")
    link = next(line for line in mail.outbox[-1].body.splitlines() if "/portal/verify/" in line)
    path = link.split("http://127.0.0.1:8000")[1].strip()

    form = client.get(path)  # a mail scanner's GET opens nothing
    opened = client.post(path.split("?")[0], {"code": path.split("code=")[1]})

    assert 'value="' + path.split("code=")[1] + '"' in form.content.decode()
    assert PortalSession.objects.count() == 1 and opened.status_code == 302


def test_the_portal_page_costs_the_same_queries_for_one_patient_and_many(
    client, monday, dermatologist
):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(HOME).status_code == 200
        return len(captured)

    guardian = GuardianFactory(email="big@example.com")
    AppointmentFactory(patient=guardian.patient, dermatologist=dermatologist, starts_at=TUESDAY_10)
    open_portal(client, "big@example.com")
    one = queries()
    for day in range(1, 4):
        child = GuardianFactory(email="big@example.com").patient
        for hour in (10, 11):
            AppointmentFactory(
                patient=child,
                dermatologist=dermatologist,
                starts_at=TUESDAY_10 + timedelta(days=day, hours=hour - 10),
            )
    PatientFactory(email="big@example.com")
    many = queries()

    # The session (read, idle clock), the patients, their visits, their signed
    # procedures, the access-log rows (one insert for all).
    assert one == many == 6
