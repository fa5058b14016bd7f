"""The patient's record at the desk, patients.services: the MRN, demographics and address,
payer, reminder consent with who and when, guardians, and the history of every change."""

import importlib
from datetime import date, datetime, timedelta

import pytest
import time_machine
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from patients.models import Channel, Guardian, Patient, mrn_for
from patients.selectors import patient_history, patient_search
from patients.services import (
    ConcurrentChange,
    guardian_add,
    guardian_make_recipient,
    guardian_remove,
    guardian_update,
    patient_register,
    patient_set_reminder_consent,
    patient_update,
)

from ..factories import GuardianFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

NOON = timezone.make_aware(datetime(2026, 3, 2, 12, 0))


@pytest.fixture
def desk():
    return UserFactory(username="rita", first_name="Rita", last_name="Reyes")


def registered(**fields) -> Patient:
    data = {
        "first_name": "Ana",
        "last_name": "Garcia",
        "date_of_birth": date(1990, 5, 17),
        "email": "ana@example.com",
        "phone": "+12125550143",
    }
    return patient_register(patient=Patient(**(data | fields)), guardian=None, allow_duplicate=True)


def minor_with_guardian(**guardian_fields) -> tuple[Patient, Guardian]:
    guardian = GuardianFactory(**guardian_fields)
    return guardian.patient, guardian


# --- The MRN ---


def test_registration_assigns_an_mrn_made_from_the_key():
    patient = registered()
    patient.refresh_from_db()
    assert patient.mrn == f"M{patient.pk:07d}"
    assert patient.history.earliest().mrn == patient.mrn  # the first version shows it


def test_every_patient_gets_an_mrn_of_their_own():
    first, second = registered(), registered(first_name="Bea", email="bea@example.com")
    assert first.mrn != second.mrn


def test_the_database_refuses_a_second_patient_with_the_same_mrn():
    first, second = registered(), registered(first_name="Bea", email="bea@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        Patient.objects.filter(pk=second.pk).update(mrn=first.mrn)


def test_the_mrn_grows_past_seven_digits_rather_than_being_cut():
    assert mrn_for(42) == "M0000042"
    assert mrn_for(12_345_678) == "M12345678"


def test_the_migration_numbers_the_patients_registered_before_it():
    unnumbered = PatientFactory()  # written without the service, like rows from before
    assert unnumbered.mrn is None
    migration = importlib.import_module("patients.migrations.0004_desk_record")
    migration.assign_mrns(apps, None)
    unnumbered.refresh_from_db()
    assert unnumbered.mrn == mrn_for(unnumbered.pk)


def test_the_search_finds_a_patient_by_the_exact_mrn_in_either_case():
    ana = registered()
    registered(first_name="Bea", email="bea@example.com")
    assert list(patient_search(query=ana.mrn)) == [ana]
    assert list(patient_search(query=ana.mrn.lower())) == [ana]
    assert list(patient_search(query=ana.mrn[:-1])) == []  # exact, not a prefix


# --- Demographics, address, contact ---


def test_the_desk_changes_demographics_address_and_contact(desk):
    patient = registered()
    patient_update(
        patient=patient,
        by=desk,
        first_name="Anna",
        sex=Patient.Sex.FEMALE,
        address_line_1="12 Elm Street",
        address_line_2="Apt 4",
        city="Springfield",
        region="IL",
        postal_code="62701",
        country="United States",
        language="fr",
        email="anna@example.com",
        phone="+12125550199",
        preferred_channel=Channel.SMS,
    )
    patient.refresh_from_db()
    assert (patient.first_name, patient.sex, patient.language) == ("Anna", "female", "fr")
    assert (patient.address_line_1, patient.address_line_2) == ("12 Elm Street", "Apt 4")
    assert (patient.city, patient.region, patient.postal_code) == ("Springfield", "IL", "62701")
    assert patient.country == "United States"
    assert (patient.email, str(patient.phone)) == ("anna@example.com", "+12125550199")
    assert patient.preferred_channel == Channel.SMS


def test_the_mrn_cannot_be_changed_through_the_desk(desk):
    patient = registered()
    with pytest.raises(TypeError, match="mrn"):
        patient_update(patient=patient, by=desk, mrn="M9999999")


def test_a_birth_date_that_makes_a_patient_without_guardian_a_minor_is_refused(desk):
    patient = registered(reminder_consent=False)
    with pytest.raises(ValidationError) as refused:
        patient_update(patient=patient, by=desk, date_of_birth=timezone.localdate())
    assert "date_of_birth" in refused.value.message_dict
    patient.refresh_from_db()
    assert patient.date_of_birth == date(1990, 5, 17)


def test_a_change_saved_meanwhile_by_another_desk_is_not_overwritten(desk):
    patient = registered()
    seen_at = patient.updated_at
    patient_update(patient=patient, by=desk, seen_at=seen_at, city="Springfield")
    with pytest.raises(ConcurrentChange) as refused:
        patient_update(patient=patient, by=desk, seen_at=seen_at, city="Shelbyville")
    assert refused.value.status == 409
    patient.refresh_from_db()
    assert patient.city == "Springfield"


# --- Payer ---


def test_insurance_names_the_insurer_and_the_member(desk):
    patient = registered()
    patient_update(
        patient=patient,
        by=desk,
        payer=Patient.Payer.INSURANCE,
        insurer_name="Blue Cross",
        insurance_member_id="XQ-123456",
    )
    patient.refresh_from_db()
    assert (patient.payer, patient.insurer_name) == ("insurance", "Blue Cross")
    assert patient.insurance_member_id == "XQ-123456"


def test_insurance_without_insurer_or_member_id_is_refused_and_nothing_is_written(desk):
    patient = registered()
    with pytest.raises(ValidationError) as refused:
        patient_update(patient=patient, by=desk, payer=Patient.Payer.INSURANCE, city="Springfield")
    assert set(refused.value.message_dict) == {"insurer_name", "insurance_member_id"}
    patient.refresh_from_db()
    assert (patient.payer, patient.city) == ("self_pay", "")


def test_choosing_self_pay_clears_the_insurer(desk):
    patient = registered()
    patient_update(
        patient=patient,
        by=desk,
        payer=Patient.Payer.INSURANCE,
        insurer_name="Blue Cross",
        insurance_member_id="XQ-123456",
    )
    patient_update(patient=patient, by=desk, payer=Patient.Payer.SELF_PAY)
    patient.refresh_from_db()
    assert (patient.payer, patient.insurer_name, patient.insurance_member_id) == (
        "self_pay",
        "",
        "",
    )


@pytest.mark.parametrize(
    "columns",
    [
        {"payer": "insurance"},
        {"payer": "insurance", "insurer_name": "Blue Cross"},
        {"insurer_name": "Blue Cross"},  # self-pay naming an insurer
    ],
)
def test_the_database_refuses_an_incomplete_payer(columns):
    patient = registered()
    with pytest.raises(IntegrityError), transaction.atomic():
        Patient.objects.filter(pk=patient.pk).update(**columns)


# --- Reminder consent ---


def test_turning_reminders_back_on_records_who_and_when(desk):
    with time_machine.travel(NOON - timedelta(days=2), tick=False):
        patient = registered(reminder_consent=True)
        patient_set_reminder_consent(patient=patient, consent=False, reason="Stop link")
    with time_machine.travel(NOON, tick=False):
        patient_update(patient=patient, by=desk, reminder_consent=True)
    patient.refresh_from_db()
    assert patient.reminder_consent is True
    assert patient.reminder_consent_changed_at == NOON
    assert patient.reminder_consent_changed_by == desk
    assert patient.history.latest().history_user == desk


def test_turning_reminders_off_at_the_desk_records_who_and_when(desk):
    patient = registered(reminder_consent=True)
    with time_machine.travel(NOON, tick=False):
        patient_update(patient=patient, by=desk, reminder_consent=False)
    patient.refresh_from_db()
    assert (patient.reminder_consent, patient.reminder_consent_changed_at) == (False, NOON)
    assert patient.reminder_consent_changed_by == desk


def test_a_change_of_something_else_keeps_when_consent_was_given(desk):
    patient = registered(reminder_consent=True)
    given_at = patient.reminder_consent_changed_at
    patient_update(patient=patient, by=desk, reminder_consent=True, city="Springfield")
    patient.refresh_from_db()
    assert patient.reminder_consent_changed_at == given_at
    assert patient.reminder_consent_changed_by is None  # given at registration, by nobody named


def test_reminders_cannot_be_on_without_a_contact_on_the_channel(desk):
    patient = registered(email="", reminder_consent=False)
    with pytest.raises(ValidationError) as refused:
        patient_update(patient=patient, by=desk, reminder_consent=True)
    assert refused.value.message_dict["preferred_channel"] == [
        "Reminders by email need the patient's email address."
    ]
    patient.refresh_from_db()
    assert patient.reminder_consent is False


def test_removing_the_only_contact_while_reminders_are_on_is_refused(desk):
    patient = registered(reminder_consent=True, preferred_channel=Channel.SMS)
    with pytest.raises(ValidationError):
        patient_update(patient=patient, by=desk, phone="")
    patient.refresh_from_db()
    assert str(patient.phone) == "+12125550143"


def test_a_minors_reminders_need_the_receiving_guardians_contact(desk):
    patient, _guardian = minor_with_guardian(email="", phone="+12125550177")
    with pytest.raises(ValidationError) as refused:
        patient_update(patient=patient, by=desk, reminder_consent=True)
    assert "the guardian's email address" in refused.value.message_dict["preferred_channel"][0]
    patient_update(patient=patient, by=desk, reminder_consent=True, preferred_channel=Channel.SMS)
    patient.refresh_from_db()
    assert patient.reminder_consent is True


# --- Guardians ---


def test_the_first_guardian_added_receives_the_reminders(desk):
    patient = registered(reminder_consent=False)
    guardian = guardian_add(
        patient=patient,
        by=desk,
        first_name="Maria",
        last_name="Garcia",
        relationship=Guardian.Relationship.MOTHER,
        email="maria@example.com",
        phone="",
    )
    assert guardian.receives_reminders is True
    assert guardian.history.latest().history_user == desk


def test_a_guardian_added_to_receive_the_reminders_takes_them_over(desk):
    patient, mother = minor_with_guardian()
    father = guardian_add(
        patient=patient,
        by=desk,
        receives_reminders=True,
        first_name="Luis",
        last_name="Garcia",
        relationship=Guardian.Relationship.FATHER,
        email="luis@example.com",
        phone="",
    )
    mother.refresh_from_db()
    assert (mother.receives_reminders, father.receives_reminders) == (False, True)
    assert list(patient.guardians.filter(receives_reminders=True)) == [father]


def test_switching_the_recipient_leaves_exactly_one(desk):
    patient, mother = minor_with_guardian()
    father = GuardianFactory(patient=patient, receives_reminders=False)
    guardian_make_recipient(guardian=father, by=desk)
    assert list(patient.guardians.filter(receives_reminders=True)) == [father]
    guardian_make_recipient(guardian=mother, by=desk)
    assert list(patient.guardians.filter(receives_reminders=True)) == [mother]


def test_a_recipient_without_a_contact_on_the_channel_is_refused(desk):
    patient, mother = minor_with_guardian()
    patient_update(patient=patient, by=desk, reminder_consent=True)
    father = GuardianFactory(
        patient=patient, receives_reminders=False, email="", phone="+12125550177"
    )
    with pytest.raises(ValidationError):
        guardian_make_recipient(guardian=father, by=desk)
    mother.refresh_from_db()
    assert mother.receives_reminders is True  # the switch is undone as a whole


def test_a_guardian_without_email_or_phone_is_refused(desk):
    patient, mother = minor_with_guardian()
    with pytest.raises(ValidationError) as refused:
        guardian_update(guardian=mother, by=desk, email="", phone="")
    assert "email" in refused.value.message_dict
    mother.refresh_from_db()
    assert mother.email


def test_a_guardians_details_are_changed(desk):
    _patient, mother = minor_with_guardian()
    guardian_update(guardian=mother, by=desk, first_name="Marie", phone="+12125550188")
    mother.refresh_from_db()
    assert (mother.first_name, str(mother.phone)) == ("Marie", "+12125550188")


def test_an_adults_guardian_is_removed(desk):
    patient = registered(reminder_consent=False)
    guardian = GuardianFactory(patient=patient)
    guardian_remove(guardian=guardian, by=desk)
    assert not patient.guardians.exists()
    removal = Guardian.history.filter(id=guardian.pk).latest()
    assert (removal.history_type, removal.history_user) == ("-", desk)


def test_a_minors_only_guardian_cannot_be_removed(desk):
    patient, mother = minor_with_guardian()
    with pytest.raises(ValidationError, match="needs a guardian"):
        guardian_remove(guardian=mother, by=desk)
    assert patient.guardians.get() == mother


def test_the_guardian_receiving_a_minors_reminders_is_replaced_before_removal(desk):
    patient, mother = minor_with_guardian()
    father = GuardianFactory(patient=patient, receives_reminders=False)
    with pytest.raises(ValidationError, match="choose another guardian"):
        guardian_remove(guardian=mother, by=desk)
    guardian_make_recipient(guardian=father, by=desk)
    guardian_remove(guardian=mother, by=desk)
    assert list(patient.guardians.all()) == [father]


def test_a_guardian_removed_meanwhile_is_a_conflict(desk):
    patient = registered(reminder_consent=False)
    guardian = GuardianFactory(patient=patient)
    Guardian.objects.filter(pk=guardian.pk).delete()
    with pytest.raises(ConcurrentChange):
        guardian_update(guardian=guardian, by=desk, first_name="Marie")


# --- History ---


def test_the_history_lists_each_change_with_who_when_and_which_fields(desk):
    with time_machine.travel(NOON - timedelta(days=2), tick=False):
        patient = registered(reminder_consent=True)
    with time_machine.travel(NOON - timedelta(days=1), tick=False):
        patient_set_reminder_consent(patient=patient, consent=False, reason="Stop link")
    with time_machine.travel(NOON, tick=False):
        patient_update(patient=patient, by=desk, phone="+12125550199", reminder_consent=True)
    with time_machine.travel(NOON + timedelta(minutes=5), tick=False):
        guardian_add(
            patient=patient,
            by=desk,
            first_name="Maria",
            last_name="Garcia",
            relationship=Guardian.Relationship.MOTHER,
            email="maria@example.com",
            phone="",
        )
    changes = patient_history(patient=patient)
    assert [(change.summary, change.fields) for change in changes] == [
        ("Guardian added: Maria Garcia", []),
        ("Changed", ["Phone", "Reminder consent (given)"]),
        ("Changed", ["Reminder consent (withdrawn)"]),
        ("Registered", []),
    ]
    assert [change.by for change in changes] == [desk, desk, None, None]
    assert changes[1].at == NOON
    assert changes[2].reason == "Stop link"


def test_the_history_skips_saves_that_changed_nothing_it_lists(desk):
    patient = registered()
    patient_update(patient=patient, by=desk, city="")  # the same as before
    patient.save()  # updated_at moves, nothing else
    assert [change.summary for change in patient_history(patient=patient)] == ["Registered"]
