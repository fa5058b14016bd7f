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
    # appointment, its history row, its event, the fee schedule's price of the visit
    # (none here, so no estimate is written), the visit's reminders already planned,
    # their keys, the new reminders (with the booking's confirmation), the schedule's
    # version of the day (one upsert); RELEASE. (The desk's confirmation names the
    # estimate the service stored, or knows there is none.)
    first = queries_of(book(9))
    for hour in (10, 11, 12, 13, 14):
        queries_of(book(hour))
    assert Appointment.objects.count() == 6
    assert first == 21 + (connection.vendor == "postgresql")
    assert queries_of(book(15)) == first

    # Refused (15:00 is taken now): the same eleven reads up to the service's write;
    # SAVEPOINT, on PostgreSQL the day's lock, the refused INSERT, ROLLBACK TO SAVEPOINT and
    # RELEASE (the test's transaction; ROLLBACK in production); the page's procedure type
    # and dermatologist choices. No search for alternatives and no slot picker: the page
    # fetches them after (htmx).
    refused = book(15)
    assert queries_of(refused) == 17 + (connection.vendor == "postgresql")
    assert refused().status_code == 409


def test_the_nearest_free_times_cost_the_same_for_one_booked_visit_and_for_many(
    receptionist_client, dermatologist, cryotherapy, treatment_room
):
    day = timezone.localdate() + timedelta(days=5)
    start = timezone.make_aware(datetime.combine(day, time(10)))
    AppointmentFactory(dermatologist=dermatologist, room=treatment_room, starts_at=start)
    url = reverse("treatments:slot_alternatives")
    query = {
        "procedure_type": cryotherapy.pk,
        "around": start.isoformat(),
        "dermatologist": dermatologist.pk,
    }
    receptionist_client.get(url, query)
    # session, user, staff member (role check); the form: procedure type, dermatologist;
    # the search, in one statement (working hours, time off, treatment rooms, the
    # appointments of the days around); the names of dermatologists and rooms for the offer.
    one = queries_of(lambda: receptionist_client.get(url, query))
    for hour in (11, 12, 13, 14):
        booked = timezone.make_aware(datetime.combine(day, time(hour)))
        AppointmentFactory(dermatologist=dermatologist, room=treatment_room, starts_at=booked)
    assert one == 8
    assert queries_of(lambda: receptionist_client.get(url, query)) == one


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
    # type; the form's procedure types and the patient's lesions; SAVEPOINT (the test's
    # transaction; BEGIN in production); the visit locked, with its patient,
    # dermatologist and procedure type (checked in: so no record yet); the type's
    # aftercare texts (to pick the patient's language); (the record's nine check
    # constraints are read in Python: no query); the record, its history row, its
    # lesions in one INSERT; the lesions marked treated (one UPDATE) and their history
    # rows (one INSERT); completing the visit (update, history, event, the
    # schedule's version of its day); the follow-up and its history row;
    # the reminder keys and the reminder; RELEASE.
    one = queries_of(record(1))
    three = queries_of(record(3))
    assert Procedure.objects.count() == 2
    assert one == 23
    assert three == one


def test_the_first_available_search_costs_the_same_for_one_day_and_sixty(
    receptionist_client, dermatologist, cryotherapy, treatment_room
):
    colleague = open_all_week(StaffMemberFactory())
    for day in range(1, 30):  # the first month half full
        start = timezone.now().replace(second=0, microsecond=0) + timedelta(days=day)
        AppointmentFactory(dermatologist=dermatologist, room=treatment_room, starts_at=start)
    patient = PatientFactory()
    url = reverse("treatments:first_available")

    def search(days, **extra):
        query = {"search": "1", "patient": patient.pk, "procedure_type": cryotherapy.pk}
        return lambda: receptionist_client.get(url, {**query, "within_days": days, **extra})

    receptionist_client.get(url)
    # session, user, staff member (role check), the patient, the procedure type (form);
    # the search, in one statement (working hours, time off, treatment rooms, the span's
    # appointments); the dermatologists' names and the rooms' names for the results; the
    # form's two lists (procedures, dermatologists).
    one_day = queries_of(search(1))
    assert one_day == 10
    assert queries_of(search(60)) == one_day
    # With a dermatologist chosen, the form reads them too.
    assert queries_of(search(60, dermatologist=colleague.pk)) == one_day + 1


@pytest.mark.parametrize("visits", [1, 100])
def test_the_day_sheet_costs_the_same_for_one_visit_and_a_hundred(
    dermatologist_client, django_assert_num_queries, visits
):
    from treatments.services.records import alert_add

    dermatologist = StaffMemberFactory()
    day = timezone.localdate() + timedelta(days=3)
    start = timezone.make_aware(datetime.combine(day, time(7)))
    for n in range(visits):
        at = start + timedelta(minutes=5 * n)
        visit = AppointmentFactory(
            dermatologist=dermatologist, starts_at=at, ends_at=at + timedelta(minutes=5)
        )
        alert_add(patient=visit.patient, kind="allergy", description="Lidocaine", by=None)
    url = f"{reverse('treatments:schedule_day_sheet')}?date={day}&dermatologist={dermatologist.pk}"
    # session, user, staff member (role check); the dermatologist with their user; the
    # visits with patient, dermatologist, room and procedure type; the patients' active
    # alerts; the access-log rows (one INSERT)
    with django_assert_num_queries(7):
        html = dermatologist_client.get(url).content.decode()
    assert html.count('<tr class="day-sheet-row') == visits
    assert html.count("Allergy: Lidocaine") == visits


@pytest.mark.parametrize("patients", [1, 20])
def test_the_booking_pages_patient_step_costs_the_same_for_one_match_and_twenty(
    receptionist_client, django_assert_num_queries, patients
):
    PatientFactory.create_batch(patients, last_name="Kowalczyk")
    url = f"{reverse('treatments:appointment_book')}?date=2030-03-04&time=09:15&q=kowal"
    # session, user, staff member (role check), the matching patients
    with django_assert_num_queries(4):
        html = receptionist_client.get(url).content.decode()
    assert html.count("Book for this patient") == patients
