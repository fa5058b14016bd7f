"""The visits CSV of a clinic moving in (treatments/resources.py, docs/import.md): booked
through the booking service, overlaps reported as row errors, a re-import skipped."""

import csv
from datetime import datetime
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from clinic.imports import csv_dataset, import_counts, import_fates
from clinic.models import Reminder, StaffMember
from patients.models import Patient
from patients.resources import PatientResource
from treatments.models import Appointment, AppointmentEvent
from treatments.resources import AppointmentResource

from ..factories import PatientFactory, RoomFactory, StaffMemberFactory, UserFactory
from .conftest import open_all_week

pytestmark = pytest.mark.django_db

HEADER = [
    "external_id", "patient_external_id", "dermatologist", "procedure_type", "starts_at",
    "room", "reason",
]  # fmt: skip
NOW = timezone.make_aware(datetime(2026, 6, 1, 9, 0))


@pytest.fixture(autouse=True)
def clinic():
    with time_machine.travel(NOW, tick=False):
        open_all_week(StaffMemberFactory(user=UserFactory(username="dr-lee")))
        open_all_week(StaffMemberFactory(user=UserFactory(username="dr-roe")))
        RoomFactory(name="Room 1")
        RoomFactory(name="Room 2")
        PatientFactory(external_id="p-1", reminder_consent=False)
        PatientFactory(external_id="p-2", reminder_consent=False)
        yield


@pytest.fixture
def manager():
    return StaffMemberFactory(role=StaffMember.Role.MANAGER).user


def visit(external_id, starts_at, *, patient="p-1", dermatologist="dr-lee", room="", **more):
    return {
        "external_id": external_id,
        "patient_external_id": patient,
        "dermatologist": dermatologist,
        "procedure_type": "cryotherapy",
        "starts_at": starts_at,
        "room": room,
    } | more


def import_visits(tmp_path, rows, *, by, dry_run=False):
    path = tmp_path / "visits.csv"
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return AppointmentResource(by=by).import_data(csv_dataset(path), dry_run=dry_run)


def test_visits_are_booked_as_at_the_desk(tmp_path, manager):
    result = import_visits(
        tmp_path, [visit("v-1", "2026-06-08 10:00", room="Room 1", reason="follow-up")], by=manager
    )

    assert import_counts(result) == {"new": 1, "updated": 0, "skipped": 0, "error": 0}
    appointment = Appointment.objects.get(external_id="v-1")
    assert timezone.localtime(appointment.starts_at).strftime("%Y-%m-%d %H:%M") == (
        "2026-06-08 10:00"
    )
    assert appointment.room.name == "Room 1" and appointment.created_by == manager
    assert AppointmentEvent.objects.get(appointment=appointment).actor == manager


def test_overlapping_visits_are_reported_not_dropped(tmp_path, manager):
    result = import_visits(
        tmp_path,
        [
            visit("v-1", "2026-06-08 10:00", room="Room 1"),
            visit("v-2", "2026-06-08 10:05", patient="p-2", room="Room 2"),  # same dermatologist
            visit("v-3", "2026-06-08 10:10", patient="p-2", dermatologist="dr-roe", room="Room 1"),
            visit("v-4", "2026-06-08 11:00", patient="p-2", dermatologist="dr-roe", room="Room 2"),
        ],
        by=manager,
    )

    fates = import_fates(result)
    assert [fate.fate for fate in fates] == ["new", "error", "error", "new"]
    assert "is already booked at 10:05" in fates[1].reasons[0]
    assert "The treatment room is already booked at 10:10" in fates[2].reasons[0]
    assert set(Appointment.objects.values_list("external_id", flat=True)) == {"v-1", "v-4"}


def test_each_bad_reference_is_a_reason(tmp_path, manager):
    result = import_visits(
        tmp_path,
        [
            visit("v-1", "2026-06-31 10:00", patient="p-9", dermatologist="dr-who", room="Attic"),
            visit("v-2", "2026-06-08 10:00", procedure_type="laser-zap"),
            visit("v-3", "2026-05-30 10:00"),  # before the import
            visit("v-4", "2026-11-01 01:30"),  # happens twice on the clinic's clock
            visit("", "2026-06-08 12:00"),
        ],
        by=manager,
    )

    reasons = [" ".join(fate.reasons) for fate in import_fates(result)]
    assert "No imported patient has the id “p-9”" in reasons[0]
    assert "No dermatologist has the id “dr-who”" in reasons[0]
    assert "No room is called “Attic”" in reasons[0]
    assert "is not a time in the form YYYY-MM-DD HH:MM" in reasons[0]
    assert "No procedure type has the id “laser-zap”" in reasons[1]
    assert "That time has passed" in reasons[2]
    assert "happens twice" in reasons[3]
    assert "external id" in reasons[4]
    assert not Appointment.objects.exists()


def test_a_second_import_of_the_same_file_changes_nothing(tmp_path, manager):
    rows = [visit("v-1", "2026-06-08 10:00"), visit("v-2", "2026-06-08 10:05", patient="p-2")]
    import_visits(tmp_path, rows, by=manager)
    before = list(Appointment.objects.values_list("pk", "updated_at", "sequence"))
    reminders = Reminder.objects.count()

    result = import_visits(tmp_path, rows, by=manager)

    assert [fate.fate for fate in import_fates(result)] == ["skipped", "error"]
    assert list(Appointment.objects.values_list("pk", "updated_at", "sequence")) == before
    assert Reminder.objects.count() == reminders


def test_a_visit_imported_before_with_another_time_is_an_error(tmp_path, manager):
    import_visits(tmp_path, [visit("v-1", "2026-06-08 10:00")], by=manager)

    result = import_visits(tmp_path, [visit("v-1", "2026-06-09 10:00")], by=manager)

    (fate,) = import_fates(result)
    assert fate.fate == "error" and "change it at the desk" in fate.reasons[0]
    assert timezone.localtime(Appointment.objects.get().starts_at).day == 8


def test_the_command_imports_visits(tmp_path, manager, capsys):
    path = tmp_path / "visits.csv"
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=HEADER)
        writer.writeheader()
        writer.writerows([visit("v-1", "2026-06-08 10:00"), visit("v-2", "2026-06-08 10:05")])

    call_command("import_appointments", str(path), "--by", manager.username)

    output = capsys.readouterr().out
    assert "row 2: " in output and "already booked" in output
    assert "Imported. 2 rows" in output and "1 new" in output and "1 in error" in output
    assert Appointment.objects.count() == 1


def test_the_sample_files_of_the_documentation_import_cleanly(manager):
    """docs/samples/*.csv, as docs/import.md describes them, against the demo's names."""
    open_all_week(StaffMemberFactory(user=UserFactory(username="dermatologist")))
    RoomFactory(name="Treatment room 1")
    RoomFactory(name="Treatment room 2")
    samples = Path(settings.BASE_DIR) / "docs" / "samples"

    patients = PatientResource(by=manager).import_data(csv_dataset(samples / "patients.csv"))
    visits = AppointmentResource(by=manager).import_data(csv_dataset(samples / "appointments.csv"))

    assert import_counts(patients) == {"new": 4, "updated": 0, "skipped": 0, "error": 0}
    assert import_counts(visits) == {"new": 3, "updated": 0, "skipped": 0, "error": 0}
    assert Patient.objects.get(external_id="oldemr:1003").guardians.get().first_name == "Grace"
