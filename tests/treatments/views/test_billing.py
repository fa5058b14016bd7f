"""The desk's billing pages, the estimate on the booking pages, a record's lines on its
page, and the manager's fee schedule in the admin."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clinic.models import AccessLog
from treatments.models import (
    AppointmentEstimate,
    Charge,
    FeeScheduleEntry,
    Invoice,
    Payment,
    ProcedureType,
)
from treatments.services import appointment_book, records

from ...factories import (
    AppointmentFactory,
    FeeScheduleEntryFactory,
    LesionFactory,
    PatientFactory,
)
from ..services.test_records import CONSENT, CRYO, NO_COMPLICATIONS

pytestmark = pytest.mark.django_db

TUESDAY_3PM = timezone.make_aware(datetime(2026, 3, 10, 15, 0))


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(TUESDAY_3PM, tick=False) as traveller:
        yield traveller


def signed_cryotherapy(patient, dermatologist, *, lesions=3, hour=9):
    visit = AppointmentFactory(
        patient=patient,
        dermatologist=dermatologist,
        procedure_type=ProcedureType.objects.get(slug="cryotherapy"),
        starts_at=timezone.make_aware(datetime.combine(timezone.localdate(), time(hour))),
        status="checked_in",
    )
    procedure = records.procedure_record(
        appointment=visit,
        procedure_type=visit.procedure_type,
        lesions=[LesionFactory(patient=patient, count=lesions)],
        technique=CRYO,
        consent=CONSENT,
        complications=NO_COMPLICATIONS,
        note="Tolerated well.",
        by=dermatologist.user,
        performed_at=visit.starts_at,
    )
    return records.procedure_sign(procedure=procedure, by=dermatologist.user)


@pytest.fixture
def owing(dermatologist):
    """A patient who owes 180.00 for one cryotherapy (17110)."""
    FeeScheduleEntryFactory(
        cpt_code="17110", description="Destruction, up to 14", self_pay_price=Decimal("180.00")
    )
    patient = PatientFactory()
    signed_cryotherapy(patient, dermatologist)
    return patient


def billing_url(patient, name="patient_billing"):
    return reverse(f"treatments:{name}", kwargs={"patient_id": patient.pk})


# --- The billing page -----------------------------------------------------------------


def test_the_billing_page_shows_the_balance_and_the_lines_and_logs_the_look(
    receptionist_client, owing
):
    response = receptionist_client.get(billing_url(owing))
    page = response.content.decode()
    assert response.status_code == 200
    assert '<dd class="col-sm-9 fw-semibold" id="owed">180.00 USD</dd>' in page
    assert "17110" in page and "Destruction, up to 14" in page
    log = AccessLog.objects.get(patient=owing)
    assert (log.action, log.detail) == (AccessLog.Action.RECORD_VIEW, "billing page")


@pytest.mark.parametrize(
    "name", ["patient_billing", "payment_take", "payment_refund", "invoice_issue"]
)
def test_a_patient_that_does_not_exist_is_a_404(receptionist_client, name):
    url = reverse(f"treatments:{name}", kwargs={"patient_id": 999_999})
    response = (
        receptionist_client.get(url)
        if name == "patient_billing"
        else receptionist_client.post(url, {})
    )
    assert response.status_code == 404
    assert not AccessLog.objects.exists()


@pytest.mark.parametrize("name", ["payment_take", "payment_refund", "invoice_issue"])
def test_a_dermatologist_takes_no_payment_and_issues_no_invoice(dermatologist_client, owing, name):
    response = dermatologist_client.post(
        billing_url(owing, name), {"payment-amount": "10", "payment-method": "cash"}
    )
    assert response.status_code == 403
    assert not Payment.objects.exists() and not Invoice.objects.exists()


def test_the_patient_page_shows_the_desk_the_balance_and_not_the_dermatologist(
    receptionist_client, dermatologist_client, owing
):
    url = reverse("treatments:patient_detail", args=[owing.pk])
    desk_page = receptionist_client.get(url).content.decode()
    assert "Owed: <strong>180.00 USD</strong>" in desk_page
    assert billing_url(owing) in desk_page
    assert "patient-balance" not in dermatologist_client.get(url).content.decode()


def test_taking_a_payment_records_it_and_shows_the_new_balance(receptionist_client, owing):
    response = receptionist_client.post(
        billing_url(owing, "payment_take"),
        {"payment-amount": "80.00", "payment-method": "card", "payment-reference": "T-42"},
        follow=True,
    )
    page = response.content.decode()
    assert "Payment of 80.00 taken: receipt RCT-000001." in page
    assert 'id="owed">100.00 USD</dd>' in page
    payment = Payment.objects.get()
    assert (payment.amount, payment.method, payment.reference, payment.received_by) == (
        Decimal("80.00"),
        "card",
        "T-42",
        receptionist_client.staff_member.user,
    )


def test_paying_more_than_is_owed_is_a_409_with_the_reason_beside_the_amount(
    receptionist_client, owing
):
    response = receptionist_client.post(
        billing_url(owing, "payment_take"),
        {"payment-amount": "180.01", "payment-method": "cash", "payment-reference": ""},
    )
    assert response.status_code == 409
    assert "The patient owes 180.00 USD." in response.content.decode()
    assert not Payment.objects.exists()
    assert AccessLog.objects.filter(patient=owing).count() == 1  # the page shown again


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"payment-amount": "", "payment-method": "cash"}, "This field is required."),
        ({"payment-amount": "ten", "payment-method": "cash"}, "Enter a number."),
        ({"payment-amount": "1e400", "payment-method": "cash"}, "no more than 10 digits"),
        ({"payment-amount": "-3", "payment-method": "cash"}, "greater than or equal to 0.01"),
        ({"payment-amount": "3", "payment-method": "cheque"}, "Select a valid choice."),
    ],
)
def test_a_payment_form_with_bad_input_is_a_400(receptionist_client, owing, data, message):
    response = receptionist_client.post(billing_url(owing, "payment_take"), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Payment.objects.exists()


def test_a_card_payment_without_its_reference_is_refused_beside_the_reference(
    receptionist_client, owing
):
    response = receptionist_client.post(
        billing_url(owing, "payment_take"),
        {"payment-amount": "10", "payment-method": "card", "payment-reference": ""},
    )
    assert response.status_code == 400
    assert "Give the card&#x27;s reference." in response.content.decode()


def test_a_refund_with_its_reason_is_given_and_one_beyond_what_was_paid_is_refused(
    receptionist_client, owing
):
    receptionist_client.post(
        billing_url(owing, "payment_take"),
        {"payment-amount": "50", "payment-method": "cash", "payment-reference": ""},
    )
    too_much = receptionist_client.post(
        billing_url(owing, "payment_refund"),
        {"refund-amount": "60", "refund-method": "cash", "refund-reason": "Overcharged"},
    )
    assert too_much.status_code == 409
    assert "At most 50.00 USD can be refunded." in too_much.content.decode()
    given = receptionist_client.post(
        billing_url(owing, "payment_refund"),
        {"refund-amount": "20", "refund-method": "cash", "refund-reason": "Overcharged"},
        follow=True,
    )
    assert "Refund of 20.00 given: RCT-000002." in given.content.decode()
    assert Payment.objects.refunds().get().reason == "Overcharged"


def test_issuing_an_invoice_numbers_it_and_a_second_with_nothing_new_is_refused(
    receptionist_client, owing
):
    issued = receptionist_client.post(billing_url(owing, "invoice_issue"), follow=True)
    assert "Invoice INV-000001 issued." in issued.content.decode()
    again = receptionist_client.post(billing_url(owing, "invoice_issue"))
    assert again.status_code == 400
    assert "nothing to invoice" in again.content.decode()
    assert Invoice.objects.get().total == Decimal("180.00")


def test_the_billing_page_costs_the_same_for_one_line_and_many(
    receptionist_client, owing, dermatologist
):
    url = billing_url(owing)
    receptionist_client.get(url)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert receptionist_client.get(url).status_code == 200
        return len(captured.captured_queries)

    # session, user, staff member (role check), the patient, the balance (one query),
    # the charges (with who wrote and voided them, and their invoice), the payments with
    # who took them, the invoices, the access-log row
    one = queries()
    for hour in (10, 11, 12):
        signed_cryotherapy(owing, dermatologist, hour=hour)
    for amount in ("10", "20"):
        receptionist_client.post(
            billing_url(owing, "payment_take"),
            {"payment-amount": amount, "payment-method": "cash", "payment-reference": ""},
        )
    receptionist_client.post(billing_url(owing, "invoice_issue"))
    records.procedure_amend(
        procedure=Charge.objects.first().procedure,
        reason="Count",
        text="Sixteen.",
        procedure_code="17111",
        by=dermatologist.user,
    )
    assert one == 9
    assert queries() == one


# --- Estimates ----------------------------------------------------------------------


@pytest.fixture
def cryotherapy_price(cryotherapy):
    return FeeScheduleEntryFactory(
        cpt_code="",
        procedure_type=cryotherapy,
        self_pay_price=Decimal("200.00"),
        tax_rate=Decimal("10"),
    )


def test_the_slot_picker_shows_the_self_pay_estimate_of_the_chosen_procedure(
    receptionist_client, dermatologist, cryotherapy, cryotherapy_price
):
    day = timezone.localdate() + timedelta(days=1)
    response = receptionist_client.get(
        reverse("treatments:slot_picker"), {"procedure_type": cryotherapy.pk, "date": day}
    )
    assert (
        "Self-pay estimate on this day: <strong>220.00 USD</strong> (tax 20.00 included)."
        in response.content.decode()
    )


def test_booking_at_the_desk_stores_the_estimate_and_confirms_it(
    receptionist_client, dermatologist, cryotherapy, treatment_room, cryotherapy_price
):
    patient = PatientFactory()
    start = timezone.make_aware(
        datetime.combine(timezone.localdate() + timedelta(days=1), time(10))
    )
    response = receptionist_client.post(
        reverse("treatments:appointment_book") + f"?patient={patient.pk}",
        {
            "patient": patient.pk,
            "procedure_type": cryotherapy.pk,
            "dermatologist": dermatologist.pk,
            "date": start.date().isoformat(),
            "slot": f"{dermatologist.pk}|{start.isoformat()}|",
        },
        follow=True,
    )
    page = response.content.decode()
    assert "Self-pay estimate: 220.00 USD, tax included." in page
    assert "220.00 USD (tax 20.00 included; the price on" in page  # the appointment page
    assert AppointmentEstimate.objects.get(appointment__patient=patient).total == Decimal("220.00")


def test_booking_through_the_api_stores_the_estimate_too(
    receptionist_client, dermatologist, cryotherapy, treatment_room, cryotherapy_price
):
    patient = PatientFactory()
    start = timezone.make_aware(
        datetime.combine(timezone.localdate() + timedelta(days=1), time(11))
    )
    response = receptionist_client.post(
        reverse("treatments:appointment_book_api"),
        {
            "patient": patient.pk,
            "procedure_type": cryotherapy.pk,
            "dermatologist": dermatologist.pk,
            "starts_at": start.isoformat(),
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert AppointmentEstimate.objects.get(appointment__patient=patient).total == Decimal("220.00")


def test_a_price_change_after_booking_leaves_the_stored_estimate(
    receptionist_client, dermatologist, cryotherapy, treatment_room, cryotherapy_price
):
    visit = appointment_book(
        patient=PatientFactory(),
        dermatologist=dermatologist,
        procedure_type=cryotherapy,
        starts_at=timezone.now() + timedelta(days=2),
        booked_by=None,
    )
    FeeScheduleEntry.objects.filter(pk=cryotherapy_price.pk).update(
        self_pay_price=Decimal("999.00")
    )
    page = receptionist_client.get(reverse("treatments:appointment_detail", args=[visit.pk]))
    assert "220.00 USD (tax 20.00 included" in page.content.decode()


# --- A record's lines, and amending its code ---------------------------------------------


def test_the_record_page_shows_its_lines_and_the_trail_of_an_amendment(
    dermatologist_client, dermatologist
):
    FeeScheduleEntryFactory(cpt_code="17110", self_pay_price=Decimal("180.00"))
    FeeScheduleEntryFactory(cpt_code="17111", self_pay_price=Decimal("250.00"))
    procedure = signed_cryotherapy(PatientFactory(), dermatologist)
    response = dermatologist_client.post(
        reverse("treatments:procedure_amend", args=[procedure.pk]),
        {
            "reason": "Counted again",
            "text": "Sixteen milia.",
            "procedure_code": "17111",
            "diagnosis_code": "",
        },
        follow=True,
    )
    page = response.content.decode()
    assert "CPT code corrected to 17111." in page
    assert "<del>17110</del>" in page
    assert ": Amended</td>" in page
    assert "replaces a voided line" in page


def test_an_amendment_with_a_code_that_is_not_cpt_is_a_400_beside_the_code(
    dermatologist_client, dermatologist
):
    procedure = signed_cryotherapy(PatientFactory(), dermatologist)
    response = dermatologist_client.post(
        reverse("treatments:procedure_amend", args=[procedure.pk]),
        {"reason": "x", "text": "y", "procedure_code": "ABCDE", "diagnosis_code": ""},
    )
    assert response.status_code == 400
    assert "A CPT code is five digits" in response.content.decode()
    assert procedure.charges.get().status == Charge.Status.ACTIVE


# --- The fee schedule in the admin ------------------------------------------------------


def test_the_manager_adds_a_price_and_an_overlapping_one_is_the_forms_error(manager_client):
    url = reverse("admin:treatments_feescheduleentry_add")
    data = {
        "procedure_type": "",
        "cpt_code": "17110",
        "description": "Destruction, up to 14",
        "self_pay_price": "180.00",
        "insured_price": "140.00",
        "tax_rate": "0",
        "effective_from": "2026-01-01",
        "effective_to": "",
    }
    assert manager_client.post(url, data).status_code == 302
    overlapping = manager_client.post(url, {**data, "effective_from": "2026-06-01"})
    assert overlapping.status_code == 200
    assert "Another price for this procedure type or code applies" in overlapping.content.decode()
    assert FeeScheduleEntry.objects.count() == 1
    entry = FeeScheduleEntry.objects.get()
    assert entry.history.get().history_user == manager_client.staff_member.user


@pytest.mark.parametrize("client_fixture", ["receptionist_client", "dermatologist_client"])
def test_receptionists_and_dermatologists_cannot_edit_prices(request, client_fixture):
    client = request.getfixturevalue(client_fixture)
    response = client.get(reverse("admin:treatments_feescheduleentry_add"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_the_manager_reads_charges_but_does_not_add_them(manager_client, owing):
    changelist = manager_client.get(reverse("admin:treatments_charge_changelist"))
    assert changelist.status_code == 200
    assert "17110" in changelist.content.decode()
    assert manager_client.get(reverse("admin:treatments_charge_add")).status_code == 403


def test_the_demo_seed_prices_every_billed_code(db):
    from treatments.seed.demo import fee_schedule_seed

    fee_schedule_seed()
    fee_schedule_seed()  # idempotent
    today = date(2026, 3, 10)
    from treatments.selectors.billing import price_on

    for code in ("10040", "17110", "17111", "99213"):
        assert price_on(cpt_code=code, day=today) is not None
    for procedure_type in ProcedureType.objects.filter(is_active=True):
        assert price_on(procedure_type=procedure_type, day=today) is not None


def test_the_manager_prices_a_line_written_without_a_price_and_the_trail_stays(
    manager_client, dermatologist
):
    patient = PatientFactory()
    signed_cryotherapy(patient, dermatologist)
    unpriced = Charge.objects.get(patient=patient)
    assert (unpriced.price_missing, unpriced.total) == (True, Decimal("0.00"))
    url = reverse("admin:treatments_charge_changelist")
    action = {"action": "price_from_schedule", "_selected_action": [unpriced.pk]}

    still_none = manager_client.post(url, action, follow=True)
    assert "has no price for CPT 17110" in still_none.content.decode()
    FeeScheduleEntryFactory(cpt_code="17110", self_pay_price=Decimal("180.00"))
    manager_client.post(url, action)

    unpriced.refresh_from_db()
    priced = Charge.objects.active().get(patient=patient)
    assert (unpriced.status, unpriced.void_reason) == ("voided", "Priced from the fee schedule")
    assert (priced.total, priced.price_missing, priced.replaces) == (
        Decimal("180.00"),
        False,
        unpriced,
    )
    assert priced.created_by == manager_client.staff_member.user


def test_a_patient_claiming_a_waitlist_offer_gets_the_estimate_stored_too(
    client, cryotherapy, clock
):
    from ..services.test_waitlist_claims import MONDAY_9, booked_for, claim_url, freed_time

    clock.move_to(MONDAY_9)
    FeeScheduleEntryFactory(
        cpt_code="", procedure_type=cryotherapy, self_pay_price=Decimal("180.00")
    )
    _, ana, _ = freed_time(cryotherapy)

    assert client.post(claim_url(ana)).status_code == 200
    [booked] = booked_for(ana)
    assert AppointmentEstimate.objects.get(appointment=booked).total == Decimal("180.00")
