"""One-click unsubscribe (RFC 8058): the List-Unsubscribe headers of reminder emails,
read from a real SMTP server, and the endpoint they name (treatments/views/links.py),
which stops reminders as the stop link does: no login, no CSRF token, 200."""

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from django.test import Client, override_settings
from django.utils import timezone

from clinic.links import Action, link_token
from clinic.models import Reminder
from clinic.outbox import CONSENT_WITHDRAWN, reminders_send_due

from .test_outbox import consenting_patient, due_reminder, smtp_server  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db
ONE_CLICK = "List-Unsubscribe=One-Click"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def https_links(settings):
    settings.CLINIC_BASE_URL = "https://clinic.example.com"


@pytest.fixture
def mail_client():
    """What a mail provider is: no session, no cookie, and Django's CSRF check on."""
    return Client(enforce_csrf_checks=True)


def unsubscribe_path(message) -> str:
    header = "".join(message["List-Unsubscribe"].split())
    assert header.startswith("<https://clinic.example.com/l/") and header.endswith("/>")
    return urlsplit(header.strip("<>")).path


def test_a_reminder_email_names_a_one_click_endpoint_that_stops_reminders(
    https_links,
    smtp_server,  # noqa: F811
    mail_client,
):
    patient = consenting_patient()
    due_reminder(patient=patient)
    later = due_reminder(patient=patient, due=timezone.now() + timedelta(hours=1))
    reminders_send_due()
    [message] = smtp_server.messages
    assert message["List-Unsubscribe-Post"] == ONE_CLICK

    response = mail_client.post(unsubscribe_path(message), ONE_CLICK, content_type=FORM)

    assert response.status_code == 200
    assert b"Reminders stopped" in response.content
    patient.refresh_from_db()
    assert patient.reminder_consent is False
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        reminders_send_due()
    later.refresh_from_db()
    assert (later.status, later.skip_reason) == (Reminder.Status.SKIPPED, CONSENT_WITHDRAWN)
    assert len(smtp_server.messages) == 1


def test_the_header_names_a_new_stop_link_not_the_one_in_the_body(
    https_links,
    smtp_server,  # noqa: F811
):
    due_reminder()
    reminders_send_due()
    [message] = smtp_server.messages
    [text] = [part for part in message.walk() if part.get_content_type() == "text/plain"]
    body = text.get_payload(decode=True).decode()
    assert "https://clinic.example.com/l/" in body
    token = unsubscribe_path(message).split("/")[2]

    assert token not in body  # each link is used once: the body's stays good for the page


def test_get_on_the_endpoint_shows_the_stop_page_and_changes_nothing(client):
    patient = consenting_patient()
    token = link_token(action=Action.STOP, subject_id=patient.pk)

    response = client.get(f"/l/{token}/unsubscribe/")

    assert response.status_code == 200
    assert b"Stop reminders" in response.content
    assert f'action="/l/{token}/"'.encode() in response.content  # the button: the stop link
    patient.refresh_from_db()
    assert patient.reminder_consent is True


def test_the_stop_pages_button_works_from_the_endpoints_page(client):
    patient = consenting_patient()
    token = link_token(action=Action.STOP, subject_id=patient.pk)
    client.get(f"/l/{token}/unsubscribe/")

    response = client.post(f"/l/{token}/")

    assert response.status_code == 200
    patient.refresh_from_db()
    assert patient.reminder_consent is False


def test_a_post_without_the_one_click_body_is_refused_and_changes_nothing(mail_client):
    patient = consenting_patient()
    token = link_token(action=Action.STOP, subject_id=patient.pk)

    response = mail_client.post(f"/l/{token}/unsubscribe/", "x=1", content_type=FORM)

    assert response.status_code == 400
    assert b"List-Unsubscribe=One-Click" in response.content
    patient.refresh_from_db()
    assert patient.reminder_consent is True


def test_a_second_one_click_post_is_gone(mail_client):
    patient = consenting_patient()
    url = f"/l/{link_token(action=Action.STOP, subject_id=patient.pk)}/unsubscribe/"
    assert mail_client.post(url, ONE_CLICK, content_type=FORM).status_code == 200

    assert mail_client.post(url, ONE_CLICK, content_type=FORM).status_code == 410


@pytest.mark.parametrize("action", [Action.CONFIRM, Action.CANCEL, Action.BOOK_CHECK])
def test_a_link_for_anything_but_stopping_is_refused_at_the_endpoint(mail_client, action):
    patient = consenting_patient()
    token = link_token(action=action, subject_id=patient.pk)

    post = mail_client.post(f"/l/{token}/unsubscribe/", ONE_CLICK, content_type=FORM)
    get = mail_client.get(f"/l/{token}/unsubscribe/")

    assert (post.status_code, get.status_code) == (400, 400)
    patient.refresh_from_db()
    assert patient.reminder_consent is True


def test_a_made_up_token_is_refused(mail_client):
    response = mail_client.post("/l/not-a-token/unsubscribe/", ONE_CLICK, content_type=FORM)

    assert response.status_code == 400


def test_a_wrong_method_is_refused(mail_client):
    patient = consenting_patient()
    token = link_token(action=Action.STOP, subject_id=patient.pk)

    assert mail_client.put(f"/l/{token}/unsubscribe/").status_code == 405


@override_settings(CLINIC_BASE_URL="http://127.0.0.1:8000")
def test_without_https_links_there_is_no_list_unsubscribe_header(smtp_server):  # noqa: F811
    due_reminder()
    reminders_send_due()

    [message] = smtp_server.messages
    assert message["List-Unsubscribe"] is None and message["List-Unsubscribe-Post"] is None
