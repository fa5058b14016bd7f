"""The reminder outbox: planning rows, and the sweep that delivers them at least once.

The database is the queue. The rules (treatments/services/reminders.py) write reminder rows in
the transaction of whatever caused them; beat runs one sweep a minute, which claims due
rows, marks them sending, hands them to a channel in batches and marks each sent, or
pending again with a retry time, or failed. A claim only ever takes a pending row, so a
sent row is never sent again; a row left sending by a worker that died is handed out
again after CLINIC_REMINDER_RECLAIM_SECONDS.

Sent rows are marked sent together, in one UPDATE, at most CLINIC_REMINDER_MARK_SECONDS
after their messages left (so once per batch when a batch takes less than that): a batch
then costs the same queries for one message as for a hundred. Delivery is at least once,
with a bounded repeat window: a worker killed between sending and marking leaves those
rows sending, and they are sent again after the reclaim time; a message is never lost.
What can go twice is what left unmarked: the messages of the batch in flight sent within
the last CLINIC_REMINDER_MARK_SECONDS (1 s), never more than one batch
(CLINIC_REMINDER_BATCH_SIZE, 50). With the setting at 0 every message is marked the
moment it leaves, and a killed worker repeats at most the one it was sending. With an
SMS failover provider (SMS_FAILOVER_BACKEND), a primary that timed out after taking a
message adds one more possible repeat a batch: the failover sends that message too
(SmsChannel in channels.py). On PostgreSQL the sweep's writes are committed without
waiting for the write-ahead log to reach the disk (synchronous_commit off, for the
sweep's own connection only): a killed worker loses nothing by it, since the server has
the commit; only a crash of the database server itself in the next fraction of a second
could forget a mark, and the message would then be sent twice, never lost.
"""

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Min, QuerySet
from django.utils import timezone

from patients.models import Channel, Guardian, Patient

from .channels import (
    DeliveryError,
    EmailChannel,
    SmsChannel,
    Templates,
    channel_open,
    reminder_message,
    templates_load,
)
from .clock import local_datetime
from .models import ChannelHealth, Reminder

logger = logging.getLogger(__name__)

Status = Reminder.Status
# Retries after 1, 5, 25, 125 ... minutes.
RETRY_FIRST_MINUTES = 1
RETRY_FACTOR = 5
# A sweep stops taking new batches after this long, well inside the task's time limits,
# so that one sweep is over before beat sends the next; the rest waits a minute.
SWEEP_SECONDS = 50

NO_CONSENT = "No consent to reminders."
CONSENT_WITHDRAWN = "Consent to reminders was withdrawn."
# The outcome of a message whose channel could not be reached; the batch stops there.
UNREACHABLE = "unreachable"


class ReminderStateError(Exception):
    """A change the reminder's status does not allow; the message is for the manager."""


def outside_quiet_hours(moment: datetime) -> datetime:
    """`moment`, or the end of the quiet hours (clinic time) it falls in."""
    if settings.CLINIC_QUIET_HOURS is None:
        return moment
    start, end = settings.CLINIC_QUIET_HOURS
    local = timezone.localtime(moment)
    clock = local.time()
    if start < end:
        quiet, wake_day = start <= clock < end, local.date()
    else:  # crosses midnight, e.g. 21:00-08:00
        quiet = clock >= start or clock < end
        wake_day = local.date() + timedelta(days=1) if clock >= start else local.date()
    if not quiet:
        return moment
    return local_datetime(wake_day, end)


@dataclass(frozen=True)
class Recipient:
    name: str
    channel: str
    email: str = ""
    phone: str = ""
    for_guardian: bool = False
    missing: str = ""  # why there is nobody to send to
    language: str = ""  # the language they read; empty: the patient's


def reminder_recipient(patient: Patient) -> Recipient:
    """Who receives a patient's reminders, and on which channel.

    A minor's go to the guardian who receives reminders, in the guardian's language
    (the patient's when the guardian has none set). The preferred channel is used when
    there is an address for it, otherwise the other one.
    """
    person: Patient | Guardian = patient
    for_guardian = False
    if patient.is_minor:
        guardian = patient.guardians.filter(receives_reminders=True).first()
        if guardian is None:
            return Recipient(
                name=patient.full_name,
                channel=patient.preferred_channel,
                missing="No guardian receives reminders for this minor.",
            )
        person, for_guardian = guardian, True
    name = f"{person.first_name} {person.last_name}"
    email, phone = person.email, str(person.phone or "")
    has: dict[str, bool] = {Channel.EMAIL: bool(email), Channel.SMS: bool(phone)}
    channel = patient.preferred_channel
    if not has[channel]:
        channel = Channel.SMS if channel == Channel.EMAIL else Channel.EMAIL
    if not has[channel]:
        return Recipient(
            name=name,
            channel=patient.preferred_channel,
            for_guardian=for_guardian,
            missing="No email address or mobile number.",
        )
    return Recipient(
        name=name,
        channel=channel,
        email=email if channel == Channel.EMAIL else "",
        phone=phone if channel == Channel.SMS else "",
        for_guardian=for_guardian,
        language=person.language if for_guardian else "",
    )


def reminder_plan(
    *,
    patient: Patient,
    kind: str,
    source_key: str,
    key: str,
    send_at: datetime,
    context: dict[str, Any],
) -> Reminder:
    """An unsaved reminder row: recipient, channel and consent settled, quiet hours kept.

    Its idempotency key is `key` plus the channel. Without consent, or without anyone
    to send to, the row is written as skipped with the reason, so the desk sees why.
    """
    recipient = reminder_recipient(patient)
    send_at = outside_quiet_hours(send_at)
    skip_reason = recipient.missing if patient.reminder_consent else NO_CONSENT
    reminder = Reminder(
        patient=patient,
        recipient_name=recipient.name,
        channel=recipient.channel,
        email=recipient.email,
        phone=recipient.phone,
        language=recipient.language or patient.language,
        kind=kind,
        send_at=send_at,
        next_attempt_at=None if skip_reason else send_at,
        status=Status.SKIPPED if skip_reason else Status.PENDING,
        skip_reason=skip_reason,
        idempotency_key=f"{key}:{recipient.channel}",
        source_key=source_key,
        context={
            **context,
            "for_guardian": recipient.for_guardian,
            "patient_first_name": patient.first_name,
        },
    )
    # The patient is the caller's loaded row: no query to ask whether it exists.
    reminder.full_clean(exclude=["patient"], validate_unique=False, validate_constraints=False)
    return reminder


def reminders_add(reminders: list[Reminder]) -> list[Reminder]:
    """Insert the planned rows whose idempotency key is new; planning twice adds nothing."""
    keys = [reminder.idempotency_key for reminder in reminders]
    existing = set(
        Reminder.objects.filter(idempotency_key__in=keys).values_list("idempotency_key", flat=True)
    )
    new = [reminder for reminder in reminders if reminder.idempotency_key not in existing]
    return Reminder.objects.bulk_create(new)


REPLANNED_FIELDS = [
    "idempotency_key",
    "recipient_name",
    "channel",
    "email",
    "phone",
    "language",
    "send_at",
    "next_attempt_at",
    "status",
    "skip_reason",
    "context",
    "attempts",
    "last_error",
]


def reminder_replace(existing: Reminder, planned: Reminder) -> Reminder:
    """Give a pending (or cancelled, or skipped) row the plan's time, words and recipient."""
    if existing.status not in (Status.PENDING, Status.CANCELLED, Status.SKIPPED):
        raise ReminderStateError(f"A {existing.get_status_display().lower()} reminder stays.")
    for field in REPLANNED_FIELDS:
        setattr(existing, field, getattr(planned, field))
    existing.save(update_fields=REPLANNED_FIELDS)
    return existing


def reminders_cancel_pending(*, source_key: str, reason: str, kind: str | None = None) -> int:
    """Cancel what is still to be sent for a source (a cancelled visit)."""
    pending = Reminder.objects.filter(source_key=source_key, status=Status.PENDING)
    if kind is not None:
        pending = pending.filter(kind=kind)
    return pending.update(status=Status.CANCELLED, next_attempt_at=None, skip_reason=reason)


def _due(now: datetime) -> QuerySet[Reminder]:
    return Reminder.objects.filter(status=Status.PENDING, next_attempt_at__lte=now).order_by(
        "next_attempt_at", "id"
    )


def reminders_claim(*, limit: int, now: datetime | None = None) -> list[int]:
    """Take up to `limit` due reminders for this sweep; returns their ids.

    Two queries whatever the limit. PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED, so
    concurrent sweeps take disjoint rows without waiting for each other. SQLite: the
    transaction is IMMEDIATE (clinic/settings/environment.py), so it holds the one write
    lock from its start and no other sweep can claim between the SELECT and the UPDATE.
    Either way the claim counts an attempt, so a message that kills its worker every
    time cannot be retried for ever.
    """
    now = now or timezone.now()
    with transaction.atomic(savepoint=False):  # nothing to undo in part: no savepoint
        due = _due(now)
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("id", flat=True)[:limit])
        Reminder.objects.filter(id__in=ids).update(
            status=Status.SENDING, claimed_at=now, attempts=F("attempts") + 1
        )
    return ids


def reminders_reclaim_stuck(*, now: datetime | None = None) -> int:
    """Hand out again the rows a dead worker left sending; they are retried at once."""
    now = now or timezone.now()
    stuck = Reminder.objects.filter(
        status=Status.SENDING,
        claimed_at__lt=now - timedelta(seconds=settings.CLINIC_REMINDER_RECLAIM_SECONDS),
    )
    note = "The worker stopped while sending it."
    given_up = stuck.filter(attempts__gte=settings.CLINIC_REMINDER_MAX_ATTEMPTS).update(
        status=Status.FAILED, next_attempt_at=None, failed_at=now, last_error=note
    )
    retried = stuck.update(status=Status.PENDING, next_attempt_at=now, last_error=note)
    if given_up or retried:
        logger.warning("Reclaimed %s stuck reminders, %s given up", retried, given_up)
    return given_up + retried


def retry_delay(attempts: int) -> timedelta:
    return timedelta(minutes=RETRY_FIRST_MINUTES * RETRY_FACTOR ** max(attempts - 1, 0))


class _SentMarks:
    """Rows whose messages have left, written sent together: when CLINIC_REMINDER_MARK_SECONDS
    have passed since the first of them left, and at the end of the batch."""

    def __init__(self) -> None:
        self.waiting: dict[int, tuple[str, datetime]] = {}  # pk: (provider id, sent at)
        self.oldest = 0.0

    def add(self, reminder: Reminder, provider_message_id: str) -> None:
        if not self.waiting:
            self.oldest = time.monotonic()
        self.waiting[reminder.pk] = (provider_message_id[:200], timezone.now())
        if time.monotonic() - self.oldest >= settings.CLINIC_REMINDER_MARK_SECONDS:
            self.write()

    def write(self) -> None:
        """One UPDATE for every waiting row, each with its own provider id and time.

        Written in SQL: the ORM's way, a CASE per column with a WHEN per row, took longer
        to build than the whole batch took to send. The rows come as a derived table of
        SELECTs joined with UNION ALL, which PostgreSQL and SQLite (3.33+) both read in
        UPDATE ... FROM.
        """
        if not self.waiting:
            return
        table = connection.ops.quote_name(Reminder._meta.db_table)
        rows = " UNION ALL ".join(["SELECT %s AS id, %s AS mid, %s AS at"] * len(self.waiting))
        params: list[int | str | None] = []
        for pk, (provider_message_id, sent_at) in self.waiting.items():
            params += [pk, provider_message_id, connection.ops.adapt_datetimefield_value(sent_at)]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET status = %s, sent_at = sent.at,"
                f" provider_message_id = sent.mid, next_attempt_at = NULL, last_error = ''"
                f" FROM ({rows}) AS sent"
                f" WHERE {table}.id = sent.id AND {table}.status = %s",
                [Status.SENT, *params, Status.SENDING],
            )
        self.waiting = {}


def _mark_failed(reminder: Reminder, error: DeliveryError) -> str:
    """Pending again with a later retry time, or failed for good; returns the status."""
    final = error.permanent or reminder.attempts >= settings.CLINIC_REMINDER_MAX_ATTEMPTS
    status = Status.FAILED if final else Status.PENDING
    retry_at = (
        None if final else outside_quiet_hours(timezone.now() + retry_delay(reminder.attempts))
    )
    Reminder.objects.filter(pk=reminder.pk, status=Status.SENDING).update(
        status=status,
        next_attempt_at=retry_at,
        failed_at=timezone.now() if final else None,
        last_error=str(error)[:2000],
    )
    return "failed" if final else "retry"


def _release(reminders: list[Reminder]) -> int:
    """Claimed rows left untried because their channel could not be reached: pending
    again at the first retry time, the attempt their claim counted given back."""
    retry_at = outside_quiet_hours(timezone.now() + retry_delay(1))
    return Reminder.objects.filter(
        pk__in=[reminder.pk for reminder in reminders], status=Status.SENDING
    ).update(
        status=Status.PENDING,
        next_attempt_at=retry_at,
        attempts=F("attempts") - 1,
        last_error="Not tried: the channel could not be reached.",
    )


class _ChannelTally:
    """How one channel fared in a batch, in order: the failures since its last success.

    Only failures the channel is to blame for count (a DeliveryError that is not
    permanent: refused, timed out, a 5xx); an address the provider rejects, a consent
    withdrawn or a broken template say nothing about the channel.
    """

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.failures = 0
        self.last_success_at: datetime | None = None
        self.last_failure_at: datetime | None = None

    def success(self) -> None:
        self.failures = 0
        self.last_success_at = timezone.now()

    def failure(self) -> None:
        self.failures += 1
        self.last_failure_at = timezone.now()

    def write(self) -> None:
        """One UPDATE (an INSERT the first time the channel is used, in a savepoint: two
        sweeps may both find no row, and the second then adds to the first's); none for a
        batch that never reached the channel."""
        if self.last_success_at is None and self.last_failure_at is None:
            return
        values: dict[str, Any] = {"last_failure_at": self.last_failure_at} if self.failures else {}
        if self.last_success_at is not None:
            # The count restarts at the batch's last success.
            values |= {"failures_in_a_row": self.failures, "last_success_at": self.last_success_at}
        else:
            values["failures_in_a_row"] = F("failures_in_a_row") + self.failures
        if ChannelHealth.objects.filter(channel=self.channel).update(**values):
            return
        try:
            with transaction.atomic():
                first = {**values, "failures_in_a_row": self.failures}
                ChannelHealth.objects.create(channel=self.channel, **first)
        except IntegrityError:  # another sweep wrote the channel's first row meanwhile
            ChannelHealth.objects.filter(channel=self.channel).update(**values)


def _deliver_one(
    reminder: Reminder,
    channel: EmailChannel | SmsChannel,
    templates: Templates,
    marks: _SentMarks,
    tally: _ChannelTally,
) -> str:
    if not reminder.patient.reminder_consent:
        # Consent is checked again now: it may have been withdrawn since planning.
        Reminder.objects.filter(pk=reminder.pk, status=Status.SENDING).update(
            status=Status.SKIPPED, next_attempt_at=None, skip_reason=CONSENT_WITHDRAWN
        )
        return "skipped"
    try:
        message = reminder_message(reminder, templates=templates)
        provider_message_id = channel.send(reminder, message)
    except DeliveryError as error:
        if not error.permanent:
            tally.failure()
        outcome = _mark_failed(reminder, error)
        return UNREACHABLE if error.unreachable else outcome
    except Exception as error:  # one broken row (a bad template) must not stop the batch
        logger.exception("Reminder %s could not be sent", reminder.pk)
        return _mark_failed(reminder, DeliveryError(f"{error.__class__.__name__}: {error}"))
    tally.success()
    marks.add(reminder, provider_message_id)
    return "sent"


@contextmanager
def _commits_without_waiting_for_disk() -> Iterator[None]:
    """PostgreSQL's synchronous_commit off for this connection, for the block's length."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


def _languages_at_sending(reminders: list[Reminder]) -> None:
    """Each reminder in the language its reader has now, not when it was planned: the
    patient's, or for a minor's the receiving guardian's (the patient's when the guardian
    has none). A row whose language changed is written with it, so it records the
    language it went out in. Costs one query for the guardians, only when a row goes to
    one, and one UPDATE per language that changed."""
    minors = {reminder.patient_id for reminder in reminders if reminder.context.get("for_guardian")}
    guardians = dict(
        Guardian.objects.filter(patient_id__in=minors, receives_reminders=True).values_list(
            "patient_id", "language"
        )
        if minors
        else []
    )
    changed: defaultdict[str, list[int]] = defaultdict(list)
    for reminder in reminders:
        reader = (
            guardians.get(reminder.patient_id, "") if reminder.context.get("for_guardian") else ""
        )
        language = reader or reminder.patient.language
        if language != reminder.language:
            reminder.language = language
            changed[language].append(reminder.pk)
    for language, pks in changed.items():
        Reminder.objects.filter(pk__in=pks).update(language=language)


def reminders_deliver(ids: list[int]) -> Counter[str]:
    """Send claimed reminders, one open channel per kind of channel for the batch, each
    in the language its reader has at sending."""
    outcomes: Counter[str] = Counter()
    templates = templates_load()
    claimed = list(
        Reminder.objects.filter(pk__in=ids, status=Status.SENDING)
        .select_related("patient")
        .order_by("channel", "next_attempt_at", "id")
    )
    _languages_at_sending(claimed)
    pause = settings.CLINIC_REMINDER_SEND_INTERVAL_MS / 1000
    marks = _SentMarks()
    with _commits_without_waiting_for_disk():
        try:
            for channel_name in (Channel.EMAIL, Channel.SMS):
                batch = [reminder for reminder in claimed if reminder.channel == channel_name]
                if not batch:
                    continue
                tally = _ChannelTally(channel_name)
                with channel_open(channel_name) as channel:
                    for position, reminder in enumerate(batch):
                        outcome = _deliver_one(reminder, channel, templates, marks, tally)
                        outcomes[outcome] += 1
                        if outcome == UNREACHABLE:
                            # One timeout is enough: the rest go at the next retry time.
                            outcomes["released"] += _release(batch[position + 1 :])
                            break
                        if pause:
                            time.sleep(pause)
                tally.write()
        finally:
            marks.write()
    return outcomes


def reminders_send_due() -> Counter[str]:
    """The sweep: reclaim what dead workers left, then claim and send due batches."""
    outcomes = Counter(reclaimed=reminders_reclaim_stuck())
    deadline = time.monotonic() + SWEEP_SECONDS
    while time.monotonic() < deadline:
        ids = reminders_claim(limit=settings.CLINIC_REMINDER_BATCH_SIZE)
        if not ids:
            break
        outcomes.update(reminders_deliver(ids))
    return outcomes


def reminder_retry_now(*, reminder: Reminder) -> Reminder:
    """A manager's "retry now": a failed or waiting reminder goes with the next sweep
    (quiet hours still apply); a failed one gets a fresh set of attempts."""
    if reminder.status not in (Status.FAILED, Status.PENDING):
        raise ReminderStateError(
            f"A {reminder.get_status_display().lower()} reminder cannot be retried."
        )
    if reminder.status == Status.FAILED:
        reminder.attempts = 0
    reminder.status = Status.PENDING
    reminder.next_attempt_at = outside_quiet_hours(timezone.now())
    reminder.save(update_fields=["status", "next_attempt_at", "attempts"])
    return reminder


def reminder_cancel(*, reminder: Reminder, by: User) -> Reminder:
    if reminder.status not in (Status.FAILED, Status.PENDING):
        raise ReminderStateError(
            f"A {reminder.get_status_display().lower()} reminder cannot be cancelled."
        )
    reminder.status = Status.CANCELLED
    reminder.next_attempt_at = None
    reminder.skip_reason = f"Cancelled by {by.get_username()}."
    reminder.save(update_fields=["status", "next_attempt_at", "skip_reason"])
    return reminder


def reminders_backlog_seconds(*, now: datetime | None = None) -> int:
    """How long the oldest due, unsent reminder has waited; 0 when none is waiting."""
    now = now or timezone.now()
    oldest = _due(now).aggregate(oldest=Min("next_attempt_at"))["oldest"]
    return int((now - oldest).total_seconds()) if oldest else 0
