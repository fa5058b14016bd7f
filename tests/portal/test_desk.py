"""The desk sees the patients who registered online and clears the mark once checked."""

import pytest
from django.urls import reverse

from ..factories import PatientFactory

pytestmark = pytest.mark.django_db
MARK = "Registered online, to verify"


def test_the_home_page_lists_the_patients_registered_online_for_the_desk(
    receptionist_client, dermatologist_client
):
    online = PatientFactory(last_name="Online", registered_online=True)
    PatientFactory(last_name="Atthedesk")

    desk = receptionist_client.get(reverse("treatments:home")).content.decode()
    clinician = dermatologist_client.get(reverse("treatments:home")).content.decode()

    assert MARK in desk and reverse("treatments:patient_detail", args=[online.pk]) in desk
    assert "Atthedesk" not in desk
    assert MARK not in clinician


def test_the_patient_search_marks_the_patients_registered_online(receptionist_client):
    PatientFactory(last_name="Online", registered_online=True)
    PatientFactory(last_name="Onlineno")

    page = receptionist_client.get(reverse("treatments:patient_search"), {"q": "Online"})

    assert page.content.decode().count(MARK) == 1


def test_the_desk_clears_the_mark_in_the_record(receptionist_client):
    patient = PatientFactory(registered_online=True)
    form = receptionist_client.get(reverse("treatments:patient_edit", args=[patient.pk]))
    data = {
        name: value
        for name, value in form.context["form"].initial.items()
        if value is not None and name != "registered_online"
    }
    data["seen_at"] = patient.updated_at.isoformat()

    response = receptionist_client.post(reverse("treatments:patient_edit", args=[patient.pk]), data)

    assert response.status_code == 302, response.content.decode()[:3000]
    patient.refresh_from_db()
    assert not patient.registered_online
    assert patient.history.first().history_user == receptionist_client.staff_member.user
