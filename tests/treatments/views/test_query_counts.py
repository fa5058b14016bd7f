"""Query counts of the busiest pages and writes, pinned: the same for 1 row and for many."""

from datetime import datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from treatments.models import Appointment, Procedure, ProcedureType

from ...factories import AppointmentFactory, LesionFactory, PatientFactory, StaffMemberFactory
from ..conftest import open_all_week

pytestmark = pytest.mark.django_db


def queries_of(call) -> int:
    with CaptureQueriesContext(connection) as captured:
        call()
    return len(captured.captured_queries)


def test_the_arrivals_list_costs_the_same_for_one_and_twenty_patients(
    receptionist_client, dermatologist
):
    url = reverse("treatments:arrivals")
    soon = timezone.now() + timedelta(minutes=5)
    AppointmentFactory(dermatologist=dermatologist, starts_at=soon)
    receptionist_client.get(url)
    # session, user, staff member (role check), the day's appointments with patient,
    # dermatologist, room and procedure type
    one = queries_of(lambda: receptionist_client.get(url))
    for minute in range(19):
        AppointmentFactory(
            starts_at=soon + timedelta(minutes=minute), dermatologist=StaffMemberFactory()
        )
    assert one == 4
    assert queries_of(lambda: receptionist_client.get(url)) == one


def test_the_appointment_page_costs_the_same_however_long_its_history(
    receptionist_client, visit_factory
):
    appointment = visit_factory()
    url = reverse("treatments:appointment_detail", args=[appointment.pk])
    receptionist_client.get(url)
    # session, user, staff member, the appointment with its relations, its events with
    # their actors
    before = queries_of(lambda: receptionist_client.get(url))
    for _ in range(5):
        receptionist_client.post(
            reverse("treatments:appointment_action", args=[appointment.pk, "confirm"])
        )
        Appointment.objects.filter(pk=appointment.pk).update(status="booked")
    assert before == 5
    assert queries_of(lambda: receptionist_client.get(url)) == before


@pytest.fixture
def visit_factory(dermatologist, cryotherapy, treatment_room, tomorrow_at):
    from treatments.services import appointment_book

    def make(hour=10):
        return appointment_book(
            patient=PatientFactory(),
            dermatologist=dermatologist,
            procedure_type=cryotherapy,
            starts_at=tomorrow_at(hour),
            booked_by=None,
        )

    return make


def test_booking_costs_a_fixed_number_of_queries(
    receptionist_client, dermatologist, cryotherapy, treatment_room
):
    # Five days ahead, both reminders (72 h and 24 h before) are still to come whatever
    # the time of day now: the count includes writing them.
    day = timezone.localdate() + timedelta(days=5)

    def book(hour):
        patient = PatientFactory()
        start = timezone.make_aware(datetime.combine(day, time(hour)))
        return lambda: receptionist_client.post(
            f"{reverse('treatments:appointment_book')}?patient={patient.pk}",
            {
                "patient": patient.pk,
                "procedure_type": cryotherapy.pk,
                "dermatologist": dermatologist.pk,
                "date": start.date().isoformat(),
                "slot": f"{dermatologist.pk}|{start.isoformat()}|{treatment_room.pk}",
            },
        )

    # session, user, staff member (role check); the form: patient (?patient=),
    # procedure type, dermatologist, patient (field), the slot's dermatologist and room;
    # the service: working hours of that weekday, time off; SAVEPOINT (the test's
    # transaction; BEGIN in production), on PostgreSQL the day's booking lock, the
    # appointment, its history row, its event, the visit's reminders already planned,
    # their keys, the new reminders (with the booking's confirmation); RELEASE.
    first = queries_of(book(9))
    for hour in (10, 11, 12, 13, 14):
        queries_of(book(hour))
    assert Appointment.objects.count() == 6
    assert first == 19 + (connection.vendor == "postgresql")
    assert queries_of(book(15)) == first


def test_recording_a_procedure_costs_the_same_for_one_lesion_and_for_three(
    dermatologist_client, treatment_room
):
    cryotherapy = ProcedureType.objects.get(slug="cryotherapy")
    me = open_all_week(dermatologist_client.staff_member)

    def record(lesion_count):
        visit = AppointmentFactory(
            dermatologist=me,
            room=treatment_room,
            procedure_type=cryotherapy,
            status="checked_in",
            starts_at=timezone.now().replace(microsecond=0) + timedelta(hours=lesion_count),
        )
        lesions = [LesionFactory(patient=visit.patient) for _ in range(lesion_count)]
        url = reverse("treatments:procedure_record", args=[visit.pk])
        form = {
            "procedure_type": cryotherapy.pk,
            "lesions": [lesion.pk for lesion in lesions],
            "cryo_method": "spray",
            "freeze_seconds": "5",
            "freeze_thaw_cycles": "1",
            "consent_obtained": "on",
            "consent_given_by": "patient",
            "diagnosis_code": "L72.0",
        }
        return lambda: dermatologist_client.post(url, form)

    # session, user, staff member (role check); the visit with its patient and procedure
    # type; an existing record?; the form's procedure types and the patient's lesions;
    # SAVEPOINT (the test's transaction; BEGIN in production); the visit locked, with its
    # patient and dermatologist; no record yet?; the record's check constraints but the
    # one on created_by (excluded from full_clean), each a SELECT in its own savepoint
    # (9 × 3); the record, its history row, its lesions in
    # one INSERT; the type's follow-up interval; completing the visit (savepoint, lock,
    # update, history, event, release); the follow-up and its history row; the reminder
    # keys and the reminder; RELEASE.
    one = queries_of(record(1))
    three = queries_of(record(3))
    assert Procedure.objects.count() == 2
    assert one == 52
    assert three == one
