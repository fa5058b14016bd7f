"""Recording, signing and amending procedures; follow-ups and their outcomes."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from patients.models import Lesion, PatientAlert
from treatments.models import Amendment, Appointment, FollowUp, Procedure, ProcedureType
from treatments.services import records
from treatments.services.booking import TransitionNotAllowed, appointment_book
from treatments.services.records import RecordLocked, suggested_procedure_code

from ...factories import (
    AppointmentFactory,
    GuardianFactory,
    LesionFactory,
    PatientFactory,
    StaffMemberFactory,
)

pytestmark = pytest.mark.django_db

CRYO = {
    "cryo_method": "spray",
    "freeze_seconds": 5,
    "freeze_thaw_cycles": 2,
    "halo_mm": Decimal("1"),
}
CONSENT = {"consent_obtained": True, "consent_given_by": "patient"}
NO_COMPLICATIONS = {
    "complication_bleeding": False,
    "complication_blistering": False,
    "complication_pain": False,
    "complication_note": "",
}


def procedure_type(slug) -> ProcedureType:
    return ProcedureType.objects.get(slug=slug)


def record(visit, *, slug="cryotherapy", lesions=None, technique=CRYO, consent=CONSENT, **extra):
    lesions = lesions if lesions is not None else [LesionFactory(patient=visit.patient, count=3)]
    return records.procedure_record(
        appointment=visit,
        procedure_type=procedure_type(slug),
        lesions=lesions,
        technique=technique,
        consent=consent,
        complications=NO_COMPLICATIONS,
        note="Tolerated well.",
        by=visit.dermatologist.user,
        **extra,
    )


@pytest.mark.parametrize(
    ("slug", "count", "code"),
    [
        ("cryotherapy", 14, "17110"),
        ("cryotherapy", 15, "17111"),
        ("curettage", 15, "17111"),
        ("extraction", 30, "10040"),
        ("watchful-waiting", 3, ""),
    ],
)
def test_the_suggested_code_follows_the_type_and_the_number_of_lesions(slug, count, code):
    assert suggested_procedure_code(procedure_type=procedure_type(slug), lesion_count=count) == code


def test_recording_a_cryotherapy_writes_the_record_the_code_aftercare_follow_up_and_completes(
    visit,
):
    lesions = [
        LesionFactory(patient=visit.patient, count=8),
        LesionFactory(patient=visit.patient, count=7),
    ]
    procedure = record(visit, lesions=lesions)

    assert procedure.status == Procedure.Status.DRAFT
    assert procedure.procedure_code == "17111"  # 15 milia
    assert procedure.diagnosis_code == "L72.0"
    assert "blister" in procedure.aftercare_text
    assert set(procedure.lesions.all()) == set(lesions)
    follow_up = FollowUp.objects.get(procedure=procedure)
    assert follow_up.kind == FollowUp.Kind.RECURRENCE_CHECK
    assert follow_up.due_on == timezone.localdate(procedure.performed_at) + timedelta(weeks=6)
    visit.refresh_from_db()
    assert visit.status == Appointment.Status.COMPLETED


def test_an_overridden_code_is_kept_and_marked(visit):
    procedure = record(visit, procedure_code="17110")
    assert procedure.procedure_code == "17110"
    assert procedure.procedure_code_overridden is False  # 3 milia: the suggestion itself
    other_visit = AppointmentFactory(
        dermatologist=visit.dermatologist,
        procedure_type=visit.procedure_type,
        status=Appointment.Status.CHECKED_IN,
        starts_at=visit.starts_at + timedelta(hours=1),
    )
    overridden = record(other_visit, procedure_code="17111")
    assert overridden.procedure_code_overridden is True


@pytest.mark.parametrize(
    ("technique", "field"),
    [
        ({**CRYO, "freeze_seconds": 45}, "freeze_seconds"),
        ({**CRYO, "freeze_thaw_cycles": 4}, "freeze_thaw_cycles"),
        ({**CRYO, "cryo_method": ""}, "cryo_method"),
        ({**CRYO, "halo_mm": Decimal("6")}, "halo_mm"),
    ],
)
def test_implausible_cryotherapy_values_are_refused_and_nothing_is_written(visit, technique, field):
    with pytest.raises(ValidationError) as refused:
        record(visit, technique=technique)
    assert field in refused.value.error_dict
    assert not Procedure.objects.exists()
    visit.refresh_from_db()
    assert visit.status == Appointment.Status.CHECKED_IN


def test_curettage_requires_the_anesthetic_its_volume_and_hemostasis(visit):
    with pytest.raises(ValidationError) as refused:
        record(visit, slug="curettage", technique={"anesthetic": "lidocaine_1"})
    assert {"anesthetic_volume_ml", "hemostasis"} <= set(refused.value.error_dict)
    procedure = record(
        visit,
        slug="curettage",
        technique={
            "anesthetic": "lidocaine_1",
            "anesthetic_volume_ml": Decimal("0.5"),
            "hemostasis": "electrocautery",
            "cryo_method": "spray",
        },
    )
    assert procedure.anesthetic == "lidocaine_1"
    assert procedure.cryo_method == ""  # another technique's field is not kept


def test_lidocaine_is_refused_for_a_patient_with_a_lidocaine_allergy(visit):
    PatientAlert.objects.create(
        patient=visit.patient, kind="allergy", description="Lidocaine (hives)"
    )
    with pytest.raises(ValidationError) as refused:
        record(
            visit,
            slug="curettage",
            technique={
                "anesthetic": "lidocaine_1",
                "anesthetic_volume_ml": Decimal("0.5"),
                "hemostasis": "pressure",
            },
        )
    assert "allergy" in str(refused.value.error_dict["anesthetic"])


def test_extraction_needs_the_instrument_and_the_number_cleared(visit):
    with pytest.raises(ValidationError) as refused:
        record(visit, slug="extraction", technique={"instrument": "needle", "lesions_cleared": 9})
    assert {"needle_gauge", "lesions_cleared"} <= set(refused.value.error_dict)  # 3 treated
    procedure = record(
        visit, slug="extraction", technique={"instrument": "tweezers", "lesions_cleared": 3}
    )
    assert procedure.procedure_code == "10040"


def test_a_procedure_needs_consent_and_a_minor_needs_the_guardians(dermatologist, treatment_room):
    baby = GuardianFactory().patient
    visit = AppointmentFactory(
        patient=baby,
        dermatologist=dermatologist,
        room=treatment_room,
        procedure_type=procedure_type("cryotherapy"),
        status="checked_in",
    )
    with pytest.raises(ValidationError, match="Consent is needed"):
        record(visit, consent={})
    with pytest.raises(ValidationError, match="guardian consents"):
        record(visit)
    procedure = record(visit, consent={"consent_obtained": True, "consent_given_by": "guardian"})
    assert procedure.consent_at is not None


def test_watchful_waiting_records_a_recheck_without_consent_or_lesions(visit):
    procedure = record(visit, slug="watchful-waiting", lesions=[], technique={}, consent={})
    assert procedure.procedure_code == ""
    assert FollowUp.objects.get(procedure=procedure).kind == FollowUp.Kind.RECHECK


def test_only_a_checked_in_visit_is_recorded_and_only_once(visit):
    visit.status = Appointment.Status.BOOKED
    visit.save()
    with pytest.raises(ValidationError, match="checked-in"):
        record(visit)
    visit.status = Appointment.Status.CHECKED_IN
    visit.save()
    record(visit)
    with pytest.raises(ValidationError):
        record(visit)


def test_a_visit_deleted_since_the_page_was_read_is_a_conflict(visit):
    Appointment.objects.filter(pk=visit.pk).delete()
    with pytest.raises(records.RecordConflict, match="no longer exists"):
        record(visit)
    assert not Procedure.objects.exists()


def test_another_patients_lesion_is_refused(visit):
    with pytest.raises(ValidationError, match="this patient's"):
        record(visit, lesions=[LesionFactory()])


def test_a_failure_midway_leaves_nothing_written(visit, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(records, "follow_up_plan", broken)
    with pytest.raises(RuntimeError):
        record(visit)
    assert not Procedure.objects.exists()
    assert not FollowUp.objects.exists()
    visit.refresh_from_db()
    assert visit.status == Appointment.Status.CHECKED_IN


def test_signing_locks_the_record(visit):
    procedure = record(visit)
    signed = records.procedure_sign(procedure=procedure, by=visit.dermatologist.user)
    assert signed.is_signed and signed.signed_by == visit.dermatologist.user
    with pytest.raises(RecordLocked):
        records.procedure_update_note(procedure=signed, note="changed", by=visit.dermatologist.user)
    with pytest.raises(RecordLocked):
        records.procedure_sign(procedure=signed, by=visit.dermatologist.user)
    signed.refresh_from_db()
    assert signed.note == "Tolerated well."


def test_a_draft_note_can_change_before_signing(visit):
    procedure = record(visit)
    changed = records.procedure_update_note(
        procedure=procedure, note="Mild erythema.", by=visit.dermatologist.user
    )
    assert changed.note == "Mild erythema."


def test_only_the_dermatologist_who_did_it_signs(visit):
    procedure = record(visit)
    colleague = StaffMemberFactory()
    with pytest.raises(PermissionError):
        records.procedure_sign(procedure=procedure, by=colleague.user)
    procedure.refresh_from_db()
    assert not procedure.is_signed


def test_an_amendment_keeps_the_original(visit):
    procedure = record(visit)
    with pytest.raises(ValidationError):
        records.procedure_amend(
            procedure=procedure, reason="typo", text="x", by=visit.dermatologist.user
        )
    records.procedure_sign(procedure=procedure, by=visit.dermatologist.user)
    amendment = records.procedure_amend(
        procedure=procedure,
        reason="Wrong site noted",
        text="Treated the right lower eyelid.",
        by=visit.dermatologist.user,
    )
    procedure.refresh_from_db()
    assert procedure.note == "Tolerated well."
    assert list(procedure.amendments.all()) == [amendment]
    assert amendment.author == visit.dermatologist.user
    with pytest.raises(ValidationError):
        records.procedure_amend(
            procedure=procedure, reason="", text="x", by=visit.dermatologist.user
        )
    assert Amendment.objects.count() == 1


def test_the_history_names_who_changed_the_record(visit):
    procedure = record(visit)
    records.procedure_sign(procedure=procedure, by=visit.dermatologist.user)
    history = list(procedure.history.order_by("history_date"))
    assert [h.status for h in history] == ["draft", "signed"]
    assert {h.history_user for h in history} == {visit.dermatologist.user}


def test_outcomes_update_the_lesions_and_a_recurrence_earns_a_recheck(visit):
    cleared, back = LesionFactory(patient=visit.patient), LesionFactory(patient=visit.patient)
    procedure = record(visit, lesions=[cleared, back])
    follow_up = procedure.follow_ups.get()
    records.follow_up_record_outcomes(
        follow_up=follow_up,
        by=visit.dermatologist.user,
        outcomes=[
            {"lesion": cleared, "outcome": "resolved"},
            {"lesion": back, "outcome": "recurred"},
        ],
    )
    cleared.refresh_from_db()
    back.refresh_from_db()
    follow_up.refresh_from_db()
    assert (cleared.status, back.status) == (Lesion.Status.RESOLVED, Lesion.Status.ACTIVE)
    assert cleared.resolved_on == timezone.localdate()
    assert follow_up.status == FollowUp.Status.DONE
    assert FollowUp.objects.filter(kind=FollowUp.Kind.RECHECK, status="open").count() == 1


def test_a_complication_outcome_must_name_the_complication(visit):
    lesion = LesionFactory(patient=visit.patient)
    follow_up = record(visit, lesions=[lesion]).follow_ups.get()
    with pytest.raises(ValidationError):
        records.follow_up_record_outcomes(
            follow_up=follow_up,
            by=visit.dermatologist.user,
            outcomes=[{"lesion": lesion, "outcome": "complication", "complication": ""}],
        )
    follow_up.refresh_from_db()
    assert follow_up.status == FollowUp.Status.OPEN


def book_check(visit, follow_up, *, patient, starts_at):
    """Book the recurrence check that a follow-up asks for, at the visit's dermatologist."""
    return appointment_book(
        patient=patient,
        follow_up=follow_up,
        booked_by=visit.dermatologist.user,
        dermatologist=visit.dermatologist,
        procedure_type=procedure_type("watchful-waiting"),
        starts_at=starts_at,
    )


def test_booking_the_check_marks_the_follow_up_booked(visit, tomorrow_at):
    follow_up = record(visit).follow_ups.get()
    appointment = book_check(visit, follow_up, patient=visit.patient, starts_at=tomorrow_at(9))
    follow_up.refresh_from_db()
    assert (follow_up.status, follow_up.appointment) == (FollowUp.Status.BOOKED, appointment)
    with pytest.raises(TransitionNotAllowed, match="This follow-up is booked"):
        book_check(visit, follow_up, patient=visit.patient, starts_at=tomorrow_at(11))
    assert Appointment.objects.filter(patient=visit.patient).count() == 2  # visit + check


def test_another_patients_follow_up_is_refused_and_nothing_is_booked(visit, tomorrow_at):
    follow_up = record(visit).follow_ups.get()
    someone_else = PatientFactory()
    with pytest.raises(TransitionNotAllowed, match="another patient's"):
        book_check(visit, follow_up, patient=someone_else, starts_at=tomorrow_at(9))
    follow_up.refresh_from_db()
    assert follow_up.status == FollowUp.Status.OPEN
    assert not Appointment.objects.filter(patient=someone_else).exists()


def test_an_alert_needs_a_description(visit):
    with pytest.raises(ValidationError):
        records.alert_add(patient=visit.patient, kind="allergy", description=" ", by=None)
    alert = records.alert_add(patient=visit.patient, kind="allergy", description="Latex", by=None)
    assert alert.is_active


def test_the_first_noted_date_bounds_resolution(visit):
    lesion = LesionFactory(patient=visit.patient, first_noted=date.today() + timedelta(days=3))
    follow_up = record(visit, lesions=[lesion]).follow_ups.get()
    records.follow_up_record_outcomes(
        follow_up=follow_up,
        by=visit.dermatologist.user,
        outcomes=[{"lesion": lesion, "outcome": "resolved"}],
    )
    lesion.refresh_from_db()
    assert lesion.resolved_on >= lesion.first_noted


def test_a_technique_field_left_out_is_stored_empty(visit):
    procedure = record(visit, slug="electrodesiccation", technique={})
    assert (procedure.anesthetic, procedure.hemostasis) == ("", "")


def test_the_demo_has_signed_records_an_allergy_and_follow_ups_due():
    from django.core.management import call_command

    call_command("seed_demo")
    assert Procedure.objects.filter(status="signed").exists()
    assert PatientAlert.objects.filter(description__icontains="lidocaine").exists()
    assert FollowUp.objects.filter(due_on__lt=timezone.localdate(), status="open").exists()
