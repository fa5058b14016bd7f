"""Only one beat runs: real beat processes (python -m clinic.beat_lock) against the test
database, a PostgreSQL advisory lock or, on the embedded default, a file lock; and the beat
container's healthcheck (manage.py beat_check)."""

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from clinic.beat_lock import LOST_LOCK_EXIT_STATUS, FileBeatLock
from clinic.services import BEAT_HEARTBEAT, heartbeat_record

from .test_celery import database_url_of_this_test_run

BASE_DIR = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


class Beat:
    """`python -m clinic.beat_lock`, as the compose beat service starts it; log in a file."""

    def __init__(self, folder: Path, name: str) -> None:
        self.log = folder / f"{name}.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "clinic.settings.test",
            "DATABASE_URL": database_url_of_this_test_run(),
            # The file lock, queue folder and schedule of this test alone.
            "CLINIC_VAR_DIR": str(folder),
            "CLINIC_BEAT_LOCK_CHECK_SECONDS": "1",
        }
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "clinic.beat_lock", "--loglevel", "INFO",
                 "--schedule", str(folder / f"{name}-schedule")],
                cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def output(self) -> str:
        return self.log.read_text()

    def wait_for(self, text: str, *, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while text not in self.output():
            assert self.process.poll() is None, f"beat ended early:\n{self.output()}"
            assert time.monotonic() < deadline, f"no {text!r} after {seconds}s:\n{self.output()}"
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def beats(tmp_path):
    started: list[Beat] = []

    def start(name: str) -> Beat:
        started.append(Beat(tmp_path, name))
        return started[-1]

    yield start
    for beat in started:
        beat.stop()


def test_a_second_beat_waits_while_the_first_runs_and_takes_over_when_it_ends(beats):
    first = beats("first")
    first.wait_for("beat: Starting")
    assert "holds the beat lock; starting beat" in first.output()

    second = beats("second")
    second.wait_for("Another beat holds the beat lock; waiting")
    time.sleep(3)  # three of its checks
    assert second.process.poll() is None
    assert "beat: Starting" not in second.output()

    first.stop()
    second.wait_for("beat: Starting", seconds=30)
    assert "holds the beat lock; starting beat" in second.output()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="an advisory lock: PostgreSQL")
def test_a_beat_whose_lock_connection_is_cut_stops_so_that_it_never_runs_unlocked(beats):
    beat = beats("cut")
    beat.wait_for("beat: Starting")
    db = connection.settings_dict
    with psycopg.connect(
        dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"], connect_timeout=10
    ) as admin:
        ended = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = 'clinic beat lock' AND datname = current_database()"
        ).fetchone()
    assert ended == (1,)
    assert beat.process.wait(timeout=30) == LOST_LOCK_EXIT_STATUS
    assert "The beat lock was lost" in beat.output()


def test_the_file_lock_is_held_by_one_process_at_a_time_and_freed_when_it_closes(tmp_path):
    holder = FileBeatLock(tmp_path / "beat.lock")
    assert holder.try_acquire()
    # flock is per open file: a second opening stands for a second process.
    assert not FileBeatLock(tmp_path / "beat.lock").try_acquire()
    holder.file.close()
    assert FileBeatLock(tmp_path / "beat.lock").try_acquire()


def test_beat_check_passes_while_the_heartbeat_is_fresh_and_fails_once_it_is_stale(settings):
    with pytest.raises(CommandError, match="heartbeat is stale \\(last seen: never\\)"):
        call_command("beat_check")
    heartbeat = heartbeat_record(name=BEAT_HEARTBEAT)
    call_command("beat_check")
    settings.CLINIC_HEARTBEAT_STALE_SECONDS = 60
    heartbeat.last_seen_at -= timedelta(seconds=61)
    heartbeat.save()
    with pytest.raises(CommandError, match="heartbeat is stale"):
        call_command("beat_check")
