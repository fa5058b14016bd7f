"""Writes through the clinic's services: booking (from a slot or a start), cancelling and
moving by update, registering and changing a patient. Bad input is a 400 with an
OperationOutcome, a taken time a 409, a stale version a 412; never a 500, never half."""

import pytest

from patients.models import Patient
from treatments.models import Appointment, AppointmentEvent

from ..factories import PatientFactory

pytestmark = pytest.mark.django_db


def a_free_slot(fhir_client, tomorrow_at, hour=9):
    start = tomorrow_at(hour).isoformat()
    bundle = fhir_client.get(
        "/fhir/Slot", {"service-type": "cryotherapy", "start": f"ge{start}", "_count": "1"}
    ).json()
    return bundle["entry"][0]["resource"]


def booking(patient, slot):
    return {
        "resourceType": "Appointment",
        "status": "booked",
        "slot": [{"reference": f"Slot/{slot['id']}"}],
        "participant": [{"actor": {"reference": f"Patient/{patient.pk}"}, "status": "accepted"}],
    }


@pytest.fixture
def bookable(dermatologist, cryotherapy, treatment_room):
    return dermatologist


def test_an_appointment_is_booked_from_a_slot_by_the_booking_service(
    fhir_client, bookable, tomorrow_at
):
    patient = PatientFactory()
    slot = a_free_slot(fhir_client, tomorrow_at)

    response = fhir_client.post_json("/fhir/Appointment", booking(patient, slot))

    assert response.status_code == 201, response.content
    appointment = Appointment.objects.get()
    assert response["Location"].endswith(f"/fhir/Appointment/{appointment.pk}")
    assert response.json()["start"] == slot["start"]
    assert appointment.patient == patient and appointment.dermatologist == bookable
    assert appointment.created_by == fhir_client.registered.api_client.application.user
    assert AppointmentEvent.objects.get().actor.username == "api-billing-service"


def test_a_second_booking_of_that_time_is_409_and_writes_nothing(
    fhir_client, bookable, tomorrow_at
):
    slot = a_free_slot(fhir_client, tomorrow_at)
    fhir_client.post_json("/fhir/Appointment", booking(PatientFactory(), slot))

    second = fhir_client.post_json("/fhir/Appointment", booking(PatientFactory(), slot))

    assert second.status_code == 409
    assert second.json()["resourceType"] == "OperationOutcome"
    assert second.json()["issue"][0]["code"] == "conflict"
    assert Appointment.objects.count() == 1


def test_an_appointment_is_booked_from_a_start_practitioner_and_service_type(
    fhir_client, bookable, tomorrow_at
):
    patient = PatientFactory()
    body = {
        "resourceType": "Appointment",
        "status": "booked",
        "start": tomorrow_at(10).isoformat(),
        "serviceType": [
            {
                "coding": [
                    {
                        "system": "http://127.0.0.1:8000/fhir/sid/procedure-type",
                        "code": "cryotherapy",
                    }
                ]
            }
        ],
        "participant": [
            {"actor": {"reference": f"Patient/{patient.pk}"}, "status": "accepted"},
            {"actor": {"reference": f"Practitioner/{bookable.pk}"}, "status": "accepted"},
        ],
    }

    response = fhir_client.post_json("/fhir/Appointment", body)

    assert response.status_code == 201, response.content
    assert Appointment.objects.get().starts_at == tomorrow_at(10)


BAD_BOOKINGS = [
    "not json",
    {"resourceType": "Patient"},
    {"resourceType": "Appointment", "participant": []},
    {"resourceType": "Appointment", "participant": "everyone"},
    {"resourceType": "Appointment", "slot": [{"reference": "Slot/1-2"}], "participant": "x"},
    {"resourceType": "Appointment", "start": "tomorrow", "participant": [{"actor": 1}]},
    {"resourceType": "Appointment", "start": 7, "participant": [{"actor": {"reference": 5}}]},
]


@pytest.mark.parametrize("body", BAD_BOOKINGS, ids=range(len(BAD_BOOKINGS)))
def test_bad_bookings_are_400_with_an_operation_outcome(fhir_client, bookable, body):
    PatientFactory()
    response = fhir_client.post(
        "/fhir/Appointment",
        body if isinstance(body, str) else __import__("json").dumps(body),
        content_type="application/fhir+json",
    )

    assert response.status_code == 400, response.content
    assert response.json()["resourceType"] == "OperationOutcome"
    assert Appointment.objects.count() == 0


def test_a_booking_outside_working_hours_is_400(fhir_client, bookable, tomorrow_at):
    patient = PatientFactory()
    body = booking(patient, {"id": f"{bookable.pk}-1-0"})  # 1970: long past

    response = fhir_client.post_json("/fhir/Appointment", body)

    assert response.status_code == 400
    assert Appointment.objects.count() == 0


def booked(fhir_client, tomorrow_at, hour=9):
    slot = a_free_slot(fhir_client, tomorrow_at, hour)
    return fhir_client.post_json("/fhir/Appointment", booking(PatientFactory(), slot)).json()


def test_an_update_with_status_cancelled_cancels_through_the_service(
    fhir_client, bookable, tomorrow_at
):
    resource = booked(fhir_client, tomorrow_at)

    response = fhir_client.put_json(
        f"/fhir/Appointment/{resource['id']}",
        resource | {"status": "cancelled", "cancelationReason": {"text": "Patient is ill"}},
    )

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    appointment = Appointment.objects.get()
    assert appointment.status == "cancelled" and appointment.cancellation_reason == "Patient is ill"


def test_an_update_with_a_new_start_reschedules(fhir_client, bookable, tomorrow_at):
    resource = booked(fhir_client, tomorrow_at)

    response = fhir_client.put_json(
        f"/fhir/Appointment/{resource['id']}", resource | {"start": tomorrow_at(14).isoformat()}
    )

    assert response.status_code == 200, response.content
    assert Appointment.objects.get().starts_at == tomorrow_at(14)
    assert AppointmentEvent.objects.filter(action="rescheduled").count() == 1


def test_moving_onto_a_taken_time_is_409(fhir_client, bookable, tomorrow_at):
    first = booked(fhir_client, tomorrow_at, 9)
    second = booked(fhir_client, tomorrow_at, 11)

    response = fhir_client.put_json(
        f"/fhir/Appointment/{second['id']}", second | {"start": first["start"]}
    )

    assert response.status_code == 409
    assert Appointment.objects.get(pk=second["id"]).starts_at == tomorrow_at(11)


def test_an_update_of_a_stale_version_is_412(fhir_client, bookable, tomorrow_at):
    resource = booked(fhir_client, tomorrow_at)
    fhir_client.put_json(
        f"/fhir/Appointment/{resource['id']}", resource | {"start": tomorrow_at(15).isoformat()}
    )

    response = fhir_client.put_json(
        f"/fhir/Appointment/{resource['id']}",
        resource | {"status": "cancelled"},
        HTTP_IF_MATCH=f'W/"{resource["meta"]["versionId"]}"',
    )

    assert response.status_code == 412
    assert Appointment.objects.get().status == "booked"


PATIENT = {
    "resourceType": "Patient",
    "name": [{"family": "Okafor", "given": ["Adaeze"]}],
    "birthDate": "1984-05-17",
    "gender": "female",
    "telecom": [
        {"system": "phone", "value": "+12125550123"},
        {"system": "email", "value": "a@example.org"},
    ],
}


def test_a_patient_is_registered_through_the_service_with_an_mrn(fhir_client):
    response = fhir_client.post_json("/fhir/Patient", PATIENT)

    assert response.status_code == 201, response.content
    patient = Patient.objects.get()
    assert response.json()["identifier"][0]["value"] == patient.mrn
    assert (patient.first_name, patient.last_name, str(patient.phone)) == (
        "Adaeze",
        "Okafor",
        "+12125550123",
    )
    assert patient.history.get().history_user.username == "api-billing-service"


def test_registering_the_same_patient_twice_is_409(fhir_client):
    fhir_client.post_json("/fhir/Patient", PATIENT)

    again = fhir_client.post_json("/fhir/Patient", PATIENT)

    assert again.status_code == 409
    assert Patient.objects.count() == 1


@pytest.mark.parametrize(
    "change",
    [
        {"birthDate": "not a date"},
        {"gender": "robot"},
        {"name": [{"family": "", "given": [""]}]},
        {"telecom": [{"system": "phone", "value": "call me"}]},
        {"birthDate": "2020-01-01"},  # a minor: the desk adds the guardian first
    ],
)
def test_an_invalid_patient_is_400_and_writes_nothing(fhir_client, change):
    response = fhir_client.post_json("/fhir/Patient", PATIENT | change)

    assert response.status_code == 400, response.content
    assert response.json()["issue"][0]["diagnostics"]
    assert Patient.objects.count() == 0


def test_a_patient_update_changes_the_record_and_keeps_its_history(fhir_client):
    created = fhir_client.post_json("/fhir/Patient", PATIENT).json()

    response = fhir_client.put_json(
        f"/fhir/Patient/{created['id']}",
        created | {"name": [{"family": "Okafor-Bello", "given": ["Adaeze"]}]},
        HTTP_IF_MATCH=f'W/"{created["meta"]["versionId"]}"',
    )

    assert response.status_code == 200, response.content
    assert Patient.objects.get().last_name == "Okafor-Bello"
    assert Patient.history.count() == 2


def test_a_patient_update_of_a_stale_version_is_412(fhir_client):
    created = fhir_client.post_json("/fhir/Patient", PATIENT).json()
    fhir_client.put_json(f"/fhir/Patient/{created['id']}", created | {"gender": "unknown"})

    response = fhir_client.put_json(
        f"/fhir/Patient/{created['id']}",
        created | {"gender": "male"},
        HTTP_IF_MATCH=f'W/"{created["meta"]["versionId"]}"',
    )

    assert response.status_code == 412
    assert Patient.objects.get().sex == "unknown"
