"""Celery tasks of patients online: thin, each calls a service."""

from celery import shared_task

from . import services


@shared_task
def portal_records_purge() -> dict:
    """Sent by beat every hour: delete old one-time codes and portal sessions. Safe to run
    twice at once (a second delete finds nothing)."""
    codes, sessions = services.portal_records_purge()
    return {"codes": codes, "sessions": sessions}
