"""Reads of the clinic app."""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import F, QuerySet
from django.utils import timezone

from .models import CalendarFeed, ChannelHealth, Heartbeat, InboundSms, Reminder, ReminderTemplate
from .services import BEAT_HEARTBEAT, SMS_FAILOVER_HEARTBEAT, calendar_feed_token_sha256


def beat_last_seen():
    """When beat's heartbeat last ran, or None if it never has."""
    return (
        Heartbeat.objects.filter(name=BEAT_HEARTBEAT).values_list("last_seen_at", flat=True).first()
    )


def sms_failover_last_used():
    """When the failover SMS provider last carried a batch's messages, or None."""
    heartbeats = Heartbeat.objects.filter(name=SMS_FAILOVER_HEARTBEAT)
    return heartbeats.values_list("last_seen_at", flat=True).first()


def beat_is_fresh(last_seen) -> bool:
    stale_after = timedelta(seconds=settings.CLINIC_HEARTBEAT_STALE_SECONDS)
    return last_seen is not None and timezone.now() - last_seen < stale_after


def reminders_stuck_sending(*, now=None) -> int:
    """Rows left "sending" past the reclaim time: a worker died, or the sweep is stuck."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.CLINIC_REMINDER_RECLAIM_SECONDS)
    return Reminder.objects.filter(status=Reminder.Status.SENDING, claimed_at__lt=cutoff).count()


def reminders_failed_since(since) -> int:
    """Reminders given up on (failed for good) since `since`."""
    return Reminder.objects.filter(status=Reminder.Status.FAILED, failed_at__gte=since).count()


def channel_health() -> dict[str, ChannelHealth]:
    """How each channel fared lately, by channel; a channel never used has no row."""
    return {state.channel: state for state in ChannelHealth.objects.all()}


@dataclass(frozen=True)
class TemplatesInLanguages:
    """One kind of message on one channel: its template in each patient language, in the
    order of settings.PATIENT_LANGUAGES (None where that language has none)."""

    kind: str
    channel: str
    templates: list[ReminderTemplate | None]


def reminder_templates_by_language() -> list[TemplatesInLanguages]:
    """Each kind and channel that has a template in some language, with its templates side
    by side. One query."""
    languages = [language for language, _ in settings.PATIENT_LANGUAGES]
    found: dict[tuple[str, str], dict[str, ReminderTemplate]] = {}
    for template in ReminderTemplate.objects.all():
        found.setdefault((template.kind, template.channel), {})[template.language] = template
    return [
        TemplatesInLanguages(kind, channel, [by_language.get(code) for code in languages])
        for (kind, channel), by_language in sorted(found.items())
    ]


def inbound_sms_inbox() -> QuerySet[InboundSms]:
    """Patients' texts for the desk: those still to handle first, newest first, then the
    handled ones, the latest handled first; with their patient and who handled them."""
    return InboundSms.objects.select_related("patient", "handled_by").order_by(
        F("handled_at").desc(nulls_first=True), "-received_at", "-id"
    )


def calendar_feed_for_token(token: str) -> CalendarFeed | None:
    """The feed whose secret URL carries `token`, with its owner; None for a revoked or
    made-up token, or a dermatologist who no longer works here."""
    return (
        CalendarFeed.objects.select_related("staff_member__user")
        .filter(token_sha256=calendar_feed_token_sha256(token), staff_member__is_active=True)
        .first()
    )


def calendar_feed_of(staff_member_id: int) -> CalendarFeed | None:
    return CalendarFeed.objects.filter(staff_member_id=staff_member_id).first()
