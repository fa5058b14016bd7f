"""Writes of the patients app: patients and guardians, reminder consent, and lesions
(charting one and changing it, including resolving it)."""

from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal
from http import HTTPStatus
from typing import Any, TypeVar

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from simple_history.utils import bulk_create_with_history

from .models import Channel, Guardian, Lesion, Patient, mrn_expression, mrn_for
from .selectors import patient_likely_duplicates

CHANGED_MEANWHILE = gettext_lazy(
    "Someone else changed this patient's record meanwhile. Reload the page and try again."
)


class ConcurrentChange(ValidationError):
    """Someone else changed the record since the page was shown: answered with 409 (the
    `status` that clinic.errors.error_status reads)."""

    status = HTTPStatus.CONFLICT

    def __init__(self, message: str = ""):
        super().__init__(message or str(CHANGED_MEANWHILE))


class LikelyDuplicate(Exception):
    """The patient to register may already be registered: the receptionist must confirm."""

    def __init__(self, patients: Iterable[Patient]):
        self.patients = list(patients)
        super().__init__(f"{len(self.patients)} registered patient(s) may be this person.")


def patient_save(
    *,
    patient: Patient,
    changed_fields: Iterable[str] = (),
    by: User | None = None,
    validate_constraints: bool = True,
) -> Patient:
    """Validate and save a patient, naming `by` in its history row. A change of reminder
    consent records when it happened and who made it; a new patient is given its MRN
    (models.mrn_for) in the same transaction.

    Without `validate_constraints` the check constraints are left to the database (an
    IntegrityError): Django checks each with a query of its own, which a bulk import
    whose rows were checked field by field cannot afford."""
    if "reminder_consent" in changed_fields or (
        patient.reminder_consent and patient.reminder_consent_changed_at is None
    ):
        patient.reminder_consent_changed_at = timezone.now()
        patient.reminder_consent_changed_by = by
    patient.full_clean(validate_constraints=validate_constraints)
    # Names the user in the history row even outside a request (a task, the shell).
    patient._history_user = by
    with transaction.atomic():
        patient.save()
        if patient.mrn is None:
            # The number comes from the key, known only now; the history row just written
            # gets it too, so the record's first version shows it.
            patient.mrn = mrn_for(patient.pk)
            Patient.objects.filter(pk=patient.pk).update(mrn=patient.mrn)
            Patient.history.filter(id=patient.pk, mrn__isnull=True).update(mrn=patient.mrn)
    return patient


def patient_unreachable_reason(*, patient: Patient, guardian: Guardian | None) -> str | None:
    """Why reminders on the preferred channel would reach nobody, or None if they would
    (or if none will be sent: the patient did not agree to reminders).

    A minor's reminders go to their guardian, an adult's to themselves.
    """
    if not patient.reminder_consent:
        return None
    contact = guardian if patient.is_minor else patient
    if contact is None:
        return None
    if patient.preferred_channel == Channel.EMAIL and not contact.email:
        if patient.is_minor:
            return _("Reminders by email need the guardian's email address.")
        return _("Reminders by email need the patient's email address.")
    if patient.preferred_channel == Channel.SMS and not contact.phone:
        if patient.is_minor:
            return _("Reminders by SMS need the guardian's phone number.")
        return _("Reminders by SMS need the patient's phone number.")
    return None


def patient_register(
    *, patient: Patient, guardian: Guardian | None, allow_duplicate: bool, by: User | None = None
) -> Patient:
    """Register a new patient and, for a minor, the guardian who receives their reminders.

    Raises LikelyDuplicate, writing nothing, when the patient may already be registered
    and the receptionist has not said that this is a different person.
    """
    if patient.is_minor and guardian is None:
        raise ValidationError({"guardian": _("A patient under 18 needs a guardian.")})
    reason = patient_unreachable_reason(patient=patient, guardian=guardian)
    if reason:
        raise ValidationError({"preferred_channel": reason})
    if not allow_duplicate:
        duplicates = patient_likely_duplicates(
            first_name=patient.first_name,
            last_name=patient.last_name,
            date_of_birth=patient.date_of_birth,
            phone=patient.phone,
        )
        if duplicates:
            raise LikelyDuplicate(duplicates)
    with transaction.atomic():
        patient_save(patient=patient, by=by)
        if guardian is not None:
            guardian.patient = patient
            guardian.receives_reminders = True
            guardian.full_clean()
            guardian._history_user = by
            guardian.save()
    return patient


def patient_set_reminder_consent(
    *, patient: Patient, consent: bool, by: User | None = None, reason: str = ""
) -> Patient:
    """Give or withdraw consent to reminders, with the time and who did it; `reason` is
    kept in the history row (e.g. the patient's own "stop reminders" link, where `by` is
    nobody)."""
    if patient.reminder_consent != consent:
        patient.reminder_consent = consent
        patient._change_reason = reason
        patient_save(patient=patient, changed_fields=["reminder_consent"], by=by)
    return patient


# What the desk may change on a patient's record; the MRN is the clinic's, never edited.
PATIENT_EDITABLE_FIELDS = frozenset({
    "first_name", "last_name", "date_of_birth", "sex",
    "address_line_1", "address_line_2", "city", "region", "postal_code", "country",
    "email", "phone", "preferred_channel", "language", "reminder_consent",
    "payer", "insurer_name", "insurance_member_id", "registered_online",
})  # fmt: skip


def _reminder_recipient(patient: Patient) -> Guardian | None:
    return patient.guardians.filter(receives_reminders=True).first()


def _patient_check(patient: Patient) -> None:
    """The rules a saved record must keep, each refusal naming its field: insurance names
    the insurer and the member, a minor has a guardian, and reminders the patient agreed to
    reach someone on the preferred channel."""
    errors = patient_payer_errors(patient)
    recipient = _reminder_recipient(patient)
    if patient.is_minor and recipient is None:
        if not patient.guardians.exists():
            errors["date_of_birth"] = _("A patient under 18 needs a guardian: add one first.")
        elif patient.reminder_consent:
            errors["reminder_consent"] = _("Choose the guardian who receives the reminders first.")
    reason = patient_unreachable_reason(patient=patient, guardian=recipient)
    if reason:
        errors["preferred_channel"] = reason
    if errors:
        raise ValidationError(errors)


def patient_payer_errors(patient: Patient) -> dict[str, str]:
    """Insurance names the insurer and the member (the patient_payer_complete constraint),
    each refusal under its field."""
    errors = {}
    if patient.payer == Patient.Payer.INSURANCE:
        if not patient.insurer_name.strip():
            errors["insurer_name"] = _("Insurance needs the insurer's name.")
        if not patient.insurance_member_id.strip():
            errors["insurance_member_id"] = _("Insurance needs the member ID.")
    return errors


def _locked(patient: Patient) -> Patient:
    """The patient's row, locked until the transaction ends: every change to a record and
    its guardians takes this lock first, so two desks' changes happen one after the other."""
    return Patient.objects.select_for_update().get(pk=patient.pk)


def patient_update(
    *,
    patient: Patient,
    by: User | None,
    seen_at: datetime | None = None,
    reason: str = "",
    **changes: Any,
) -> Patient:
    """Change a patient's record at the desk; the change is kept in their history, naming
    `by` (and, for reminder consent, in who-and-when fields of its own). Without `by`
    (the patient online) the history row keeps `reason`, who did it.

    Choosing self-pay clears the insurer. Refused with a ValidationError naming the
    fields, writing nothing: see _patient_check. Refused with ConcurrentChange when
    `seen_at` (the record's updated_at when the form was shown) is no longer current.
    """
    unknown = changes.keys() - PATIENT_EDITABLE_FIELDS
    if unknown:
        raise TypeError(f"patient_update cannot change {', '.join(sorted(unknown))}")
    if changes.get("payer") == Patient.Payer.SELF_PAY:
        changes |= {"insurer_name": "", "insurance_member_id": ""}
    with transaction.atomic():
        current = _locked(patient)
        if seen_at is not None and current.updated_at != seen_at:
            raise ConcurrentChange()
        changed = [name for name, value in changes.items() if getattr(current, name) != value]
        for name in changed:
            setattr(current, name, changes[name])
        _patient_check(current)
        if changed:
            current._change_reason = reason
            patient_save(patient=current, changed_fields=changed, by=by)
    return current


# What guardian_update may change; which guardian receives reminders is guardian_make_recipient's.
GUARDIAN_EDITABLE_FIELDS = frozenset(
    {"first_name", "last_name", "relationship", "email", "phone", "language"}
)


def _guardian_save(*, guardian: Guardian, by: User | None) -> Guardian:
    if not guardian.email and not guardian.phone:
        raise ValidationError({"email": _("Give the guardian's email or phone number.")})
    guardian.full_clean()
    guardian._history_user = by
    guardian.save()
    return guardian


Written = TypeVar("Written")


def _guardian_write(write: Callable[[], Written]) -> Written:
    """Run `write` in a transaction; a unique-constraint race that the patient lock did not
    prevent (an edit in the admin, say) is a ConcurrentChange, not a server error."""
    try:
        with transaction.atomic():
            return write()
    except Guardian.DoesNotExist as error:
        raise ConcurrentChange(_("This guardian was removed meanwhile.")) from error
    except IntegrityError as error:
        raise ConcurrentChange() from error


def _recipient_switch(*, patient: Patient, to: Guardian, by: User | None) -> None:
    """Make `to` the one guardian who receives reminders. The current one stops first, so
    that at no moment two rows hold the flag (guardian_one_reminder_recipient)."""
    for current in patient.guardians.filter(receives_reminders=True).exclude(pk=to.pk):
        current.receives_reminders = False
        _guardian_save(guardian=current, by=by)
    to.receives_reminders = True


def guardian_add(
    *, patient: Patient, by: User, receives_reminders: bool = False, **fields: Any
) -> Guardian:
    """Add a guardian to the patient's record. They receive the reminders if asked, or if
    no guardian does yet (the first one added). Refused (nothing written) when the
    guardian has no email or phone, or when the patient's reminders would then reach nobody."""
    unknown = fields.keys() - GUARDIAN_EDITABLE_FIELDS
    if unknown:
        raise TypeError(f"guardian_add cannot set {', '.join(sorted(unknown))}")

    def write() -> Guardian:
        current = _locked(patient)
        guardian = Guardian(patient=current, receives_reminders=False, **fields)
        if receives_reminders or _reminder_recipient(current) is None:
            _recipient_switch(patient=current, to=guardian, by=by)
        _guardian_save(guardian=guardian, by=by)
        _patient_check(current)
        return guardian

    return _guardian_write(write)


def guardian_update(*, guardian: Guardian, by: User, **changes: Any) -> Guardian:
    """Change a guardian's name, relationship or contact details, kept in their history.
    Refused (nothing written) when they would have no email or phone, or when the
    patient's reminders, if this guardian receives them, would then reach nobody."""
    unknown = changes.keys() - GUARDIAN_EDITABLE_FIELDS
    if unknown:
        raise TypeError(f"guardian_update cannot change {', '.join(sorted(unknown))}")

    def write() -> Guardian:
        patient = _locked(guardian.patient)
        current = patient.guardians.get(pk=guardian.pk)
        for name, value in changes.items():
            setattr(current, name, value)
        _guardian_save(guardian=current, by=by)
        _patient_check(patient)
        return current

    return _guardian_write(write)


def guardian_make_recipient(*, guardian: Guardian, by: User) -> Guardian:
    """Send the patient's reminders to this guardian instead of the one who receives them
    now. Refused (nothing written) when this guardian has no contact on the patient's
    preferred channel and the patient agreed to reminders."""

    def write() -> Guardian:
        patient = _locked(guardian.patient)
        current = patient.guardians.get(pk=guardian.pk)
        if not current.receives_reminders:
            _recipient_switch(patient=patient, to=current, by=by)
            _guardian_save(guardian=current, by=by)
            _patient_check(patient)
        return current

    return _guardian_write(write)


def guardian_remove(*, guardian: Guardian, by: User) -> None:
    """Remove a guardian from the patient's record; their history keeps who did it.

    Refused (nothing removed) when a patient under 18 would be left without a guardian, or
    without one who receives the reminders while other guardians remain: choose that one
    first."""

    def write() -> None:
        patient = _locked(guardian.patient)
        current = patient.guardians.get(pk=guardian.pk)
        if patient.is_minor:
            others = patient.guardians.exclude(pk=current.pk)
            if not others.exists():
                raise ValidationError(_("A patient under 18 needs a guardian: add another first."))
            if current.receives_reminders:
                raise ValidationError(
                    _(
                        "This guardian receives the reminders: "
                        "choose another guardian for them first."
                    )
                )
        current._history_user = by
        current.delete()

    _guardian_write(write)


# What lesion_update may change; the patient never changes.
EDITABLE_FIELDS = frozenset({
    "site", "milia_type", "size_mm", "count", "colour", "first_noted", "status", "resolved_on",
    "note",
})  # fmt: skip


def _lesion_check_dates(lesion: Lesion) -> None:
    """Dates a clinician can mistype: in the future, or before the patient was born."""
    today = timezone.localdate()
    errors: dict[str, str] = {}
    if lesion.first_noted > today:
        errors["first_noted"] = _("The first noted date cannot be in the future.")
    elif lesion.first_noted < lesion.patient.date_of_birth:
        errors["first_noted"] = _("The first noted date cannot be before the patient's birth.")
    if lesion.resolved_on is not None:
        if lesion.resolved_on > today:
            errors["resolved_on"] = _("The resolved date cannot be in the future.")
        elif lesion.resolved_on < lesion.first_noted:
            errors["resolved_on"] = _("The resolved date cannot be before the first noted date.")
    if errors:
        raise ValidationError(errors)


def _lesion_save(*, lesion: Lesion, by: User | None) -> Lesion:
    _lesion_check_dates(lesion)
    lesion.full_clean()
    # Names the user in the history row even outside a request (a task, the shell).
    lesion._history_user = by
    lesion.save()
    return lesion


def lesion_add(
    *,
    patient: Patient,
    site: str,
    milia_type: str,
    size_mm: Decimal | None,
    count: int,
    colour: str,
    first_noted: date,
    note: str,
    by: User | None,
) -> Lesion:
    """Chart a new, active lesion (or cluster of milia at one site) for the patient."""
    lesion = Lesion(
        patient=patient,
        site=site,
        milia_type=milia_type,
        size_mm=size_mm,
        count=count,
        colour=colour,
        first_noted=first_noted,
        status=Lesion.Status.ACTIVE,
        note=note,
    )
    return _lesion_save(lesion=lesion, by=by)


def lesion_update(*, lesion: Lesion, by: User | None, **changes: Any) -> Lesion:
    """Change a lesion's fields; the change is kept in its history, naming `by`.

    Resolving a lesion without a resolved date resolves it today; making it active again
    (it recurred) clears the resolved date.
    """
    unknown = changes.keys() - EDITABLE_FIELDS
    if unknown:
        raise TypeError(f"lesion_update cannot change {', '.join(sorted(unknown))}")
    for name, value in changes.items():
        setattr(lesion, name, value)
    if lesion.status == Lesion.Status.TREATED and lesion.last_treated_on is None:
        raise ValidationError(
            {"status": _("A lesion is treated once a procedure on it is recorded.")}
        )
    if lesion.status in Lesion.CURRENT:
        lesion.resolved_on = None
    elif lesion.resolved_on is None:
        lesion.resolved_on = timezone.localdate()
    return _lesion_save(lesion=lesion, by=by)


def patient_import(*, patient: Patient, guardian: Guardian | None, by: User | None) -> Patient:
    """Write one row of a CSV import (docs/import.md): a new patient, given an MRN as at
    the desk, or the changes to one imported before; with the guardian who receives a
    minor's reminders. One transaction: a refusal (a ValidationError naming the fields)
    writes nothing of the row.

    The desk's rules (patient_register, _patient_check) apply; the check constraints are
    left to the database, whose refusal is a refusal of the row. The guardian's own fields
    were checked by the caller. No likely-duplicate check: the file's external ids say
    who is who."""
    if not patient.external_id:
        raise ValidationError({"external_id": "Each row needs the patient's external id."})
    try:
        with transaction.atomic():
            if patient.pk is None:
                patient_import_new_check(patient=patient, guardian=guardian)
                patient_save(patient=patient, by=by, validate_constraints=False)
                if guardian is not None:
                    guardian.patient = patient
                    guardian.receives_reminders = True
                    guardian._history_user = by
                    guardian.save()
                return patient
            _locked(patient)
            if guardian is not None:
                guardian.patient = patient
                if guardian.pk is None:
                    _recipient_switch(patient=patient, to=guardian, by=by)
                _guardian_save(guardian=guardian, by=by)
            _patient_check(patient)
            patient_save(patient=patient, by=by, validate_constraints=False)
    except IntegrityError as error:
        raise ValidationError(
            _("The database refused this row: %(error)s") % {"error": error}
        ) from error
    return patient


def patient_import_new_batch(
    *, rows: list[tuple[Patient, Guardian | None]], by: User | None
) -> None:
    """Write a batch of new patients of a CSV import, each with the guardian who receives a
    minor's reminders, in one transaction and a fixed number of statements whatever the
    batch's size: the patients, their MRNs (models.mrn_for, as at the desk), the guardians,
    and a history row for each naming `by`, in which the patient's MRN is already set.

    The caller checked every row as patient_import would (patient_import_new_check, the
    fields, the guardian's). An IntegrityError (an external id another import wrote
    meanwhile, say) writes nothing of the batch, and clears the keys and MRNs it gave the
    objects, so that each row can be written again by patient_import."""
    patients = [patient for patient, _ in rows]
    guardians = []
    try:
        with transaction.atomic():
            Patient.objects.bulk_create(patients)
            Patient.objects.filter(pk__in=[patient.pk for patient in patients]).update(
                mrn=mrn_expression()
            )
            for patient in patients:
                patient.mrn = mrn_for(patient.pk)
            # After the MRNs, so that each patient's first version shows it (which
            # bulk_create_with_history, writing history with the rows, could not).
            Patient.history.bulk_history_create(patients, default_user=by)
            for patient, guardian in rows:
                if guardian is not None:
                    guardian.patient = patient
                    guardian.receives_reminders = True
                    guardians.append(guardian)
            bulk_create_with_history(guardians, Guardian, default_user=by)
    except IntegrityError:
        for patient in patients:
            patient.pk, patient.mrn, patient._state.adding = None, None, True
        for guardian in guardians:
            guardian.pk, guardian._state.adding = None, True
        raise


def patient_import_new_check(*, patient: Patient, guardian: Guardian | None) -> None:
    """The desk's rules for a new patient of a CSV import, without a query: a minor has a
    guardian, reminders the patient agreed to reach someone, insurance is complete."""
    errors = patient_payer_errors(patient)
    if patient.is_minor and guardian is None:
        errors["date_of_birth"] = "A patient under 18 needs a guardian."
    reason = patient_unreachable_reason(patient=patient, guardian=guardian)
    if reason:
        errors["preferred_channel"] = reason
    if errors:
        raise ValidationError(errors)
