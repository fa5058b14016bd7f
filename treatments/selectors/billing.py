"""Reads of billing: the fee schedule's price on a day, a patient's balance and billing
page, a record's charge lines (docs/billing.md)."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db.models import OuterRef, Q, QuerySet, Subquery, Sum

from patients.models import Patient

from ..models import Charge, FeeScheduleEntry, Invoice, Payment, Procedure, ProcedureType
from ..money import LineAmounts, line_amounts, to_cents


def price_on(
    *, day: date, procedure_type: ProcedureType | None = None, cpt_code: str = ""
) -> FeeScheduleEntry | None:
    """The fee schedule entry for a procedure type or a CPT code (give one) on that day,
    or None when the clinic has set no price for it then. At most one applies: the
    database refuses overlapping periods for one key."""
    if (procedure_type is None) == (not cpt_code):
        raise ValueError("Give a procedure type or a CPT code.")
    key = Q(procedure_type=procedure_type) if procedure_type is not None else Q(cpt_code=cpt_code)
    return (
        FeeScheduleEntry.objects.filter(key, effective_from__lte=day)
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gte=day))
        .first()
    )


def fee_entry_overlaps(*, entry: FeeScheduleEntry) -> bool:
    """Whether another entry for the same key applies on a day of this one's period (the
    admin form's check; the database refuses it in any case)."""
    if entry.procedure_type_id is not None:
        others = FeeScheduleEntry.objects.filter(procedure_type_id=entry.procedure_type_id)
    elif entry.cpt_code:
        others = FeeScheduleEntry.objects.filter(cpt_code=entry.cpt_code)
    else:
        return False
    if entry.effective_to is not None:
        others = others.filter(effective_from__lte=entry.effective_to)
    return (
        others.exclude(pk=entry.pk)
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gte=entry.effective_from))
        .exists()
    )


@dataclass(frozen=True)
class Estimate:
    """What a visit of a type costs a self-paying patient on a day, tax included."""

    entry: FeeScheduleEntry
    amounts: LineAmounts
    currency: str


def self_pay_estimate(*, procedure_type: ProcedureType, day: date) -> Estimate | None:
    """The self-pay estimate of a visit of this type on that day; None without a price."""
    entry = price_on(procedure_type=procedure_type, day=day)
    if entry is None:
        return None
    amounts = line_amounts(units=1, unit_price=entry.self_pay_price, tax_rate=entry.tax_rate)
    return Estimate(entry=entry, amounts=amounts, currency=settings.CLINIC_CURRENCY)


@dataclass(frozen=True)
class Balance:
    charged: Decimal
    paid: Decimal
    refunded: Decimal

    @property
    def owed(self) -> Decimal:
        """Charges − payments + refunds: positive when the patient owes the clinic,
        negative when the clinic holds a credit for them."""
        return self.charged - self.paid + self.refunded

    @property
    def refundable(self) -> Decimal:
        """The most a refund may give back: what was paid and not yet refunded."""
        return self.paid - self.refunded


def _sum_of(rows: QuerySet[Charge] | QuerySet[Payment], field: str) -> Subquery:
    """The sum of a field over rows correlated to the outer patient, as one subquery."""
    return Subquery(
        rows.filter(patient_id=OuterRef("pk"))
        .order_by()
        .values("patient_id")
        .annotate(sum=Sum(field))
        .values("sum")[:1]
    )


def patient_balance(*, patient_id: int) -> Balance:
    """The patient's balance from their active charge lines, payments and refunds, in
    one query."""
    sums = (
        Patient.objects.filter(pk=patient_id)
        .annotate(
            charged=_sum_of(Charge.objects.active(), "total"),
            paid=_sum_of(Payment.objects.payments(), "amount"),
            refunded=_sum_of(Payment.objects.refunds(), "amount"),
        )
        .values("charged", "paid", "refunded")
        .get()
    )
    # SQLite sums decimals as floats: back to cents (each term is whole cents).
    return Balance(**{name: to_cents(Decimal(str(value or 0))) for name, value in sums.items()})


def _charges_with_people() -> QuerySet[Charge]:
    return Charge.objects.select_related(
        "created_by__staff_member", "voided_by__staff_member", "invoice"
    )


@dataclass(frozen=True)
class PatientBilling:
    patient: Patient
    balance: Balance
    charges: list[Charge]
    payments: list[Payment]
    invoices: list[Invoice]
    currency: str

    @property
    def unpriced(self) -> list[Charge]:
        return [charge for charge in self.charges if charge.is_active and charge.price_missing]


def patient_billing(*, patient: Patient) -> PatientBilling:
    """The patient's billing page: balance, every charge line (voided ones with their
    trail), payments and refunds, invoices. Five queries, however many rows."""
    return PatientBilling(
        patient=patient,
        balance=patient_balance(patient_id=patient.pk),
        charges=list(_charges_with_people().filter(patient=patient)),
        payments=list(
            Payment.objects.filter(patient=patient).select_related("received_by__staff_member")
        ),
        invoices=list(Invoice.objects.filter(patient=patient)),
        currency=settings.CLINIC_CURRENCY,
    )


def record_codes(procedure: Procedure) -> tuple[str, str]:
    """The record's CPT and ICD-10-CM codes as amended: each from the latest amendment
    that corrects it, else as signed."""
    procedure_code, diagnosis_code = procedure.procedure_code, procedure.diagnosis_code
    for amendment in procedure.amendments.order_by("created_at", "pk"):
        procedure_code = amendment.procedure_code or procedure_code
        diagnosis_code = amendment.diagnosis_code or diagnosis_code
    return procedure_code, diagnosis_code


def charges_of_record(*, procedure: Procedure) -> list[Charge]:
    """A record's charge lines, voided ones too (the trail of its amendments), oldest first."""
    return list(_charges_with_people().filter(procedure=procedure))
