"""Settings for the test suite: the database and broker that the environment names."""

import os

from .base import *  # noqa: F403
from .base import CELERY_BROKER_URL, DATABASES, TIME_ZONE, VAR_DIR
from .environment import env, env_email, filesystem_broker_options
from .travel import travel_from_environment

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
SMS_BACKEND = "clinic.channels.FileSmsBackend"
SMS_FILE_PATH = VAR_DIR / f"test-sms-{TEST_RUN}"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "test-celerybeat-schedule")

# CLINIC_TEST_NOW=2027-03-14T08:30 runs the suite at that instant, the clock ticking.
TEST_NOW = travel_from_environment(TIME_ZONE)
