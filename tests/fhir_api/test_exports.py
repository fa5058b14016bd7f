"""Exports: a patient's whole record (`$everything`, their right of access) and the
clinic-wide Bulk Data `$export`, written as NDJSON by a real Celery worker, polled,
downloaded by the client or the manager, and access-logged."""

import json
import time
from datetime import UTC, datetime

import pytest
import time_machine
from django.test import override_settings

from clinic.models import AccessLog
from fhir_api.models import BulkExport
from fhir_api.services import bulk_export_request, bulk_export_run

from ..factories import GuardianFactory, PatientFactory, UserFactory
from ..treatments.services.test_reminders import at
from .test_resources import valid

pytestmark = pytest.mark.django_db


def test_everything_is_the_patients_record_of_the_types_the_token_may_read(
    clinic,
    api_client_with,
):
    patient = clinic["patient"]
    PatientFactory()  # another patient's record is not in it
    reader = api_client_with("system/Patient.r system/Condition.r system/Procedure.r")
    AccessLog.objects.all().delete()

    response = reader.get(f"/fhir/Patient/{patient.pk}/$everything")

    bundle = valid(response.json())
    kinds = [entry["resource"]["resourceType"] for entry in bundle["entry"]]
    assert kinds == ["Patient", "Condition", "Procedure"]
    assert all(
        entry["resource"].get("subject", {"reference": f"Patient/{patient.pk}"})
        == {"reference": f"Patient/{patient.pk}"}
        for entry in bundle["entry"]
    )
    [row] = AccessLog.objects.all()
    assert (row.patient_id, row.action, row.client_id) == (
        patient.pk,
        "export",
        reader.registered.api_client.application.pk,
    )


def test_everything_of_a_missing_patient_is_404(fhir_client):
    assert fhir_client.get("/fhir/Patient/999999/$everything").status_code == 404


@pytest.fixture
def export_root(tmp_path, monkeypatch):
    """Exports in a folder of this test, for this process and the worker it starts."""
    monkeypatch.setenv("FHIR_EXPORT_ROOT", str(tmp_path))
    with override_settings(FHIR_EXPORT_ROOT=tmp_path):
        yield tmp_path


def wait_for_manifest(fhir_client, status_url: str, worker) -> dict:
    deadline = time.monotonic() + 60
    while True:
        response = fhir_client.get(status_url)
        if response.status_code == 200:
            return response.json()
        assert response.status_code == 202, response.content
        assert worker.poll() is None, worker.stdout.read()
        assert time.monotonic() < deadline, "the worker did not write the export within 60 s"
        time.sleep(0.3)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_bulk_export_is_written_by_the_worker_and_downloaded_as_ndjson(
    export_root,
    api_client_with,
    celery_worker_process,
):
    patients = [PatientFactory() for _ in range(3)]
    exporter = api_client_with("system/*.rs")
    AccessLog.objects.all().delete()

    kick_off = exporter.get("/fhir/$export", HTTP_PREFER="respond-async")
    manifest = wait_for_manifest(exporter, kick_off["Content-Location"], celery_worker_process)

    assert kick_off.status_code == 202
    outputs = {item["type"]: item for item in manifest["output"]}
    assert outputs["Patient"]["count"] == 3
    download = exporter.get(outputs["Patient"]["url"])
    lines = b"".join(download.streaming_content).decode().splitlines()
    assert download["Content-Type"] == "application/fhir+ndjson"
    assert sorted(int(valid(json.loads(line))["id"]) for line in lines) == sorted(
        patient.pk for patient in patients
    )
    logged = AccessLog.objects.filter(action="export")
    assert sorted(logged.values_list("patient_id", flat=True)) == sorted(p.pk for p in patients)
    assert {row.client_id for row in logged} == {exporter.registered.api_client.application.pk}


def test_the_export_task_writes_an_export_once(export_root):
    PatientFactory()
    export = bulk_export_request(requested_by=UserFactory(), client=None, request_url="admin")

    first = bulk_export_run(export_id=str(export.pk))
    second = bulk_export_run(export_id=str(export.pk))

    assert first.status == BulkExport.Status.COMPLETED
    assert second is None
    assert (export_root / str(export.pk) / "Patient.ndjson").read_text().count("\n") == 1


def test_another_clients_export_is_not_found(export_root, api_client_with):
    owner = api_client_with("system/*.rs", name="Owner")
    other = api_client_with("system/*.rs", name="Other")
    export = bulk_export_request(
        requested_by=UserFactory(),
        client=owner.registered.api_client.application,
        request_url="x",
    )
    bulk_export_run(export_id=str(export.pk))

    assert owner.get(f"/fhir/$export-status/{export.pk}").status_code == 200
    assert other.get(f"/fhir/$export-status/{export.pk}").status_code == 404
    assert other.get(f"/fhir/$export-file/{export.pk}/Patient.ndjson").status_code == 404


def test_the_manager_downloads_an_export_from_the_admin_and_it_is_logged(
    export_root, manager_client
):
    patient = PatientFactory()
    export = bulk_export_request(
        requested_by=manager_client.staff_member.user, client=None, request_url="admin"
    )
    bulk_export_run(export_id=str(export.pk))
    page = manager_client.get(f"/admin/fhir_api/bulkexport/{export.pk}/change/")
    AccessLog.objects.all().delete()

    download = manager_client.get(f"/fhir/exports/{export.pk}/Patient.ndjson")

    assert f"/fhir/exports/{export.pk}/Patient.ndjson" in page.content.decode()
    assert download.status_code == 200
    assert json.loads(b"".join(download.streaming_content))["id"] == str(patient.pk)
    assert list(AccessLog.objects.values_list("patient_id", "action")) == [(patient.pk, "export")]


def test_a_receptionist_cannot_download_an_export(export_root, receptionist_client):
    export = bulk_export_request(requested_by=UserFactory(), client=None, request_url="admin")
    bulk_export_run(export_id=str(export.pk))

    assert receptionist_client.get(f"/fhir/exports/{export.pk}/Patient.ndjson").status_code == 403


def test_an_export_of_some_types_changed_since_a_moment_holds_just_those(export_root):
    with time_machine.travel(at(2026, 5, 4, 9, 0), tick=False):
        unchanged = PatientFactory()
        guardian = GuardianFactory(patient=unchanged)  # no last-updated time: exported whole
        edited = PatientFactory()
    with time_machine.travel(at(2026, 5, 6, 9, 0), tick=False):
        edited.phone = "+12125550123"
        edited.save()
        added = PatientFactory()
    since = at(2026, 5, 5, 9, 0)
    export = bulk_export_request(
        requested_by=UserFactory(),
        client=None,
        request_url="x",
        types=["Patient", "RelatedPerson"],
        since=since,
    )

    done = bulk_export_run(export_id=str(export.pk))

    assert [item["type"] for item in done.files] == ["Patient", "RelatedPerson"]
    ids = {
        item["type"]: [
            int(json.loads(line)["id"])
            for line in (export_root / str(export.pk) / item["name"]).read_text().splitlines()
        ]
        for item in done.files
    }
    assert ids == {"Patient": [edited.pk, added.pk], "RelatedPerson": [guardian.pk]}
    # The downloads' access log: the patients whose data the files hold, no other.
    assert done.patient_ids == sorted([unchanged.pk, edited.pk, added.pk])


def test_the_kick_off_takes_type_and_since_and_refuses_what_it_cannot_honour(
    export_root, api_client_with
):
    exporter = api_client_with("system/*.rs")

    accepted = exporter.get(
        "/fhir/$export",
        {"_type": "Patient,Appointment", "_since": "2026-05-05T09:00:00Z"},
        HTTP_PREFER="respond-async",
    )
    unknown_type = exporter.get("/fhir/$export", {"_type": "Observation"})
    naive_since = exporter.get("/fhir/$export", {"_since": "2026-05-05T09:00:00"})
    type_filter = exporter.get("/fhir/$export", {"_typeFilter": "Patient?active=true"})

    assert accepted.status_code == 202
    export = BulkExport.objects.get()
    assert export.types == ["Patient", "Appointment"]
    assert export.since == datetime(2026, 5, 5, 9, 0, tzinfo=UTC)
    refusals = [unknown_type, naive_since, type_filter]
    assert [response.status_code for response in refusals] == [400, 400, 400]
    assert [valid(response.json())["resourceType"] for response in refusals] == [
        "OperationOutcome"
    ] * 3
    texts = [response.json()["issue"][0]["diagnostics"] for response in refusals]
    assert "no Observation" in texts[0]
    assert "_since must be a FHIR instant with a time zone" in texts[1]
    assert "_typeFilter" in texts[2]
    assert BulkExport.objects.count() == 1
