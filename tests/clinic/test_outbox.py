"""The reminder outbox (clinic/outbox.py): claiming, sending, retrying, reclaiming; and
what the staff see of it: the admin and /healthz."""

import email
import logging
import socket
import threading
from collections import Counter
from datetime import datetime, timedelta
from itertools import count

import psycopg
import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.contrib.auth.models import Group
from django.db import connection
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from clinic.links import Action
from clinic.models import ChannelHealth, Reminder, ReminderTemplate
from clinic.outbox import (
    CONSENT_WITHDRAWN,
    NO_CONSENT,
    outside_quiet_hours,
    reminder_plan,
    reminders_add,
    reminders_claim,
    reminders_deliver,
    reminders_reclaim_stuck,
    reminders_send_due,
)
from clinic.services import BEAT_HEARTBEAT, heartbeat_record

from ..factories import PatientFactory

Status = Reminder.Status
SERIAL = count(1)


def at(*fields) -> datetime:
    """An aware datetime in the clinic's time zone."""
    return timezone.make_aware(datetime(*fields))


def consenting_patient(**fields):
    return PatientFactory(
        reminder_consent=True, reminder_consent_changed_at=at(2026, 1, 1, 9), **fields
    )


def due_reminder(*, patient=None, status=Status.PENDING, due=None, **fields) -> Reminder:
    """A pending appointment reminder by email, due now unless told otherwise."""
    n = next(SERIAL)
    patient = patient or consenting_patient()
    due = due or timezone.now() - timedelta(minutes=1)
    starts_at = due + timedelta(hours=24)
    values = {
        "patient": patient,
        "recipient_name": patient.full_name,
        "channel": "email",
        "email": f"person{n}@example.com",
        "kind": Reminder.Kind.APPOINTMENT,
        "send_at": due,
        "next_attempt_at": due if status == Status.PENDING else None,
        "status": status,
        "idempotency_key": f"appointment:{n}:reminder-24h:email",
        "source_key": f"appointment:{n}",
        "context": {
            "starts_at": starts_at.isoformat(),
            "ends_at": (starts_at + timedelta(minutes=15)).isoformat(),
            "dermatologist": "Dr. Ana Ortiz",
            "event_uid": f"appointment-{n}@clinic.example.com",
            "for_guardian": False,
            "patient_first_name": patient.first_name,
            "links": {
                "confirm_url": [Action.CONFIRM, n],
                "cancel_url": [Action.CANCEL, n],
                "stop_url": [Action.STOP, patient.pk],
            },
        },
        **fields,
    }
    return Reminder.objects.create(**values)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpInbox:
    """An SMTP server's handler: keeps what it accepts; can refuse chosen recipients
    (at RCPT) or messages (at DATA) with the codes queued for them."""

    def __init__(self):
        self.messages = []
        self.refuse_recipient: dict[str, list[str]] = {}
        self.refuse_data: dict[str, list[str]] = {}
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        queued = self.refuse_recipient.get(address)
        if queued:
            return queued.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        queued = self.refuse_data.get(envelope.rcpt_tos[0])
        if queued:
            return queued.pop(0)
        with self.lock:
            self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def recipients(self) -> Counter:
        with self.lock:
            return Counter(email.utils.parseaddr(m["To"])[1] for m in self.messages)


@pytest.fixture
def smtp_server():
    """A real SMTP server on loopback; the clinic's email backend points at it."""
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command
    inbox = SmtpInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.url = f"smtp://127.0.0.1:{controller.port}"
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=controller.port,
        EMAIL_HOST_USER="",
        EMAIL_HOST_PASSWORD="",
        EMAIL_USE_TLS=False,
        EMAIL_USE_SSL=False,
        EMAIL_TIMEOUT=10,
    ):
        yield inbox
    controller.stop()


# --- Quiet hours -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (at(2026, 5, 4, 20, 59), at(2026, 5, 4, 20, 59)),
        (at(2026, 5, 4, 21, 0), at(2026, 5, 5, 8, 0)),
        (at(2026, 5, 4, 23, 30), at(2026, 5, 5, 8, 0)),
        (at(2026, 5, 5, 3, 0), at(2026, 5, 5, 8, 0)),
        (at(2026, 5, 5, 8, 0), at(2026, 5, 5, 8, 0)),
    ],
)
def test_a_moment_in_quiet_hours_waits_until_they_end(moment, expected):
    assert outside_quiet_hours(moment) == expected


def test_quiet_hours_that_end_after_a_dst_change_end_at_the_same_wall_clock_time():
    # New York springs forward on 8 March 2026 at 02:00.
    assert outside_quiet_hours(at(2026, 3, 7, 22, 0)) == at(2026, 3, 8, 8, 0)
    assert timezone.localtime(at(2026, 3, 8, 8, 0)).utcoffset() == timedelta(hours=-4)


@override_settings(CLINIC_QUIET_HOURS=None)
def test_without_quiet_hours_nothing_waits():
    assert outside_quiet_hours(at(2026, 5, 5, 3, 0)) == at(2026, 5, 5, 3, 0)


# --- Claiming --------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_claim_takes_due_rows_marks_them_sending_and_counts_an_attempt():
    due = [due_reminder() for _ in range(3)]

    claimed = reminders_claim(limit=10)

    assert sorted(claimed) == sorted(r.pk for r in due)
    for reminder in Reminder.objects.all():
        assert (reminder.status, reminder.attempts) == (Status.SENDING, 1)
        assert reminder.claimed_at is not None


@pytest.mark.django_db
def test_a_claim_leaves_future_sent_cancelled_and_skipped_rows_alone():
    due_reminder(due=timezone.now() + timedelta(minutes=5))
    due_reminder(status=Status.SENT, sent_at=timezone.now())
    due_reminder(status=Status.CANCELLED)
    due_reminder(status=Status.SKIPPED, skip_reason=NO_CONSENT)

    assert reminders_claim(limit=10) == []


@pytest.mark.django_db
def test_a_claim_takes_no_more_than_its_limit_oldest_first():
    oldest = due_reminder(due=timezone.now() - timedelta(hours=2))
    for _ in range(4):
        due_reminder()

    claimed = reminders_claim(limit=2)

    assert len(claimed) == 2
    assert oldest.pk in claimed


@pytest.mark.django_db
def test_a_sent_reminder_is_never_sent_again(mailoutbox):
    due_reminder()

    first, second = reminders_send_due(), reminders_send_due()

    assert (first["sent"], second["sent"]) == (1, 0)
    assert len(mailoutbox) == 1
    reminder = Reminder.objects.get()
    assert reminder.status == Status.SENT
    assert reminder.provider_message_id == mailoutbox[0].extra_headers["Message-ID"]


@pytest.mark.django_db
@pytest.mark.parametrize("rows", [1, 100])
def test_a_batch_costs_the_same_queries_for_one_reminder_and_for_a_hundred(
    rows, mailoutbox, django_assert_num_queries, settings
):
    # Marks wait for the batch's end, however long a slow machine takes to send 100.
    settings.CLINIC_REMINDER_MARK_SECONDS = 60
    for _ in range(rows):
        due_reminder()
    # The claim: the due rows' ids (FOR UPDATE SKIP LOCKED on PostgreSQL), then one
    # UPDATE marking them sending.
    with django_assert_num_queries(2):
        ids = reminders_claim(limit=100)
    ChannelHealth.objects.create(channel="email")  # the channel has been used before
    # The claimed rows with their patients, the reminder templates, one UPDATE marking
    # every sent row, one UPDATE of the channel's health. (Outside a test's transaction
    # PostgreSQL adds two: the SET and RESET of synchronous_commit around the batch.)
    with django_assert_num_queries(4):
        outcomes = reminders_deliver(ids)

    assert outcomes["sent"] == rows and len(mailoutbox) == rows
    sent = Reminder.objects.filter(status=Status.SENT)
    assert sent.count() == rows
    # Each row keeps its own message id, though they were written in one statement.
    assert set(sent.values_list("provider_message_id", flat=True)) == {
        message.extra_headers["Message-ID"] for message in mailoutbox
    }
    assert not sent.filter(sent_at=None).exists()


@pytest.mark.django_db
@override_settings(CLINIC_REMINDER_MARK_SECONDS=0)
def test_with_marks_written_at_once_each_sent_row_costs_its_own_update(
    mailoutbox, django_assert_num_queries
):
    for _ in range(3):
        due_reminder()
    ids = reminders_claim(limit=100)
    ChannelHealth.objects.create(channel="email")
    # rows, templates, one UPDATE per message, the moment it left, and the channel's health
    with django_assert_num_queries(2 + 3 + 1):
        assert reminders_deliver(ids)["sent"] == 3


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_sweeps_at_once_send_each_of_100_reminders_exactly_once(smtp_server):
    for _ in range(100):
        due_reminder()
    start = threading.Barrier(2)
    errors = []

    def sweep():
        try:
            start.wait()
            reminders_send_due()
        except Exception as error:  # reported below; a thread's exception is otherwise lost
            errors.append(error)
        finally:
            connection.close()  # each thread had its own connection

    with override_settings(CLINIC_REMINDER_BATCH_SIZE=10):
        threads = [threading.Thread(target=sweep) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

    assert errors == []
    received = smtp_server.recipients()
    assert len(received) == 100
    assert set(received.values()) == {1}
    assert Reminder.objects.filter(status=Status.SENT).count() == 100


# --- Failures and retries --------------------------------------------------------------


@pytest.mark.django_db
def test_a_refused_message_is_retried_a_minute_later_and_delivered_once(smtp_server):
    with time_machine.travel(at(2026, 5, 4, 10, 0), tick=False) as clock:
        reminder = due_reminder()
        smtp_server.refuse_data[reminder.email] = ["451 4.3.0 Try again later"]

        assert reminders_send_due()["retry"] == 1
        reminder.refresh_from_db()
        assert reminder.status == Status.PENDING
        assert "451" in reminder.last_error
        assert reminder.next_attempt_at == at(2026, 5, 4, 10, 1)

        clock.move_to(at(2026, 5, 4, 10, 0, 30))
        assert reminders_send_due()["sent"] == 0

        clock.move_to(at(2026, 5, 4, 10, 1))
        assert reminders_send_due()["sent"] == 1

    reminder.refresh_from_db()
    assert (reminder.status, reminder.attempts, reminder.last_error) == (Status.SENT, 2, "")
    assert smtp_server.recipients() == {reminder.email: 1}


@pytest.mark.django_db
def test_a_recipient_refused_for_good_fails_and_the_others_are_sent(smtp_server):
    refused, *others = [due_reminder() for _ in range(3)]
    smtp_server.refuse_recipient[refused.email] = ["550 5.1.1 No such user"]

    outcome = reminders_send_due()

    assert (outcome["sent"], outcome["failed"]) == (2, 1)
    refused.refresh_from_db()
    assert refused.status == Status.FAILED
    assert "550" in refused.last_error and "No such user" in refused.last_error
    assert smtp_server.recipients() == {r.email: 1 for r in others}


@pytest.mark.django_db
def test_a_patient_without_an_address_is_skipped_and_the_others_are_sent(mailoutbox):
    nowhere = consenting_patient(email="", phone="")
    planned = reminder_plan(
        patient=nowhere,
        kind=Reminder.Kind.AFTERCARE,
        source_key="procedure:1",
        key="procedure:1:aftercare",
        send_at=timezone.now() - timedelta(minutes=1),
        context={},
    )
    reminders_add([planned])
    others = [due_reminder() for _ in range(2)]

    reminders_send_due()

    skipped = Reminder.objects.get(patient=nowhere)
    assert skipped.status == Status.SKIPPED
    assert skipped.skip_reason == "No email address or mobile number."
    assert sorted(m.to[0] for m in mailoutbox) == sorted(
        f"{r.recipient_name} <{r.email}>" for r in others
    )


@pytest.mark.django_db
@override_settings(CLINIC_REMINDER_MAX_ATTEMPTS=4)
def test_retries_back_off_1_5_25_minutes_and_then_the_reminder_has_failed(smtp_server):
    with time_machine.travel(at(2026, 5, 4, 10, 0), tick=False) as clock:
        reminder = due_reminder()
        smtp_server.refuse_data[reminder.email] = ["451 busy"] * 10
        waits = []
        for _ in range(4):
            attempted_at = timezone.now()
            reminders_send_due()
            reminder.refresh_from_db()
            if reminder.status == Status.PENDING:
                waits.append(reminder.next_attempt_at - attempted_at)
                clock.move_to(reminder.next_attempt_at)

    assert waits == [timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=25)]
    assert (reminder.status, reminder.attempts) == (Status.FAILED, 4)
    assert reminder.last_error == "SMTP 451: busy"


@pytest.mark.django_db
def test_a_retry_that_would_fall_in_quiet_hours_waits_for_the_morning(smtp_server):
    with time_machine.travel(at(2026, 5, 4, 20, 59, 30), tick=False):
        reminder = due_reminder()
        smtp_server.refuse_data[reminder.email] = ["451 busy"]
        reminders_send_due()

    reminder.refresh_from_db()
    assert reminder.next_attempt_at == at(2026, 5, 5, 8, 0)


@pytest.mark.django_db
def test_consent_withdrawn_after_planning_skips_the_reminder_at_send_time(mailoutbox):
    reminder = due_reminder()
    reminder.patient.reminder_consent = False
    reminder.patient.save()

    assert reminders_send_due()["skipped"] == 1

    reminder.refresh_from_db()
    assert (reminder.status, reminder.skip_reason) == (Status.SKIPPED, CONSENT_WITHDRAWN)
    assert mailoutbox == []


@pytest.mark.django_db
def test_a_broken_template_fails_its_reminder_but_not_the_batch(mailoutbox):
    broken = due_reminder(
        patient=consenting_patient(language="fr"), kind=Reminder.Kind.AFTERCARE, language="fr"
    )
    ReminderTemplate.objects.filter(kind="aftercare", channel="email", language="fr").update(
        subject="x", body_text="{% url 'nowhere' %}"
    )
    due_reminder()

    outcome = reminders_send_due()

    assert outcome["sent"] == 1
    broken.refresh_from_db()
    assert broken.status == Status.PENDING and broken.last_error


# --- Reclaiming what a dead worker left --------------------------------------------------


@pytest.mark.django_db
@override_settings(CLINIC_REMINDER_RECLAIM_SECONDS=600)
def test_rows_left_sending_are_reclaimed_only_after_the_timeout(mailoutbox):
    recent = due_reminder(status=Status.SENDING, claimed_at=timezone.now() - timedelta(minutes=9))
    stuck = due_reminder(status=Status.SENDING, claimed_at=timezone.now() - timedelta(minutes=11))

    assert reminders_reclaim_stuck() == 1
    reminders_send_due()

    recent.refresh_from_db()
    stuck.refresh_from_db()
    assert recent.status == Status.SENDING
    assert stuck.status == Status.SENT
    assert [m.to[0] for m in mailoutbox] == [f"{stuck.recipient_name} <{stuck.email}>"]


@pytest.mark.django_db
@override_settings(CLINIC_REMINDER_RECLAIM_SECONDS=600, CLINIC_REMINDER_MAX_ATTEMPTS=3)
def test_a_row_that_killed_its_worker_every_time_fails_instead_of_looping():
    stuck = due_reminder(
        status=Status.SENDING, claimed_at=timezone.now() - timedelta(hours=1), attempts=3
    )

    reminders_reclaim_stuck()

    stuck.refresh_from_db()
    assert stuck.status == Status.FAILED
    assert "stopped" in stuck.last_error


# --- What the staff see ---------------------------------------------------------------


@pytest.mark.django_db
def test_healthz_reports_how_long_the_oldest_due_reminder_has_waited(client):
    heartbeat_record(name=BEAT_HEARTBEAT)
    with time_machine.travel(at(2026, 5, 4, 10, 0), tick=False):
        due_reminder(due=at(2026, 5, 4, 9, 50))
        due_reminder(due=at(2026, 5, 4, 9, 55))
        due_reminder(due=at(2026, 5, 4, 11, 0))  # not due yet
        heartbeat_record(name=BEAT_HEARTBEAT)

        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["components"]["outbox"]["backlog_seconds"] == 600


@pytest.mark.django_db
def test_healthz_is_503_when_the_reminder_backlog_is_older_than_the_alert(client):
    with time_machine.travel(at(2026, 5, 4, 10, 0), tick=False):
        heartbeat_record(name=BEAT_HEARTBEAT)
        due_reminder(due=at(2026, 5, 4, 9, 40))

        response = client.get("/healthz")

    components = response.json()["components"]
    assert response.status_code == 503
    assert response.json()["status"] == "degraded"
    assert components["outbox"] == {
        "status": "backlog",
        "backlog_seconds": 1200,
        "stuck_sending": 0,
        "failed_last_hour": 0,
    }
    assert (components["database"]["status"], components["beat"]["status"]) == ("ok", "ok")


@pytest.mark.django_db
def test_healthz_backlog_is_zero_when_nothing_is_waiting(client):
    heartbeat_record(name=BEAT_HEARTBEAT)
    due_reminder(status=Status.SENT, sent_at=timezone.now())

    body = client.get("/healthz").json()

    assert body["components"]["outbox"]["backlog_seconds"] == 0


@pytest.mark.django_db
def test_the_manager_retries_a_failed_reminder_from_the_admin(manager_client):
    failed = due_reminder(status=Status.FAILED, attempts=5, last_error="SMTP 550: no")

    response = manager_client.post(
        reverse("admin:clinic_reminder_changelist"),
        {"action": "retry_now", "_selected_action": [failed.pk]},
    )

    assert response.status_code == 302
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == (Status.PENDING, 0)
    assert failed.next_attempt_at <= outside_quiet_hours(timezone.now())


@pytest.mark.django_db
def test_the_manager_cancels_a_pending_reminder_but_not_a_sent_one(manager_client):
    pending = due_reminder()
    sent = due_reminder(status=Status.SENT, sent_at=timezone.now())

    manager_client.post(
        reverse("admin:clinic_reminder_changelist"),
        {"action": "cancel", "_selected_action": [pending.pk, sent.pk]},
    )

    pending.refresh_from_db()
    sent.refresh_from_db()
    assert pending.status == Status.CANCELLED
    assert pending.skip_reason == "Cancelled by manager."
    assert sent.status == Status.SENT


@pytest.mark.django_db
def test_the_reminder_admin_lists_filters_and_shows_the_error(manager_client):
    due_reminder(status=Status.FAILED, last_error="SMTP 550: mailbox unavailable")

    page = manager_client.get(
        reverse("admin:clinic_reminder_changelist"), {"status__exact": "failed"}
    )

    assert page.status_code == 200
    assert "SMTP 550: mailbox unavailable" in page.content.decode()


@pytest.mark.django_db
def test_the_reminder_admin_finds_reminders_by_their_error(manager_client):
    refused = due_reminder(status=Status.FAILED, last_error="SMTP 554: relay refused")
    due_reminder(status=Status.FAILED, last_error="SMTP: TimeoutError: timed out")

    page = manager_client.get(reverse("admin:clinic_reminder_changelist"), {"q": "refused"})

    assert list(page.context["cl"].result_list) == [refused]


@pytest.mark.django_db
def test_reminders_are_written_by_the_rules_never_added_in_the_admin(manager_client):
    assert manager_client.get(reverse("admin:clinic_reminder_add")).status_code == 403


@pytest.mark.django_db
def test_the_roles_permissions_on_reminders():
    managers = Group.objects.get(name="Clinic managers").permissions.values_list(
        "codename", flat=True
    )
    receptionists = Group.objects.get(name="Receptionists").permissions.values_list(
        "codename", flat=True
    )
    assert {"view_reminder", "change_reminder", "change_remindertemplate"} <= set(managers)
    assert "add_reminder" not in managers
    assert "view_reminder" in receptionists
    assert "change_reminder" not in receptionists


# --- An SMTP server that takes the connection and never answers -----------------------


@pytest.fixture
def silent_smtp_port():
    """A port that completes the TCP handshake (the kernel does, from the backlog) and
    then says nothing: no greeting, ever."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def test_every_smtp_exchange_has_a_timeout(settings):
    assert settings.EMAIL_TIMEOUT == 20  # CLINIC_EMAIL_TIMEOUT_SECONDS' default


@pytest.mark.django_db
def test_a_silent_smtp_server_releases_the_batch_after_one_timeout_and_it_goes_later(
    smtp_server, silent_smtp_port
):
    reminders = [due_reminder() for _ in range(5)]
    with override_settings(EMAIL_PORT=silent_smtp_port, EMAIL_TIMEOUT=1):
        outcomes = reminders_deliver(reminders_claim(limit=10))

    # The first message waited out the timeout; the other four were not tried.
    assert outcomes == Counter(unreachable=1, released=4)
    rows = Reminder.objects.filter(pk__in=[reminder.pk for reminder in reminders])
    assert {row.status for row in rows} == {Status.PENDING}
    assert sorted(row.attempts for row in rows) == [0, 0, 0, 0, 1]
    assert all(row.next_attempt_at > timezone.now() for row in rows)
    assert smtp_server.recipients() == Counter()

    # At their retry time the server answers, and every one of them goes, once.
    latest = max(row.next_attempt_at for row in rows)
    with time_machine.travel(latest + timedelta(seconds=1), tick=False):
        assert reminders_send_due()["sent"] == 5
    assert smtp_server.recipients() == {reminder.email: 1 for reminder in reminders}


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="another sweep's connection writing meanwhile; SQLite serialises writers",
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_channels_first_row_written_meanwhile_by_another_sweep_is_added_to():
    from django.db.models import signals

    from clinic.outbox import _ChannelTally

    def other_sweep_first(sender, instance, **kwargs):
        signals.pre_save.disconnect(other_sweep_first, sender=ChannelHealth)
        params = connection.get_connection_params()
        with psycopg.connect(**params, autocommit=True) as other:
            other.execute(
                "INSERT INTO clinic_channelhealth (channel, failures_in_a_row) VALUES ('email', 2)"
            )

    signals.pre_save.connect(other_sweep_first, sender=ChannelHealth)
    tally = _ChannelTally("email")
    tally.failure()

    tally.write()  # finds no row, inserts, meets the other's, adds to it

    assert ChannelHealth.objects.get(channel="email").failures_in_a_row == 3
