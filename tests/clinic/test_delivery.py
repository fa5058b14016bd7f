"""Reminders arrive at least once, a repeat bounded by the batch in flight, through the real
parts: beat's schedule, a Celery worker process on the test database, the configured
broker (Redis or the filesystem queue) and an SMTP server on loopback; also when the
worker is killed or Redis restarts."""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from unittest import mock

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone
from kombu import Connection
from kombu.exceptions import OperationalError

from clinic.celery import app
from clinic.models import Reminder, StaffMember
from clinic.tasks import reminders_send_due
from treatments.models import ProcedureType
from treatments.services import appointment_book

from ..factories import PatientFactory, RoomFactory, StaffMemberFactory
from ..treatments.conftest import open_all_week
from .test_celery import database_url_of_this_test_run
from .test_outbox import due_reminder, free_port, smtp_server  # noqa: F401 - a fixture

BASE_DIR = Path(__file__).resolve().parents[2]
Status = Reminder.Status
WAIT_SECONDS = 60


def test_beat_sweeps_the_outbox_every_minute():
    entry = app.conf.beat_schedule["reminders-send-due"]
    assert entry["task"] == "clinic.tasks.reminders_send_due"
    assert entry["schedule"] == 60.0
    assert "clinic.tasks.reminders_send_due" in app.tasks


@pytest.mark.django_db
def test_the_sweep_task_is_safe_to_run_twice(mailoutbox):
    due_reminder()

    reminders_send_due()
    reminders_send_due()

    assert len(mailoutbox) == 1


@pytest.mark.django_db
def test_a_booking_succeeds_with_the_broker_down_and_its_reminders_go_with_the_sweep(
    mailoutbox,
):
    dermatologist = open_all_week(StaffMemberFactory())
    RoomFactory()
    patient = PatientFactory(reminder_consent=True, reminder_consent_changed_at=timezone.now())
    day_after_tomorrow = timezone.localdate() + timedelta(days=2)
    broker_down = OperationalError("Error 111 connecting to the broker. Connection refused.")

    with (
        mock.patch.object(app, "send_task", side_effect=broker_down) as sent,
        mock.patch("celery.app.task.Task.apply_async", side_effect=broker_down) as queued,
    ):
        appointment = appointment_book(
            patient=patient,
            dermatologist=dermatologist,
            procedure_type=ProcedureType.objects.get(slug="cryotherapy"),
            starts_at=timezone.make_aware(datetime(*day_after_tomorrow.timetuple()[:3], 10)),
            booked_by=StaffMemberFactory(role=StaffMember.Role.RECEPTIONIST).user,
        )

    assert (sent.call_count, queued.call_count) == (0, 0)  # booking never touches the broker
    # The visit's reminders, and its confirmation ("appointment:<id>:booked").
    planned = Reminder.objects.filter(source_key__startswith=f"appointment:{appointment.pk}")
    assert planned.count() > 1 and {r.status for r in planned} == {Status.PENDING}

    with time_machine.travel(max(r.send_at for r in planned), tick=False):
        reminders_send_due()  # what the worker runs when beat's message arrives

    assert len(mailoutbox) == planned.count()
    assert not planned.exclude(status=Status.SENT).exists()


# --- A real worker process -------------------------------------------------------------


def start_worker(*, broker_url: str | None = None, **settings_env) -> subprocess.Popen:
    """`celery -A clinic worker`, as make run starts it, on the test database."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "clinic.settings.test",
        "DATABASE_URL": database_url_of_this_test_run(),
        **{name: str(value) for name, value in settings_env.items()},
    }
    if broker_url:
        env["CELERY_BROKER_URL"] = broker_url
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "clinic", "worker", "--pool", "solo",
         "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until(condition, *, what: str, seconds: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.05)


def sweep_through(broker_url: str | None = None) -> None:
    """Send the sweep as beat does, through the broker the worker listens on."""
    if broker_url is None:
        reminders_send_due.delay()
        return
    with Connection(broker_url, connect_timeout=2) as connection:
        app.send_task("clinic.tasks.reminders_send_due", connection=connection)


def kill_a_worker_mid_batch(smtp_server, **settings_of_worker) -> dict[str, int]:  # noqa: F811
    """Start a worker, sweep, SIGKILL it after five messages; what had arrived by then."""
    worker = start_worker(**settings_of_worker)
    try:
        sweep_through()
        wait_until(lambda: len(smtp_server.recipients()) >= 5, what="five messages")
        time.sleep(0.05)  # inside the pause after a message, not in the middle of one
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    finally:
        stop(worker)
    assert Reminder.objects.filter(status=Status.SENDING).exists()  # left claimed
    received = smtp_server.recipients()
    assert 5 <= len(received) < 20
    return received


def restart_and_sweep_until_all_sent(**settings_of_worker) -> None:
    time.sleep(2.5)  # the reclaim timeout passes; nothing can travel a worker's clock
    worker = start_worker(**{**settings_of_worker, "CLINIC_REMINDER_SEND_INTERVAL_MS": 0})
    try:
        sweep_through()
        wait_until(
            lambda: not Reminder.objects.exclude(status=Status.SENT).exists(),
            what="every reminder sent",
        )
        sweep_through()  # one more sweep finds nothing to send again
        time.sleep(1)
    finally:
        stop(worker)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_killed_mid_batch_then_restarted_delivers_every_reminder_once(smtp_server):  # noqa: F811
    """Marked one by one (CLINIC_REMINDER_MARK_SECONDS=0), nothing is sent twice."""
    reminders = [due_reminder() for _ in range(20)]
    slow = {
        "CLINIC_TEST_EMAIL_URL": smtp_server.url,
        "CLINIC_REMINDER_SEND_INTERVAL_MS": 300,  # a slow provider: the kill lands mid-batch
        "CLINIC_REMINDER_RECLAIM_SECONDS": 2,
        "CLINIC_REMINDER_MARK_SECONDS": 0,
    }
    kill_a_worker_mid_batch(smtp_server, **slow)
    restart_and_sweep_until_all_sent(**slow)

    assert smtp_server.recipients() == {reminder.email: 1 for reminder in reminders}


@pytest.mark.worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_with_marks_written_together_a_killed_worker_repeats_only_what_it_had_not_marked(
    smtp_server,  # noqa: F811
):
    """Marked together (here at each batch's end, never sooner), the messages of the batch
    in flight that left before the kill go again after the reclaim, and nothing is lost:
    at least once, with repeats bounded by one batch (CLINIC_REMINDER_BATCH_SIZE)."""
    reminders = [due_reminder() for _ in range(20)]
    slow = {
        "CLINIC_TEST_EMAIL_URL": smtp_server.url,
        "CLINIC_REMINDER_SEND_INTERVAL_MS": 300,
        "CLINIC_REMINDER_RECLAIM_SECONDS": 2,
        "CLINIC_REMINDER_MARK_SECONDS": 60,
        "CLINIC_REMINDER_BATCH_SIZE": 3,
    }
    before_the_kill = kill_a_worker_mid_batch(smtp_server, **slow)
    restart_and_sweep_until_all_sent(**slow)

    received = smtp_server.recipients()
    repeated = {email for email, times in received.items() if times > 1}
    assert set(received) == {reminder.email for reminder in reminders}  # none lost
    assert max(received.values()) == 2
    assert repeated <= set(before_the_kill)
    # Five had left at the kill: the first batch of three was marked at its end, so only
    # the one or two of the second batch go again.
    assert 1 <= len(repeated) <= 3


class RedisServer:
    """A redis-server on a free port with nothing on disk, so a restart forgets every key,
    as a crashed Redis without persistence does."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port),
             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(self.answers, what="redis-server to start", seconds=10)

    def answers(self) -> bool:
        try:
            with Connection(self.url, connect_timeout=0.5) as connection:
                connection.ensure_connection(max_retries=1)
            return True
        except Exception:
            return False

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)


@pytest.fixture
def own_redis():
    """A redis-server of this test's own on a free port, no persistence: one it may stop."""
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("needs Redis as the broker (CELERY_BROKER_URL=redis://...)")
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    redis = RedisServer()
    redis.start()
    yield redis
    redis.stop()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_reminders_due_across_a_redis_restart_are_delivered_once(own_redis, smtp_server):  # noqa: F811
    before = [due_reminder() for _ in range(10)]
    worker = start_worker(
        broker_url=own_redis.url,
        CLINIC_TEST_EMAIL_URL=smtp_server.url,
        CLINIC_REMINDER_SEND_INTERVAL_MS=100,
    )
    try:
        sweep_through(own_redis.url)
        wait_until(lambda: len(smtp_server.recipients()) >= 3, what="the sweep to start")
        own_redis.stop()  # Redis goes away in the middle of the sweep
        during = [due_reminder() for _ in range(10)]  # and the clinic goes on booking
        own_redis.start()

        deadline = time.monotonic() + WAIT_SECONDS
        while Reminder.objects.exclude(status=Status.SENT).exists():
            assert time.monotonic() < deadline, "not every reminder was sent after the restart"
            with contextlib.suppress(OperationalError):  # not reachable again yet
                sweep_through(own_redis.url)  # beat's next minute, made shorter
            time.sleep(1)
        time.sleep(1)
    finally:
        stop(worker)

    received = smtp_server.recipients()
    assert received == {reminder.email: 1 for reminder in before + during}
