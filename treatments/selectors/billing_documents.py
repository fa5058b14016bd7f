"""What the billing documents print: an invoice, a receipt for a payment or a refund, and
a superbill (a patient's charges of one date of service with their diagnoses, which the
patient or a billing service sends to the insurer). Reads only; the PDFs are laid out by
templates/treatments/billing/pdf/ (treatments/pdf.py)."""

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from string import ascii_uppercase

from django.conf import settings
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from patients.models import Guardian, Patient

from ..models import Charge, Invoice, Payment
from ..money import money_sum
from .billing import Balance, patient_balance
from .diagnoses import icd10_billable

# A claim line points at up to four of the claim's diagnoses (CMS-1500, item 24E),
# by their letters in item 21 (A to L).
POINTERS_PER_LINE = 4


@dataclass(frozen=True)
class Clinic:
    """The clinic as the documents name it: the billing provider."""

    name: str
    address: str
    phone: str
    npi: str
    tax_id: str


def clinic_as_issuer() -> Clinic:
    return Clinic(
        name=settings.CLINIC_NAME,
        address=settings.CLINIC_ADDRESS,
        phone=settings.CLINIC_PHONE,
        npi=settings.CLINIC_NPI,
        tax_id=settings.CLINIC_TAX_ID,
    )


@dataclass(frozen=True)
class Diagnosis:
    pointer: str  # its letter on the document, A to L
    code: str
    description: str


@dataclass(frozen=True)
class Line:
    charge: Charge
    pointers: str  # the letters of the line's diagnoses, e.g. "AB"
    provider: str  # the rendering dermatologist
    provider_npi: str


@dataclass(frozen=True)
class BillingDocument:
    """Everything one document prints. `balance` is the patient's account as printed."""

    kind: str  # invoice, receipt, superbill
    title: str | Promise  # translated when the document is rendered
    number: str
    printed_at: datetime
    clinic: Clinic
    patient: Patient
    guardian: Guardian | None
    balance: Balance
    currency: str
    service_date: date | None = None
    invoice: Invoice | None = None
    payment: Payment | None = None
    lines: list[Line] = field(default_factory=list)
    diagnoses: list[Diagnosis] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)

    @property
    def lines_total(self) -> Decimal:
        return money_sum(line.charge.total for line in self.lines)

    @property
    def lines_tax(self) -> Decimal:
        return money_sum(line.charge.tax_amount for line in self.lines)

    @property
    def paid(self) -> Decimal:
        """The listed payments less the listed refunds."""
        return money_sum(payment.net_received for payment in self.payments)


def _guardian(patient: Patient) -> Guardian | None:
    """A minor's guardian who receives what the clinic sends (their bill too)."""
    if not patient.is_minor:
        return None
    return patient.guardians.filter(receives_reminders=True).first()


def _lines_and_diagnoses(charges: list[Charge]) -> tuple[list[Line], list[Diagnosis]]:
    """The lines with their diagnosis pointers; the diagnoses lettered in the order the
    lines first name them (each record's principal diagnosis first)."""
    letters: dict[str, str] = {}
    for charge in charges:
        for code in charge.diagnosis_codes:
            if code not in letters and len(letters) < len(ascii_uppercase):
                letters[code] = ascii_uppercase[len(letters)]
    lines = []
    for charge in charges:
        pointers = "".join(letters[code] for code in charge.diagnosis_codes if code in letters)
        dermatologist = charge.appointment.dermatologist
        lines.append(
            Line(
                charge=charge,
                pointers=pointers[:POINTERS_PER_LINE],
                provider=str(dermatologist),
                provider_npi=dermatologist.npi,
            )
        )
    diagnoses = []
    for code, letter in letters.items():
        known = icd10_billable(code=code)
        diagnoses.append(Diagnosis(letter, code, known.description if known else ""))
    return lines, diagnoses


def _charges(**filters: object) -> list[Charge]:
    return list(
        Charge.objects.filter(**filters)
        .select_related("appointment__dermatologist__user")
        .order_by("service_date", "created_at", "pk")
    )


def _payments(**filters: object) -> list[Payment]:
    return list(
        Payment.objects.filter(**filters)
        .select_related("received_by__staff_member")
        .order_by("received_at", "pk")
    )


def _patient(patient_id: int) -> Patient:
    return Patient.objects.get(pk=patient_id)


def invoice_document(*, invoice_id: int) -> BillingDocument:
    """An invoice as issued: its lines and frozen totals; the patient's payments and
    balance as of printing. Invoice.DoesNotExist for an unknown id."""
    invoice = Invoice.objects.select_related("patient").get(pk=invoice_id)
    lines, diagnoses = _lines_and_diagnoses(_charges(invoice=invoice))
    return BillingDocument(
        kind="invoice",
        title=_("Invoice"),
        number=invoice.number,
        printed_at=timezone.now(),
        clinic=clinic_as_issuer(),
        patient=invoice.patient,
        guardian=_guardian(invoice.patient),
        balance=patient_balance(patient_id=invoice.patient_id),
        currency=invoice.currency,
        invoice=invoice,
        lines=lines,
        diagnoses=diagnoses,
        payments=_payments(patient_id=invoice.patient_id),
    )


def receipt_document(*, payment_id: int) -> BillingDocument:
    """A receipt for one payment or refund, with the patient's balance as of printing.
    Payment.DoesNotExist for an unknown id."""
    payment = Payment.objects.select_related("patient", "received_by__staff_member").get(
        pk=payment_id
    )
    return BillingDocument(
        kind="receipt",
        title=_("Refund receipt") if payment.kind == Payment.Kind.REFUND else _("Receipt"),
        number=payment.receipt_number,
        printed_at=timezone.now(),
        clinic=clinic_as_issuer(),
        patient=payment.patient,
        guardian=_guardian(payment.patient),
        balance=patient_balance(patient_id=payment.patient_id),
        currency=settings.CLINIC_CURRENCY,
        payment=payment,
        payments=[payment],
    )


def superbill_document(*, patient_id: int, service_date: date) -> BillingDocument:
    """A patient's active charge lines of one date of service, their ICD-10-CM codes in
    order, the rendering dermatologists' NPIs, that day's payments and the balance.
    Patient.DoesNotExist for an unknown id; a day without charges has no lines."""
    patient = _patient(patient_id)
    charges = _charges(patient=patient, service_date=service_date, status=Charge.Status.ACTIVE)
    lines, diagnoses = _lines_and_diagnoses(charges)
    day_payments = _payments(patient=patient, received_at__date=service_date)
    return BillingDocument(
        kind="superbill",
        title=_("Superbill"),
        number=f"{patient.mrn}-{service_date:%Y%m%d}",
        printed_at=timezone.now(),
        clinic=clinic_as_issuer(),
        patient=patient,
        guardian=_guardian(patient),
        balance=patient_balance(patient_id=patient.pk),
        currency=settings.CLINIC_CURRENCY,
        service_date=service_date,
        lines=lines,
        diagnoses=diagnoses,
        payments=day_payments,
    )
