"""Scale-out at the tiny scale, briefly: two gunicorn instances and two Celery workers
against one PostgreSQL, so that the measurement cannot rot."""

import os
import shutil
import socket
from collections import Counter

import pytest
from django.conf import settings
from django.db import connection

from bench import run, scale_out, writes
from treatments.seed.scale import ScaleSizes, seed_scale

from ..clinic.test_celery import database_url_of_this_test_run

TINY = ScaleSizes(**run.SCALES["tiny"])

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.worker,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the instances and workers share the database by a server: PostgreSQL; the "
        "double bookings are counted against its exclusion constraints",
    ),
    pytest.mark.skipif(
        not settings.CELERY_BROKER_URL.startswith("redis://"),
        reason="the Celery workers take their tasks from Redis (CELERY_BROKER_URL=redis://…)",
    ),
    pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (Debian: wrk)"),
]


@pytest.fixture
def free_ports(monkeypatch):
    """The instances' ports from one the system has just handed out."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        monkeypatch.setattr(scale_out, "FIRST_PORT", probe.getsockname()[1])


@pytest.fixture
def served_environment():
    """The bench's settings on the test database; the test's secret key, so that the
    sessions this process makes are valid there."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": database_url_of_this_test_run(),
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
    }


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_instances_serve_and_book_at_once_with_no_double_booking(
    free_ports, served_environment, monkeypatch
):
    seed_scale(TINY)
    monkeypatch.setattr(writes, "BOOKING_TARGETS_PER_SECOND", 40)
    pages = scale_out.measured_pages(run.busiest_day().isoformat())

    two = scale_out.web_run(2, served_environment, pages, rounds=1, seconds=1)

    assert set(two.pages) == {
        "day view (all dermatologists)",
        "chart (10 years of history)",
        "trivial view",
    }
    for measured in two.pages.values():
        assert measured.throughput > 0 and measured.errors == 0
    # Logged in on both: the taken half is refused with 409, the free half booked.
    assert two.booking.answered(302) > 0 and two.booking.answered(409) > 0
    assert two.booking.failed_other_than(302, 409) == 0
    assert two.double_bookings == 0
    (*_, booking_row) = scale_out.web_rows([two])
    assert booking_row[0] == "booking POST, 2 instances, 8 clients, half on taken slots"
    assert booking_row[7].startswith("measured; 0 double bookings, no 5xx: met (")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_celery_workers_send_every_due_reminder_exactly_once(served_environment):
    seed_scale(TINY)
    due, due_again = run.due_scale_reminders()

    two = scale_out.sweep_with_workers(
        2,
        due,
        due_again,
        env=served_environment,
        broker_url=settings.CELERY_BROKER_URL,
        settings="clinic.settings.test",
    )

    assert len(due) == TINY.due_now
    assert two.throughput > 0
    assert two.messages == Counter(due)  # each once
    (row,) = scale_out.sweep_rows([two], due)
    assert row[0] == f"reminder sweep, 2 Celery workers (solo), {TINY.due_now} due (file email)"
    assert row[7] == "measured; none sent twice, none lost: met (sent twice 0, not sent 0)"
