"""The dermatologist's records: recording a procedure, signing, amending, follow-ups.

A procedure, its suggested code, the aftercare text, the follow-up and the visit's
completion are written in one transaction. A signed record never changes again: a
correction is an Amendment, kept beside the original.
"""

import logging
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_update_with_history

from clinic.constraint_checks import check_constraints_hold, violated_constraint
from clinic.errors import ServiceError, StateConflict
from clinic.models import StaffMember
from patients.models import Lesion, Patient, PatientAlert
from patients.selectors import patient_reader_language

from ..models import (
    DIAGNOSIS_MILIA,
    MAX_DIAGNOSES,
    Amendment,
    Appointment,
    FollowUp,
    FollowUpOutcome,
    Procedure,
    ProcedureLesion,
    ProcedureType,
)
from ..selectors.billing import record_codes
from ..selectors.catalogue import aftercare_text_for
from ..selectors.diagnoses import icd10_billable
from .billing import charges_after_amendment, charges_for_signed_record
from .booking import appointment_complete
from .reminders import reminders_for_aftercare, reminders_for_recurrence_check

logger = logging.getLogger(__name__)

# The fields each technique records, and which of them it requires.
TECHNIQUE_FIELDS: dict[str, set[str]] = {
    "extraction": {"instrument", "needle_gauge", "lesions_cleared"},
    "de-roofing": {"instrument", "needle_gauge", "lesions_cleared"},
    "cryotherapy": {"cryo_method", "freeze_seconds", "freeze_thaw_cycles", "halo_mm"},
    "curettage": {"anesthetic", "anesthetic_volume_ml", "hemostasis"},
    "electrodesiccation": {"anesthetic", "anesthetic_volume_ml", "hemostasis"},
}
REQUIRED_FIELDS: dict[str, set[str]] = {
    "extraction": {"instrument", "lesions_cleared"},
    "de-roofing": {"instrument", "lesions_cleared"},
    "cryotherapy": {"cryo_method", "freeze_seconds", "freeze_thaw_cycles"},
    "curettage": {"anesthetic", "hemostasis"},
    "electrodesiccation": set(),
}
ALL_TECHNIQUE_FIELDS: set[str] = set().union(*TECHNIQUE_FIELDS.values())
# A liquid-nitrogen freeze of a milium lasts seconds; beyond this it is a typo or a burn.
FREEZE_SECONDS_RANGE = (1, 30)
INJECTED = {Procedure.Anesthetic.LIDOCAINE_1, Procedure.Anesthetic.LIDOCAINE_1_EPINEPHRINE}
RECHECK_AFTER_RECURRENCE_WEEKS = 12


class RecordError(ServiceError):
    """A record the clinic's rules refuse; the message (or each field's) is for the
    dermatologist."""


class RecordConflict(RecordError, StateConflict):
    """The visit or record is not in the state the step needs (409)."""


class RecordLocked(RecordConflict):
    """A signed record cannot change; corrections are amendments."""


class RecordExists(RecordConflict):
    """The visit has its record already: there is one record per visit. `procedure` is it."""

    def __init__(self, procedure: Procedure) -> None:
        super().__init__(
            _("This record is signed. Add an amendment to correct it.")
            if procedure.is_signed
            else _("This visit already has a record.")
        )
        self.procedure = procedure


def suggested_procedure_code(*, procedure_type: ProcedureType, lesion_count: int) -> str:
    """The CPT code for the type and number of lesions: 17110 up to 14, 17111 for 15+."""
    if lesion_count >= 15 and procedure_type.code_15_or_more:
        return procedure_type.code_15_or_more
    return procedure_type.code


def technique_fields(procedure_type: ProcedureType) -> set[str]:
    return TECHNIQUE_FIELDS.get(procedure_type.slug, set())


def _validate_technique(
    *,
    procedure_type: ProcedureType,
    values: dict[str, Any],
    lesions: list[Lesion],
    patient: Patient,
) -> dict[str, Any]:
    """Check the type's own fields; return them with every other technique field cleared."""
    errors: dict[str, str] = {}
    fields = technique_fields(procedure_type)
    for name in REQUIRED_FIELDS.get(procedure_type.slug, set()):
        if values.get(name) in (None, ""):
            errors[name] = _("Required for this procedure.")
    if values.get("instrument") == Procedure.Instrument.NEEDLE and not values.get("needle_gauge"):
        errors["needle_gauge"] = _("Give the needle's gauge.")
    total = sum(lesion.count for lesion in lesions)
    cleared = values.get("lesions_cleared")
    if "lesions_cleared" in fields and cleared is not None and not 1 <= cleared <= max(total, 1):
        errors["lesions_cleared"] = _("Between 1 and the %(total)s milia treated.") % {
            "total": total
        }
    seconds = values.get("freeze_seconds")
    if "freeze_seconds" in fields and seconds is not None:
        low, high = FREEZE_SECONDS_RANGE
        if not low <= seconds <= high:
            errors["freeze_seconds"] = _("A freeze of %(low)d–%(high)d seconds.") % {
                "low": low,
                "high": high,
            }
    cycles = values.get("freeze_thaw_cycles")
    if "freeze_thaw_cycles" in fields and cycles is not None and not 1 <= cycles <= 3:
        errors["freeze_thaw_cycles"] = _("One to three freeze–thaw cycles.")
    halo = values.get("halo_mm")
    if "halo_mm" in fields and halo is not None and not Decimal("0") <= halo <= Decimal("3"):
        errors["halo_mm"] = _("A halo of 0–3 mm.")
    anesthetic = values.get("anesthetic")
    volume = values.get("anesthetic_volume_ml")
    if "anesthetic" in fields and anesthetic in INJECTED:
        if volume is None:
            errors["anesthetic_volume_ml"] = _("Give the volume injected.")
        elif not Decimal("0.1") <= volume <= Decimal("10"):
            errors["anesthetic_volume_ml"] = _("Between 0.1 and 10 ml.")
        if _allergic_to_lidocaine(patient):
            errors["anesthetic"] = _("The patient has an allergy alert for lidocaine.")
    if errors:
        raise RecordError(errors)
    return {
        name: values[name] if name in fields and values.get(name) is not None else _empty(name)
        for name in ALL_TECHNIQUE_FIELDS
    }


def _empty(name: str) -> str | None:
    return "" if name in {"instrument", "cryo_method", "anesthetic", "hemostasis"} else None


def _allergic_to_lidocaine(patient: Patient) -> bool:
    return PatientAlert.objects.filter(
        patient=patient,
        kind=PatientAlert.Kind.ALLERGY,
        is_active=True,
        description__icontains="lidocaine",
    ).exists()


def _validate_consent(
    *, procedure_type: ProcedureType, patient: Patient, consent: dict[str, Any]
) -> dict[str, Any]:
    if not procedure_type.is_procedure:
        return {"consent_obtained": False, "consent_given_by": "", "consent_at": None}
    if not consent.get("consent_obtained"):
        raise RecordError({"consent_obtained": _("Consent is needed before a procedure.")})
    given_by = consent.get("consent_given_by")
    if patient.is_minor and given_by != Procedure.ConsentBy.GUARDIAN:
        raise RecordError({"consent_given_by": _("For a minor, the guardian consents.")})
    if not given_by:
        raise RecordError({"consent_given_by": _("Who gave consent?")})
    return {
        "consent_obtained": True,
        "consent_given_by": given_by,
        "consent_at": consent.get("consent_at") or timezone.now(),
    }


def _recorded_on_behalf(*, appointment: Appointment, by: User, on_behalf: bool) -> bool:
    """Whether `by` records the visit for its dermatologist (True) or their own (False).

    Only the visit's dermatologist records it, or another active dermatologist who says
    explicitly that they record it on the visit's dermatologist's behalf.
    """
    staff_member = getattr(by, "staff_member", None)
    if staff_member is not None and staff_member.pk == appointment.dermatologist_id:
        return False
    if (
        staff_member is None
        or staff_member.role != StaffMember.Role.DERMATOLOGIST
        or not staff_member.is_active
    ):
        raise RecordError(_("Only a dermatologist records a procedure."))
    if not on_behalf:
        owner = appointment.dermatologist
        raise RecordError(
            {
                "on_behalf": _(
                    "This is %(owner)s's visit. Record it only on %(owner)s's behalf: "
                    "tick the box, and the record will say so."
                )
                % {"owner": owner}
            }
        )
    return True


def _lesions_of(patient: Patient, lesions: Iterable[Lesion]) -> list[Lesion]:
    chosen = list(lesions)
    if any(lesion.patient_id != patient.pk for lesion in chosen):
        raise RecordError({"lesions": _("Every lesion must be this patient's.")})
    return chosen


def _diagnoses_checked(principal: str, secondary: Sequence[str]) -> dict[str, Any]:
    """The record's diagnoses as billable ICD-10-CM codes, written as the code set writes
    them (L72.0); a RecordError names an unknown or non-billable code, a repeated one, or
    more than a claim carries."""
    written: dict[str, list[str]] = {"diagnosis_code": [], "secondary_diagnosis_codes": []}
    for field, values in (
        ("diagnosis_code", [principal]),
        ("secondary_diagnosis_codes", secondary),
    ):
        for value in values:
            code = icd10_billable(code=value)
            if code is None:
                message = _("%(code)s is not a billable ICD-10-CM code.") % {"code": value}
                raise RecordError({field: message})
            written[field].append(code.code)
    codes = written["diagnosis_code"] + written["secondary_diagnosis_codes"]
    if len(set(codes)) != len(codes):
        raise RecordError({"secondary_diagnosis_codes": _("Each diagnosis is listed once.")})
    if len(codes) > MAX_DIAGNOSES:
        message = _("A claim carries at most %(count)d diagnoses.") % {"count": MAX_DIAGNOSES}
        raise RecordError({"secondary_diagnosis_codes": message})
    return {"diagnosis_code": codes[0], "secondary_diagnosis_codes": codes[1:]}


def _record_fields(
    *,
    procedure_type: ProcedureType,
    patient: Patient,
    lesions: Iterable[Lesion],
    technique: dict[str, Any],
    consent: dict[str, Any],
    complications: dict[str, Any],
    note: str,
    diagnosis_code: str,
    secondary_diagnosis_codes: Sequence[str],
    procedure_code: str,
) -> tuple[dict[str, Any], list[Lesion]]:
    """A record's checked values (technique, consent, complications, note, codes) and its
    lesions, for recording it and for revising a draft; a RecordError names what is wrong."""
    lesions = _lesions_of(patient, lesions)
    if procedure_type.is_procedure and not lesions:
        raise RecordError({"lesions": _("Pick the lesions treated.")})
    technique = _validate_technique(
        procedure_type=procedure_type, values=technique, lesions=lesions, patient=patient
    )
    lesion_count = technique.get("lesions_cleared") or sum(lesion.count for lesion in lesions)
    suggested = suggested_procedure_code(procedure_type=procedure_type, lesion_count=lesion_count)
    fields = {
        **technique,
        **_validate_consent(procedure_type=procedure_type, patient=patient, consent=consent),
        **complications,
        "note": note,
        **_diagnoses_checked(diagnosis_code or DIAGNOSIS_MILIA, secondary_diagnosis_codes),
        "procedure_code": procedure_code or suggested,
        "procedure_code_overridden": bool(procedure_code) and procedure_code != suggested,
    }
    return fields, lesions


def _save_checked(procedure: Procedure, *, by: User) -> None:
    # Its relations are rows loaded by the caller (and the caller's user): validating them
    # would only ask the database, one query each, whether they exist. Its check
    # constraints are read in Python, not one savepoint SELECT each; the database still
    # enforces them, and a violation it finds is a RecordError all the same.
    procedure.full_clean(
        exclude=["appointment", "patient", "dermatologist", "procedure_type", "created_by"],
        validate_constraints=False,
    )
    check_constraints_hold(procedure)
    procedure._history_user = by
    try:
        procedure.save()
    except IntegrityError as error:
        # The constraint's name only: the database's message may quote the row's values.
        logger.error("A procedure record broke %s", violated_constraint(error))
        raise RecordError(
            _("The record breaks one of the clinic's rules; check its values.")
        ) from None


def _lesions_treated(lesions: list[Lesion], *, on: date, by: User) -> None:
    """The lesions a procedure treated: treated on that day, awaiting their check (a
    resolved lesion treated again is on the skin again). Two queries, with history."""
    for lesion in lesions:
        lesion.status, lesion.resolved_on = Lesion.Status.TREATED, None
        lesion.last_treated_on = max(on, lesion.last_treated_on or on)
    bulk_update_with_history(
        lesions, Lesion, ["status", "resolved_on", "last_treated_on"], default_user=by
    )


def _lesions_untreated(lesions: list[Lesion], *, procedure: Procedure, by: User) -> None:
    """Lesions taken off a draft: treated as of their other procedures, else active."""
    others = dict(
        ProcedureLesion.objects.filter(lesion__in=lesions)
        .exclude(procedure=procedure)
        .values("lesion")
        .annotate(at=Max("procedure__performed_at"))
        .values_list("lesion", "at")
    )
    changed = [lesion for lesion in lesions if lesion.status == Lesion.Status.TREATED]
    for lesion in changed:
        other = others.get(lesion.pk)
        lesion.last_treated_on = timezone.localdate(other) if other else None
        lesion.status = Lesion.Status.TREATED if other else Lesion.Status.ACTIVE
    if changed:
        bulk_update_with_history(changed, Lesion, ["status", "last_treated_on"], default_user=by)


@transaction.atomic
def procedure_record(
    *,
    appointment: Appointment,
    procedure_type: ProcedureType,
    lesions: Iterable[Lesion],
    technique: dict[str, Any],
    consent: dict[str, Any],
    complications: dict[str, Any],
    note: str,
    by: User,
    on_behalf: bool = False,
    procedure_code: str = "",
    diagnosis_code: str = "",
    secondary_diagnosis_codes: Sequence[str] = (),
    performed_at: datetime | None = None,
) -> Procedure:
    """Record what was done at a checked-in visit, as a draft for the dermatologist to sign.

    The visit's dermatologist records it; another dermatologist only `on_behalf` of them
    (the record stays the visit's dermatologist's, is marked recorded_on_behalf, names its
    author in created_by, and the visit's dermatologist signs it); anyone else is refused
    with a RecordError and nothing is written. `on_behalf` on one's own visit changes
    nothing. The lesions of a procedure (not of watchful waiting or advice) become
    treated, awaiting their check. Also completes the visit and creates the follow-up
    (recurrence check, or a recheck for watchful waiting) from the type's interval, in
    the same transaction.
    """
    # The visit may have been deleted since the page read it: a conflict, not a 500.
    locked = (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("patient", "dermatologist", "procedure_type")
        .filter(pk=appointment.pk)
        .first()
    )
    if locked is None:
        raise RecordConflict(_("This visit no longer exists."))
    appointment = locked
    # Recording completes the visit in this transaction, so a checked-in visit has no
    # record yet; any other visit may have one, which is then the answer. (The one
    # record per visit is also a unique constraint: a visit set back to checked-in by
    # hand meets it as a RecordError, not a second record.)
    if appointment.status != Appointment.Status.CHECKED_IN:
        existing = Procedure.objects.filter(appointment=appointment).first()
        if existing is not None:
            raise RecordExists(existing)
        raise RecordConflict(_("A procedure is recorded for a checked-in visit."))
    recorded_on_behalf = _recorded_on_behalf(appointment=appointment, by=by, on_behalf=on_behalf)
    patient = appointment.patient
    fields, lesions = _record_fields(
        procedure_type=procedure_type,
        patient=patient,
        lesions=lesions,
        technique=technique,
        consent=consent,
        complications=complications,
        note=note,
        diagnosis_code=diagnosis_code,
        secondary_diagnosis_codes=secondary_diagnosis_codes,
        procedure_code=procedure_code,
    )
    procedure = Procedure(
        appointment=appointment,
        patient=patient,
        dermatologist=appointment.dermatologist,
        procedure_type=procedure_type,
        performed_at=performed_at or timezone.now(),
        **fields,
        recorded_on_behalf=recorded_on_behalf,
        # In the reader's language (a minor's guardian's), in the words signed with.
        aftercare_text=aftercare_text_for(
            procedure_type=procedure_type, language=patient_reader_language(patient)
        )[0],
        created_by=by,
    )
    _save_checked(procedure, by=by)
    ProcedureLesion.objects.bulk_create(
        [ProcedureLesion(procedure=procedure, lesion=lesion) for lesion in lesions]
    )
    if procedure_type.is_procedure:
        _lesions_treated(lesions, on=timezone.localdate(procedure.performed_at), by=by)
    appointment_complete(appointment=appointment, by=by, locked=True)
    follow_up_plan(procedure=procedure, by=by)
    return procedure


def follow_up_plan(*, procedure: Procedure, by: User | None) -> FollowUp | None:
    """The check after a procedure (or the recheck for watchful waiting), from the catalogue."""
    weeks = procedure.procedure_type.follow_up_weeks
    if not weeks:
        return None
    kind = (
        FollowUp.Kind.RECURRENCE_CHECK
        if procedure.procedure_type.is_procedure
        else FollowUp.Kind.RECHECK
    )
    follow_up = FollowUp(
        patient=procedure.patient,
        procedure=procedure,
        kind=kind,
        due_on=timezone.localdate(procedure.performed_at) + timedelta(weeks=weeks),
        created_by=by,
    )
    follow_up._history_user = by
    follow_up.save()
    # The invitation waits in the outbox until the check falls due.
    reminders_for_recurrence_check(follow_up=follow_up)
    return follow_up


def _editable(procedure: Procedure) -> Procedure:
    locked = Procedure.objects.select_for_update().get(pk=procedure.pk)
    if locked.is_signed:
        raise RecordLocked(_("This record is signed. Add an amendment to correct it."))
    return locked


@transaction.atomic
def procedure_update_note(*, procedure: Procedure, note: str, by: User) -> Procedure:
    """Change a draft's free-text note; a signed record refuses."""
    draft = _editable(procedure)
    draft.note = note
    draft._history_user = by
    draft.save(update_fields=["note", "updated_at"])
    return draft


def check_may_revise(procedure: Procedure, by: User) -> None:
    """The record's dermatologist or its author (recording on their behalf) revise a
    draft; anyone else is refused with a PermissionError."""
    staff_member = getattr(by, "staff_member", None)
    own = staff_member is not None and staff_member.pk == procedure.dermatologist_id
    if not own and procedure.created_by_id != by.pk:
        raise PermissionError(_("Only the record's dermatologist or its author revises a draft."))


@transaction.atomic
def procedure_revise(
    *,
    procedure: Procedure,
    lesions: Iterable[Lesion],
    technique: dict[str, Any],
    consent: dict[str, Any],
    complications: dict[str, Any],
    note: str,
    by: User,
    procedure_code: str = "",
    diagnosis_code: str = "",
    secondary_diagnosis_codes: Sequence[str] = (),
) -> Procedure:
    """Change a draft before it is signed: its lesions, technique, consent, complications,
    note and codes, checked as when it was recorded (the procedure type, the visit and the
    author stay). Lesions added become treated, lesions taken off go back to what their
    other procedures make them. The record's dermatologist or its author revises it;
    a signed record refuses (RecordLocked), anyone else is refused (PermissionError)."""
    draft = _editable(procedure)
    check_may_revise(draft, by)
    fields, chosen = _record_fields(
        procedure_type=draft.procedure_type,
        patient=draft.patient,
        lesions=lesions,
        technique=technique,
        consent=consent,
        complications=complications,
        note=note,
        diagnosis_code=diagnosis_code,
        secondary_diagnosis_codes=secondary_diagnosis_codes,
        procedure_code=procedure_code,
    )
    for name, value in fields.items():
        setattr(draft, name, value)
    _save_checked(draft, by=by)
    before = {lesion.pk: lesion for lesion in draft.lesions.all()}
    after = {lesion.pk: lesion for lesion in chosen}
    added = [after[pk] for pk in after.keys() - before.keys()]
    removed = [before[pk] for pk in before.keys() - after.keys()]
    ProcedureLesion.objects.filter(procedure=draft, lesion__in=removed).delete()
    ProcedureLesion.objects.bulk_create(
        [ProcedureLesion(procedure=draft, lesion=lesion) for lesion in added]
    )
    if draft.procedure_type.is_procedure:
        _lesions_treated(added, on=timezone.localdate(draft.performed_at), by=by)
        _lesions_untreated(removed, procedure=draft, by=by)
    return draft


@transaction.atomic
def procedure_sign(*, procedure: Procedure, by: User) -> Procedure:
    """Sign and lock the record; only the dermatologist who did the procedure signs it.
    The record's charge line is written in the same transaction."""
    draft = _editable(procedure)
    staff_member = getattr(by, "staff_member", None)
    if staff_member is None or staff_member.pk != draft.dermatologist_id:
        raise PermissionError(_("Only the dermatologist who did the procedure signs its record."))
    draft.status = Procedure.Status.SIGNED
    draft.signed_at = timezone.now()
    draft.signed_by = by
    draft._history_user = by
    draft.save(update_fields=["status", "signed_at", "signed_by", "updated_at"])
    # Its charge line is written with the signature, or not at all (docs/billing.md).
    charges_for_signed_record(procedure=draft, by=by)
    # The aftercare message goes out once the record is signed (the outbox sends it).
    reminders_for_aftercare(procedure=draft)
    return draft


@transaction.atomic
def procedure_amend(
    *,
    procedure: Procedure,
    reason: str,
    text: str,
    by: User,
    procedure_code: str = "",
    diagnosis_code: str = "",
) -> Amendment:
    """Correct a signed record: the original stays, the amendment sits beside it. An
    amendment may correct the CPT or the principal ICD-10-CM code (billable; a code equal
    to the current one is no correction); then the record's charge line is voided and
    replaced in the same transaction (docs/billing.md)."""
    current = Procedure.objects.select_for_update().get(pk=procedure.pk)
    if not current.is_signed:
        raise RecordConflict(_("A draft is corrected directly; amendments are for signed records."))
    codes_now = record_codes(current)
    procedure_code = procedure_code.strip().upper()
    diagnosis_code = diagnosis_code.strip().upper()
    if diagnosis_code:  # a correction to a billable code, written as the code set writes it
        diagnosis_code = _diagnoses_checked(diagnosis_code, [])["diagnosis_code"]
    amendment = Amendment(
        procedure=current,
        author=by,
        reason=reason.strip(),
        text=text.strip(),
        procedure_code="" if procedure_code == codes_now[0] else procedure_code,
        diagnosis_code="" if diagnosis_code == codes_now[1] else diagnosis_code,
    )
    amendment.full_clean()
    amendment._history_user = by
    amendment.save()
    charges_after_amendment(amendment=amendment, by=by)
    return amendment


# What an outcome does to the lesion's status.
RESOLVES = {FollowUpOutcome.Outcome.RESOLVED}
KEEPS_ACTIVE = {
    FollowUpOutcome.Outcome.PARTLY_RESOLVED,
    FollowUpOutcome.Outcome.RECURRED,
    FollowUpOutcome.Outcome.NEW_NEARBY,
}
RECURRING = {FollowUpOutcome.Outcome.RECURRED, FollowUpOutcome.Outcome.NEW_NEARBY}


@transaction.atomic
def follow_up_record_outcomes(
    *, follow_up: FollowUp, outcomes: list[dict[str, Any]], by: User
) -> FollowUp:
    """Record what became of each lesion, update the lesions, close the follow-up.

    `outcomes`: [{"lesion": Lesion, "outcome": ..., "complication": ..., "note": ...}].
    Milia that came back earn a later recheck (prevention advice is on the handout).
    """
    current = FollowUp.objects.select_for_update().get(pk=follow_up.pk)
    if current.status in (FollowUp.Status.DONE, FollowUp.Status.CANCELLED):
        raise RecordConflict(
            _("This follow-up is already %(status)s.")
            % {"status": current.get_status_display().lower()}
        )
    if not outcomes:
        raise RecordError(_("Record an outcome for at least one lesion."))
    today = timezone.localdate()
    for item in outcomes:
        lesion = item["lesion"]
        if lesion.patient_id != current.patient_id:
            raise RecordError({"lesions": _("Every lesion must be this patient's.")})
        outcome = FollowUpOutcome(
            follow_up=current,
            lesion=lesion,
            outcome=item["outcome"],
            complication=item.get("complication", ""),
            note=item.get("note", ""),
            recorded_by=by,
        )
        outcome.full_clean()
        outcome.save()
        if item["outcome"] in RESOLVES:
            lesion.status, lesion.resolved_on = (
                Lesion.Status.RESOLVED,
                max(today, lesion.first_noted),
            )
        elif item["outcome"] in KEEPS_ACTIVE or lesion.status == Lesion.Status.TREATED:
            # Checked, and not gone: on the skin to treat again, or to watch.
            lesion.status, lesion.resolved_on = Lesion.Status.ACTIVE, None
        lesion._history_user = by
        lesion.save(update_fields=["status", "resolved_on", "updated_at"])
    current.status = FollowUp.Status.DONE
    current.completed_at = timezone.now()
    current._history_user = by
    current.save(update_fields=["status", "completed_at"])
    if any(item["outcome"] in RECURRING for item in outcomes):
        FollowUp.objects.create(
            patient=current.patient,
            procedure=current.procedure,
            kind=FollowUp.Kind.RECHECK,
            due_on=today + timedelta(weeks=RECHECK_AFTER_RECURRENCE_WEEKS),
            created_by=by,
        )
    return current


def alert_add(*, patient: Patient, kind: str, description: str, by: User | None) -> PatientAlert:
    alert = PatientAlert(patient=patient, kind=kind, description=description.strip(), created_by=by)
    alert.full_clean()
    alert._history_user = by
    alert.save()
    return alert
