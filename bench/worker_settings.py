"""Settings of the Celery workers bench/scale_out.py starts: the settings module that
BENCH_WORKER_SETTINGS names (bench.settings; the test suite's in its tests, so a worker
keeps the run's clock), with every email written to a file in BENCH_MAIL_DIR, where the
run reads each message's Message-ID."""

import os
from importlib import import_module

_base = import_module(os.environ.get("BENCH_WORKER_SETTINGS", "bench.settings"))
globals().update({name: getattr(_base, name) for name in dir(_base) if name.isupper()})

EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = os.environ["BENCH_MAIL_DIR"]
