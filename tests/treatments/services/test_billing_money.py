"""Money to the cent: property-based checks of the line arithmetic and of balances across
taxes, partial payments and refunds; two desks taking the last payment at once."""

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from treatments.models import Charge, Payment
from treatments.money import CENT, line_amounts
from treatments.selectors.billing import patient_balance
from treatments.services.billing import (
    BalanceChanged,
    BillingError,
    invoice_issue,
    payment_record,
    payment_refund,
)

from ...factories import AppointmentFactory, StaffMemberFactory
from .test_double_booking import run_together

cents = st.integers(min_value=0, max_value=999_999).map(lambda n: Decimal(n) / 100)
positive_cents = st.integers(min_value=1, max_value=99_999).map(lambda n: Decimal(n) / 100)
# 0.000–30.000 percent, to the thousandth, as the fee schedule holds them.
tax_rates = st.integers(min_value=0, max_value=30_000).map(lambda n: Decimal(n) / 1000)
units = st.integers(min_value=1, max_value=20)


@given(units=units, unit_price=cents, tax_rate=tax_rates)
def test_a_lines_tax_is_the_exact_tax_rounded_half_up_and_its_total_adds_up(
    units, unit_price, tax_rate
):
    amounts = line_amounts(units=units, unit_price=unit_price, tax_rate=tax_rate)
    exact_tax = units * unit_price * tax_rate / 100
    assert amounts.net == units * unit_price
    assert amounts.tax == exact_tax.quantize(CENT, rounding=ROUND_HALF_UP)
    assert abs(amounts.tax - exact_tax) <= Decimal("0.005")
    assert amounts.total == amounts.net + amounts.tax
    assert all(value == value.quantize(CENT) for value in (amounts.tax, amounts.total))


def test_half_a_cent_of_tax_rounds_up():
    # 0.10 × 5 % = 0.005 → 0.01; 2.50 × 8.875 % = 0.221875 → 0.22
    assert line_amounts(units=1, unit_price=Decimal("0.10"), tax_rate=Decimal("5")).tax == CENT
    assert line_amounts(
        units=1, unit_price=Decimal("2.50"), tax_rate=Decimal("8.875")
    ).tax == Decimal("0.22")


def _charge(patient, appointment, by, *, units, unit_price, tax_rate) -> Charge:
    amounts = line_amounts(units=units, unit_price=unit_price, tax_rate=tax_rate)
    return Charge.objects.create(
        patient=patient,
        appointment=appointment,
        kind=Charge.Kind.PROCEDURE,
        service_date=date(2026, 3, 10),
        cpt_code="17110",
        description="Destruction",
        units=units,
        unit_price=unit_price,
        tax_rate=tax_rate,
        tax_amount=amounts.tax,
        total=amounts.total,
        payer="self_pay",
        diagnosis_codes=["L72.0"],
        created_by=by,
    )


money_steps = st.lists(
    st.tuples(st.sampled_from(["payment", "refund"]), positive_cents), min_size=1, max_size=8
)
lines = st.lists(st.tuples(units, cents, tax_rates), min_size=1, max_size=4)


@pytest.mark.django_db
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=lines, steps=money_steps)
def test_balances_stay_exact_across_taxes_partial_payments_and_refunds(lines, steps):
    """Whatever the lines and the desk's attempts, each payment the service takes never
    exceeds what is owed, each refund never exceeds what was paid and not refunded, and
    the balance is exactly the lines' totals − payments + refunds, to the cent."""
    with transaction.atomic():
        desk = StaffMemberFactory(role="receptionist").user
        visit = AppointmentFactory()
        patient = visit.patient
        charged = Decimal("0.00")
        for line_units, unit_price, tax_rate in lines:
            charged += _charge(
                patient, visit, desk, units=line_units, unit_price=unit_price, tax_rate=tax_rate
            ).total
        paid = refunded = Decimal("0.00")
        for kind, amount in steps:
            owed, refundable = charged - paid + refunded, paid - refunded
            try:
                if kind == "payment":
                    payment_record(
                        patient=patient, amount=amount, method="cash", reference="", by=desk
                    )
                    paid += amount
                else:
                    payment_refund(
                        patient=patient,
                        amount=amount,
                        method="cash",
                        reference="",
                        reason="Overpaid",
                        by=desk,
                    )
                    refunded += amount
            except BalanceChanged:
                assert amount > (owed if kind == "payment" else refundable)
            else:
                assert amount <= (owed if kind == "payment" else refundable)
        balance = patient_balance(patient_id=patient.pk)
        assert (balance.charged, balance.paid, balance.refunded) == (charged, paid, refunded)
        assert balance.owed == charged - paid + refunded >= 0
        invoice = invoice_issue(patient=patient, by=desk)
        assert invoice.total == charged
        assert invoice.subtotal + invoice.tax_total == invoice.total
        transaction.set_rollback(True)


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the row lock is PostgreSQL's; SQLite's IMMEDIATE transactions serialise every "
    "write, so two desks cannot meet there",
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_desks_taking_the_last_payment_at_once_take_it_once():
    desks = [StaffMemberFactory(role="receptionist").user for _ in range(2)]
    visit = AppointmentFactory(starts_at=timezone.now())
    _charge(
        visit.patient,
        visit,
        desks[0],
        units=1,
        unit_price=Decimal("50.00"),
        tax_rate=Decimal("0"),
    )

    def take(desk, reference):
        return payment_record(
            patient=visit.patient, amount="50.00", method="card", reference=reference, by=desk
        )

    outcomes = run_together([lambda: take(desks[0], "T-1"), lambda: take(desks[1], "T-2")])

    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["BalanceChanged", "Payment"]
    refused = next(outcome for outcome in outcomes if isinstance(outcome, BillingError))
    assert refused.message_dict == {"amount": ["The patient owes 0.00 USD."]}
    assert Payment.objects.count() == 1
    assert patient_balance(patient_id=visit.patient_id).owed == Decimal("0.00")
