"""Settings for the test suite: the database and broker that the environment names."""

import os
import re


def _own_place_for_each_xdist_worker() -> None:
    """Under `pytest -n N` each worker process (gw0, gw1 ...) gets its own run name (its
    database file, queue folder, SMS folder) and its own Redis database number (the URL's
    number + 1 + the worker's), so that the Celery workers its tests start never take
    another's messages. Written into the environment before the settings read it, so
    the processes the tests start inherit it; once only (they see it done)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker or os.environ.get("CLINIC_TEST_WORKER") == worker:
        return
    os.environ["CLINIC_TEST_WORKER"] = worker
    index = int(worker.removeprefix("gw"))
    run = os.environ.setdefault("CLINIC_TEST_RUN", str(os.getppid()))
    os.environ["CLINIC_TEST_RUN"] = f"{run}-{worker}"
    broker = os.environ.get("CELERY_BROKER_URL", "")
    numbered = re.fullmatch(r"(rediss?://[^/]*)(?:/(\d+))?", broker)
    if numbered:
        number = (int(numbered.group(2) or 0) + 1 + index) % 16
        os.environ["CELERY_BROKER_URL"] = f"{numbered.group(1)}/{number}"


_own_place_for_each_xdist_worker()

from .base import *  # noqa: E402, F403
from .base import CELERY_BROKER_URL, DATABASES, TIME_ZONE, VAR_DIR  # noqa: E402
from .environment import env, env_email, filesystem_broker_options  # noqa: E402
from .travel import travel_from_environment  # noqa: E402

SECRET_KEY = "test-only-key-not-secret"  # noqa: S105
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
if env.str("CLINIC_TEST_EMAIL_URL", default=""):
    # A worker process started by a test sends to that test's SMTP server.
    vars().update(env_email("CLINIC_TEST_EMAIL_URL", default=""))
WHITENOISE_USE_FINDERS = True  # serve static files without collectstatic, as in make run

# One name per test run, inherited by the worker processes that tests start, so that two
# runs on one machine never share a database file or a queue.
TEST_RUN = os.environ.setdefault("CLINIC_TEST_RUN", str(os.getpid()))

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so that a Celery worker started by a test sees the same rows.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-clinic-{TEST_RUN}.sqlite3")}

if CELERY_BROKER_URL.startswith("filesystem://"):
    # Its own queue, so a running `make run` worker does not take the tests' messages.
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_broker_options(VAR_DIR / f"test-broker-{TEST_RUN}")
if not env.bool("CLINIC_TEST_SMS_PROVIDERS", default=False):
    # SMS go to files, unless a worker process a test starts is told to send them to
    # that test's local provider servers (SMS_BACKEND and the rest in its environment).
    SMS_BACKEND = "clinic.channels.FileSmsBackend"
    SMS_FAILOVER_BACKEND = ""
SMS_FILE_PATH = VAR_DIR / f"test-sms-{TEST_RUN}"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / f"test-celerybeat-schedule-{TEST_RUN}")

# Every test's requests come from one address, so the public pages' limit per address
# would trip across tests; the tests of that limit set their own (tests/portal/).
CLINIC_PUBLIC_PAGES_PER_IP = 1_000_000

# CLINIC_TEST_NOW=2027-03-14T08:30 runs the suite at that instant, the clock ticking.
TEST_NOW = travel_from_environment(TIME_ZONE)
