"""Reads of the clinic app."""

from datetime import timedelta

from django.conf import settings
from django.db.models import F, QuerySet
from django.utils import timezone

from .models import ChannelHealth, Heartbeat, InboundSms, Reminder
from .services import BEAT_HEARTBEAT


def beat_last_seen():
    """When beat's heartbeat last ran, or None if it never has."""
    return (
        Heartbeat.objects.filter(name=BEAT_HEARTBEAT).values_list("last_seen_at", flat=True).first()
    )


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


def inbound_sms_inbox() -> QuerySet[InboundSms]:
    """Patients' texts for the desk: those still to handle first, newest first, then the
    handled ones, the latest handled first; with their patient and who handled them."""
    return InboundSms.objects.select_related("patient", "handled_by").order_by(
        F("handled_at").desc(nulls_first=True), "-received_at", "-id"
    )
