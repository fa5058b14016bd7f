"""The CSV import in the admin (clinic/imports.py): a manager's dry run shows every row's
fate before anything is written; confirming imports the rows not in error; only managers
(and superusers) may import."""

from datetime import datetime

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from patients.models import Patient

from ..factories import PatientFactory

pytestmark = pytest.mark.django_db

IMPORT = reverse("admin:patients_patient_import")
CONFIRM = reverse("admin:patients_patient_process_import")
CSV = (
    "external_id,first_name,last_name,date_of_birth,email,reminder_consent\n"
    "p-1,Ann,Lee,1980-02-03,ann@example.com,no\n"
    "p-2,Bo,Newname,1981-02-03,bo@example.com,no\n"
    "p-3,Cy,Roe,1980-02-30,cy@example.com,no\n"
    "p-4,Di,Fox,1982-02-03,di@example.com,no\n"
)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(timezone.make_aware(datetime(2026, 6, 1, 9, 0)), tick=False):
        yield


@pytest.fixture
def known_patients():
    PatientFactory(external_id="p-2", first_name="Bo", last_name="Oldname")
    PatientFactory(
        external_id="p-4",
        first_name="Di",
        last_name="Fox",
        date_of_birth=datetime(1982, 2, 3).date(),
        email="di@example.com",
        phone="",
    )


def upload(client: Client):
    return client.post(
        IMPORT,
        {"import_file": SimpleUploadedFile("patients.csv", CSV.encode()), "format": "0"},
    )


def test_the_dry_run_shows_every_rows_fate_and_writes_nothing(manager_client, known_patients):
    page = upload(manager_client)

    assert page.status_code == 200
    fates = [(row.number, row.fate) for row in page.context["fates"]]
    assert fates == [(1, "new"), (2, "updated"), (3, "error"), (4, "skipped")]
    html = page.content.decode()
    assert 'id="import-fates"' in html and "“1980-02-30” is not a date" in html
    assert "Dry run: 1 new, 1 updated, 1 unchanged, 1 in error." in html
    assert "Confirm import" in html
    assert not Patient.objects.filter(external_id="p-1").exists()
    assert Patient.objects.get(external_id="p-2").last_name == "Oldname"


def test_confirming_imports_the_rows_not_in_error(manager_client, known_patients):
    dry_run = upload(manager_client)
    confirm = dry_run.context["confirm_form"]

    done = manager_client.post(CONFIRM, {**confirm.initial, "confirm": "Confirm import"})

    assert done.status_code == 302
    assert set(Patient.objects.values_list("external_id", flat=True)) == {"p-1", "p-2", "p-4"}
    assert Patient.objects.get(external_id="p-2").last_name == "Newname"
    (message,) = [str(m) for m in done.wsgi_request._messages]
    assert message == "Imported: 1 new, 1 updated, 1 unchanged; 1 row(s) in error, not imported."


@pytest.mark.parametrize("role", ["receptionist", "dermatologist"])
def test_other_roles_do_not_reach_the_import(as_role, role):
    client = as_role(role)
    assert client.get(IMPORT).status_code == 302  # not admin staff: the admin's login
    assert upload(client).status_code == 302
    assert not Patient.objects.exists()


def test_staff_with_the_admin_but_not_the_manager_role_are_refused(receptionist_client):
    """The role decides, not the admin's model permissions: a receptionist given admin
    access and every patient permission still may not import."""
    user = receptionist_client.staff_member.user
    user.is_staff = True
    user.save()
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="patients"))

    assert receptionist_client.get(reverse("admin:patients_patient_changelist")).status_code == 200
    assert receptionist_client.get(IMPORT).status_code == 403
    assert upload(receptionist_client).status_code == 403
    assert receptionist_client.post(CONFIRM, {}).status_code == 403
    assert not Patient.objects.exists()


def test_an_anonymous_visitor_is_sent_to_the_login(client):
    response = client.get(IMPORT)
    assert response.status_code == 302 and "login" in response["Location"]


def test_the_manager_sees_the_import_button_and_the_visits_import(manager_client):
    assert (
        reverse("admin:patients_patient_import")
        in manager_client.get(reverse("admin:patients_patient_changelist")).content.decode()
    )
    assert manager_client.get(reverse("admin:treatments_appointment_import")).status_code == 200


def test_a_receptionist_may_not_import_visits(receptionist_client):
    response = receptionist_client.get(reverse("admin:treatments_appointment_import"))
    assert response.status_code == 302
