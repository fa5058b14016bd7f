"""Scale-out at the tiny scale, briefly: two gunicorn instances and two Celery workers
against one PostgreSQL, so that the measurement cannot rot."""

import os
import shutil
import socket
from collections import Counter
from email.utils import make_msgid

import pytest
from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.filebased import EmailBackend
from django.db import connection

from bench import run, scale_out, writes
from treatments.seed.scale import ScaleSizes, seed_scale

from ..clinic.test_celery import database_url_of_this_test_run

TINY = ScaleSizes(**run.SCALES["tiny"])

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the instances and workers share the database through a server: PostgreSQL; "
    "the double bookings are counted against its exclusion constraints",
)
needs_redis = pytest.mark.skipif(
    not settings.CELERY_BROKER_URL.startswith("redis://"),
    reason="the Celery workers take their tasks from Redis (CELERY_BROKER_URL=redis://…)",
)
needs_wrk = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")


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


@pytest.mark.postgres
@needs_postgresql
@needs_wrk
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
    assert booking_row[0] == (
        "booking POST, 2 instances of 1 sync worker, 8 clients, half on taken slots"
    )
    assert booking_row[7].startswith("measured; 0 double bookings, no 5xx: met (")


@pytest.mark.postgres
@pytest.mark.worker
@needs_postgresql
@needs_redis
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


def test_a_message_id_folded_onto_the_next_line_is_read(tmp_path):
    # Long Message-IDs wrap (as the reminders' do from about id 1000 on).
    messages = [
        EmailMessage(
            "Your visit",
            "Tomorrow at 9.",
            "clinic@example.com",
            ["patient@example.com"],
            headers={"Message-ID": make_msgid(idstring=f"reminder.{pk}", domain=domain)},
        )
        for pk, domain in [(7, "x.example"), (123456, "clinic.example.com")]
    ]
    EmailBackend(file_path=str(tmp_path)).send_messages([*messages, messages[0]])
    assert "Message-ID: \n <" in next(tmp_path.iterdir()).read_text()

    assert scale_out.messages_per_reminder(tmp_path) == Counter({7: 2, 123456: 1})


def test_the_connections_are_split_between_the_instances():
    assert writes.split(4, 1) == [4]
    assert writes.split(4, 3) == [2, 1, 1]
    assert writes.split(8, 3) == [3, 3, 2]
    assert writes.split(1, 2) == [1, 1]  # wrk needs one connection at least


def test_a_broker_that_does_not_answer_is_noticed_before_celery_waits_for_it():
    assert not scale_out.redis_answers("redis://127.0.0.1:1/11")
