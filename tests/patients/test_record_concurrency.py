"""Two desks changing one record at the same moment: one change after the other, or a
409 with a message; never a 500, never two guardians receiving the reminders."""

import threading
from datetime import date

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from clinic.models import StaffMember
from patients.models import Guardian, Patient

from ..factories import GuardianFactory, PatientFactory, StaffMemberFactory
from .test_record_views import form_data

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def desks(count: int) -> list[Client]:
    clients = []
    for _ in range(count):
        client = Client()
        client.force_login(StaffMemberFactory(role=StaffMember.Role.RECEPTIONIST).user)
        clients.append(client)
    return clients


def post_together(posts: list[tuple[Client, str, dict]]) -> list:
    """Each (client, url, data) POSTed from its own thread (and database connection) at once."""
    barrier = threading.Barrier(len(posts))
    outcomes: list = [None] * len(posts)

    def run(index: int) -> None:
        client, url, data = posts[index]
        try:
            barrier.wait()
            outcomes[index] = client.post(url, data).status_code
        except Exception as error:  # collected and asserted on below
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(posts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_two_desks_switching_the_recipient_at_once_leave_exactly_one():
    minor = PatientFactory(date_of_birth=date(2020, 1, 1), phone="")
    guardians = [
        GuardianFactory(patient=minor, receives_reminders=index == 0) for index in range(3)
    ]
    first, second = desks(2)
    outcomes = post_together(
        [
            (first, reverse("treatments:guardian_make_recipient", args=[guardians[1].pk]), {}),
            (second, reverse("treatments:guardian_make_recipient", args=[guardians[2].pk]), {}),
        ]
    )
    assert all(outcome in (302, 409) for outcome in outcomes), outcomes
    recipients = Guardian.objects.filter(patient=minor, receives_reminders=True)
    assert recipients.count() == 1
    assert recipients.get() in guardians[1:]


def test_two_desks_saving_the_same_version_at_once_save_one_and_refuse_the_other():
    patient = PatientFactory(reminder_consent=False)
    first, second = desks(2)
    url = reverse("treatments:patient_edit", args=[patient.pk])
    outcomes = post_together(
        [
            (first, url, form_data(patient, city="Springfield")),
            (second, url, form_data(patient, city="Shelbyville")),
        ]
    )
    assert sorted(outcomes, key=str) == [302, 409], outcomes
    assert Patient.objects.get(pk=patient.pk).city in ("Springfield", "Shelbyville")
