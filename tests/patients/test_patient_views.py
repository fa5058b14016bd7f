"""A patient's page: demographics, contact, guardians and appointments."""

from datetime import date, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from treatments.models import Appointment

from ..factories import (
    AppointmentFactory,
    GuardianFactory,
    LesionFactory,
    PatientFactory,
    RoomFactory,
    StaffMemberFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient():
    return PatientFactory(
        first_name="Ana",
        last_name="Garcia",
        date_of_birth=date(1990, 5, 17),
        phone="+12125550143",
        email="ana@example.com",
        language="es",
    )


def url(patient_id) -> str:
    return reverse("treatments:patient_detail", args=[patient_id])


def appointment_at(patient, starts_at, **changes):
    return AppointmentFactory(
        patient=patient,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=15),
        **changes,
    )


def test_anonymous_visitors_are_sent_to_log_in(client, patient):
    response = client.get(url(patient.pk))
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url(patient.pk)}"


@pytest.mark.parametrize(
    "role_client", ["receptionist_client", "dermatologist_client", "manager_client"]
)
def test_every_role_may_see_a_patient(role_client, request, patient):
    response = request.getfixturevalue(role_client).get(url(patient.pk))
    assert response.status_code == 200
    assert "Ana Garcia" in response.content.decode()


def test_a_patient_that_does_not_exist_is_not_found(receptionist_client, patient):
    assert receptionist_client.get(url(patient.pk + 1000)).status_code == 404


def test_the_page_shows_demographics_contact_and_reminder_consent(receptionist_client):
    consented_at = timezone.make_aware(datetime(2026, 3, 2, 14, 30))
    patient = PatientFactory(
        date_of_birth=date(1990, 5, 17),
        phone="+12125550143",
        email="ana@example.com",
        language="es",
        preferred_channel="sms",
        reminder_consent=True,
        reminder_consent_changed_at=consented_at,
    )
    html = receptionist_client.get(url(patient.pk)).content.decode()
    assert f"1990-05-17 (age {patient.age()})" in html
    assert "ana@example.com" in html
    assert "+1 212-555-0143" in html
    assert "Spanish" in html
    assert "SMS" in html
    assert "Agreed" in html
    assert "2026-03-02 14:30" in html


def test_the_page_shows_the_guardians(receptionist_client):
    guardian = GuardianFactory(first_name="Maria", last_name="Garcia", email="maria@example.com")
    html = receptionist_client.get(url(guardian.patient.pk)).content.decode()
    assert "Maria Garcia (mother)" in html
    assert "maria@example.com" in html
    assert "receives reminders" in html


def test_appointments_are_split_into_upcoming_and_past_in_clinic_time(receptionist_client, patient):
    now = timezone.now().replace(second=0, microsecond=0)
    dermatologist = StaffMemberFactory(user__first_name="Jane", user__last_name="Doe")
    upcoming = appointment_at(
        patient, now + timedelta(days=7), dermatologist=dermatologist, room=RoomFactory(name="Blue")
    )
    past = appointment_at(patient, now - timedelta(days=30), status=Appointment.Status.COMPLETED)
    response = receptionist_client.get(url(patient.pk))
    assert response.context["upcoming"] == [upcoming]
    assert response.context["past"] == [past]
    html = response.content.decode()
    local_start = timezone.localtime(upcoming.starts_at)
    assert local_start.strftime("%Y-%m-%d %H:%M") in html
    assert "Dr. Jane Doe" in html
    assert "Blue" in html
    assert upcoming.procedure_type.name in html
    assert "Completed" in html
    assert reverse("treatments:appointment_detail", args=[upcoming.pk]) in html
    assert reverse("treatments:appointment_detail", args=[past.pk]) in html


def test_times_are_clinic_wall_clock_on_both_sides_of_a_dst_change(
    receptionist_client, patient, settings
):
    settings.TIME_ZONE = "America/New_York"  # daylight saving ended on 2 November 2025
    for day in (1, 3):
        appointment_at(patient, timezone.make_aware(datetime(2025, 11, day, 9, 0)))
    html = receptionist_client.get(url(patient.pk)).content.decode()
    assert "Sat 2025-11-01 09:00–09:15" in html
    assert "Mon 2025-11-03 09:00–09:15" in html


def test_past_appointments_come_most_recent_first(receptionist_client, patient):
    now = timezone.now()
    older = appointment_at(patient, now - timedelta(days=60))
    newer = appointment_at(patient, now - timedelta(days=10))
    response = receptionist_client.get(url(patient.pk))
    assert response.context["past"] == [newer, older]


def test_another_patients_appointments_are_not_shown(receptionist_client, patient):
    other = AppointmentFactory(starts_at=timezone.now() + timedelta(days=3))
    response = receptionist_client.get(url(patient.pk))
    assert response.context["upcoming"] == []
    assert (
        reverse("treatments:appointment_detail", args=[other.pk]) not in response.content.decode()
    )


def test_the_page_shows_no_lesions(receptionist_client, patient):
    LesionFactory(patient=patient)
    html = receptionist_client.get(url(patient.pk)).content.decode()
    assert "Eyelid, left upper" not in html
    assert "Lesion" not in html


def test_only_the_front_desk_is_offered_to_book_an_appointment(
    receptionist_client, manager_client, dermatologist_client, patient
):
    book_url = f"{reverse('treatments:appointment_book')}?patient={patient.pk}"
    assert book_url in receptionist_client.get(url(patient.pk)).content.decode()
    assert book_url in manager_client.get(url(patient.pk)).content.decode()
    assert book_url not in dermatologist_client.get(url(patient.pk)).content.decode()


@pytest.mark.parametrize("count", [1, 20])
def test_the_page_takes_the_same_queries_for_one_or_many_appointments(
    count, receptionist_client, patient, django_assert_num_queries
):
    GuardianFactory(patient=patient)
    start = timezone.now() - timedelta(days=10)
    for day in range(count):
        # A new dermatologist and room for each, so that select_related is what saves us.
        appointment_at(patient, start + timedelta(days=day))
    # 1 session, 2 user, 3 the user's staff member (role check), 4 the patient with who
    # last changed their consent, 5 the appointments with dermatologist, user, room and
    # procedure type, 6 the balance (the desk's: charges, payments and refunds summed in
    # one query), 7 the record's history with its users, 8 the guardians' history with
    # theirs, 9 the guardians, 10 the access-log row.
    with django_assert_num_queries(10):
        response = receptionist_client.get(url(patient.pk))
    assert len(response.context["upcoming"]) + len(response.context["past"]) == count
