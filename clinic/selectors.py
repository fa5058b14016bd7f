"""Reads of the clinic app."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from .models import Heartbeat
from .services import BEAT_HEARTBEAT


def beat_last_seen():
    """When beat's heartbeat last ran, or None if it never has."""
    return (
        Heartbeat.objects.filter(name=BEAT_HEARTBEAT).values_list("last_seen_at", flat=True).first()
    )


def beat_is_fresh(last_seen) -> bool:
    stale_after = timedelta(seconds=settings.CLINIC_HEARTBEAT_STALE_SECONDS)
    return last_seen is not None and timezone.now() - last_seen < stale_after
