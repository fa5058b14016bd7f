"""A worker outlives its broker (issue 19): Redis stops in the middle of a reminder sweep and
starts again on the same port, and the same worker process finishes the backlog and takes
the next sweep; a worker that does exit is started again by bin/keep-running.

Real parts: a redis-server of the test's own, the worker started by the Procfile's own
command line (prefork pool, bin/keep-running around it) in a process group of its own as
honcho starts it, the test database, an SMTP server on loopback. Runs wherever the
redis-server binary is installed, whatever broker the rest of the suite uses."""

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from kombu import Connection
from kombu.exceptions import OperationalError

from clinic.celery import app
from clinic.models import Reminder

from .test_celery import database_url_of_this_test_run
from .test_delivery import RedisServer, wait_until
from .test_outbox import due_reminder, free_port, smtp_server  # noqa: F401 - a fixture

BASE_DIR = Path(__file__).resolve().parents[2]
Status = Reminder.Status
RESTARTED = "keep-running: "  # how bin/keep-running starts the line it writes on a restart
READY = " ready."  # the worker's "celery@host ready.": connected to the broker, consuming

needs_redis_server = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="redis-server is not installed"
)


@pytest.fixture
def redis_server():
    server = RedisServer()
    server.start()
    yield server
    server.stop()


def procfile_command(name: str) -> str:
    """The command line the Procfile gives a process, as honcho reads it."""
    for line in (BASE_DIR / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"the Procfile has no {name} line")


class Worker:
    """The Procfile's worker line, run by a shell in a session of its own as honcho runs
    it, on the test database and the given broker; its output goes to `log`."""

    def __init__(self, *, broker_url: str, log: Path, **settings_env) -> None:
        env = {
            **os.environ,
            # make run puts the virtualenv first, where `celery` is found
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
            "DJANGO_SETTINGS_MODULE": "clinic.settings.test",
            "CELERY_BROKER_URL": broker_url,
            **{name: str(value) for name, value in settings_env.items()},
        }
        self.log = log
        # exec: the shell becomes bin/keep-running, so its child is the worker itself
        with log.open("w") as output:
            self.process = subprocess.Popen(
                ["sh", "-c", f"exec {procfile_command('worker')}"],
                cwd=BASE_DIR, env=env, start_new_session=True,
                stdout=output, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def celery_pid(self) -> int | None:
        """The pid of the celery process bin/keep-running runs now, if any."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            pids = children.read_text().split()
        except FileNotFoundError:
            return None
        return int(pids[0]) if pids else None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM to the whole process group, as honcho sends it on Ctrl-C; the status."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode


def sweep_through(broker_url: str) -> None:
    """Send the sweep as beat does, through the given broker, once it answers again."""
    deadline = time.monotonic() + 20
    while True:
        try:
            with Connection(broker_url, connect_timeout=2) as connection:
                app.send_task("clinic.tasks.reminders_send_due", connection=connection)
            return
        except OperationalError:
            assert time.monotonic() < deadline, "could not send the sweep for 20 s"
            time.sleep(0.5)


def all_sent(reminders: list[Reminder]) -> bool:
    pks = [reminder.pk for reminder in reminders]
    return not Reminder.objects.filter(pk__in=pks).exclude(status=Status.SENT).exists()


@pytest.mark.worker
@needs_redis_server
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_keeps_its_sweep_and_its_broker_across_a_redis_restart(
    redis_server,
    smtp_server,  # noqa: F811
    tmp_path,
):
    """Redis stops while a sweep is sending a backlog of 60 and comes back 3 s later. The
    worker that ran the sweep is still the one running at the end: it finished the
    backlog and took the next sweep through the restarted Redis, and nothing went twice.
    (The outbox repeats only what a worker that died had in flight: none died here.)

    With celery 5.7.0 the worker instead logged "Unrecoverable error: AttributeError(
    "'NoneType' object has no attribute 'hostname'")", finished its sweep and exited 1."""
    backlog = [due_reminder() for _ in range(60)]
    worker = Worker(
        broker_url=redis_server.url,
        log=tmp_path / "worker.log",
        DATABASE_URL=database_url_of_this_test_run(),
        CLINIC_TEST_EMAIL_URL=smtp_server.url,
        CLINIC_REMINDER_SEND_INTERVAL_MS=100,  # a slow provider: the sweep takes 6 s or more
        # Two processes, the Procfile's default: one sends, and the worker goes on asking
        # Redis for the next task meanwhile, which is when 5.7.0 fell over (with one
        # process busy it asks for nothing, and survived).
        CELERY_WORKER_CONCURRENCY=2,
        KEEP_RUNNING_PAUSE_SECONDS=1,
    )
    try:
        sweep_through(redis_server.url)
        wait_until(lambda: len(smtp_server.recipients()) >= 5, what="the sweep to start")
        worker_of_the_sweep = worker.celery_pid()
        redis_server.stop()  # in the middle of the sweep
        time.sleep(3)
        redis_server.start()
        assert not all_sent(backlog), "the sweep was over before Redis came back"

        wait_until(lambda: all_sent(backlog), what="the backlog to be sent", seconds=30)
        time.sleep(2)  # the sweep's next claim finds nothing due, and the sweep is over
        later = [due_reminder() for _ in range(3)]  # only a sweep sent from now on sends these
        sweep_through(redis_server.url)
        wait_until(lambda: all_sent(later), what="the next sweep", seconds=30)
        time.sleep(1)  # long enough for a repeat to show
        worker_at_the_end = worker.celery_pid()
    finally:
        status = worker.stop()
    output = worker.output()

    assert RESTARTED not in output, output[-3000:]
    assert "Unrecoverable error" not in output
    assert worker_at_the_end == worker_of_the_sweep
    assert smtp_server.recipients() == {reminder.email: 1 for reminder in backlog + later}
    assert status == 0  # SIGTERM, as on Ctrl-C: a warm shutdown


@pytest.mark.worker
@needs_redis_server
def test_keep_running_starts_a_killed_worker_again_and_stops_on_sigterm(redis_server, tmp_path):
    worker = Worker(
        broker_url=redis_server.url,
        log=tmp_path / "worker.log",
        CELERY_WORKER_CONCURRENCY=1,
        KEEP_RUNNING_PAUSE_SECONDS=1,
    )
    try:
        wait_until(lambda: worker.output().count(READY) == 1, what="the worker to start")
        killed = worker.celery_pid()
        assert killed is not None
        os.kill(killed, signal.SIGKILL)  # as the kernel's out-of-memory killer would
        wait_until(lambda: worker.output().count(READY) == 2, what="the worker to start again")
        restarted = worker.celery_pid()
    finally:
        status = worker.stop()
    output = worker.output()

    assert restarted not in (None, killed)
    assert f"exited with status {128 + signal.SIGKILL}" in output
    assert output.count(RESTARTED) == 1  # after the kill; not after the SIGTERM
    assert status == 0  # SIGTERM went on to the worker, which shut down warm


def test_an_exited_worker_or_beat_is_started_again_by_make_run_and_by_compose():
    assert shlex.split(procfile_command("worker"))[:5] == [
        "bin/keep-running", "celery", "-A", "clinic", "worker"
    ]  # fmt: skip
    # Beat through its lock (clinic/beat_lock.py), as compose starts it.
    assert shlex.split(procfile_command("beat"))[:4] == [
        "bin/keep-running", "python", "-m", "clinic.beat_lock"
    ]  # fmt: skip
    assert os.access(BASE_DIR / "bin" / "keep-running", os.X_OK)
    services = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())["services"]
    for name in ("web", "worker", "beat"):
        assert services[name]["restart"] == "unless-stopped"
