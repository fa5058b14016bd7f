"""Who records a visit (its dermatologist, or another only on their behalf), and the
procedure code's format, in the service and in the database."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from clinic.models import StaffMember
from treatments.models import (
    CPT_CODE_PATTERN,
    Appointment,
    AppointmentEvent,
    FollowUp,
    Procedure,
    ProcedureType,
    cpt_code_validator,
)
from treatments.services import records

from ...factories import AppointmentFactory, LesionFactory, StaffMemberFactory, UserFactory

pytestmark = pytest.mark.django_db

CRYO = {"cryo_method": "spray", "freeze_seconds": 5, "freeze_thaw_cycles": 2}
CONSENT = {"consent_obtained": True, "consent_given_by": "patient"}


@pytest.fixture
def visit(dermatologist, treatment_room):
    """A checked-in cryotherapy visit of `dermatologist`."""
    return AppointmentFactory(
        dermatologist=dermatologist,
        room=treatment_room,
        procedure_type=ProcedureType.objects.get(slug="cryotherapy"),
        status=Appointment.Status.CHECKED_IN,
    )


@pytest.fixture
def colleague(db):
    return StaffMemberFactory()


def record(visit, *, by, **extra):
    return records.procedure_record(
        appointment=visit,
        procedure_type=visit.procedure_type,
        lesions=[LesionFactory(patient=visit.patient, count=3)],
        technique=CRYO,
        consent=CONSENT,
        complications={},
        note="Tolerated well.",
        by=by,
        **extra,
    )


def assert_nothing_written(visit):
    assert not Procedure.objects.exists()
    assert not FollowUp.objects.exists()
    assert not AppointmentEvent.objects.filter(appointment=visit).exists()
    visit.refresh_from_db()
    assert visit.status == Appointment.Status.CHECKED_IN


def test_the_visits_dermatologist_records_it_as_their_own(visit):
    procedure = record(visit, by=visit.dermatologist.user)

    assert procedure.dermatologist == visit.dermatologist
    assert procedure.created_by == visit.dermatologist.user
    assert procedure.recorded_on_behalf is False


def test_ticking_on_behalf_for_ones_own_visit_changes_nothing(visit):
    procedure = record(visit, by=visit.dermatologist.user, on_behalf=True)

    assert Procedure.objects.get(pk=procedure.pk).recorded_on_behalf is False


def test_another_dermatologist_without_saying_on_behalf_is_refused_on_the_field(visit, colleague):
    with pytest.raises(records.RecordError) as refused:
        record(visit, by=colleague.user)

    assert refused.value.status == 400
    assert list(refused.value.error_dict) == ["on_behalf"]
    assert f"This is {visit.dermatologist}'s visit" in str(refused.value)
    assert_nothing_written(visit)


def test_another_dermatologist_records_on_behalf_and_the_record_says_so(visit, colleague):
    procedure = record(visit, by=colleague.user, on_behalf=True)

    stored = Procedure.objects.get(pk=procedure.pk)
    assert stored.dermatologist == visit.dermatologist
    assert stored.created_by == colleague.user
    assert stored.recorded_on_behalf is True
    created = stored.history.get(history_type="+")
    assert (created.history_user, created.recorded_on_behalf) == (colleague.user, True)


def test_a_record_made_on_behalf_is_signed_by_the_visits_dermatologist_not_its_author(
    visit, colleague
):
    procedure = record(visit, by=colleague.user, on_behalf=True)

    with pytest.raises(PermissionError):
        records.procedure_sign(procedure=procedure, by=colleague.user)
    signed = records.procedure_sign(procedure=procedure, by=visit.dermatologist.user)

    assert signed.signed_by == visit.dermatologist.user
    assert Procedure.objects.get(pk=procedure.pk).recorded_on_behalf is True


@pytest.mark.parametrize(
    "who",
    [
        lambda: StaffMemberFactory(role=StaffMember.Role.RECEPTIONIST).user,
        lambda: StaffMemberFactory(role=StaffMember.Role.MANAGER).user,
        lambda: StaffMemberFactory(is_active=False).user,
        lambda: UserFactory(is_superuser=True),
    ],
    ids=["receptionist", "manager", "former dermatologist", "superuser without a role"],
)
def test_only_a_dermatologist_records_even_on_behalf(visit, who):
    with pytest.raises(records.RecordError, match="Only a dermatologist records"):
        record(visit, by=who(), on_behalf=True)

    assert_nothing_written(visit)


def test_a_record_on_behalf_must_name_its_author_in_the_database(visit):
    procedure = record(visit, by=visit.dermatologist.user)

    with pytest.raises(IntegrityError), transaction.atomic():
        Procedure.objects.filter(pk=procedure.pk).update(recorded_on_behalf=True, created_by=None)


# --- The procedure code ------------------------------------------------------------

CPT_CODES = ["17110", "17111", "10040", "3008F", "0479T", ""]
NOT_CPT_CODES = [
    "=1+1",
    "1711",
    "171100",
    "17110 ",
    "17110\n",
    "3008f",
    "3008X",
    "A7110",
    "１７１１０",  # full-width digits
    "١٧١١٠",  # Arabic-Indic digits
    "<b>1</b>",
]


@pytest.mark.parametrize("code", CPT_CODES)
def test_a_cpt_code_or_none_is_stored(visit, code):
    procedure = record(visit, by=visit.dermatologist.user, procedure_code=code)

    assert Procedure.objects.get(pk=procedure.pk).procedure_code == (code or "17110")


@pytest.mark.parametrize("code", NOT_CPT_CODES)
def test_a_code_that_is_not_cpt_is_refused_on_its_field_and_nothing_is_written(visit, code):
    with pytest.raises(ValidationError) as refused:
        record(visit, by=visit.dermatologist.user, procedure_code=code)

    assert "procedure_code" in refused.value.error_dict
    assert_nothing_written(visit)


@pytest.mark.parametrize("code", NOT_CPT_CODES)
def test_the_database_refuses_a_code_that_is_not_cpt(visit, code):
    procedure = record(visit, by=visit.dermatologist.user)

    with pytest.raises(IntegrityError), transaction.atomic():
        Procedure.objects.filter(pk=procedure.pk).update(procedure_code=code)


def test_every_code_of_the_catalogue_and_the_demo_is_a_cpt_code():
    from django.core.management import call_command

    call_command("seed_demo")
    codes = {
        *ProcedureType.objects.values_list("code", flat=True),
        *ProcedureType.objects.values_list("code_15_or_more", flat=True),
        *Procedure.objects.values_list("procedure_code", flat=True),
    } - {""}

    assert codes >= {"10040", "17110", "17111"}
    for code in codes:
        cpt_code_validator(code)
    assert Procedure.objects.exclude(procedure_code="").count() == (
        Procedure.objects.filter(procedure_code__regex=CPT_CODE_PATTERN).count()
    )
    assert Procedure.objects.filter(recorded_on_behalf=True).count() == 0
