"""Celery tasks of the clinic app: thin, each calls a service."""

from celery import shared_task

from . import outbox, services


@shared_task
def beat_heartbeat() -> None:
    """Sent by beat every minute; running it proves beat, the broker and a worker work."""
    services.heartbeat_record(name=services.BEAT_HEARTBEAT)


@shared_task
def reminders_send_due() -> dict:
    """Sent by beat every minute: deliver the due reminders. Safe to run twice at once."""
    return dict(outbox.reminders_send_due())
