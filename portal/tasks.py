"""Celery tasks of patients online: thin, each calls a service."""

from celery import shared_task

from . import services


@shared_task
def portal_records_purge() -> dict:
    """Sent by beat every hour: delete old one-time codes and portal sessions. Safe to run
    twice at once (a second delete finds nothing)."""
    codes, sessions = services.portal_records_purge()
    return {"codes": codes, "sessions": sessions}


# A code is valid ten minutes: three more tries, a minute apart, fit well inside.
CODE_SEND_RETRIES = 3
CODE_SEND_RETRY_SECONDS = 60


@shared_task(bind=True, max_retries=CODE_SEND_RETRIES, default_retry_delay=CODE_SEND_RETRY_SECONDS)
def portal_code_deliver(self, code_id: int, language: str) -> str:
    """Queued by portal_code_send once the code is committed: send it if its contact is
    known. A mail or SMS server that refuses is tried again, CODE_SEND_RETRIES times."""
    try:
        return services.portal_code_deliver(code_id=code_id, language=language)
    except services.CodeNotSent as error:
        raise self.retry(exc=error) from None
