"""The app's URLs and pages that fail as no view expects: the 500 page's test needs an
unexpected error, the 409's a write that meets another one at the same moment."""

import threading
import time

import psycopg
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.urls import path

from clinic.urls import handler500, urlpatterns


def failing_page(request):
    raise RuntimeError("an error no view expects")


def taken_username_page(request):
    """Writes a row whose unique key another write took before it (here: the user's own
    username), with no check first: what a race between a check and a write leaves."""
    with transaction.atomic():
        User.objects.create(username=request.user.username)


# The other writer waits this long before it looks for a deadlock, so that this page's
# connection (PostgreSQL's default: one second) is the one that finds it and is aborted.
OTHER_DEADLOCK_TIMEOUT = "20s"


def deadlock_page(request):
    """Takes two locks in one order while another connection takes them in the other:
    PostgreSQL aborts this page's transaction with deadlock_detected (40P01)."""
    holds_second = threading.Event()

    def other_writer() -> None:
        with psycopg.connect(**connection.get_connection_params()) as other:
            other.execute(f"SET deadlock_timeout = '{OTHER_DEADLOCK_TIMEOUT}'")
            other.execute("SELECT pg_advisory_xact_lock(2)")
            holds_second.set()
            other.execute("SELECT pg_advisory_xact_lock(1)")  # waits for this page's lock

    other = threading.Thread(target=other_writer)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(1)")
            other.start()
            holds_second.wait(10)
            _until_one_advisory_lock_is_awaited(cursor)
            cursor.execute("SELECT pg_advisory_xact_lock(2)")  # the deadlock
    finally:
        if other.ident is not None:  # started
            other.join(30)


def _until_one_advisory_lock_is_awaited(cursor) -> None:
    for _ in range(200):
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        if cursor.fetchone()[0]:
            return
        time.sleep(0.05)


urlpatterns = [
    path("fails/", failing_page),
    path("writes-a-taken-username/", taken_username_page),
    path("api/writes-a-taken-username/", taken_username_page),
    path("loses-a-deadlock/", deadlock_page),
    *urlpatterns,
]
__all__ = ["handler500", "urlpatterns"]
