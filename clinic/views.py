"""The clinic's own page: the health check."""

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu import Connection

from .outbox import reminders_backlog_seconds
from .selectors import beat_is_fresh, beat_last_seen

BROKER_TIMEOUT_SECONDS = 2


def _database_state() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except DatabaseError as error:
        return f"error: {error.__class__.__name__}"


def _broker_state() -> str:
    try:
        with Connection(
            settings.CELERY_BROKER_URL,
            transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
            connect_timeout=BROKER_TIMEOUT_SECONDS,
        ) as broker:
            broker.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)
            broker.default_channel  # noqa: B018 - opening a channel proves the broker answers
        return "ok"
    except Exception as error:  # any failure to reach the broker is "not ok", never a 500
        return f"error: {error.__class__.__name__}"


@never_cache
@require_GET
def healthz(request):
    """The state of the database, the broker and beat, for load balancers and monitoring,
    and how long the oldest due reminder has waited (a stuck outbox is an outage too).

    No login and no patient data; 200 when everything is fine, 503 otherwise.
    """
    database = _database_state()
    last_beat = beat_last_seen() if database == "ok" else None
    beat = "ok" if beat_is_fresh(last_beat) else ("never ran" if last_beat is None else "stale")
    backlog = reminders_backlog_seconds() if database == "ok" else None
    checks = {
        "database": database,
        "broker": _broker_state(),
        "beat": beat,
        "beat_last_seen": last_beat.isoformat() if last_beat else None,
        "reminder_backlog_seconds": backlog,
    }
    healthy = (
        checks["database"] == "ok"
        and checks["broker"] == "ok"
        and beat == "ok"
        and (backlog or 0) <= settings.CLINIC_REMINDER_BACKLOG_ALERT_SECONDS
    )
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503
    )
