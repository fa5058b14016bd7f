"""The manager registers a client in the admin, sees its secret once, and changes its grant."""

import pytest

from fhir_api.models import ApiClient
from fhir_api.services import DEMO_CLIENT_ID, api_client_register

from .conftest import token_for

pytestmark = pytest.mark.django_db


def test_the_manager_registers_a_client_and_is_shown_its_secret_once(manager_client):
    response = manager_client.post(
        "/admin/fhir_api/apiclient/add/",
        {"name": "Referral portal", "granted_scopes": "system/Slot.rs system/Appointment.c"},
        follow=True,
    )

    api_client = ApiClient.objects.get()
    [message] = [str(m) for m in response.context["messages"] if "secret" in str(m)]
    secret = message.split("secret ")[1].split(" ")[0]
    token = token_for(api_client.application.client_id, secret)
    assert response.status_code == 200
    assert token["status"] == 200
    assert set(token["scope"].split()) == {"system/Slot.rs", "system/Appointment.c"}
    assert api_client.application.user.username == "api-referral-portal"
    assert not api_client.application.user.is_active


def test_a_scope_the_api_does_not_know_is_refused_in_the_admin(manager_client):
    response = manager_client.post(
        "/admin/fhir_api/apiclient/add/",
        {"name": "Portal", "granted_scopes": "system/Patient.rs patient/Observation.read"},
    )

    assert response.status_code == 200
    assert "Not a scope of this API" in response.content.decode()
    assert not ApiClient.objects.exists()


def test_the_manager_narrows_a_grant_and_new_tokens_follow_it(manager_client):
    new = api_client_register(name="Portal", scopes="system/Patient.rs system/Slot.rs")

    manager_client.post(
        f"/admin/fhir_api/apiclient/{new.api_client.pk}/change/",
        {"granted_scopes": "system/Slot.rs", "rate_limit_per_minute": "10"},
    )

    token = token_for(new.client_id, new.client_secret)
    assert token["scope"] == "system/Slot.rs"
    assert ApiClient.objects.get().rate_limit_per_minute == 10


def test_a_receptionist_has_no_api_client_admin(receptionist_client):
    assert receptionist_client.get("/admin/fhir_api/apiclient/").status_code in (302, 403)


def test_seed_demo_creates_the_demo_client_once_and_prints_it(capsys):
    from django.core.management import call_command

    call_command("seed_demo")
    call_command("seed_demo")

    assert ApiClient.objects.filter(application__client_id=DEMO_CLIENT_ID).count() == 1
    assert f"Demo FHIR API client: id {DEMO_CLIENT_ID}" in capsys.readouterr().out


def test_fhir_client_create_prints_an_id_and_secret_that_get_a_token(capsys):
    from django.core.management import call_command

    call_command("fhir_client_create", "--name", "Billing", "--scopes", "system/Appointment.rs")

    printed = dict(
        line.split("=", 1) for line in capsys.readouterr().out.splitlines() if "=" in line
    )
    token = token_for(printed["client_id"], printed["client_secret"])
    assert token["status"] == 200 and token["scope"] == "system/Appointment.rs"


def test_fhir_client_create_refuses_an_unknown_scope():
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="Not a scope of this API"):
        call_command("fhir_client_create", "--name", "Billing", "--scopes", "user/*.*")
    assert not ApiClient.objects.exists()
