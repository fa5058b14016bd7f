"""`seed_demo`: the demo clinic, the same however often it runs."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client, override_settings

from bench.run import SCALES
from clinic.models import Room, ScheduleVersion, StaffMember, WorkingHours
from clinic.schedule_version import EVERY_DAY
from patients.models import Guardian, Lesion, Patient
from treatments.models import Appointment
from treatments.seed.scale import ScaleSizes, seed_scale

pytestmark = pytest.mark.django_db
COUNTED = [
    get_user_model(),
    StaffMember,
    Room,
    WorkingHours,
    Patient,
    Guardian,
    Lesion,
    Appointment,
]


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in COUNTED}


def test_seeding_twice_gives_the_same_counts():
    call_command("seed_demo")
    first = counts()
    call_command("seed_demo")
    assert counts() == first
    assert first["Patient"] == 50
    assert first["Room"] == 3
    assert StaffMember.objects.filter(role=StaffMember.Role.DERMATOLOGIST).count() == 3
    assert first["Appointment"] > 0


def test_the_demo_has_infants_with_guardians():
    call_command("seed_demo")
    infants = [patient for patient in Patient.objects.all() if patient.age() < 1]
    assert infants
    assert all(infant.guardians.exists() for infant in infants)
    assert Lesion.objects.filter(milia_type=Lesion.MiliaType.NEONATAL).exists()


def test_no_dermatologist_or_room_is_double_booked_in_the_demo():
    call_command("seed_demo")
    for key in ("dermatologist_id", "room_id"):
        booked = sorted(
            Appointment.objects.filter(
                status__in=Appointment.ACTIVE_STATUSES, **{f"{key}__isnull": False}
            ).values_list(key, "starts_at", "ends_at")
        )
        for (owner, _, end), (next_owner, next_start, _) in zip(booked, booked[1:], strict=False):
            assert owner != next_owner or end <= next_start


@pytest.mark.parametrize("username", ["reception", "dermatologist", "manager"])
def test_the_demo_logins_work(username):
    call_command("seed_demo")
    client = Client()
    response = client.post("/login/", {"username": username, "password": "clinic-demo"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


@override_settings(CLINIC_DEMO_DATA_ALLOWED=False)
def test_seed_demo_refuses_where_demo_data_is_not_allowed():
    with pytest.raises(CommandError, match="production"):
        call_command("seed_demo")
    assert Patient.objects.count() == 0


def test_seed_demo_on_a_clinic_seeded_at_scale_refuses_by_name_and_writes_nothing():
    seed_scale(ScaleSizes(**SCALES["tiny"]))
    before = counts()
    with pytest.raises(CommandError, match="Seed the demo into an empty database"):
        call_command("seed_demo")
    assert counts() == before


def test_every_demo_patient_has_the_mrn_registration_assigns():
    call_command("seed_demo")
    assert not Patient.objects.filter(mrn__isnull=True).exists()
    assert all(patient.mrn == f"M{patient.pk:07d}" for patient in Patient.objects.all())


def test_every_patient_seeded_at_scale_has_an_mrn():
    seed_scale(ScaleSizes(**SCALES["tiny"]))
    assert Patient.objects.exists()
    assert all(patient.mrn == f"M{patient.pk:07d}" for patient in Patient.objects.all())


def test_seeding_the_demo_makes_every_cached_schedule_page_out_of_date():
    """The demo writes its visits directly, not through the booking service: it bumps the
    version every schedule page reads, so no page cached before it is shown again."""
    call_command("seed_demo")
    before = ScheduleVersion.objects.get(day=EVERY_DAY).version
    call_command("seed_demo")
    assert ScheduleVersion.objects.get(day=EVERY_DAY).version == before + 1
