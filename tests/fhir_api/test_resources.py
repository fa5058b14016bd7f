"""Every resource the API returns validates against FHIR R4 with an independent library
(fhir.resources; its R4B models: the release offers R4B, not R4.0.1, and no resource the
API uses differs between the two)."""

import pytest
from fhir.resources.R4B import get_fhir_model_class

from clinic.models import AccessLog

from ..treatments.conftest import open_all_week
from .conftest import ALL_SCOPES

pytestmark = pytest.mark.django_db


def valid(resource: dict) -> dict:
    """The resource, after its R4 model accepted it (raises when not)."""
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return resource


def search_all(fhir_client, path: str) -> list[dict]:
    response = fhir_client.get(path)
    assert response.status_code == 200, response.content
    bundle = valid(response.json())
    return [entry["resource"] for entry in bundle.get("entry", [])]


SEARCHES = [
    "Patient",
    "RelatedPerson",
    "Practitioner",
    "PractitionerRole",
    "Location",
    "HealthcareService",
    "Schedule",
    "Slot?service-type=cryotherapy",
    "Appointment",
    "Condition",
    "Procedure",
    "Media",
]


@pytest.mark.parametrize("path", SEARCHES)
def test_every_search_and_read_returns_valid_r4_resources(clinic, api_client_with, path):
    fhir_client = api_client_with(ALL_SCOPES)
    open_all_week(clinic["dermatologist"])  # free slots, and hours for PractitionerRole

    found = search_all(fhir_client, f"/fhir/{path}")

    assert found, f"{path} found nothing in the test clinic"
    for resource in found:
        read = fhir_client.get(f"/fhir/{resource['resourceType']}/{resource['id']}")
        assert read.status_code == 200, read.content
        assert valid(read.json()) == resource


def test_the_capability_statement_is_valid_and_public(client):
    response = client.get("/fhir/metadata")

    statement = valid(response.json())
    types = {entry["type"]: entry for entry in statement["rest"][0]["resource"]}
    assert response.status_code == 200
    assert set(types) == {path.split("?")[0] for path in SEARCHES}
    assert {i["code"] for i in types["Appointment"]["interaction"]} == {
        "read",
        "search-type",
        "create",
        "update",
    }
    assert {i["code"] for i in types["Condition"]["interaction"]} == {"read", "search-type"}


def test_a_patient_shows_name_birth_date_mrn_and_phone(clinic, fhir_client):
    patient = clinic["patient"]

    resource = fhir_client.get(f"/fhir/Patient/{patient.pk}").json()

    assert resource["name"][0] == {
        "use": "official",
        "family": patient.last_name,
        "given": [patient.first_name],
    }
    assert resource["birthDate"] == patient.date_of_birth.isoformat()
    assert resource["identifier"][0]["value"] == patient.mrn
    assert {"system": "phone", "value": str(patient.phone), "use": "mobile"} in resource["telecom"]


def test_a_lesion_is_a_milia_condition_with_its_body_site(clinic, fhir_client):
    lesion = clinic["lesion"]

    resource = fhir_client.get(f"/fhir/Condition/{lesion.pk}").json()

    assert resource["code"]["coding"][0] == {
        "system": "http://hl7.org/fhir/sid/icd-10-cm",
        "code": "L72.0",
    }
    assert resource["bodySite"][0]["text"] == lesion.get_site_display()
    assert resource["subject"] == {"reference": f"Patient/{lesion.patient_id}"}


def test_a_signed_procedure_names_its_code_site_performer_and_note(clinic, fhir_client):
    procedure = clinic["procedure"]

    resource = fhir_client.get(f"/fhir/Procedure/{procedure.pk}").json()

    assert resource["code"]["coding"] == [
        {"system": "http://www.ama-assn.org/go/cpt", "code": procedure.procedure_code}
    ]
    assert resource["bodySite"][0]["text"] == clinic["lesion"].get_site_display()
    assert (
        resource["performer"][0]["actor"]["reference"]
        == f"Practitioner/{procedure.dermatologist_id}"
    )
    assert resource["note"][0]["text"] == "Tolerated well."


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("Patient/999999", 404),
        ("Patient/not-a-number", 404),
        ("Location/room-999999", 404),
        ("Slot/1-2-3-4", 404),
        ("Observation", 404),
        ("Patient?birthdate=yesterday", 400),
        ("Patient?colour=blue", 400),
        ("Patient?_count=many", 400),
        ("Slot", 400),  # no service-type
        ("Slot?service-type=cryotherapy&status=busy", 400),
        ("Appointment?status=maybe", 400),
        ("Appointment?_include=Appointment:practitioner", 400),
    ],
)
def test_bad_reads_and_searches_answer_an_operation_outcome(clinic, fhir_client, path, status):
    response = fhir_client.get(f"/fhir/{path}")

    assert response.status_code == status
    outcome = valid(response.json())
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["diagnostics"]


def test_reads_of_health_data_are_logged_naming_the_client(clinic, fhir_client):
    patient = clinic["patient"]
    AccessLog.objects.all().delete()

    fhir_client.get(f"/fhir/Condition?patient={patient.pk}")
    fhir_client.get(f"/fhir/Media/{clinic['photo'].pk}")
    fhir_client.get("/fhir/Practitioner")  # about no patient: no row

    rows = list(AccessLog.objects.order_by("id"))
    application = fhir_client.registered.api_client.application
    assert [(row.patient_id, row.client_id, row.action) for row in rows] == [
        (patient.pk, application.pk, "api_read"),
        (patient.pk, application.pk, "api_read"),
    ]
    assert [row.detail for row in rows] == ["FHIR Condition search", "FHIR Media read"]
    assert rows[0].user == application.user


def test_a_media_resource_links_its_photo_for_a_token_that_may_read_media(clinic, api_client_with):
    photo = clinic["photo"]
    reader = api_client_with("system/Media.r")
    other = api_client_with("system/Patient.r", name="Other")
    AccessLog.objects.all().delete()

    media = valid(reader.get(f"/fhir/Media/{photo.pk}").json())
    content = reader.get(f"/fhir/{media['content']['url']}")
    refused = other.get(f"/fhir/{media['content']['url']}")
    missing = reader.get("/fhir/Media/999999/content")

    assert content.status_code == 200
    assert content["Content-Type"] == photo.content_type == media["content"]["contentType"]
    with photo.image.open("rb") as stored:
        assert b"".join(content.streaming_content) == stored.read()
    assert content["Cache-Control"] == "private, no-store"
    assert (
        refused.status_code == 403 and "system/Media.r" in refused.json()["issue"][0]["diagnostics"]
    )
    assert (
        missing.status_code == 404 and valid(missing.json())["resourceType"] == "OperationOutcome"
    )
    rows = AccessLog.objects.order_by("id")
    assert [(row.patient_id, row.detail) for row in rows] == [
        (photo.patient_id, "FHIR Media read"),
        (photo.patient_id, "FHIR Media content"),
    ]
