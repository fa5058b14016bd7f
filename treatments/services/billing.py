"""Every write of billing (docs/billing.md): the estimate stored with a booking, the charge
lines of a signed record and of its amendments, payments and refunds, invoices.

Charge lines and payments are never edited. A line is corrected by voiding it (who, when,
why) and writing the line that `replaces` it; a payment taken in error is refunded with a
reason. Every write that depends on a patient's balance or lines locks the patient's row
first (PostgreSQL; SQLite's IMMEDIATE transactions already serialise every write), so two
receptionists taking the last payment at once cannot both take it.
"""

import logging
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.constraint_checks import check_constraints_hold, violated_constraint
from clinic.errors import ServiceError, StateConflict
from patients.models import Patient

from ..models import (
    Amendment,
    Appointment,
    AppointmentEstimate,
    BillingSequence,
    Charge,
    Invoice,
    Payment,
    Procedure,
)
from ..money import ZERO, line_amounts, money_sum, to_cents
from ..selectors.billing import patient_balance, price_on, record_codes, self_pay_estimate

logger = logging.getLogger(__name__)

# Evaluation and management visits (office and outpatient, consultations, ...):
# CPT 99202–99499. Modifier 25 marks one as separately billable beside a procedure.
EVALUATION_CODES = range(99202, 99500)
SAME_DAY_EVALUATION_MODIFIER = "25"
VOID_AMENDED = "Amended"
VOID_MODIFIER_25_ADDED = "Modifier 25: a procedure the same day"
VOID_MODIFIER_25_REMOVED = "Modifier 25: no procedure the same day any more"
VOID_PRICED = "Priced from the fee schedule"
INVOICE_SERIES, INVOICE_PREFIX = "invoice", "INV"
RECEIPT_SERIES, RECEIPT_PREFIX = "receipt", "RCT"
MAX_AMOUNT = Decimal("99999999.99")  # what a DecimalField(10, 2) holds


class BillingError(ServiceError):
    """A payment, refund or invoice the clinic's rules refuse; the message is for the desk."""


class BalanceChanged(BillingError, StateConflict):
    """More than is owed (or refundable) now: perhaps someone took a payment meanwhile."""


def is_evaluation_code(cpt_code: str) -> bool:
    return cpt_code.isdigit() and int(cpt_code) in EVALUATION_CODES


def units_for(cpt_code: str) -> int:
    """Every code the app bills is reported once per session: 17110 covers up to 14
    lesions and 17111 15 or more, 10040 any number of milia, an E/M visit is one visit."""
    return 1


def _next_number(series: str, prefix: str) -> str:
    """The series' next number, e.g. INV-000123: the series row stays locked until the
    transaction commits, so a concurrent issuer waits and takes the number after it."""
    BillingSequence.objects.bulk_create([BillingSequence(name=series)], ignore_conflicts=True)
    sequence = BillingSequence.objects.select_for_update().get(name=series)
    sequence.last_number += 1
    sequence.save(update_fields=["last_number"])
    return f"{prefix}-{sequence.last_number:06d}"


def _lock_patient(patient_id: int) -> None:
    """Hold the patient's billing row (their Patient row) until the transaction ends."""
    Patient.objects.select_for_update().filter(pk=patient_id).values_list("pk").get()


def _save(row: Charge | Payment | Invoice | AppointmentEstimate) -> None:
    check_constraints_hold(row)
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError as error:
        logger.error("A billing row broke %s", violated_constraint(error))
        raise BillingError(_("This breaks one of the clinic's billing rules.")) from None


# --- Estimates ------------------------------------------------------------------------


def appointment_estimate_store(*, appointment: Appointment) -> AppointmentEstimate | None:
    """Store the self-pay estimate of a newly booked visit, at the price of the visit's
    day; None when the fee schedule has no price for its type then."""
    day = timezone.localdate(appointment.starts_at)
    estimate = self_pay_estimate(procedure_type=appointment.procedure_type, day=day)
    if estimate is None:
        return None
    stored = AppointmentEstimate(
        appointment=appointment,
        fee_entry=estimate.entry,
        price=estimate.amounts.net,
        tax_rate=estimate.entry.tax_rate,
        tax_amount=estimate.amounts.tax,
        total=estimate.amounts.total,
        currency=estimate.currency,
        priced_on=day,
    )
    _save(stored)
    return stored


# --- Charge lines ---------------------------------------------------------------------


def _modifiers_with(modifiers: str, modifier: str, *, present: bool) -> str:
    codes = [code for code in modifiers.split(",") if code and code != modifier]
    if present:
        codes.insert(0, modifier)
    return ",".join(codes)


def _procedure_that_day(patient_id: int, service_date: date) -> bool:
    return (
        Charge.objects.active()
        .filter(patient_id=patient_id, service_date=service_date, kind=Charge.Kind.PROCEDURE)
        .exists()
    )


def _charge_write(
    *,
    procedure: Procedure,
    cpt_code: str,
    diagnosis_codes: list[str],
    payer: str,
    by: User,
    modifiers: str = "",
    replaces: Charge | None = None,
) -> Charge:
    """One line at the fee schedule's price for the code on the date of service, for the
    payer; with no price that day it is written at 0 and flagged price_missing."""
    service_date = timezone.localdate(procedure.performed_at)
    entry = price_on(cpt_code=cpt_code, day=service_date)
    units = units_for(cpt_code)
    unit_price = entry.price_for(payer) if entry else ZERO
    tax_rate = entry.tax_rate if entry else ZERO
    amounts = line_amounts(units=units, unit_price=unit_price, tax_rate=tax_rate)
    kind = Charge.Kind.EVALUATION if is_evaluation_code(cpt_code) else Charge.Kind.PROCEDURE
    if kind == Charge.Kind.EVALUATION and _procedure_that_day(procedure.patient_id, service_date):
        modifiers = _modifiers_with(modifiers, SAME_DAY_EVALUATION_MODIFIER, present=True)
    charge = Charge(
        patient_id=procedure.patient_id,
        appointment_id=procedure.appointment_id,
        procedure=procedure,
        kind=kind,
        service_date=service_date,
        cpt_code=cpt_code,
        modifiers=modifiers,
        description=entry.description if entry else f"CPT {cpt_code}",
        units=units,
        unit_price=unit_price,
        tax_rate=tax_rate,
        tax_amount=amounts.tax,
        total=amounts.total,
        payer=payer,
        fee_entry=entry,
        price_missing=entry is None,
        diagnosis_codes=diagnosis_codes,
        replaces=replaces,
        created_by=by,
        created_at=timezone.now(),
    )
    _save(charge)
    return charge


def _void(charge: Charge, *, reason: str, by: User) -> None:
    changed = Charge.objects.filter(pk=charge.pk, status=Charge.Status.ACTIVE).update(
        status=Charge.Status.VOIDED, voided_by=by, voided_at=timezone.now(), void_reason=reason
    )
    if changed != 1:
        raise StateConflict(_("This charge line was voided meanwhile."))


def _replace(charge: Charge, *, reason: str, by: User, **changes: Any) -> Charge:
    """Void a line and write its successor: the same line with `changes`."""
    _void(charge, reason=reason, by=by)
    successor = Charge(
        **{
            field.attname: getattr(charge, field.attname)
            for field in Charge._meta.concrete_fields
            if not field.primary_key
        }
    )
    successor.status = Charge.Status.ACTIVE
    successor.voided_by, successor.voided_at, successor.void_reason = None, None, ""
    successor.invoice = None
    successor.replaces = charge
    successor.created_by, successor.created_at = by, timezone.now()
    for name, value in changes.items():
        setattr(successor, name, value)
    _save(successor)
    return successor


def _same_day_modifier_25(*, patient_id: int, service_date: date, by: User) -> None:
    """An E/M line carries modifier 25 exactly when the patient has an active procedure
    line on its date of service; a line that does not is replaced by one that does."""
    lines = list(Charge.objects.active().filter(patient_id=patient_id, service_date=service_date))
    procedure_that_day = any(line.kind == Charge.Kind.PROCEDURE for line in lines)
    for line in lines:
        if line.kind != Charge.Kind.EVALUATION:
            continue
        wanted = _modifiers_with(
            line.modifiers, SAME_DAY_EVALUATION_MODIFIER, present=procedure_that_day
        )
        if wanted != line.modifiers:
            reason = VOID_MODIFIER_25_ADDED if procedure_that_day else VOID_MODIFIER_25_REMOVED
            _replace(line, reason=reason, by=by, modifiers=wanted)


def _with_principal(principal: str, codes: list[str]) -> list[str]:
    """The record's diagnoses in order with `principal` (as amended) first, each once."""
    return [principal, *(code for code in codes[1:] if code != principal)]


def charges_for_signed_record(*, procedure: Procedure, by: User) -> list[Charge]:
    """The charge line of a record being signed, in the signing transaction: its CPT code
    (suggested or overridden), at the price for the patient's payer on the date of
    service, with the record's diagnoses in order. A record without a code bills nothing."""
    if not procedure.procedure_code:
        return []
    _lock_patient(procedure.patient_id)
    payer = Patient.objects.values_list("payer", flat=True).get(pk=procedure.patient_id)
    charge = _charge_write(
        procedure=procedure,
        cpt_code=procedure.procedure_code,
        diagnosis_codes=procedure.diagnosis_codes,
        payer=payer,
        by=by,
    )
    _same_day_modifier_25(patient_id=procedure.patient_id, service_date=charge.service_date, by=by)
    return list(Charge.objects.active().filter(procedure=procedure))


def charges_after_amendment(*, amendment: Amendment, by: User) -> list[Charge]:
    """After an amendment that corrects a code: the record's active line is voided
    ("Amended") and a line with the codes as amended replaces it, for the same payer."""
    procedure = amendment.procedure
    if not (amendment.procedure_code or amendment.diagnosis_code):
        return []
    _lock_patient(procedure.patient_id)
    procedure_code, diagnosis_code = record_codes(procedure)
    old = Charge.objects.active().filter(procedure=procedure).first()
    if old is not None:
        _void(old, reason=VOID_AMENDED, by=by)
        payer = old.payer
    else:  # signed before billing existed, or without a code
        payer = Patient.objects.values_list("payer", flat=True).get(pk=procedure.patient_id)
    charge = _charge_write(
        procedure=procedure,
        cpt_code=procedure_code,
        diagnosis_codes=_with_principal(diagnosis_code, procedure.diagnosis_codes),
        payer=payer,
        by=by,
        replaces=old,
    )
    _same_day_modifier_25(patient_id=procedure.patient_id, service_date=charge.service_date, by=by)
    return list(Charge.objects.active().filter(procedure=procedure))


@transaction.atomic
def charge_price_from_schedule(*, charge: Charge, by: User) -> Charge:
    """Price a line written without a price (price_missing) now that the fee schedule has
    one for its code on its date of service: the line is voided ("Priced from the fee
    schedule") and replaced by the same line at that price, for its payer."""
    _lock_patient(charge.patient_id)
    current = Charge.objects.get(pk=charge.pk)
    if not (current.is_active and current.price_missing):
        raise StateConflict(_("This line is priced or voided already."))
    entry = price_on(cpt_code=current.cpt_code, day=current.service_date)
    if entry is None:
        raise BillingError(
            _("The fee schedule has no price for CPT %(code)s on %(day)s yet.")
            % {"code": current.cpt_code, "day": current.service_date}
        )
    unit_price = entry.price_for(current.payer)
    amounts = line_amounts(units=current.units, unit_price=unit_price, tax_rate=entry.tax_rate)
    return _replace(
        current,
        reason=VOID_PRICED,
        by=by,
        description=entry.description,
        unit_price=unit_price,
        tax_rate=entry.tax_rate,
        tax_amount=amounts.tax,
        total=amounts.total,
        fee_entry=entry,
        price_missing=False,
    )


# --- Payments and refunds --------------------------------------------------------------


def _amount(value: Decimal | str) -> Decimal:
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise BillingError({"amount": _("Give an amount such as 25.00.")}) from None
    if not amount.is_finite() or amount <= 0:
        raise BillingError({"amount": _("Give an amount above zero.")})
    if amount != to_cents(amount):
        raise BillingError({"amount": _("Give the amount to the cent.")})
    if amount > MAX_AMOUNT:
        raise BillingError({"amount": _("That amount is too large.")})
    return to_cents(amount)  # 20 → 20.00, as stored


def _reference(method: str, reference: str) -> str:
    if method not in Payment.Method.values:
        raise BillingError({"method": _("Choose cash, card or bank transfer.")})
    reference = re.sub(r"\s+", " ", reference).strip()
    if method == Payment.Method.CARD and not reference:
        raise BillingError({"reference": _("Give the card's reference.")})
    if method == Payment.Method.BANK_TRANSFER and not reference:
        raise BillingError({"reference": _("Give the bank transfer's reference.")})
    return reference


def _money_row(
    *,
    kind: str,
    patient: Patient,
    amount: Decimal,
    method: str,
    reference: str,
    reason: str,
    by: User,
    appointment: Appointment | None,
) -> Payment:
    if appointment is not None and appointment.patient_id != patient.pk:
        raise BillingError(_("That visit is another patient's."))
    payment = Payment(
        receipt_number=_next_number(RECEIPT_SERIES, RECEIPT_PREFIX),
        patient=patient,
        kind=kind,
        amount=amount,
        method=method,
        reference=reference,
        reason=reason,
        appointment=appointment,
        received_by=by,
        received_at=timezone.now(),
    )
    _save(payment)
    return payment


@transaction.atomic
def payment_record(
    *,
    patient: Patient,
    amount: Decimal | str,
    method: str,
    reference: str,
    by: User,
    appointment: Appointment | None = None,
) -> Payment:
    """Take a payment at the desk: more than the patient owes now is refused
    (BalanceChanged, 409). The patient's row is locked first, so of two receptionists
    taking the last payment at once, the second sees the first's and is refused."""
    amount = _amount(amount)
    reference = _reference(method, reference)
    _lock_patient(patient.pk)
    owed = patient_balance(patient_id=patient.pk).owed
    if amount > owed:
        raise BalanceChanged(
            {
                "amount": _("The patient owes %(amount)s %(currency)s.")
                % {"amount": max(owed, ZERO), "currency": settings.CLINIC_CURRENCY}
            }
        )
    return _money_row(
        kind=Payment.Kind.PAYMENT,
        patient=patient,
        amount=amount,
        method=method,
        reference=reference,
        reason="",
        by=by,
        appointment=appointment,
    )


@transaction.atomic
def payment_refund(
    *,
    patient: Patient,
    amount: Decimal | str,
    method: str,
    reference: str,
    reason: str,
    by: User,
    appointment: Appointment | None = None,
) -> Payment:
    """Give money back, with a reason: never more than the patient paid and was not yet
    refunded (BalanceChanged, 409)."""
    amount = _amount(amount)
    reference = _reference(method, reference)
    reason = re.sub(r"\s+", " ", reason).strip()
    if not reason:
        raise BillingError({"reason": _("Give the reason for the refund.")})
    _lock_patient(patient.pk)
    refundable = patient_balance(patient_id=patient.pk).refundable
    if amount > refundable:
        raise BalanceChanged(
            {
                "amount": _("At most %(amount)s %(currency)s can be refunded.")
                % {"amount": refundable, "currency": settings.CLINIC_CURRENCY}
            }
        )
    return _money_row(
        kind=Payment.Kind.REFUND,
        patient=patient,
        amount=amount,
        method=method,
        reference=reference,
        reason=reason[:200],
        by=by,
        appointment=appointment,
    )


# --- Invoices ---------------------------------------------------------------------------


@transaction.atomic
def invoice_issue(*, patient: Patient, by: User) -> Invoice:
    """Invoice the patient's active lines not yet on an invoice, under the next number;
    the totals are frozen on the invoice (a later price change or void leaves it)."""
    _lock_patient(patient.pk)
    lines = list(Charge.objects.active().filter(patient=patient, invoice__isnull=True))
    if not lines:
        raise BillingError(_("There is nothing to invoice: every charge is invoiced already."))
    subtotal = money_sum(line.net_amount for line in lines)
    tax_total = money_sum(line.tax_amount for line in lines)
    invoice = Invoice(
        number=_next_number(INVOICE_SERIES, INVOICE_PREFIX),
        patient=patient,
        issued_at=timezone.now(),
        issued_by=by,
        currency=settings.CLINIC_CURRENCY,
        subtotal=subtotal,
        tax_total=tax_total,
        total=subtotal + tax_total,
    )
    _save(invoice)
    covered = Charge.objects.filter(
        pk__in=[line.pk for line in lines], status=Charge.Status.ACTIVE, invoice__isnull=True
    ).update(invoice=invoice)
    if covered != len(lines):  # a line was voided meanwhile (the patient's row is locked)
        raise StateConflict(_("The charges changed meanwhile; issue the invoice again."))
    return invoice
