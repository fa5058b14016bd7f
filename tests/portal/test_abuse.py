"""Abuse and privacy on the public pages: codes that cannot be guessed or outlived,
limits that answer 429, CSRF on every form, nothing indexed."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.http import HttpResponse
from django.test import Client, TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinic.celery import app
from portal.models import OneTimeCode, PortalSession
from portal.tasks import portal_records_purge as purge_task
from treatments.models import Appointment

from ..factories import PatientFactory
from .conftest import ask_portal_code, last_code
from .test_booking import DETAILS, ask_for_code, details

pytestmark = pytest.mark.django_db


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_the_sixth_try_is_refused_even_with_the_right_code(
    client, monday, dermatologist, consultation
):
    verify = ask_for_code(client, details(consultation, dermatologist))
    right = last_code()

    answers = [client.post(verify, {"code": wrong(right)}).status_code for _ in range(5)]
    sixth = client.post(verify, {"code": right})

    assert answers == [400, 400, 400, 400, 409]  # the fifth wrong try refuses the code
    assert sixth.status_code == 409
    assert "Too many wrong tries" in sixth.content.decode()
    assert OneTimeCode.objects.get().status == "refused"
    assert Appointment.objects.count() == 0


def test_a_wrong_code_says_so_and_keeps_the_form(client, monday, dermatologist, consultation):
    verify = ask_for_code(client, details(consultation, dermatologist))

    response = client.post(verify, {"code": wrong(last_code())})

    assert response.status_code == 400
    assert response.context["form"].errors["code"] == [
        "That code is not right. Check it and try again."
    ]
    assert OneTimeCode.objects.get().tries == 1


def test_a_code_expires_after_ten_minutes(client, monday, dermatologist, consultation):
    verify = ask_for_code(client, details(consultation, dermatologist))
    monday.shift(timedelta(minutes=10, seconds=1))

    response = client.post(verify, {"code": last_code()})

    assert response.status_code == 409
    assert "expired" in response.content.decode()
    assert Appointment.objects.count() == 0


def test_a_used_code_cannot_book_twice(client, monday, dermatologist, consultation):
    verify = ask_for_code(client, details(consultation, dermatologist))
    code = last_code()
    client.post(verify, {"code": code})

    again = client.post(verify, {"code": code})

    assert again.status_code == 409
    assert Appointment.objects.count() == 1


def test_a_made_up_reference_is_refused(client, monday):
    response = client.post(reverse("portal:booking_verify", args=["made-up"]), {"code": "123456"})

    assert response.status_code == 409
    assert "not valid" in response.content.decode()


def test_codes_are_limited_per_contact_then_per_address(
    client, monday, dermatologist, consultation, settings
):
    settings.CLINIC_CODES_PER_CONTACT = 3
    settings.CLINIC_CODES_PER_IP = 5
    same_contact = [client.post(DETAILS, details(consultation, dermatologist)) for _ in range(4)]
    other_contacts = [
        client.post(DETAILS, details(consultation, dermatologist, contact=f"p{n}@example.com"))
        for n in range(2)
    ]

    assert [r.status_code for r in same_contact] == [302, 302, 302, 429]
    # The address's fifth request is the second to another contact: the sixth is refused.
    assert [r.status_code for r in other_contacts] == [302, 429]
    assert "Too many requests" in other_contacts[1].content.decode()
    assert len(mail.outbox) == 4


def test_code_checks_are_limited_per_address(client, monday, dermatologist, consultation, settings):
    settings.CLINIC_CODE_CHECKS_PER_IP = 5
    verifies = [
        ask_for_code(client, details(consultation, dermatologist, contact=f"p{n}@example.com"))
        for n in range(3)
    ]
    statuses = [
        client.post(verify, {"code": "000000"}).status_code for verify in verifies for _ in (1, 2)
    ]

    assert statuses == [400, 400, 400, 400, 400, 429]


def test_every_public_page_is_rate_limited_per_address(client, monday, settings):
    settings.CLINIC_PUBLIC_PAGES_PER_IP = 10
    pages = [reverse("portal:book_start"), reverse("portal:portal_home")] * 5
    assert {client.get(page).status_code for page in pages} == {200}

    refused = client.get(reverse("portal:portal_home"))
    elsewhere = Client(REMOTE_ADDR="10.0.0.2").get(reverse("portal:book_start"))

    assert refused.status_code == 429
    assert refused["Retry-After"] == "600"
    assert "Too many requests from you" in refused.content.decode()
    assert elsewhere.status_code == 200


def test_every_form_needs_its_csrf_token(monday, dermatologist, consultation):
    strict = Client(enforce_csrf_checks=True)
    posts = [
        (DETAILS, details(consultation, dermatologist)),
        (reverse("portal:booking_verify", args=["x"]), {"code": "123456"}),
        (reverse("portal:booking_choose", args=["x"]), {}),
        (reverse("portal:portal_home"), {"contact": "a@example.com"}),
        (reverse("portal:portal_verify", args=["x"]), {"code": "123456"}),
        (reverse("portal:portal_preferences", args=[1]), {}),
        (reverse("portal:portal_logout"), {}),
    ]

    assert [strict.post(url, data).status_code for url, data in posts] == [403] * len(posts)
    assert OneTimeCode.objects.count() == 0


def test_the_public_pages_are_kept_out_of_search_engines(client, monday):
    pages = [reverse("portal:book_start"), reverse("portal:portal_home")]
    robots = client.get("/robots.txt")

    for page in pages:
        response = client.get(page)
        assert response["X-Robots-Tag"] == "noindex, nofollow"
        assert '<meta name="robots" content="noindex">' in response.content.decode()
        assert "no-store" in response["Cache-Control"]
    assert robots.status_code == 200
    assert "User-agent: *\nDisallow: /\n" == robots.content.decode()


def test_asking_for_a_portal_code_answers_the_same_for_a_known_and_an_unknown_contact(
    client, monday, worker_at_once
):
    PatientFactory(email="known@example.com")

    known, known_statements = ask_and_count(client, "known@example.com")
    unknown, unknown_statements = ask_and_count(client, "unknown@example.com")
    pages = [
        re.sub(
            r'name="csrfmiddlewaretoken" value="[^"]*"',
            "",
            client.get(answer["Location"]).content.decode(),
        )
        for answer in (known, unknown)
    ]

    assert known.status_code == unknown.status_code == 302
    assert pages[0] == pages[1]
    # The same statements for both: no request looks the contact up before it answers,
    # none waits for a mail server (the worker sends the code, after the answer).
    assert known_statements == unknown_statements
    assert not any("patients_patient" in statement for statement in known_statements)
    assert [message.to for message in mail.outbox] == [["known@example.com"]]
    assert OneTimeCode.objects.count() == 2  # the unknown contact's is never sent


def ask_and_count(client: Client, contact: str) -> tuple[HttpResponse, list[str]]:
    """Ask for a portal code: the answer and the shape of the request's statements (kind
    and tables, values left out). Then run what its commit queued (the worker's sending),
    which alone sends."""
    sent = len(mail.outbox)
    with (
        TestCase.captureOnCommitCallbacks(execute=False) as queued,
        CaptureQueriesContext(connection) as captured,
    ):
        answer = client.post(reverse("portal:portal_home"), {"contact": contact})
    assert len(mail.outbox) == sent  # the request itself sent nothing
    for callback in queued:
        callback()
    shapes = [
        " ".join(re.findall(r'^\w+|(?:FROM|INTO|UPDATE|JOIN) "\w+"', query["sql"]))
        for query in captured.captured_queries
    ]
    return answer, shapes


def test_codes_and_sessions_are_deleted_a_day_after_they_end(
    client, monday, dermatologist, consultation, worker_at_once
):
    ask_for_code(client, details(consultation, dermatologist))
    PatientFactory(email="known@example.com")
    verify = ask_portal_code(client, "known@example.com")
    client.post(verify["Location"], {"code": last_code()})
    monday.shift(timedelta(days=1, minutes=10))
    kept = purge_task()
    monday.shift(timedelta(minutes=16))

    deleted = purge_task()

    assert kept == {"codes": 0, "sessions": 0}
    assert deleted == {"codes": 2, "sessions": 1}
    assert OneTimeCode.objects.count() == PortalSession.objects.count() == 0
    assert app.conf.beat_schedule["portal-records-purge"]["task"] == purge_task.name


def test_a_code_that_cannot_be_sent_answers_503_and_logs_no_address(
    client, monday, dermatologist, consultation, settings, caplog
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens there

    response = client.post(DETAILS, details(consultation, dermatologist))

    assert response.status_code == 503
    assert "could not send the code" in response.content.decode()
    assert "ana.lima" not in caplog.text.lower() and "could not be sent by email" in caplog.text
