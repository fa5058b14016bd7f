"""Against the live server: a client written with an existing FHIR client library (fhirpy)
books, sees its slot leave `Slot?status=free` and gets a 409 OperationOutcome booking that
time again; twenty concurrent bookings of one slot give one appointment and nineteen 409s."""

import threading

import pytest
import requests
from django.db import connection
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import OperationOutcome

from fhir_api.services import api_client_register
from treatments.models import Appointment

from ..factories import PatientFactory

# Every call to the live server gives up after this long rather than hang the run.
TIMEOUT = 30
THREADS = 20
live = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def token(live_server, scopes: str) -> str:
    new = api_client_register(name="Patient app", scopes=scopes)
    response = requests.post(
        f"{live_server.url}/fhir/auth/token",
        data={"grant_type": "client_credentials"},
        auth=(new.client_id, new.client_secret),
        timeout=TIMEOUT,
    )
    response.raise_for_status()
    return response.json()["access_token"]


def fhirpy_client(live_server, access_token: str) -> SyncFHIRClient:
    return SyncFHIRClient(
        f"{live_server.url}/fhir",
        authorization=f"Bearer {access_token}",
        requests_config={"timeout": TIMEOUT},
    )


def free_slots(client: SyncFHIRClient, day) -> list:
    return (
        client.resources("Slot")
        .search(service_type="cryotherapy", status="free", start__ge=str(day))
        .search(start=f"lt{day.fromordinal(day.toordinal() + 1)}")
        .limit(100)
        .fetch()
    )


@live
def test_fhirpy_books_a_slot_sees_it_taken_and_gets_409_booking_it_again(
    live_server, dermatologist, cryotherapy, treatment_room, tomorrow_at
):
    client = fhirpy_client(live_server, token(live_server, "system/Slot.rs system/Appointment.crs"))
    day = tomorrow_at(0).date()
    patient = PatientFactory()
    slots = free_slots(client, day)
    slot = slots[0]

    appointment = client.resource(
        "Appointment",
        status="booked",
        slot=[{"reference": f"Slot/{slot.id}"}],
        participant=[{"actor": {"reference": f"Patient/{patient.pk}"}, "status": "accepted"}],
    )
    appointment.save()

    assert appointment.id == str(Appointment.objects.get().pk)
    assert slot.id not in [free.id for free in free_slots(client, day)]
    again = client.resource(
        "Appointment",
        status="booked",
        slot=[{"reference": f"Slot/{slot.id}"}],
        participant=[
            {"actor": {"reference": f"Patient/{PatientFactory().pk}"}, "status": "accepted"}
        ],
    )
    with pytest.raises(OperationOutcome) as refused:
        again.save()
    assert refused.value.resource["issue"][0]["code"] == "conflict"
    assert Appointment.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="concurrent writers meet in PostgreSQL's exclusion constraint; SQLite serialises "
    "writers, which the booking service's own twenty-thread tests cover",
)
@live
def test_twenty_concurrent_fhir_bookings_of_one_slot_make_one_appointment(
    live_server, dermatologist, cryotherapy, treatment_room, tomorrow_at
):
    access_token = token(live_server, "system/Slot.rs system/Appointment.crs")
    patients = [PatientFactory() for _ in range(THREADS)]
    slot_id = f"{dermatologist.pk}-{cryotherapy.pk}-{int(tomorrow_at(10).timestamp())}"
    barrier = threading.Barrier(THREADS)
    statuses: list[int] = [0] * THREADS

    def book(index: int) -> None:
        body = {
            "resourceType": "Appointment",
            "slot": [{"reference": f"Slot/{slot_id}"}],
            "participant": [{"actor": {"reference": f"Patient/{patients[index].pk}"}}],
        }
        barrier.wait()
        statuses[index] = requests.post(
            f"{live_server.url}/fhir/Appointment",
            json=body,
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=TIMEOUT,
        ).status_code

    threads = [threading.Thread(target=book, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT * 2)

    assert sorted(statuses) == [201] + [409] * (THREADS - 1)
    assert Appointment.objects.count() == 1
