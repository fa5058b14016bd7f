"""GET /healthz: each component's own state; 200 when all are fine, 503 otherwise
("unavailable" when the database, the broker or beat is down, "degraded" when only the
delivery of reminders is)."""

from datetime import timedelta

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from clinic.models import ChannelHealth, Heartbeat, Reminder
from clinic.outbox import reminders_send_due
from clinic.services import BEAT_HEARTBEAT, heartbeat_record

from .test_outbox import at, due_reminder, free_port, smtp_server  # noqa: F401 - a fixture

Status = Reminder.Status

UNREACHABLE_BROKER = {
    "CELERY_BROKER_URL": "redis://127.0.0.1:1/0",
    "CELERY_BROKER_TRANSPORT_OPTIONS": {},
}
COMPONENTS = {"database", "broker", "beat", "outbox", "email", "sms"}
# An SMTP server that is not there: nothing listens on the port, so connecting is refused.
SMTP_REFUSED = {
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "EMAIL_HOST": "127.0.0.1",
    "EMAIL_USE_TLS": False,
    "EMAIL_USE_SSL": False,
    "EMAIL_TIMEOUT": 5,
}


def health(client) -> tuple[int, dict]:
    response = client.get("/healthz")
    return response.status_code, response.json()


def statuses(body: dict) -> dict[str, str]:
    return {name: component["status"] for name, component in body["components"].items()}


@pytest.mark.django_db
def test_healthz_is_200_when_every_component_is_fine(client):
    heartbeat_record(name=BEAT_HEARTBEAT)

    code, body = health(client)

    assert code == 200
    assert body["status"] == "ok"
    assert statuses(body) == dict.fromkeys(COMPONENTS, "ok")


@pytest.mark.django_db
def test_healthz_is_503_unavailable_when_the_broker_is_unreachable(client):
    heartbeat_record(name=BEAT_HEARTBEAT)

    with override_settings(**UNREACHABLE_BROKER):
        code, body = health(client)

    assert code == 503
    assert body["status"] == "unavailable"
    assert statuses(body)["broker"].startswith("error")
    assert statuses(body)["database"] == "ok"


@pytest.mark.django_db
def test_healthz_is_503_before_beat_ever_ran(client):
    code, body = health(client)

    assert code == 503
    assert body["status"] == "unavailable"
    assert body["components"]["beat"] == {"status": "never ran", "last_seen": None}


@pytest.mark.django_db
def test_healthz_is_503_when_beat_stopped(client):
    Heartbeat.objects.create(
        name=BEAT_HEARTBEAT, last_seen_at=timezone.now() - timedelta(minutes=10)
    )

    code, body = health(client)

    assert code == 503
    assert statuses(body)["beat"] == "stale"


@pytest.mark.django_db
def test_healthz_needs_no_login_and_shows_no_patient_data(client):
    heartbeat_record(name=BEAT_HEARTBEAT)
    due_reminder(status=Status.FAILED, failed_at=timezone.now(), last_error="SMTP 550: no")

    body = client.get("/healthz").json()

    assert set(body) == {"status", "components"}
    assert set(body["components"]) == COMPONENTS
    assert "550" not in str(body) and "@" not in str(body)


@pytest.mark.django_db
def test_healthz_refuses_other_methods(client):
    assert client.post("/healthz").status_code == 405


# --- Delivery: the outages the age of the backlog alone did not see ----------------------


@pytest.mark.django_db
def test_an_smtp_outage_turns_healthz_degraded_and_the_first_success_clears_it(
    client,
    smtp_server,  # noqa: F811
):
    """Every failed retry pushes the backlog's clock forward; the channel's own count of
    failures in a row does not forget them."""
    start = at(2026, 5, 4, 10, 0)
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(3):
            due_reminder(due=start - timedelta(minutes=1))
        with override_settings(**SMTP_REFUSED, EMAIL_PORT=free_port()):
            for sweep in range(3):
                outcomes = reminders_send_due()
                assert outcomes["unreachable"] == 1, f"sweep {sweep}: {outcomes}"
                heartbeat_record(name=BEAT_HEARTBEAT)
                code, body = health(client)
                clock.shift(timedelta(minutes=30))  # past every retry time
        failing = body["components"]["email"]
        assert (code, body["status"]) == (503, "degraded")
        assert failing["status"] == "failing" and failing["failures_in_a_row"] == 3
        assert body["components"]["outbox"]["backlog_seconds"] == 0  # it never saw it
        assert statuses(body)["sms"] == "ok"

        assert reminders_send_due()["sent"] == 3  # the server is back
        heartbeat_record(name=BEAT_HEARTBEAT)
        code, body = health(client)

    assert code == 200
    assert body["components"]["email"]["failures_in_a_row"] == 0
    assert len(smtp_server.messages) == 3


@pytest.mark.django_db
def test_a_recipient_the_server_rejects_is_no_channel_outage(client, smtp_server):  # noqa: F811
    rejected = due_reminder()
    smtp_server.refuse_recipient[rejected.email] = ["550 No such user"]
    due_reminder()

    reminders_send_due()

    state = ChannelHealth.objects.get(channel="email")
    assert (state.failures_in_a_row, state.last_success_at is not None) == (0, True)


@pytest.mark.django_db
def test_an_sms_provider_that_cannot_be_reached_counts_against_the_sms_channel(client):
    heartbeat_record(name=BEAT_HEARTBEAT)
    with override_settings(
        SMS_BACKEND="clinic.channels.TwilioSmsBackend",
        TWILIO_ACCOUNT_SID="AC0123",
        TWILIO_AUTH_TOKEN="secret",
        TWILIO_FROM_NUMBER="+15005550006",
        TWILIO_API_BASE=f"http://127.0.0.1:{free_port()}",
        CLINIC_HEALTH_CHANNEL_FAILURES=1,
    ):
        due_reminder(channel="sms", email="", phone="+12025550143")
        assert reminders_send_due()["unreachable"] == 1
        code, body = health(client)

    assert (code, body["status"]) == (503, "degraded")
    assert statuses(body)["sms"] == "failing"
    assert statuses(body)["email"] == "ok"


@pytest.mark.django_db
def test_a_reminder_given_up_on_in_the_last_hour_turns_healthz_degraded(client):
    now = at(2026, 5, 4, 10, 0)
    with time_machine.travel(now, tick=False) as clock:
        heartbeat_record(name=BEAT_HEARTBEAT)
        due_reminder(status=Status.FAILED, failed_at=now - timedelta(minutes=59))
        code, body = health(client)
        assert (code, body["components"]["outbox"]["status"]) == (503, "failed for good")
        assert body["components"]["outbox"]["failed_last_hour"] == 1

        clock.shift(timedelta(minutes=2))
        heartbeat_record(name=BEAT_HEARTBEAT)
        code, body = health(client)

    assert code == 200
    assert body["components"]["outbox"]["failed_last_hour"] == 0


@pytest.mark.django_db
def test_the_sweep_records_when_it_gives_up_on_a_reminder(smtp_server):  # noqa: F811
    now = at(2026, 5, 4, 10, 0)
    with time_machine.travel(now, tick=False):
        rejected = due_reminder()
        smtp_server.refuse_recipient[rejected.email] = ["550 No such user"]
        reminders_send_due()

    rejected.refresh_from_db()
    assert (rejected.status, rejected.failed_at) == (Status.FAILED, now)


@pytest.mark.django_db
def test_rows_left_sending_past_the_reclaim_time_turn_healthz_degraded(client):
    now = at(2026, 5, 4, 10, 0)
    with (
        time_machine.travel(now, tick=False),
        override_settings(CLINIC_REMINDER_RECLAIM_SECONDS=600),
    ):
        heartbeat_record(name=BEAT_HEARTBEAT)
        due_reminder(status=Status.SENDING, claimed_at=now - timedelta(minutes=9))
        assert health(client)[0] == 200  # a live sweep may hold a row this long

        due_reminder(status=Status.SENDING, claimed_at=now - timedelta(minutes=11))
        code, body = health(client)

    assert (code, body["status"]) == (503, "degraded")
    assert body["components"]["outbox"]["status"] == "stuck sending"
    assert body["components"]["outbox"]["stuck_sending"] == 1
