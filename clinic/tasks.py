"""Celery tasks of the clinic app: thin, each calls a service."""

from celery import shared_task

from . import services


@shared_task
def beat_heartbeat() -> None:
    """Sent by beat every minute; running it proves beat, the broker and a worker work."""
    services.heartbeat_record(name=services.BEAT_HEARTBEAT)
