"""A database connection lost mid-request: a 503 with a retry hint, never a 500."""

import psycopg
import pytest
from django.db import connection
from django.test import Client

from clinic.views import DATABASE_RETRY_SECONDS

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="a lost connection is a database server's; SQLite is a file in the process",
)


def terminate_the_connection_of_this_process() -> None:
    """The server ends this process's session, as a restart or a failover would."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.fixture
def desk(receptionist_client) -> Client:
    """The receptionist's session, through a client that answers as a server would
    instead of re-raising the view's exception into the test."""
    client = Client(raise_request_exception=False)
    client.cookies = receptionist_client.cookies
    return client


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_page_whose_database_connection_died_answers_503_with_retry_after(desk):
    assert desk.get("/patients/").status_code == 200
    terminate_the_connection_of_this_process()

    response = desk.get("/patients/")

    assert response.status_code == 503
    assert response["Retry-After"] == str(DATABASE_RETRY_SECONDS)
    assert b"database cannot be reached" in response.content
    assert b"Traceback" not in response.content

    connection.close()  # what the next request's connection health check does
    assert desk.get("/patients/").status_code == 200


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_booking_api_answers_a_lost_database_with_json_and_retry_after(desk):
    desk.get("/patients/")
    terminate_the_connection_of_this_process()

    response = desk.post("/api/appointments/", data={}, content_type="application/json")

    assert response.status_code == 503
    assert response["Retry-After"] == str(DATABASE_RETRY_SECONDS)
    assert "database cannot be reached" in response.json()["error"]
    connection.close()
