"""Settings come from the environment; a bad or missing value stops start-up by name."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

BASE_DIR = Path(__file__).resolve().parents[2]
GOOD_SECRET = "k3y-" + "x9Qz7LmP2vR8tW4yB6nC1dF5gH0jK" * 2
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "clinic.settings.production",
    "DJANGO_SECRET_KEY": GOOD_SECRET,
    "DJANGO_ALLOWED_HOSTS": "clinic.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/clinic",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
}


def run_django(settings_env: dict, *args: str) -> subprocess.CompletedProcess:
    """Run manage.py in a fresh process whose environment holds only what is given."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **settings_env}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def without(name: str) -> dict:
    return {key: value for key, value in PRODUCTION.items() if key != name}


@pytest.mark.parametrize(
    "missing",
    ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL", "CELERY_BROKER_URL"],
)
def test_production_refuses_to_start_without_a_required_variable(missing):
    result = run_django(without(missing), "check")
    assert result.returncode != 0
    assert f"{missing} must be set" in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DJANGO_DEBUG", "maybe", "DJANGO_DEBUG must be true or false"),
        ("CLINIC_TIME_ZONE", "Mars/Olympus_Mons", "CLINIC_TIME_ZONE is not a known time zone"),
        (
            "DATABASE_URL",
            "mysql://root@localhost/clinic",
            "DATABASE_URL must name PostgreSQL or SQLite",
        ),
        ("EMAIL_URL", "pigeon://loft", "EMAIL_URL is not a usable email URL"),
        ("CELERY_TASK_TIME_LIMIT", "soon", "CELERY_TASK_TIME_LIMIT must be a whole number"),
        ("VONAGE_SIGNATURE_METHOD", "crc32", "VONAGE_SIGNATURE_METHOD must be md5hash, md5"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(name, value, message):
    result = run_django({"DJANGO_SETTINGS_MODULE": "clinic.settings.local", name: value}, "check")
    assert result.returncode != 0
    assert message in result.stderr


def test_production_settings_pass_the_deploy_check():
    result = run_django(PRODUCTION, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_demo_data_is_not_allowed_in_production():
    result = run_django(PRODUCTION, "seed_demo")
    assert result.returncode != 0
    assert "refuses to run under production settings" in result.stderr


def test_the_embedded_default_is_sqlite_with_wal_and_immediate_transactions():
    result = run_django(
        {"DJANGO_SETTINGS_MODULE": "clinic.settings.local", "CLINIC_VAR_DIR": "/tmp/clinic-var"},
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings as s; d = s.DATABASES['default'];"
        "print(d['ENGINE'], d['NAME'], d['OPTIONS']['transaction_mode'], s.CELERY_BROKER_URL,"
        " s.EMAIL_BACKEND, s.TIME_ZONE)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "/tmp/clinic-var/clinic.sqlite3",
        "IMMEDIATE",
        "filesystem://",
        "django.core.mail.backends.filebased.EmailBackend",
        "America/New_York",
    ]


@pytest.mark.django_db
def test_the_test_database_is_the_one_the_environment_names():
    """In the PostgreSQL pass a typo must not fall back to SQLite unnoticed."""
    url = os.environ.get("DATABASE_URL", "")
    expected = "postgresql" if url.startswith(("postgres://", "postgresql://")) else "sqlite"
    assert connection.vendor == expected
    if expected == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            assert cursor.fetchone()[0] == "wal"


def test_the_broker_is_the_one_the_environment_names():
    url = os.environ.get("CELERY_BROKER_URL", "")
    assert settings.CELERY_BROKER_URL == (url or "filesystem://")
    from clinic.celery import app

    assert app.connection_for_write().transport_cls in (
        ("redis",) if url.startswith("redis") else ("filesystem",)
    )
