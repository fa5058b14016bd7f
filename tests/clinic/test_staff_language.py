"""Staff pages in the language the manager set for each staff member."""

import pytest
from django.test import Client
from django.urls import reverse

from clinic.links import Action, link_token

from ..factories import PatientFactory, StaffMemberFactory

pytestmark = pytest.mark.django_db


def test_a_staff_member_set_to_spanish_reads_spanish_pages(receptionist_client):
    staff_member = receptionist_client.staff_member
    staff_member.language = "es"
    staff_member.save(update_fields=["language"])

    page = receptionist_client.get(reverse("treatments:home")).content.decode()

    assert '<html lang="es">' in page
    assert ">Pacientes</a>" in page and ">Cerrar sesión</button>" in page


def test_without_a_language_of_their_own_staff_read_the_clinics(receptionist_client, settings):
    page = receptionist_client.get(reverse("treatments:home")).content.decode()
    assert '<html lang="en">' in page and ">Patients</a>" in page

    settings.LANGUAGE_CODE = "es"
    page = receptionist_client.get(reverse("treatments:home")).content.decode()
    assert '<html lang="es">' in page and ">Pacientes</a>" in page


def test_the_browser_does_not_choose_a_staff_members_language(receptionist_client):
    page = receptionist_client.get(
        reverse("treatments:home"), HTTP_ACCEPT_LANGUAGE="fr"
    ).content.decode()
    assert '<html lang="en">' in page


def test_a_patients_page_stays_in_the_patients_language_for_a_spanish_desk(receptionist_client):
    staff_member = receptionist_client.staff_member
    staff_member.language = "es"
    staff_member.save(update_fields=["language"])
    patient = PatientFactory(language="fr")
    token = link_token(action=Action.STOP, subject_id=patient.pk)

    page = receptionist_client.get(reverse("treatments:patient_link", args=[token]))

    assert '<html lang="fr"' in page.content.decode()


def test_the_manager_sets_a_staff_members_language_in_the_admin(manager_client):
    dermatologist = StaffMemberFactory()
    url = reverse("admin:clinic_staffmember_change", args=[dermatologist.pk])
    form = manager_client.get(url).context["adminform"].form
    data = {
        **{name: value for name, value in form.initial.items() if value is not None},
        "language": "es",
        "working_hours-TOTAL_FORMS": "0",
        "working_hours-INITIAL_FORMS": "0",
        "time_off-TOTAL_FORMS": "0",
        "time_off-INITIAL_FORMS": "0",
    }
    data.pop("user", None)

    response = manager_client.post(url, data)

    assert response.status_code == 302, response.context and response.context["errors"]
    dermatologist.refresh_from_db()
    assert dermatologist.language == "es"
    login = Client()
    login.force_login(dermatologist.user)
    assert ">Mi día</a>" in login.get(reverse("treatments:my_day")).content.decode()
