import base64
import json

import pytest
from django.test import Client

from fhir_api.services import api_client_register

# Fixtures of other folders: the booking tests' clinic hours, the access matrix's small
# clinic (a patient with a signed record, a lesion and a photo), a real Celery worker.
from ..clinic.test_access_matrix import clinic, private_media  # noqa: F401
from ..clinic.test_celery import celery_worker_process  # noqa: F401
from ..treatments.conftest import cryotherapy, dermatologist, tomorrow_at, treatment_room  # noqa: F401

ALL_SCOPES = "system/*.cruds"


def token_for(client_id: str, secret: str, scope: str = "") -> dict:
    """A token from the token endpoint, by the client-credentials grant (HTTP Basic)."""
    credentials = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    data = {"grant_type": "client_credentials"} | ({"scope": scope} if scope else {})
    response = Client().post("/fhir/auth/token", data, HTTP_AUTHORIZATION=f"Basic {credentials}")
    return {"status": response.status_code, **json.loads(response.content)}


class FhirClient(Client):
    """A Django test client that sends a bearer token and FHIR JSON."""

    def __init__(self, token: str, new_client=None):
        super().__init__(HTTP_AUTHORIZATION=f"Bearer {token}")
        self.registered = new_client

    def put_json(self, path, body, **extra):
        return self.put(path, json.dumps(body), content_type="application/fhir+json", **extra)

    def post_json(self, path, body, **extra):
        return self.post(path, json.dumps(body), content_type="application/fhir+json", **extra)


@pytest.fixture
def api_client_with(db):
    """A registered client granted `scopes`, holding a token for them."""

    def make(scopes: str = ALL_SCOPES, *, name: str = "Billing service", **options):
        new = api_client_register(name=name, scopes=scopes, **options)
        token = token_for(new.client_id, new.client_secret)
        assert token["status"] == 200, token
        return FhirClient(token["access_token"], new)

    return make


@pytest.fixture
def fhir_client(api_client_with):
    return api_client_with()
