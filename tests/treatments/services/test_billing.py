"""Billing: the fee schedule, estimates at booking, charge lines from signed records and
their amendments, payments, refunds and invoices (docs/billing.md)."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from clinic.constraint_checks import check_constraints_hold
from treatments.constraints import FEE_OVERLAP_CONSTRAINTS, SQLITE_FEE_TRIGGERS
from treatments.models import (
    Appointment,
    AppointmentEstimate,
    Charge,
    FeeScheduleEntry,
    Invoice,
    Payment,
    ProcedureType,
)
from treatments.selectors.billing import patient_balance, price_on, self_pay_estimate
from treatments.services import records
from treatments.services.billing import (
    BalanceChanged,
    BillingError,
    invoice_issue,
    payment_record,
    payment_refund,
)
from treatments.services.booking import appointment_book

from ...factories import (
    AppointmentFactory,
    FeeScheduleEntryFactory,
    LesionFactory,
    PatientFactory,
    ProcedureTypeFactory,
)
from .test_records import CONSENT, CRYO, NO_COMPLICATIONS

pytestmark = pytest.mark.django_db

# A Tuesday afternoon in the clinic's time zone; every test runs at this instant.
NOW = (2026, 3, 10, 15, 0)


def clinic_time(day: date, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(clinic_time(date(*NOW[:3]), *NOW[3:]), tick=False) as traveller:
        yield traveller


@pytest.fixture
def today() -> date:
    return timezone.localdate()


@pytest.fixture
def consultation(db) -> ProcedureType:
    """An evaluation and management visit: no procedure, billed as CPT 99213."""
    return ProcedureTypeFactory(
        slug="consultation",
        is_procedure=False,
        needs_treatment_room=False,
        code="99213",
        code_15_or_more="",
        follow_up_weeks=None,
    )


@pytest.fixture
def prices(db):
    """The clinic's prices since 2020: 17111 taxed at 8.875 %, the others untaxed."""
    return {
        code: FeeScheduleEntryFactory(
            cpt_code=code,
            description=description,
            self_pay_price=Decimal(self_pay),
            insured_price=Decimal(insured),
            tax_rate=Decimal(tax),
        )
        for code, description, self_pay, insured, tax in [
            ("17110", "Destruction of benign lesions, up to 14", "180.00", "140.00", "0"),
            ("17111", "Destruction of benign lesions, 15 or more", "250.00", "180.00", "8.875"),
            ("10040", "Acne surgery (milia extraction)", "150.00", "110.00", "0"),
            ("99213", "Office visit, established patient", "120.00", "95.00", "0"),
        ]
    }


def checked_in(patient, dermatologist, procedure_type, starts_at, room=None) -> Appointment:
    return AppointmentFactory(
        patient=patient,
        dermatologist=dermatologist,
        room=room,
        procedure_type=procedure_type,
        starts_at=starts_at,
        status=Appointment.Status.CHECKED_IN,
    )


def signed(visit: Appointment, *, lesions: int = 3, **extra):
    """Record the visit's procedure (a consultation: no lesions) and sign it."""
    procedure_type = visit.procedure_type
    chosen = (
        [LesionFactory(patient=visit.patient, count=lesions)] if procedure_type.is_procedure else []
    )
    procedure = records.procedure_record(
        appointment=visit,
        procedure_type=procedure_type,
        lesions=chosen,
        technique=CRYO if procedure_type.slug == "cryotherapy" else {},
        consent=CONSENT,
        complications=NO_COMPLICATIONS,
        note="Tolerated well.",
        by=visit.dermatologist.user,
        performed_at=visit.starts_at,
        **extra,
    )
    return records.procedure_sign(procedure=procedure, by=visit.dermatologist.user)


def active_lines(patient) -> list[tuple[str, str, int, Decimal, Decimal, Decimal]]:
    return [
        (line.cpt_code, line.modifiers, line.units, line.unit_price, line.tax_amount, line.total)
        for line in Charge.objects.active().filter(patient=patient).order_by("cpt_code")
    ]


# --- The fee schedule ------------------------------------------------------------------


def test_the_price_of_a_day_is_the_entry_in_force_that_day(today):
    FeeScheduleEntryFactory(
        cpt_code="17110",
        self_pay_price=Decimal("150.00"),
        effective_from=date(2025, 1, 1),
        effective_to=date(2025, 12, 31),
    )
    FeeScheduleEntryFactory(
        cpt_code="17110", self_pay_price=Decimal("165.00"), effective_from=date(2026, 1, 1)
    )
    assert price_on(cpt_code="17110", day=date(2025, 12, 31)).self_pay_price == Decimal("150.00")
    assert price_on(cpt_code="17110", day=date(2026, 1, 1)).self_pay_price == Decimal("165.00")
    assert price_on(cpt_code="17110", day=date(2024, 12, 31)) is None
    assert price_on(cpt_code="17111", day=today) is None


@pytest.mark.parametrize(
    ("first_to", "second_from", "key"),
    [
        (None, date(2027, 1, 1), "cpt_code"),  # an open price, and a later one beside it
        (date(2026, 6, 30), date(2026, 6, 30), "cpt_code"),  # one shared last/first day
        (None, date(2021, 1, 1), "procedure_type"),
    ],
)
def test_the_database_refuses_two_prices_for_one_key_on_one_day(
    first_to, second_from, key, cryotherapy
):
    fields = {"cpt_code": "17110"} if key == "cpt_code" else {"procedure_type": cryotherapy}
    if key == "procedure_type":
        fields["cpt_code"] = ""
    FeeScheduleEntryFactory(effective_from=date(2026, 1, 1), effective_to=first_to, **fields)
    with pytest.raises(IntegrityError) as refused, transaction.atomic():
        FeeScheduleEntry.objects.create(
            description="Again",
            self_pay_price=Decimal("1.00"),
            insured_price=Decimal("1.00"),
            effective_from=second_from,
            **fields,
        )
    assert any(name in str(refused.value) for name in FEE_OVERLAP_CONSTRAINTS)


def test_prices_for_other_keys_and_other_days_live_side_by_side(cryotherapy):
    FeeScheduleEntryFactory(
        cpt_code="17110", effective_from=date(2025, 1, 1), effective_to=date(2025, 12, 31)
    )
    FeeScheduleEntryFactory(cpt_code="17110", effective_from=date(2026, 1, 1))
    FeeScheduleEntryFactory(cpt_code="17111", effective_from=date(2026, 1, 1))
    FeeScheduleEntryFactory(
        cpt_code="", procedure_type=cryotherapy, effective_from=date(2026, 1, 1)
    )
    assert FeeScheduleEntry.objects.count() == 4


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"cpt_code": ""}, "Give either a procedure type or a CPT code."),
        ({"self_pay_price": Decimal("-1.00")}, "A price cannot be negative."),
        ({"tax_rate": Decimal("30.001")}, "A tax rate is from 0 to 30 percent."),
        ({"effective_to": date(2019, 12, 31)}, "The last day comes on or after the first."),
    ],
)
def test_a_fee_entry_breaking_a_rule_is_refused_with_its_message(fields, message):
    entry = FeeScheduleEntryFactory.build(**fields)
    with pytest.raises(Exception) as refused:
        check_constraints_hold(entry)
    assert message in str(refused.value)


def test_the_fee_schedule_overlap_rules_are_installed_in_the_database():
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT conname FROM pg_constraint WHERE contype = 'x' AND conname = ANY(%s)",
                [list(FEE_OVERLAP_CONSTRAINTS)],
            )
            assert {row[0] for row in cursor.fetchall()} == set(FEE_OVERLAP_CONSTRAINTS)
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            assert set(SQLITE_FEE_TRIGGERS) <= {row[0] for row in cursor.fetchall()}


# --- Estimates at booking -------------------------------------------------------------


def test_booking_stores_the_self_pay_estimate_at_the_visit_days_price(
    dermatologist, cryotherapy, treatment_room, today
):
    FeeScheduleEntryFactory(
        cpt_code="",
        procedure_type=cryotherapy,
        self_pay_price=Decimal("199.99"),
        tax_rate=Decimal("8.875"),
        effective_from=date(2020, 1, 1),
        effective_to=today + timedelta(days=6),
    )
    FeeScheduleEntryFactory(
        cpt_code="",
        procedure_type=cryotherapy,
        self_pay_price=Decimal("220.00"),
        effective_from=today + timedelta(days=7),
    )
    soon, later = (
        appointment_book(
            patient=PatientFactory(),
            dermatologist=dermatologist,
            procedure_type=cryotherapy,
            starts_at=clinic_time(today + timedelta(days=days), 10),
            booked_by=None,
        )
        for days in (1, 8)
    )
    estimate = AppointmentEstimate.objects.get(appointment=soon)
    # 199.99 × 8.875 % = 17.7491125 → 17.75
    assert (estimate.price, estimate.tax_amount, estimate.total) == (
        Decimal("199.99"),
        Decimal("17.75"),
        Decimal("217.74"),
    )
    assert (estimate.currency, estimate.priced_on) == ("USD", today + timedelta(days=1))
    assert AppointmentEstimate.objects.get(appointment=later).total == Decimal("220.00")


def test_a_booking_without_a_price_for_its_type_has_no_estimate(
    dermatologist, cryotherapy, treatment_room, today
):
    visit = appointment_book(
        patient=PatientFactory(),
        dermatologist=dermatologist,
        procedure_type=cryotherapy,
        starts_at=clinic_time(today + timedelta(days=1), 10),
        booked_by=None,
    )
    assert not AppointmentEstimate.objects.filter(appointment=visit).exists()
    assert self_pay_estimate(procedure_type=cryotherapy, day=today) is None


# --- Charge lines from signed records ---------------------------------------------------


def test_a_15_lesion_destruction_with_a_same_day_consultation_bills_17111_and_99213_with_25(
    dermatologist, cryotherapy, consultation, treatment_room, prices, today
):
    """The consultation is signed first (no procedure yet: no modifier); signing the
    cryotherapy adds 25 to it by voiding and replacing its line."""
    patient = PatientFactory()
    consult = checked_in(patient, dermatologist, consultation, clinic_time(today, 9))
    cryo = checked_in(
        patient, dermatologist, cryotherapy, clinic_time(today, 9, 30), treatment_room
    )
    signed(consult)
    assert active_lines(patient) == [
        ("99213", "", 1, Decimal("120.00"), Decimal("0.00"), Decimal("120.00"))
    ]
    procedure = signed(cryo, lesions=15)

    assert procedure.procedure_code == "17111"
    # 250.00 × 8.875 % = 22.1875 → 22.19 (half up, per line)
    assert active_lines(patient) == [
        ("17111", "", 1, Decimal("250.00"), Decimal("22.19"), Decimal("272.19")),
        ("99213", "25", 1, Decimal("120.00"), Decimal("0.00"), Decimal("120.00")),
    ]
    without_25 = Charge.objects.get(patient=patient, status=Charge.Status.VOIDED)
    assert (without_25.cpt_code, without_25.modifiers) == ("99213", "")
    assert without_25.void_reason == "Modifier 25: a procedure the same day"
    assert without_25.voided_by == dermatologist.user
    assert without_25.replaced_by.get().modifiers == "25"
    assert patient_balance(patient_id=patient.pk).owed == Decimal("392.19")
    line = Charge.objects.active().get(cpt_code="17111")
    assert (line.diagnosis_codes, line.payer, line.procedure) == (["L72.0"], "self_pay", procedure)
    assert line.service_date == today


def test_a_consultation_signed_after_the_days_procedure_carries_25_from_the_start(
    dermatologist, cryotherapy, consultation, treatment_room, prices, today
):
    patient = PatientFactory()
    cryo = checked_in(patient, dermatologist, cryotherapy, clinic_time(today, 9), treatment_room)
    consult = checked_in(patient, dermatologist, consultation, clinic_time(today, 11))
    signed(cryo, lesions=4)
    signed(consult)
    assert active_lines(patient) == [
        ("17110", "", 1, Decimal("180.00"), Decimal("0.00"), Decimal("180.00")),
        ("99213", "25", 1, Decimal("120.00"), Decimal("0.00"), Decimal("120.00")),
    ]
    assert not Charge.objects.filter(status=Charge.Status.VOIDED).exists()


def test_a_consultation_on_another_day_than_the_procedure_has_no_modifier(
    dermatologist, cryotherapy, consultation, treatment_room, prices, today
):
    patient = PatientFactory()
    signed(checked_in(patient, dermatologist, consultation, clinic_time(today - timedelta(1), 9)))
    signed(checked_in(patient, dermatologist, cryotherapy, clinic_time(today, 9), treatment_room))
    assert [line[:2] for line in active_lines(patient)] == [("17110", ""), ("99213", "")]


def test_an_insured_patient_is_charged_the_insured_price(
    dermatologist, cryotherapy, treatment_room, prices, today
):
    patient = PatientFactory(payer="insurance", insurer_name="Aetna", insurance_member_id="W123")
    signed(checked_in(patient, dermatologist, cryotherapy, clinic_time(today, 9), treatment_room))
    line = Charge.objects.get(patient=patient)
    assert (line.unit_price, line.total, line.payer) == (
        Decimal("140.00"),
        Decimal("140.00"),
        "insurance",
    )


def test_a_code_without_a_price_is_charged_at_zero_and_flagged_not_skipped(
    dermatologist, cryotherapy, treatment_room, today
):
    patient = PatientFactory()
    signed(checked_in(patient, dermatologist, cryotherapy, clinic_time(today, 9), treatment_room))
    line = Charge.objects.get(patient=patient)
    assert (line.cpt_code, line.total, line.price_missing, line.fee_entry) == (
        "17110",
        Decimal("0.00"),
        True,
        None,
    )


def test_a_record_without_a_code_bills_nothing(dermatologist, prices, today):
    patient = PatientFactory()
    waiting = ProcedureType.objects.get(slug="watchful-waiting")
    signed(checked_in(patient, dermatologist, waiting, clinic_time(today, 9)))
    assert not Charge.objects.filter(patient=patient).exists()


def test_signing_bills_at_the_date_of_services_price_not_todays(
    dermatologist, cryotherapy, treatment_room, today
):
    FeeScheduleEntryFactory(
        cpt_code="17110",
        self_pay_price=Decimal("170.00"),
        effective_from=date(2020, 1, 1),
        effective_to=today - timedelta(days=1),
    )
    FeeScheduleEntryFactory(
        cpt_code="17110", self_pay_price=Decimal("190.00"), effective_from=today
    )
    patient = PatientFactory()
    yesterday = clinic_time(today - timedelta(days=1), 16)
    signed(checked_in(patient, dermatologist, cryotherapy, yesterday, treatment_room))
    assert Charge.objects.get(patient=patient).unit_price == Decimal("170.00")


def test_a_price_change_leaves_old_charges_and_invoices_as_they_were(
    dermatologist, cryotherapy, treatment_room, prices, today, clock
):
    patient = PatientFactory()
    signed(checked_in(patient, dermatologist, cryotherapy, clinic_time(today, 9), treatment_room))
    invoice = invoice_issue(patient=patient, by=dermatologist.user)
    entry = prices["17110"]
    entry.effective_to = today
    entry.save()
    FeeScheduleEntryFactory(
        cpt_code="17110", self_pay_price=Decimal("999.00"), effective_from=today + timedelta(1)
    )
    clock.shift(timedelta(days=2))
    signed(
        checked_in(
            patient,
            dermatologist,
            cryotherapy,
            clinic_time(today + timedelta(2), 9),
            treatment_room,
        )
    )

    invoice.refresh_from_db()
    assert (invoice.number, invoice.subtotal, invoice.total) == (
        "INV-000001",
        Decimal("180.00"),
        Decimal("180.00"),
    )
    assert [line.total for line in invoice.charges.all()] == [Decimal("180.00")]
    assert sorted(line[-1] for line in active_lines(patient)) == [
        Decimal("180.00"),
        Decimal("999.00"),
    ]


def test_an_amendment_correcting_the_code_voids_the_line_and_writes_its_replacement(
    dermatologist, cryotherapy, treatment_room, prices, today, clock
):
    patient = PatientFactory()
    procedure = signed(
        checked_in(patient, dermatologist, cryotherapy, clinic_time(today, 9), treatment_room)
    )
    first = Charge.objects.get(procedure=procedure)
    clock.shift(timedelta(hours=1))
    records.procedure_amend(
        procedure=procedure,
        reason="Counted again from the photos",
        text="Sixteen milia were treated, not three.",
        procedure_code="17111",
        diagnosis_code="l72.0",  # the same diagnosis: no correction of it
        by=dermatologist.user,
    )
    first.refresh_from_db()
    assert (first.status, first.void_reason, first.voided_by) == (
        Charge.Status.VOIDED,
        "Amended",
        dermatologist.user,
    )
    assert first.voided_at == timezone.now()
    second = Charge.objects.active().get(procedure=procedure)
    assert (second.cpt_code, second.total, second.replaces) == (
        "17111",
        Decimal("272.19"),
        first,
    )
    assert procedure.amendments.get().diagnosis_code == ""
    assert patient_balance(patient_id=patient.pk).owed == Decimal("272.19")


def test_an_amendment_correcting_the_diagnosis_keeps_the_code_and_relinks_the_line(
    dermatologist, cryotherapy, treatment_room, prices, today
):
    patient = PatientFactory()
    procedure = signed(
        checked_in(patient, dermatologist, cryotherapy, clinic_time(today, 9), treatment_room)
    )
    records.procedure_amend(
        procedure=procedure,
        reason="Miliaria, not milia",
        text="Diagnosis corrected.",
        diagnosis_code="L74.0",
        by=dermatologist.user,
    )
    assert [(c.cpt_code, c.diagnosis_codes, c.status) for c in procedure.charges.all()] == [
        ("17110", ["L72.0"], "voided"),
        ("17110", ["L74.0"], "active"),
    ]


def test_an_amendment_of_text_only_leaves_the_charges_alone(
    dermatologist, cryotherapy, treatment_room, prices, today
):
    patient = PatientFactory()
    procedure = signed(
        checked_in(patient, dermatologist, cryotherapy, clinic_time(today, 9), treatment_room)
    )
    records.procedure_amend(
        procedure=procedure, reason="Typo", text="Left eyelid.", by=dermatologist.user
    )
    assert procedure.charges.get().status == Charge.Status.ACTIVE


def test_an_amendment_with_a_code_that_is_not_cpt_is_refused_and_writes_nothing(
    dermatologist, cryotherapy, treatment_room, prices, today
):
    patient = PatientFactory()
    procedure = signed(
        checked_in(patient, dermatologist, cryotherapy, clinic_time(today, 9), treatment_room)
    )
    with pytest.raises(Exception, match="A CPT code is five digits"):
        records.procedure_amend(
            procedure=procedure,
            reason="x",
            text="y",
            procedure_code="1711",
            by=dermatologist.user,
        )
    assert procedure.charges.get().status == Charge.Status.ACTIVE
    assert not procedure.amendments.exists()


# --- Payments, refunds, invoices --------------------------------------------------------


@pytest.fixture
def owing(dermatologist, cryotherapy, consultation, treatment_room, prices, today):
    """A patient who owes 392.19: 17111 (272.19 with tax) and 99213-25 (120.00)."""
    patient = PatientFactory()
    signed(checked_in(patient, dermatologist, consultation, clinic_time(today, 9)))
    signed(
        checked_in(patient, dermatologist, cryotherapy, clinic_time(today, 10), treatment_room),
        lesions=15,
    )
    return patient


@pytest.fixture
def desk(db):
    from ...factories import StaffMemberFactory

    return StaffMemberFactory(role="receptionist").user


def test_partial_payments_and_a_refund_keep_the_balance_to_the_cent(owing, desk):
    payment_record(patient=owing, amount="100.00", method="cash", reference="", by=desk)
    payment_record(
        patient=owing, amount=Decimal("292.18"), method="card", reference="T-77", by=desk
    )
    assert patient_balance(patient_id=owing.pk).owed == Decimal("0.01")
    payment_refund(
        patient=owing,
        amount="50.00",
        method="cash",
        reference="",
        reason="Goodwill: waited an hour",
        by=desk,
    )
    balance = patient_balance(patient_id=owing.pk)
    assert (balance.paid, balance.refunded, balance.owed) == (
        Decimal("392.18"),
        Decimal("50.00"),
        Decimal("50.01"),
    )
    assert list(Payment.objects.values_list("receipt_number", flat=True)) == [
        "RCT-000001",
        "RCT-000002",
        "RCT-000003",
    ]
    refund = Payment.objects.refunds().get()
    assert (refund.received_by, refund.received_at) == (desk, timezone.now())


def test_paying_more_than_is_owed_is_refused_with_what_is_owed(owing, desk):
    with pytest.raises(BalanceChanged) as refused:
        payment_record(patient=owing, amount="392.20", method="cash", reference="", by=desk)
    assert refused.value.message_dict == {"amount": ["The patient owes 392.19 USD."]}
    assert not Payment.objects.exists()


@pytest.mark.parametrize(
    ("amount", "method", "reference", "field", "message"),
    [
        ("0", "cash", "", "amount", "Give an amount above zero."),
        ("-5", "cash", "", "amount", "Give an amount above zero."),
        ("1.005", "cash", "", "amount", "Give the amount to the cent."),
        ("ten", "cash", "", "amount", "Give an amount such as 25.00."),
        ("NaN", "cash", "", "amount", "Give an amount above zero."),
        ("10", "card", "  ", "reference", "Give the card's reference."),
        ("10", "bank_transfer", "", "reference", "Give the bank transfer's reference."),
        ("10", "cheque", "", "method", "Choose cash, card or bank transfer."),
    ],
)
def test_a_payment_the_rules_refuse_names_its_field(
    owing, desk, amount, method, reference, field, message
):
    with pytest.raises(BillingError) as refused:
        payment_record(patient=owing, amount=amount, method=method, reference=reference, by=desk)
    assert refused.value.message_dict == {field: [message]}
    assert not Payment.objects.exists()


def test_a_refund_needs_a_reason_and_never_exceeds_what_was_paid(owing, desk):
    payment_record(patient=owing, amount="40.00", method="cash", reference="", by=desk)
    with pytest.raises(BillingError) as no_reason:
        payment_refund(patient=owing, amount="10", method="cash", reference="", reason=" ", by=desk)
    assert no_reason.value.message_dict == {"reason": ["Give the reason for the refund."]}
    with pytest.raises(BalanceChanged) as too_much:
        payment_refund(
            patient=owing, amount="40.01", method="cash", reference="", reason="Error", by=desk
        )
    assert too_much.value.message_dict == {"amount": ["At most 40.00 USD can be refunded."]}
    assert Payment.objects.refunds().count() == 0


def test_a_payment_for_another_patients_visit_is_refused(owing, desk):
    stranger_visit = AppointmentFactory()
    with pytest.raises(BillingError, match="another patient's"):
        payment_record(
            patient=owing,
            amount="10",
            method="cash",
            reference="",
            by=desk,
            appointment=stranger_visit,
        )


def test_invoices_are_numbered_in_order_and_cover_only_lines_not_yet_invoiced(
    owing, desk, dermatologist, cryotherapy, treatment_room, today
):
    first = invoice_issue(patient=owing, by=desk)
    assert (first.number, first.subtotal, first.tax_total, first.total) == (
        "INV-000001",
        Decimal("370.00"),
        Decimal("22.19"),
        Decimal("392.19"),
    )
    # The consultation's line replaced for modifier 25 is voided, and not on the invoice.
    assert sorted(first.charges.values_list("cpt_code", "modifiers")) == [
        ("17111", ""),
        ("99213", "25"),
    ]
    with pytest.raises(BillingError, match="nothing to invoice"):
        invoice_issue(patient=owing, by=desk)
    other = PatientFactory()
    signed(checked_in(other, dermatologist, cryotherapy, clinic_time(today, 14), treatment_room))
    assert invoice_issue(patient=other, by=desk).number == "INV-000002"
    assert Invoice.objects.count() == 2
