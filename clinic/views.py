"""The clinic's own pages: the health check, and the answer when the database is gone."""

import logging
import sys
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext_lazy
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu import Connection

from patients.models import Channel

from .errors import is_write_conflict
from .outbox import reminders_backlog_seconds
from .selectors import (
    beat_is_fresh,
    beat_last_seen,
    channel_health,
    reminders_failed_since,
    reminders_stuck_sending,
    sms_failover_last_used,
)

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 2
# Without these nothing is booked or swept: "unavailable" rather than "degraded".
CORE_COMPONENTS = ("database", "broker", "beat")


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


def _beat() -> dict[str, Any]:
    last_beat = beat_last_seen()
    status = "ok" if beat_is_fresh(last_beat) else ("never ran" if last_beat is None else "stale")
    return {"status": status, "last_seen": last_beat.isoformat() if last_beat else None}


def _outbox(now: datetime) -> dict[str, Any]:
    backlog = reminders_backlog_seconds(now=now)
    stuck = reminders_stuck_sending(now=now)
    failed = reminders_failed_since(now - timedelta(hours=1))
    problems = [
        problem
        for problem, seen in (
            ("backlog", backlog > settings.CLINIC_REMINDER_BACKLOG_ALERT_SECONDS),
            ("stuck sending", stuck > 0),
            ("failed for good", failed >= settings.CLINIC_HEALTH_FAILED_PER_HOUR),
        )
        if seen
    ]
    return {
        "status": ", ".join(problems) or "ok",
        "backlog_seconds": backlog,
        "stuck_sending": stuck,
        "failed_last_hour": failed,
    }


def _channels() -> dict[str, dict[str, Any]]:
    states = channel_health()
    report = {}
    for channel in Channel.values:
        state = states.get(channel)
        failures = state.failures_in_a_row if state else 0
        last_success = state.last_success_at if state else None
        report[channel] = {
            "status": "failing" if failures >= settings.CLINIC_HEALTH_CHANNEL_FAILURES else "ok",
            "failures_in_a_row": failures,
            "last_success_at": last_success.isoformat() if last_success else None,
        }
    if settings.SMS_FAILOVER_BACKEND:
        # Messages still go out while the failover carries them: news, not an outage.
        failover_used = sms_failover_last_used()
        report[Channel.SMS]["failover_last_used_at"] = (
            failover_used.isoformat() if failover_used else None
        )
    return report


@never_cache
@require_GET
def healthz(request):
    """Each component's own state, for load balancers and monitoring.

    - database, broker: a query and a broker channel answer;
    - beat: its heartbeat is fresh;
    - outbox: no due reminder waited longer than CLINIC_REMINDER_BACKLOG_ALERT_SECONDS, no
      row is "sending" past the reclaim time, fewer than CLINIC_HEALTH_FAILED_PER_HOUR
      reminders were given up on in the last hour;
    - email, sms: the channel's last CLINIC_HEALTH_CHANNEL_FAILURES attempts did not all fail
      (with an SMS failover, a message the failover delivered is a success; the sms
      component then says when the failover last carried messages).

    200 with status "ok" when every component is; otherwise 503, with status "unavailable"
    when the database, the broker or beat is down (nothing is booked or swept) and
    "degraded" when only delivery is (pages work, messages do not go out). No login and no
    patient data.
    """
    database = _database_state()
    components: dict[str, dict[str, Any]] = {
        "database": {"status": database},
        "broker": {"status": _broker_state()},
    }
    if database == "ok":
        now = timezone.now()
        components |= {"beat": _beat(), "outbox": _outbox(now), **_channels()}
    else:
        unknown = {"status": "unknown: the database is unavailable"}
        components |= dict.fromkeys(("beat", "outbox", *Channel.values), unknown)
    core_ok = all(components[name]["status"] == "ok" for name in CORE_COMPONENTS)
    all_ok = all(component["status"] == "ok" for component in components.values())
    status = "ok" if all_ok else ("degraded" if core_ok else "unavailable")
    return JsonResponse({"status": status, "components": components}, status=200 if all_ok else 503)


def _error_page(request: HttpRequest) -> HttpResponse:
    try:
        return HttpResponse(render_to_string("500.html", request=request), status=500)
    except Exception:  # the page that explains an error must not raise one
        logger.exception("The 500 page failed to render")
        return defaults.server_error(request)


DATABASE_RETRY_SECONDS = 30
DATABASE_UNAVAILABLE = gettext_lazy(
    "The clinic's database cannot be reached just now. Nothing was half-written: "
    "try again in a moment."
)


DATABASE_UNAVAILABLE_PAGE = {
    "title": gettext_lazy("Back in a moment"),
    "description": gettext_lazy(
        "Milia Clinic is briefly unavailable; please try again in a moment."
    ),
    "message": DATABASE_UNAVAILABLE,
    "again": gettext_lazy("Try again"),
}
WRITE_CONFLICT_PAGE = {
    "title": gettext_lazy("Changed meanwhile"),
    "description": gettext_lazy(
        "Someone else changed this at the same moment; nothing of yours was saved."
    ),
    "message": gettext_lazy(
        "Someone else changed this at the same moment, so nothing of yours was saved. "
        "Reload the page to see the change, then try again."
    ),
    "again": gettext_lazy("Reload the page"),
}


def server_error(request: HttpRequest) -> HttpResponse:
    """The 500 handler. A write that met another at the same moment (a deadlock, a
    serialization failure, a unique or exclusion constraint) and that no service turned
    into its own refusal is a 409; a database that went away (connection lost, server
    restarting) is a 503 with Retry-After; any other error the 500 page with the
    navigation, or Django's plain 500 page when that page itself fails to render.

    Runs inside Django's handling of the exception, so the exception is sys.exc_info();
    the view's transaction has rolled back by then. The 409 and 503 pages render without
    the request: its context processors would ask the database for the session and the
    user.
    """
    error = sys.exc_info()[1]
    if is_write_conflict(error):
        # The constraint's or the error's name only: its text may quote the row's values.
        cause = error.__cause__
        name = getattr(getattr(cause, "diag", None), "constraint_name", None)
        logger.warning(
            "A write met another one at the same moment (%s): 409", name or type(cause).__name__
        )
        return _plain_answer(request, WRITE_CONFLICT_PAGE, status=409)
    if not isinstance(error, (OperationalError, InterfaceError)):
        return _error_page(request)
    logger.error("Database unavailable: %s", error.__class__.__name__)
    response = _plain_answer(request, DATABASE_UNAVAILABLE_PAGE, status=503)
    response["Retry-After"] = str(DATABASE_RETRY_SECONDS)
    return response


def _plain_answer(request: HttpRequest, page: dict[str, Any], *, status: int) -> HttpResponse:
    """JSON for the API and programs that ask for it, else a page without the navigation."""
    if request.path.startswith("/api/") or "json" in request.headers.get("Accept", ""):
        return JsonResponse({"error": str(page["message"])}, status=status)
    return HttpResponse(render_to_string("plain_answer.html", page), status=status)
