"""The Celery app's configuration, and a real worker running a task through the broker."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from clinic.celery import app
from clinic.models import Heartbeat
from clinic.services import BEAT_HEARTBEAT
from clinic.tasks import beat_heartbeat

BASE_DIR = Path(__file__).resolve().parents[2]


def test_celery_accepts_only_json_and_acknowledges_late():
    conf = app.conf
    assert conf.accept_content == ["json"]
    assert conf.task_serializer == "json"
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert 0 < conf.task_soft_time_limit < conf.task_time_limit


def test_beat_sends_the_heartbeat_every_minute():
    entry = app.conf.beat_schedule["beat-heartbeat"]
    assert entry["task"] == "clinic.tasks.beat_heartbeat"
    assert entry["schedule"] == 60.0
    assert "clinic.tasks.beat_heartbeat" in app.tasks


@pytest.mark.django_db
def test_the_heartbeat_task_records_when_it_ran():
    beat_heartbeat()
    first = Heartbeat.objects.get(name=BEAT_HEARTBEAT).last_seen_at
    beat_heartbeat()
    assert Heartbeat.objects.get(name=BEAT_HEARTBEAT).last_seen_at > first
    assert Heartbeat.objects.count() == 1


def database_url_of_this_test_run() -> str:
    """The URL of the test database, for a worker in another process."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def celery_worker_process():
    """`celery -A clinic worker`, as make run and docker compose start it, on the test database."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "clinic.settings.test",
        "DATABASE_URL": database_url_of_this_test_run(),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "clinic", "worker", "--pool", "solo",
         "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    yield worker
    worker.terminate()
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_runs_a_task_through_the_configured_broker(celery_worker_process):
    assert not Heartbeat.objects.exists()

    beat_heartbeat.delay()

    deadline = time.monotonic() + 60
    while not Heartbeat.objects.filter(name=BEAT_HEARTBEAT).exists():
        assert celery_worker_process.poll() is None, celery_worker_process.stdout.read()
        assert time.monotonic() < deadline, "the worker did not run the task within 60 s"
        time.sleep(0.2)
