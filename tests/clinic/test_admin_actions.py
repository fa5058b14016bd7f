"""The manager's admin actions: no-show, cancel with a reason, CSV exports (logged)."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from clinic.models import AccessLog
from treatments.models import Appointment

from ..factories import AppointmentFactory, PatientFactory

pytestmark = pytest.mark.django_db
CHANGELIST = "admin:treatments_appointment_changelist"


def run_action(client, url_name, action, objects, **extra):
    return client.post(
        reverse(url_name),
        {"action": action, "_selected_action": [obj.pk for obj in objects], **extra},
        follow=True,
    )


def test_marking_no_shows_reports_the_visits_it_refuses(manager_client):
    past = AppointmentFactory(starts_at=timezone.now() - timedelta(hours=2))
    future = AppointmentFactory(starts_at=timezone.now() + timedelta(days=2))
    response = run_action(manager_client, CHANGELIST, "mark_no_show", [past, future])
    past.refresh_from_db(), future.refresh_from_db()
    assert past.status == Appointment.Status.NO_SHOW
    assert future.status != Appointment.Status.NO_SHOW
    page = response.content.decode()
    assert "1 appointment(s) changed." in page
    assert "only after the start time" in page


def test_cancelling_asks_for_a_reason_first(manager_client):
    visit = AppointmentFactory(starts_at=timezone.now() + timedelta(days=2))
    response = run_action(manager_client, CHANGELIST, "cancel_with_reason", [visit])
    assert "Cancel these appointments?" in response.content.decode()
    visit.refresh_from_db()
    assert visit.status != Appointment.Status.CANCELLED


def test_cancelling_with_a_reason_goes_through_the_service(manager_client):
    visit = AppointmentFactory(starts_at=timezone.now() + timedelta(days=2))
    done = AppointmentFactory(
        starts_at=timezone.now() + timedelta(days=3),
        status=Appointment.Status.CANCELLED,
        cancellation_reason="Earlier",
    )
    response = run_action(
        manager_client,
        CHANGELIST,
        "cancel_with_reason",
        [visit, done],
        apply="yes",
        reason="Dermatologist ill",
    )
    visit.refresh_from_db()
    assert visit.status == Appointment.Status.CANCELLED
    assert visit.cancellation_reason == "Dermatologist ill"
    assert visit.history.first().history_user == manager_client.staff_member.user
    assert "Not changed:" in response.content.decode()


def test_an_empty_reason_is_asked_again(manager_client):
    visit = AppointmentFactory(starts_at=timezone.now() + timedelta(days=2))
    response = run_action(
        manager_client, CHANGELIST, "cancel_with_reason", [visit], apply="yes", reason=""
    )
    assert "Cancel these appointments?" in response.content.decode()
    visit.refresh_from_db()
    assert visit.status != Appointment.Status.CANCELLED


def rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_exporting_appointments_writes_csv_and_one_access_row_per_patient(manager_client):
    visits = [AppointmentFactory(), AppointmentFactory()]
    response = run_action(manager_client, CHANGELIST, "export_csv", visits)
    assert response["Content-Type"].startswith("text/csv")
    table = rows(response)
    assert table[0][:2] == ["id", "starts at"] and len(table) == 3
    logged = AccessLog.objects.filter(action=AccessLog.Action.EXPORT)
    assert {entry.patient_id for entry in logged} == {visit.patient_id for visit in visits}
    assert {entry.user for entry in logged} == {manager_client.staff_member.user}


def test_exporting_patients_writes_csv_and_logs_it_and_defuses_formulas(manager_client):
    patient = PatientFactory(last_name='=HYPERLINK("http://x")')
    response = run_action(
        manager_client, "admin:patients_patient_changelist", "export_csv", [patient]
    )
    table = rows(response)
    assert table[1][1].startswith("'=")
    assert AccessLog.objects.get(action="export").patient == patient


def test_the_admin_lists_have_their_filters_and_history(manager_client):
    visit = AppointmentFactory()
    assert manager_client.get(reverse(CHANGELIST), {"status__exact": "booked"}).status_code == 200
    history = reverse("admin:treatments_appointment_history", args=[visit.pk])
    assert manager_client.get(history).status_code == 200
    patient_history = reverse("admin:patients_patient_history", args=[visit.patient_id])
    assert manager_client.get(patient_history).status_code == 200
