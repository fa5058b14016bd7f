"""Treating lesions changes their state; a draft is revised until it is signed."""

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from patients.models import Lesion
from patients.services import lesion_update
from treatments.models import Procedure
from treatments.services import records
from treatments.services.records import RecordError, RecordLocked

from ...factories import LesionFactory, StaffMemberFactory
from .test_records import CONSENT, CRYO, NO_COMPLICATIONS, record

pytestmark = pytest.mark.django_db


def revise(procedure, *, by, lesions, technique=CRYO, note="Revised.", **extra):
    return records.procedure_revise(
        procedure=procedure,
        lesions=lesions,
        technique=technique,
        consent=CONSENT,
        complications=NO_COMPLICATIONS,
        note=note,
        by=by,
        **extra,
    )


def test_recording_a_procedure_marks_its_lesions_treated_naming_who(visit):
    eyelid, cheek = LesionFactory(patient=visit.patient), LesionFactory(patient=visit.patient)
    untouched = LesionFactory(patient=visit.patient)

    record(visit, lesions=[eyelid, cheek])

    for lesion in (eyelid, cheek, untouched):
        lesion.refresh_from_db()
    assert (eyelid.status, cheek.status) == (Lesion.Status.TREATED, Lesion.Status.TREATED)
    assert eyelid.last_treated_on == timezone.localdate()
    assert (untouched.status, untouched.last_treated_on) == (Lesion.Status.ACTIVE, None)
    latest = eyelid.history.latest("history_date")
    assert (latest.status, latest.history_user) == ("treated", visit.dermatologist.user)


def test_watchful_waiting_leaves_the_lesions_as_they_were(visit):
    lesion = LesionFactory(patient=visit.patient)
    record(visit, slug="watchful-waiting", lesions=[lesion], technique={}, consent={})
    lesion.refresh_from_db()
    assert (lesion.status, lesion.last_treated_on) == (Lesion.Status.ACTIVE, None)


@pytest.mark.parametrize(
    ("outcome", "status"),
    [("resolved", "resolved"), ("recurred", "active"), ("partly_resolved", "active")],
)
def test_the_check_ends_the_wait_whatever_it_finds(visit, outcome, status):
    lesion = LesionFactory(patient=visit.patient)
    follow_up = record(visit, lesions=[lesion]).follow_ups.get()
    records.follow_up_record_outcomes(
        follow_up=follow_up,
        by=visit.dermatologist.user,
        outcomes=[{"lesion": lesion, "outcome": outcome}],
    )
    lesion.refresh_from_db()
    assert lesion.status == status


def test_a_complication_found_at_the_check_leaves_the_lesion_active_not_waiting(visit):
    lesion = LesionFactory(patient=visit.patient)
    follow_up = record(visit, lesions=[lesion]).follow_ups.get()
    records.follow_up_record_outcomes(
        follow_up=follow_up,
        by=visit.dermatologist.user,
        outcomes=[
            {"lesion": lesion, "outcome": "complication", "complication": "hypopigmentation"}
        ],
    )
    lesion.refresh_from_db()
    assert lesion.status == Lesion.Status.ACTIVE


def test_a_lesion_is_not_marked_treated_by_hand_without_a_procedure(visit):
    lesion = LesionFactory(patient=visit.patient)
    with pytest.raises(ValidationError, match="once a procedure on it is recorded"):
        lesion_update(lesion=lesion, by=visit.dermatologist.user, status=Lesion.Status.TREATED)
    lesion.refresh_from_db()
    assert lesion.status == Lesion.Status.ACTIVE


def test_a_draft_is_revised_its_lesions_following_the_change(visit):
    kept, dropped = LesionFactory(patient=visit.patient), LesionFactory(patient=visit.patient)
    added = LesionFactory(patient=visit.patient, count=20)
    procedure = record(visit, lesions=[kept, dropped])
    assert procedure.procedure_code == "17110"

    revised = revise(procedure, by=visit.dermatologist.user, lesions=[kept, added])

    revised.refresh_from_db()
    assert revised.note == "Revised."
    assert set(revised.lesions.all()) == {kept, added}
    assert revised.procedure_code == "17111"  # 23 milia now: the suggestion follows
    for lesion in (kept, dropped, added):
        lesion.refresh_from_db()
    assert (kept.status, added.status) == (Lesion.Status.TREATED, Lesion.Status.TREATED)
    assert (dropped.status, dropped.last_treated_on) == (Lesion.Status.ACTIVE, None)
    assert revised.history.latest("history_date").history_user == visit.dermatologist.user


def test_a_lesion_dropped_from_a_draft_stays_treated_by_its_earlier_procedure(visit):
    lesion = LesionFactory(patient=visit.patient)
    earlier = record(visit, lesions=[lesion])
    Procedure.objects.filter(pk=earlier.pk).update(
        performed_at=earlier.performed_at - timedelta(days=40)
    )
    second = visit.__class__.objects.get(pk=visit.pk)
    second.pk = None
    second.starts_at += timedelta(days=1)
    second.ends_at += timedelta(days=1)
    second.status = "checked_in"
    second.save()
    other = LesionFactory(patient=visit.patient)
    draft = record(second, lesions=[lesion, other])

    revise(draft, by=visit.dermatologist.user, lesions=[other])

    lesion.refresh_from_db()
    assert lesion.status == Lesion.Status.TREATED
    assert lesion.last_treated_on == timezone.localdate(earlier.performed_at) - timedelta(days=40)


def test_a_bad_revision_changes_nothing(visit):
    lesion = LesionFactory(patient=visit.patient)
    procedure = record(visit, lesions=[lesion])
    with pytest.raises(RecordError) as refused:
        revise(
            procedure,
            by=visit.dermatologist.user,
            lesions=[lesion],
            technique={**CRYO, "freeze_seconds": 90},
            note="Should not be kept.",
        )
    assert "freeze_seconds" in refused.value.error_dict
    procedure.refresh_from_db()
    assert (procedure.note, procedure.freeze_seconds) == ("Tolerated well.", 5)


def test_a_signed_record_is_not_revised(visit):
    lesion = LesionFactory(patient=visit.patient)
    procedure = record(visit, lesions=[lesion])
    records.procedure_sign(procedure=procedure, by=visit.dermatologist.user)
    with pytest.raises(RecordLocked):
        revise(procedure, by=visit.dermatologist.user, lesions=[lesion])
    procedure.refresh_from_db()
    assert procedure.note == "Tolerated well."


def test_only_the_records_dermatologist_or_author_revises_it(visit):
    lesion = LesionFactory(patient=visit.patient)
    procedure = record(visit, lesions=[lesion])
    colleague = StaffMemberFactory()
    with pytest.raises(PermissionError):
        revise(procedure, by=colleague.user, lesions=[lesion])
    procedure.refresh_from_db()
    assert procedure.note == "Tolerated well."


def test_the_migration_marks_lesions_treated_since_their_last_check(visit):
    LesionFactory.create_batch(3)  # other patients': lesion and outcome ids differ
    waiting, checked = LesionFactory(patient=visit.patient), LesionFactory(patient=visit.patient)
    follow_up = record(visit, lesions=[waiting, checked]).follow_ups.get()
    records.follow_up_record_outcomes(
        follow_up=follow_up,
        by=visit.dermatologist.user,
        outcomes=[{"lesion": checked, "outcome": "recurred"}],
    )
    # As before the migration: every lesion active, no treatment day.
    Lesion.objects.update(status="active", last_treated_on=None)
    migration = importlib.import_module("patients.migrations.0005_lesion_treated")

    migration.mark_treated_lesions(apps, None)

    waiting.refresh_from_db()
    checked.refresh_from_db()
    assert (waiting.status, waiting.last_treated_on) == ("treated", timezone.localdate())
    assert (checked.status, checked.last_treated_on) == ("active", timezone.localdate())


def test_a_value_the_python_checks_miss_is_still_refused_by_the_database(
    visit, monkeypatch, caplog
):
    procedure = record(visit)
    monkeypatch.setattr(records, "check_constraints_hold", lambda instance: None)
    procedure.freeze_seconds = 90  # beyond the database's 1–60

    refused = pytest.raises(RecordError, match="breaks one of the clinic's rules")
    with refused, transaction.atomic():
        records._save_checked(procedure, by=visit.dermatologist.user)

    procedure.refresh_from_db()
    assert procedure.freeze_seconds == 5
    assert "procedure_freeze_seconds_range" in caplog.text
    assert "Tolerated well" not in caplog.text  # the constraint's name, never the row's values
