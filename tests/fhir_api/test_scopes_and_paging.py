"""Scope enforcement per resource and verb, paging with _count and next links,
_include=Appointment:patient, the rate limit, and pinned query counts."""

import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import AccessLog

from ..factories import AppointmentFactory, PatientFactory
from .conftest import FhirClient, token_for

pytestmark = pytest.mark.django_db


# (granted scope, method, path, the status expected): each verb needs its own letter on its
# own resource type; the wildcard covers every type.
SCOPE_TABLE = [
    ("system/Patient.r", "get", "Patient/{patient}", 200),
    ("system/Patient.s", "get", "Patient/{patient}", 403),
    ("system/Patient.s", "get", "Patient", 200),
    ("system/Patient.r", "get", "Patient", 403),
    ("system/Appointment.rs", "get", "Patient/{patient}", 403),
    ("system/Patient.rs", "post", "Patient", 403),
    ("system/Patient.crs", "post", "Patient", 400),  # allowed; the empty body is refused
    ("system/Patient.rs", "put", "Patient/{patient}", 403),
    ("system/Patient.u", "put", "Patient/{patient}", 400),
    ("system/Appointment.rs", "post", "Appointment", 403),
    ("system/Appointment.c", "post", "Appointment", 400),
    ("system/Appointment.r", "put", "Appointment/{appointment}", 403),
    ("system/Appointment.u", "put", "Appointment/{appointment}", 400),
    ("system/Appointment.u", "delete", "Appointment/{appointment}", 405),
    ("system/Slot.s", "get", "Condition", 403),
    ("system/Condition.s", "get", "Condition", 200),
    ("system/Procedure.r", "get", "Condition", 403),
    ("system/*.r", "get", "Condition/999", 404),
    ("system/*.s", "get", "Media", 200),
    ("system/Patient.r", "get", "Patient/{patient}/$everything", 200),
    ("system/Appointment.r", "get", "Patient/{patient}/$everything", 403),
    ("system/Patient.rs", "get", "$export", 403),
    ("system/*.r", "get", "$export", 403),
]


@pytest.mark.parametrize(("scope", "method", "path", "status"), SCOPE_TABLE)
def test_each_verb_needs_its_scope_on_its_resource_type(
    api_client_with, scope, method, path, status
):
    appointment = AppointmentFactory()
    fhir_client = api_client_with(scope)
    url = "/fhir/" + path.format(patient=appointment.patient_id, appointment=appointment.pk)

    if method == "get":
        response = fhir_client.get(url)
    else:
        response = getattr(fhir_client, method)(url, "{}", content_type="application/fhir+json")

    assert response.status_code == status, response.content
    if status == 403:
        assert response.json()["issue"][0]["code"] == "forbidden"


def test_a_token_keeps_only_the_letters_it_asked_for(api_client_with):
    patient = PatientFactory()
    registered = api_client_with("system/Patient.rs").registered
    narrow = token_for(registered.client_id, registered.client_secret, "system/Patient.s")
    fhir_client = FhirClient(narrow["access_token"])

    assert fhir_client.get("/fhir/Patient").status_code == 200
    assert fhir_client.get(f"/fhir/Patient/{patient.pk}").status_code == 403


def test_search_pages_follow_next_links_with_count(fhir_client):
    patients = [PatientFactory(last_name="Paged") for _ in range(5)]

    first = fhir_client.get("/fhir/Patient?family=Paged&_count=2").json()
    seen = [entry["resource"]["id"] for entry in first["entry"]]
    bundle = first
    while next_links := [link for link in bundle["link"] if link["relation"] == "next"]:
        bundle = fhir_client.get(next_links[0]["url"]).json()
        seen += [entry["resource"]["id"] for entry in bundle["entry"]]

    assert first["total"] == 5
    assert len(first["entry"]) == 2
    assert seen == [str(patient.pk) for patient in patients]


def test_count_is_capped_at_one_hundred(fhir_client):
    PatientFactory()
    bundle = fhir_client.get("/fhir/Patient?_count=1000").json()
    next_count = bundle["link"][0]["url"]
    assert "_count=1000" in next_count  # the self link is the request
    assert len(bundle["entry"]) == 1


def test_include_adds_each_appointments_patient_once(fhir_client):
    first = AppointmentFactory()
    AppointmentFactory(
        patient=first.patient,
        dermatologist=first.dermatologist,
        starts_at=first.starts_at + (first.ends_at - first.starts_at) * 2,
    )

    bundle = fhir_client.get("/fhir/Appointment?_include=Appointment:patient").json()

    modes = [
        (entry["resource"]["resourceType"], entry["search"]["mode"]) for entry in bundle["entry"]
    ]
    assert modes == [("Appointment", "match"), ("Appointment", "match"), ("Patient", "include")]
    assert bundle["total"] == 2


def test_the_rate_limit_answers_429_with_retry_after(api_client_with):
    cache.clear()
    fhir_client = api_client_with("system/Practitioner.s", rate_limit_per_minute=3)

    statuses = [fhir_client.get("/fhir/Practitioner").status_code for _ in range(4)]
    refused = fhir_client.get("/fhir/Practitioner")

    assert statuses == [200, 200, 200, 429]
    assert refused.json()["issue"][0]["code"] == "throttled"
    assert 1 <= int(refused["Retry-After"]) <= 60


def test_one_clients_limit_does_not_stop_another(api_client_with):
    cache.clear()
    busy = api_client_with("system/Practitioner.s", name="Busy", rate_limit_per_minute=1)
    calm = api_client_with("system/Practitioner.s", name="Calm", rate_limit_per_minute=1)

    busy.get("/fhir/Practitioner")

    assert busy.get("/fhir/Practitioner").status_code == 429
    assert calm.get("/fhir/Practitioner").status_code == 200


def queries_of(fhir_client, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = fhir_client.get(path)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("rows", [1, 30])
def test_a_patient_search_takes_four_queries_for_one_row_or_many(fhir_client, rows):
    for _ in range(rows):
        PatientFactory(last_name="Counted")
    AccessLog.objects.all().delete()

    # The token with its client and service account; the total; the page; the access log.
    assert queries_of(fhir_client, "/fhir/Patient?family=Counted&_count=100") == 4
    assert AccessLog.objects.count() == rows


@pytest.mark.parametrize("days", [1, 30])
def test_a_slot_search_takes_the_same_queries_for_one_day_or_thirty(
    fhir_client, dermatologist, cryotherapy, treatment_room, tomorrow_at, days
):
    start = tomorrow_at(0).date()
    end = start + timedelta(days=days)
    path = f"/fhir/Slot?service-type=cryotherapy&start=ge{start}&start=lt{end}&_count=100"

    # The token; the procedure type; the search in one statement (working hours, time off,
    # treatment rooms, the appointments by dermatologist and by room). Slots are about no
    # patient: no log.
    assert queries_of(fhir_client, path) == 3


def test_sixty_days_of_free_slots_are_searched_within_two_seconds(
    fhir_client, dermatologist, cryotherapy, treatment_room, tomorrow_at
):
    """The figure in the report: three dermatologists open 08:00-18:00 every day, every
    third slot of the first one booked, sixty days of free cryotherapy slots counted."""
    from ..factories import StaffMemberFactory
    from ..treatments.conftest import open_all_week

    for _ in range(2):
        open_all_week(StaffMemberFactory())
    for day in range(60):
        for hour in (9, 12, 15):
            AppointmentFactory(
                dermatologist=dermatologist,
                procedure_type=cryotherapy,
                room=treatment_room,
                starts_at=tomorrow_at(hour) + timedelta(days=day),
            )
    start = tomorrow_at(0).date()
    path = f"/fhir/Slot?service-type=cryotherapy&status=free&start=ge{start}"
    path += f"&start=lt{start + timedelta(days=60)}"

    began = time.perf_counter()
    bundle = fhir_client.get(path).json()
    took = time.perf_counter() - began

    print(f"Slot?status=free, 60 days: {bundle['total']} slots in {took * 1000:.0f} ms")
    assert bundle["total"] > 60 * 3 * 30
    assert took < 2


def test_a_narrowed_grant_applies_to_tokens_issued_before_it(api_client_with):
    from fhir_api.services import api_client_grant

    patient = PatientFactory()
    fhir_client = api_client_with("system/Patient.rs system/Slot.rs")
    api_client = fhir_client.registered.api_client

    api_client_grant(api_client=api_client, scopes="system/Slot.rs", rate_limit_per_minute=None)

    assert fhir_client.get(f"/fhir/Patient/{patient.pk}").status_code == 403
