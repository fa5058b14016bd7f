"""Each database constraint refuses a bad row, whatever code path tries to write it."""

from datetime import date, time, timedelta

import pytest
from django.db import IntegrityError, connection, transaction

from clinic.models import Room, StaffMember, WorkingHours
from patients.models import Lesion
from treatments.models import Appointment, ProcedureType

from ..factories import (
    AppointmentFactory,
    GuardianFactory,
    LesionFactory,
    PatientFactory,
    StaffMemberFactory,
    TimeOffFactory,
    WorkingHoursFactory,
)

pytestmark = pytest.mark.django_db


def refused(write) -> bool:
    try:
        with transaction.atomic():
            write()
    except IntegrityError:
        return True
    return False


def set_raw(table: str, pk: int, column: str, value) -> None:
    """Write past the model field, which would normalise a phone number before the database."""
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", [value, pk])


def test_a_patient_phone_must_be_e164():
    patient = PatientFactory()
    assert refused(lambda: set_raw("patients_patient", patient.pk, "phone", "212-555-0100"))
    assert refused(lambda: set_raw("patients_patient", patient.pk, "phone", "+0123456789"))
    assert not refused(lambda: set_raw("patients_patient", patient.pk, "phone", "+12125550100"))


def test_reminder_consent_needs_the_time_it_was_given():
    assert refused(lambda: PatientFactory(reminder_consent=True, reminder_consent_changed_at=None))


def test_a_patient_needs_a_name():
    assert refused(lambda: PatientFactory(last_name=""))


def test_a_guardian_needs_an_email_or_a_phone():
    assert refused(lambda: GuardianFactory(email="", phone=""))


def test_a_guardian_phone_must_be_e164():
    guardian = GuardianFactory()
    assert refused(lambda: set_raw("patients_guardian", guardian.pk, "phone", "0044 20 7946"))


def test_only_one_guardian_receives_the_reminders():
    first = GuardianFactory(receives_reminders=True)
    assert refused(lambda: GuardianFactory(patient=first.patient, receives_reminders=True))
    assert not refused(lambda: GuardianFactory(patient=first.patient, receives_reminders=False))


@pytest.mark.parametrize(
    "bad",
    [
        {"count": 0},
        {"size_mm": "0"},
        {"size_mm": "60"},
        {"status": Lesion.Status.RESOLVED, "resolved_on": None},
        {"status": Lesion.Status.ACTIVE, "resolved_on": date(2026, 2, 1)},
        {"status": Lesion.Status.RESOLVED, "resolved_on": date(2025, 1, 1)},
        {"status": "vanished"},
    ],
)
def test_a_lesion_refuses_impossible_values(bad):
    assert refused(lambda: LesionFactory(**bad))


def test_a_resolved_lesion_with_its_date_is_accepted():
    lesion = LesionFactory(status=Lesion.Status.RESOLVED, resolved_on=date(2026, 3, 1))
    assert lesion.pk is not None


def test_working_hours_must_end_after_they_start():
    assert refused(lambda: WorkingHoursFactory(starts_at=time(17), ends_at=time(9)))


def test_working_hours_need_a_real_weekday():
    assert refused(lambda: WorkingHoursFactory(weekday=7))


def test_working_hours_cannot_start_twice_at_the_same_time():
    hours = WorkingHoursFactory()
    assert refused(
        lambda: WorkingHours.objects.create(
            staff_member=hours.staff_member,
            weekday=hours.weekday,
            starts_at=hours.starts_at,
            ends_at=time(18),
        )
    )


def test_time_off_must_end_after_it_starts():
    time_off = TimeOffFactory()
    assert refused(
        lambda: TimeOffFactory(
            staff_member=time_off.staff_member, ends_at=time_off.starts_at - timedelta(hours=1)
        )
    )


def test_a_staff_member_needs_a_known_role():
    staff_member = StaffMemberFactory()
    assert refused(lambda: StaffMember.objects.filter(pk=staff_member.pk).update(role="janitor"))


def test_a_room_needs_a_known_kind_and_a_unique_name():
    Room.objects.create(name="Room A")
    assert refused(lambda: Room.objects.create(name="Room A"))
    assert refused(lambda: Room.objects.create(name="Room B", kind="closet"))


@pytest.mark.parametrize(
    "bad",
    [
        {"duration_minutes": 0},
        {"duration_minutes": 600},
        {"follow_up_weeks": 0},
        {"code": "", "code_15_or_more": "17111"},
    ],
)
def test_the_procedure_catalogue_refuses_impossible_entries(bad):
    assert refused(lambda: ProcedureType.objects.filter(slug="cryotherapy").update(**bad))


def test_an_appointment_must_end_after_it_starts():
    appointment = AppointmentFactory()
    assert refused(
        lambda: Appointment.objects.filter(pk=appointment.pk).update(ends_at=appointment.starts_at)
    )


def test_an_appointment_needs_a_known_status():
    appointment = AppointmentFactory()
    assert refused(lambda: Appointment.objects.filter(pk=appointment.pk).update(status="lost"))


def test_a_cancelled_appointment_needs_a_reason():
    appointment = AppointmentFactory()
    assert refused(lambda: Appointment.objects.filter(pk=appointment.pk).update(status="cancelled"))
    assert not refused(
        lambda: Appointment.objects.filter(pk=appointment.pk).update(
            status="cancelled", cancellation_reason="Patient is ill"
        )
    )
