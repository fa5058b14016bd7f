"""SMS through Vonage, and failover between two providers (clinic/channels.py), against
local servers that speak Twilio's and Vonage's documented APIs (tests/sms_providers.py)."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from django.utils import timezone

from clinic.channels import VonageSmsBackend
from clinic.models import ChannelHealth, Heartbeat, Reminder
from clinic.outbox import reminders_claim, reminders_deliver, reminders_send_due
from clinic.services import BEAT_HEARTBEAT, SMS_FAILOVER_HEARTBEAT, heartbeat_record

from ..sms_providers import (
    VONAGE_API_KEY,
    VONAGE_API_SECRET,
    VONAGE_FROM,
    VONAGE_SIGNATURE_SECRET,
    twilio_server,
    twilio_settings,
    vonage_server,
    vonage_settings,
)
from .test_delivery import start_worker, stop, sweep_through, wait_until
from .test_outbox import consenting_patient, due_reminder, free_port

pytestmark = pytest.mark.django_db
Status = Reminder.Status
TWILIO = "clinic.channels.TwilioSmsBackend"
VONAGE = "clinic.channels.VonageSmsBackend"


@pytest.fixture
def vonage():
    with (
        vonage_server() as provider,
        override_settings(SMS_BACKEND=VONAGE, **vonage_settings(provider)),
    ):
        yield provider


@pytest.fixture
def twilio_then_vonage():
    """Twilio the primary, Vonage the failover."""
    with (
        twilio_server() as twilio,
        vonage_server() as vonage,
        override_settings(
            SMS_BACKEND=TWILIO,
            SMS_FAILOVER_BACKEND=VONAGE,
            SMS_TIMEOUT_SECONDS=1,
            **twilio_settings(twilio),
            **vonage_settings(vonage),
        ),
    ):
        yield twilio, vonage


def sms_reminder(phone="+12125550123", **fields) -> Reminder:
    return due_reminder(channel="sms", email="", phone=phone, **fields)


# --- Vonage ---------------------------------------------------------------------------


def test_vonage_success_stores_the_message_id_with_the_provider(vonage):
    reminder = sms_reminder()

    reminders_send_due()

    reminder.refresh_from_db()
    [message] = vonage.accepted
    assert (reminder.status, reminder.provider_message_id) == (
        Status.SENT,
        f"vonage:{message['message-id']}",
    )
    [request] = vonage.requests
    assert request["path"] == "/sms/json"
    form = request["form"]
    assert (form["api_key"], form["api_secret"]) == (VONAGE_API_KEY, VONAGE_API_SECRET)
    assert (form["from"], form["to"], form["type"]) == (VONAGE_FROM, "12125550123", "text")
    assert form["text"].startswith("Your clinic: reminder of your visit on")


def test_a_text_gsm7_cannot_carry_goes_to_vonage_as_unicode(vonage):
    # The template's words are brought into GSM-7; a clinic name in Cyrillic is not.
    with override_settings(CLINIC_SMS_NAME="Клиника"):
        sms_reminder()
        reminders_send_due()

    [message] = vonage.accepted
    assert message["type"] == "unicode"
    assert message["text"].startswith("Клиника: reminder")


def test_a_number_vonage_refuses_fails_for_good(vonage):
    reminder = sms_reminder()
    vonage.invalid_numbers.add("12125550123")

    reminders_send_due()

    reminder.refresh_from_db()
    assert (reminder.status, reminder.last_error) == (
        Status.FAILED,
        "Vonage status 3: Invalid to param",
    )
    # The recipient's problem, not the channel's.
    assert not ChannelHealth.objects.filter(failures_in_a_row__gt=0).exists()


def test_vonage_throttling_is_tried_again_later(vonage):
    reminder = sms_reminder()
    vonage.mode = "throttle"

    reminders_send_due()

    reminder.refresh_from_db()
    assert reminder.status == Status.PENDING
    assert reminder.next_attempt_at > timezone.now()
    assert reminder.last_error.startswith("Vonage status 1: Throughput Rate Exceeded")
    assert ChannelHealth.objects.get(channel="sms").failures_in_a_row == 1


def test_a_vonage_outage_is_tried_again_later(vonage):
    reminder = sms_reminder()
    vonage.mode = "outage"

    reminders_send_due()

    reminder.refresh_from_db()
    assert (reminder.status, reminder.last_error) == (
        Status.PENDING,
        "Vonage 503: Service Unavailable",
    )


def test_credentials_vonage_refuses_are_tried_again_and_count_against_the_channel(vonage):
    reminder = sms_reminder()

    with override_settings(VONAGE_API_SECRET="wrong"):
        reminders_send_due()

    reminder.refresh_from_db()
    assert (reminder.status, reminder.last_error) == (
        Status.PENDING,
        "Vonage status 4: Bad Credentials",
    )
    assert vonage.accepted == []
    assert ChannelHealth.objects.get(channel="sms").failures_in_a_row == 1


def test_vonage_that_cannot_be_reached_stops_the_batch():
    first, second = sms_reminder(), sms_reminder(phone="+12125550124")
    with override_settings(
        SMS_BACKEND=VONAGE,
        VONAGE_API_BASE=f"http://127.0.0.1:{free_port()}",
        VONAGE_API_KEY=VONAGE_API_KEY,
        VONAGE_API_SECRET=VONAGE_API_SECRET,
        VONAGE_FROM=VONAGE_FROM,
    ):
        outcomes = reminders_send_due()

    assert (outcomes["unreachable"], outcomes["released"]) == (1, 1)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.last_error == "Vonage unreachable: ConnectionError"
    assert (first.status, second.status) == (Status.PENDING, Status.PENDING)


@pytest.mark.parametrize("method", ["md5hash", "sha256"])
def test_a_request_signed_with_the_signature_secret_is_accepted_without_the_api_secret(
    vonage, method
):
    vonage.signature_method = method
    reminder = sms_reminder()

    with override_settings(
        VONAGE_API_SECRET="",
        VONAGE_SIGNATURE_SECRET=VONAGE_SIGNATURE_SECRET,
        VONAGE_SIGNATURE_METHOD=method,
    ):
        reminders_send_due()

    reminder.refresh_from_db()
    assert reminder.status == Status.SENT
    [request] = vonage.requests
    assert "api_secret" not in request["form"]
    assert {"sig", "timestamp"} <= set(request["form"])


def test_a_request_signed_with_the_wrong_secret_is_refused_and_tried_again(vonage):
    reminder = sms_reminder()

    with override_settings(VONAGE_SIGNATURE_SECRET="not-the-accounts"):
        reminders_send_due()

    reminder.refresh_from_db()
    assert (reminder.status, reminder.last_error) == (
        Status.PENDING,
        "Vonage status 14: Invalid Signature",
    )
    assert vonage.accepted == []


def test_a_signature_made_with_another_method_than_the_accounts_is_refused(vonage):
    vonage.signature_method = "sha256"
    reminder = sms_reminder()

    with override_settings(
        VONAGE_SIGNATURE_SECRET=VONAGE_SIGNATURE_SECRET, VONAGE_SIGNATURE_METHOD="md5hash"
    ):
        reminders_send_due()

    reminder.refresh_from_db()
    assert reminder.last_error == "Vonage status 14: Invalid Signature"


@override_settings(VONAGE_API_KEY="", VONAGE_API_SECRET="", VONAGE_FROM="")
def test_the_vonage_backend_refuses_to_start_without_its_credentials():
    with pytest.raises(ImproperlyConfigured, match="VONAGE_API_KEY"):
        VonageSmsBackend()


@override_settings(
    VONAGE_API_KEY=VONAGE_API_KEY, VONAGE_API_SECRET="", VONAGE_SIGNATURE_SECRET="", VONAGE_FROM="x"
)
def test_the_vonage_backend_needs_one_of_its_two_secrets():
    with pytest.raises(ImproperlyConfigured, match="VONAGE_API_SECRET or VONAGE_SIGNATURE_SECRET"):
        VonageSmsBackend()


# --- Failover -------------------------------------------------------------------------


def test_a_message_the_primary_cannot_take_goes_out_through_the_failover(twilio_then_vonage):
    twilio, vonage = twilio_then_vonage
    twilio.mode = "outage"
    reminder = sms_reminder()

    assert reminders_send_due()["sent"] == 1

    reminder.refresh_from_db()
    [message] = vonage.accepted
    assert (reminder.status, reminder.provider_message_id) == (
        Status.SENT,
        f"vonage:{message['message-id']}",
    )
    assert twilio.accepted == []
    assert Heartbeat.objects.filter(name=SMS_FAILOVER_HEARTBEAT).exists()


def test_the_primary_is_used_while_it_answers(twilio_then_vonage):
    twilio, vonage = twilio_then_vonage
    reminder = sms_reminder()

    reminders_send_due()

    reminder.refresh_from_db()
    assert reminder.provider_message_id == f"twilio:{twilio.accepted[0]['sid']}"
    assert vonage.requests == []
    assert not Heartbeat.objects.filter(name=SMS_FAILOVER_HEARTBEAT).exists()


def test_a_number_the_primary_refuses_is_not_sent_through_the_failover(twilio_then_vonage):
    twilio, vonage = twilio_then_vonage
    twilio.invalid_numbers.add("+12125550123")
    reminder = sms_reminder()

    reminders_send_due()

    reminder.refresh_from_db()
    assert reminder.status == Status.FAILED
    assert reminder.last_error.startswith("Twilio 400 21211:")
    assert vonage.requests == []


def test_credentials_the_primary_refuses_fail_over(twilio_then_vonage):
    twilio, vonage = twilio_then_vonage
    reminder = sms_reminder()

    with override_settings(TWILIO_AUTH_TOKEN="wrong"):
        reminders_send_due()

    reminder.refresh_from_db()
    assert reminder.provider_message_id.startswith("vonage:")
    assert len(vonage.accepted) == 1


def test_an_unreachable_primary_fails_over_for_the_whole_batch():
    nobody_listens = f"http://127.0.0.1:{free_port()}"
    with (
        vonage_server() as vonage,
        override_settings(
            SMS_BACKEND=TWILIO,
            SMS_FAILOVER_BACKEND=VONAGE,
            **(twilio_settings(vonage) | {"TWILIO_API_BASE": nobody_listens}),
            **vonage_settings(vonage),
        ),
    ):
        for n in range(3):
            sms_reminder(phone=f"+1212555014{n}")
        assert reminders_send_due()["sent"] == 3

    assert sorted(message["to"] for message in vonage.accepted) == [
        "12125550140",
        "12125550141",
        "12125550142",
    ]
    assert {reminder.provider_message_id[:7] for reminder in Reminder.objects.all()} == {"vonage:"}


def test_when_both_providers_are_down_nothing_is_lost(twilio_then_vonage):
    twilio, vonage = twilio_then_vonage
    twilio.mode = vonage.mode = "outage"
    reminder = sms_reminder()

    reminders_send_due()

    reminder.refresh_from_db()
    assert reminder.status == Status.PENDING
    assert reminder.last_error == (
        "Twilio 503 20503: Service unavailable; failover: Vonage 503: Service Unavailable"
    )
    assert ChannelHealth.objects.get(channel="sms").failures_in_a_row == 1


def test_a_primary_that_times_out_after_taking_the_message_sends_it_twice(twilio_then_vonage):
    """The documented at-least-once window: Twilio took the message but answered after
    SMS_TIMEOUT_SECONDS, so Vonage sends it too; the row is marked sent once."""
    twilio, vonage = twilio_then_vonage
    twilio.mode = "timeout_after_accepting"
    reminder = sms_reminder()

    reminders_send_due()

    reminder.refresh_from_db()
    assert [message["to"] for message in twilio.accepted] == ["+12125550123"]
    assert [message["to"] for message in vonage.accepted] == ["12125550123"]
    assert (reminder.status, reminder.provider_message_id[:7]) == (Status.SENT, "vonage:")


def test_a_sweep_with_the_primary_going_down_midway_loses_nothing(twilio_then_vonage, settings):
    """Twelve reminders in batches of five; Twilio takes seven, times out on the eighth
    after taking it, then answers 503. Every reminder is sent once, by the provider its
    id names; the one message in the window reaches its patient twice."""
    settings.CLINIC_REMINDER_BATCH_SIZE = 5
    twilio, vonage = twilio_then_vonage
    twilio.accept_before_outage = 7
    twilio.outage_mode = "timeout_after_accepting"
    patient = consenting_patient()
    phones = [f"+1212555{n:04d}" for n in range(12)]
    for phone in phones:
        sms_reminder(phone=phone, patient=patient)

    outcomes = reminders_send_due()

    assert outcomes["sent"] == 12
    rows = Reminder.objects.order_by("phone")
    assert {row.status for row in rows} == {Status.SENT}
    by_twilio = {m["to"] for m in twilio.accepted}
    by_vonage = {f"+{m['to']}" for m in vonage.accepted}
    assert (len(twilio.accepted), len(vonage.accepted)) == (8, 5)
    # Batch 2 left Twilio at its timeout; batch 3 tried it once more (a 503).
    assert len(twilio.requests) == 5 + 3 + 1
    assert by_twilio | by_vonage == set(phones)  # none lost
    [twice] = by_twilio & by_vonage  # one repeat: the message whose answer timed out
    for row in rows:
        provider, _, message_id = row.provider_message_id.partition(":")
        if provider == "twilio":
            assert message_id in {m["sid"] for m in twilio.accepted}
            assert row.phone != twice
        else:
            assert message_id in {m["message-id"] for m in vonage.accepted}
    assert Reminder.objects.filter(provider_message_id__startswith="twilio:").count() == 7


# --- /healthz -------------------------------------------------------------------------


def test_healthz_says_sms_works_while_the_failover_carries_it_and_when_it_last_did(
    client, twilio_then_vonage
):
    twilio, _ = twilio_then_vonage
    twilio.mode = "outage"
    sms_reminder()
    heartbeat_record(name=BEAT_HEARTBEAT)
    assert client.get("/healthz").json()["components"]["sms"]["failover_last_used_at"] is None

    reminders_send_due()
    response = client.get("/healthz")

    sms = response.json()["components"]["sms"]
    assert (response.status_code, sms["status"], sms["failures_in_a_row"]) == (200, "ok", 0)
    used = Heartbeat.objects.get(name=SMS_FAILOVER_HEARTBEAT).last_seen_at
    assert sms["failover_last_used_at"] == used.isoformat()


def test_healthz_reports_sms_failing_when_both_providers_are_down(
    client, twilio_then_vonage, settings
):
    settings.CLINIC_HEALTH_CHANNEL_FAILURES = 2
    twilio, vonage = twilio_then_vonage
    twilio.mode = vonage.mode = "outage"
    for n in range(2):
        sms_reminder(phone=f"+1212555016{n}")
    heartbeat_record(name=BEAT_HEARTBEAT)

    reminders_send_due()
    response = client.get("/healthz")

    body = response.json()
    assert (response.status_code, body["status"]) == (503, "degraded")
    assert body["components"]["sms"]["status"] == "failing"


@pytest.mark.parametrize("rows", [1, 30])
def test_failing_over_costs_a_batch_the_same_queries_for_one_message_and_for_thirty(
    rows, twilio_then_vonage, django_assert_num_queries, settings
):
    settings.CLINIC_REMINDER_MARK_SECONDS = 60  # marks wait for the batch's end
    twilio, vonage = twilio_then_vonage
    twilio.mode = "outage"
    patient = consenting_patient()
    for n in range(rows):
        sms_reminder(phone=f"+1212555{n:04d}", patient=patient)
    ids = reminders_claim(limit=100)
    ChannelHealth.objects.create(channel="sms")
    heartbeat_record(name=SMS_FAILOVER_HEARTBEAT)  # the failover has been used before
    # The batch's four (rows with their patients, templates, one UPDATE marking every
    # sent row, the channel's health) and the failover's heartbeat, once per batch:
    # SAVEPOINT, SELECT ... FOR UPDATE, UPDATE, RELEASE SAVEPOINT.
    with django_assert_num_queries(4 + 4):
        assert reminders_deliver(ids)["sent"] == rows

    assert len(vonage.accepted) == rows


def test_an_answer_that_is_not_the_sms_apis_is_tried_again(vonage):
    reminder = sms_reminder()
    vonage.answers.append((200, {"message-count": "0", "messages": []}))

    reminders_send_due()

    reminder.refresh_from_db()
    assert (reminder.status, reminder.last_error) == (Status.PENDING, "Vonage 200: OK")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_celery_worker_fails_over_midway_through_a_sweep_and_loses_nothing():
    """A real worker, sweeping through the broker: Twilio takes five, times out on the
    sixth after taking it, then answers 503; Vonage carries the rest. Every reminder is
    sent; the one whose answer timed out reaches its patient twice, no other."""
    patient = consenting_patient()
    phones = [f"+1212555{n:04d}" for n in range(12)]
    for phone in phones:
        sms_reminder(phone=phone, patient=patient)
    with twilio_server() as twilio, vonage_server() as vonage:
        twilio.accept_before_outage = 5
        twilio.outage_mode = "timeout_after_accepting"
        worker = start_worker(
            CLINIC_TEST_SMS_PROVIDERS="true",
            SMS_BACKEND=TWILIO,
            SMS_FAILOVER_BACKEND=VONAGE,
            SMS_TIMEOUT_SECONDS=1,
            CLINIC_REMINDER_BATCH_SIZE=4,
            **twilio_settings(twilio),
            **vonage_settings(vonage),
        )
        try:
            sweep_through()
            wait_until(
                lambda: not Reminder.objects.exclude(status=Status.SENT).exists(),
                what="every reminder sent",
            )
        finally:
            stop(worker)

    by_twilio = [m["to"] for m in twilio.accepted]
    by_vonage = [f"+{m['to']}" for m in vonage.accepted]
    assert (len(by_twilio), len(by_vonage)) == (6, 7)
    assert set(by_twilio) | set(by_vonage) == set(phones)
    [twice] = set(by_twilio) & set(by_vonage)
    assert Reminder.objects.get(phone=twice).provider_message_id.startswith("vonage:")
    assert Reminder.objects.filter(provider_message_id__startswith="twilio:").count() == 5
