"""GET /healthz: the database, the broker and beat; 200 when all are fine, 503 otherwise."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from clinic.models import Heartbeat
from clinic.services import BEAT_HEARTBEAT, heartbeat_record

UNREACHABLE_BROKER = {
    "CELERY_BROKER_URL": "redis://127.0.0.1:1/0",
    "CELERY_BROKER_TRANSPORT_OPTIONS": {},
}


@pytest.mark.django_db
def test_healthz_is_200_when_database_broker_and_beat_are_fine(client):
    heartbeat_record(name=BEAT_HEARTBEAT)

    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert (body["database"], body["broker"], body["beat"]) == ("ok", "ok", "ok")


@pytest.mark.django_db
def test_healthz_is_503_when_the_broker_is_unreachable(client):
    heartbeat_record(name=BEAT_HEARTBEAT)

    with override_settings(**UNREACHABLE_BROKER):
        response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["broker"].startswith("error")
    assert response.json()["database"] == "ok"


@pytest.mark.django_db
def test_healthz_is_503_before_beat_ever_ran(client):
    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["beat"] == "never ran"


@pytest.mark.django_db
def test_healthz_is_503_when_beat_stopped(client):
    Heartbeat.objects.create(
        name=BEAT_HEARTBEAT, last_seen_at=timezone.now() - timedelta(minutes=10)
    )

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["beat"] == "stale"


@pytest.mark.django_db
def test_healthz_needs_no_login_and_shows_no_patient_data(client):
    heartbeat_record(name=BEAT_HEARTBEAT)

    body = client.get("/healthz").json()

    assert set(body) == {
        "status",
        "database",
        "broker",
        "beat",
        "beat_last_seen",
        "reminder_backlog_seconds",
    }


@pytest.mark.django_db
def test_healthz_refuses_other_methods(client):
    assert client.post("/healthz").status_code == 405
