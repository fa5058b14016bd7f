"""Celery tasks of the treatments app: thin, each loads a row by id and calls a service."""

from celery import shared_task

from .services import billing_documents


@shared_task
def billing_email_send(email_id: int) -> str:
    """Send a billing document the desk asked to email. Safe to run twice: sends once."""
    return billing_documents.billing_email_send(email_id=email_id).status
