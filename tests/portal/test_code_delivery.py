"""The worker's half of a portal code (portal_code_deliver): it draws the digits and sends
them in the asker's language, to a known contact only; a mail server that refuses is
tried again; a code used or expired meanwhile is not sent."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse

from portal.models import OneTimeCode
from portal.tasks import CODE_SEND_RETRIES, portal_code_deliver

from ..clinic.test_delivery import start_worker, stop, wait_until
from ..clinic.test_outbox import smtp_server  # noqa: F401 - a fixture
from ..factories import PatientFactory
from .conftest import ask_portal_code, last_code

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("worker_at_once")]


def test_the_code_is_sent_in_the_language_of_the_page_it_was_asked_on(client, monday):
    PatientFactory(email="lucia@example.com")
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "es"

    verify = ask_portal_code(client, "lucia@example.com")["Location"]
    opened = client.post(verify, {"code": last_code()})

    assert mail.outbox[-1].subject.startswith("Su código para")
    assert opened.status_code == 302 and opened["Location"] == reverse("portal:portal_home")


def test_a_mail_server_that_refuses_is_tried_again_then_given_up_without_the_address(
    client, monday, settings, caplog
):
    PatientFactory(email="lucia@example.com")
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens there

    answer = ask_portal_code(client, "lucia@example.com")

    assert answer.status_code == 302  # the page said the code is on its way, as for anyone
    tries = caplog.text.count("A one-time code could not be sent by email")
    assert tries == 1 + CODE_SEND_RETRIES
    assert "lucia" not in caplog.text.lower()
    # The mail server back: the worker's next run sends the code, which opens the portal.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    code = OneTimeCode.objects.get()
    assert portal_code_deliver.apply(args=[code.pk, "en"]).get() == "sent"
    assert client.post(answer["Location"], {"code": last_code()}).status_code == 302


def test_a_second_run_sends_new_digits_and_only_they_work(client, monday):
    PatientFactory(email="lucia@example.com")
    verify = ask_portal_code(client, "lucia@example.com")["Location"]
    first = last_code()

    second = first
    while second == first:  # a second draw repeats the first one time in a million
        assert portal_code_deliver.apply(args=[OneTimeCode.objects.get().pk, "en"]).get() == "sent"
        second = last_code()
    refused = client.post(verify, {"code": first})
    opened = client.post(verify, {"code": second})

    assert refused.status_code == 400 and "not right" in refused.content.decode()
    assert opened.status_code == 302


def test_a_code_used_or_expired_before_the_worker_runs_is_not_sent(client, monday):
    PatientFactory(email="lucia@example.com")
    verify = ask_portal_code(client, "lucia@example.com")["Location"]
    client.post(verify, {"code": last_code()})
    expiring = ask_portal_code(client, "lucia@example.com")
    sent = len(mail.outbox)
    monday.shift(timedelta(minutes=11))

    used = OneTimeCode.objects.get(status=OneTimeCode.Status.USED)
    expired = OneTimeCode.objects.exclude(pk=used.pk).get()

    assert expiring.status_code == 302
    assert portal_code_deliver.apply(args=[used.pk, "en"]).get() == "gone"
    assert portal_code_deliver.apply(args=[expired.pk, "en"]).get() == "gone"
    assert len(mail.outbox) == sent


@pytest.mark.worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_mails_the_portal_code_that_opens_the_portal(client, smtp_server):  # noqa: F811
    """The request answers; a `celery worker` process, through the configured broker,
    mails the code to a real SMTP server on loopback; the code opens the portal."""
    PatientFactory(email="lucia@example.com")
    worker = start_worker(CLINIC_TEST_EMAIL_URL=smtp_server.url)
    try:
        verify = client.post(reverse("portal:portal_home"), {"contact": "lucia@example.com"})
        wait_until(lambda: smtp_server.recipients() == {"lucia@example.com": 1}, what="the code")
    finally:
        stop(worker)
    body = smtp_server.messages[0].get_payload(decode=True).decode()
    code = re.search(r"\b([0-9]{6})\b", body).group(1)

    opened = client.post(verify["Location"], {"code": code})

    assert verify.status_code == 302
    assert opened.status_code == 302 and opened["Location"] == reverse("portal:portal_home")
