"""A minor's messages and pages are read by the guardian who receives the reminders: in
the guardian's language when the desk has set one, else in the patient's."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from clinic.links import Action, link_token
from clinic.models import Reminder
from clinic.outbox import reminder_plan
from patients.selectors import patient_reader_language

from ..factories import GuardianFactory, PatientFactory

pytestmark = pytest.mark.django_db


def planned_for(patient) -> Reminder:
    return reminder_plan(
        patient=patient,
        kind=Reminder.Kind.AFTERCARE,
        source_key="procedure:1",
        key="procedure:1:aftercare",
        send_at=timezone.now() + timedelta(hours=1),
        context={},
    )


def test_a_minors_reminders_are_in_the_receiving_guardians_language():
    guardian = GuardianFactory(language="es", patient__language="en")
    assert planned_for(guardian.patient).language == "es"


def test_a_guardian_without_a_language_of_their_own_reads_the_patients():
    guardian = GuardianFactory(language="", patient__language="fr")
    assert planned_for(guardian.patient).language == "fr"


def test_only_the_guardian_who_receives_the_reminders_counts():
    receiving = GuardianFactory(language="fr", patient__language="en")
    GuardianFactory(patient=receiving.patient, language="es", receives_reminders=False)
    assert planned_for(receiving.patient).language == "fr"


def test_an_adult_reads_their_own_language_at_no_cost(django_assert_num_queries):
    patient = PatientFactory(language="fr")
    with django_assert_num_queries(0):
        assert patient_reader_language(patient) == "fr"


def test_a_minors_link_page_is_in_the_guardians_language(client):
    guardian = GuardianFactory(language="es", patient__language="en")
    token = link_token(action=Action.STOP, subject_id=guardian.patient.pk)

    page = client.get(reverse("treatments:patient_link", args=[token])).content.decode()

    assert '<html lang="es"' in page


def test_the_desk_sets_a_guardians_language(receptionist_client):
    guardian = GuardianFactory()
    response = receptionist_client.post(
        reverse("treatments:guardian_edit", args=[guardian.pk]),
        {
            "first_name": guardian.first_name,
            "last_name": guardian.last_name,
            "relationship": guardian.relationship,
            "email": guardian.email,
            "phone": "",
            "language": "es",
        },
    )
    assert response.status_code == 302
    guardian.refresh_from_db()
    assert guardian.language == "es"
    assert guardian.history.latest("history_date").language == "es"
