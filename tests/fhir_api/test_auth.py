"""Tokens and scopes: client credentials only, at most the granted scopes, every view
checks the token (401) and the scope of its resource and interaction (403)."""

import pytest

from fhir_api.services import api_client_register

from ..factories import PatientFactory
from .conftest import token_for

pytestmark = pytest.mark.django_db


def test_a_client_gets_an_expiring_token_with_its_granted_scopes():
    new = api_client_register(name="Referrals", scopes="system/Patient.rs system/Slot.rs")

    token = token_for(new.client_id, new.client_secret)

    assert token["status"] == 200
    assert token["token_type"] == "Bearer"
    assert 0 < token["expires_in"] <= 3600
    assert set(token["scope"].split()) == {"system/Patient.rs", "system/Slot.rs"}


def test_a_client_may_ask_for_fewer_letters_but_never_more():
    new = api_client_register(name="Referrals", scopes="system/Patient.rs")

    fewer = token_for(new.client_id, new.client_secret, "system/Patient.r")
    more = token_for(new.client_id, new.client_secret, "system/Patient.crs")
    other = token_for(new.client_id, new.client_secret, "system/Appointment.r")

    assert fewer["status"] == 200 and fewer["scope"] == "system/Patient.r"
    assert more["status"] == 400 and more["error"] == "invalid_scope"
    assert other["status"] == 400 and other["error"] == "invalid_scope"


def test_a_wrong_secret_gets_no_token():
    new = api_client_register(name="Referrals", scopes="system/Patient.rs")

    assert token_for(new.client_id, "not-the-secret")["status"] == 401


def test_the_password_grant_is_refused():
    new = api_client_register(name="Referrals", scopes="system/Patient.rs")
    from django.test import Client

    response = Client().post(
        "/fhir/auth/token",
        {
            "grant_type": "password",
            "username": "x",
            "password": "y",
            "client_id": new.client_id,
            "client_secret": new.client_secret,
        },
    )
    assert response.status_code in (400, 401)
    assert "access_token" not in response.json()


def test_without_a_token_the_api_answers_401_with_an_operation_outcome(client):
    patient = PatientFactory()

    response = client.get(f"/fhir/Patient/{patient.pk}")

    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/fhir+json")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["resourceType"] == "OperationOutcome"
    assert response.json()["issue"][0]["code"] == "login"


def test_a_made_up_token_is_401(client):
    response = client.get("/fhir/Patient", HTTP_AUTHORIZATION="Bearer made-up")
    assert response.status_code == 401
