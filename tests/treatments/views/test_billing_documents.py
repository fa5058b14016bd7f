"""Invoices, receipts and superbills as PDFs, read back with pypdf (a separate tool): a
15-lesion cryotherapy (17111) with a same-day consultation (99213-25), as docs/billing.md
bills them; their access rules, their access-log rows, and emailing one."""

import io
from decimal import Decimal

import pytest
from django.test import override_settings
from django.urls import reverse
from pypdf import PdfReader

from clinic.models import AccessLog
from patients.models import mrn_for
from treatments.models import FeeScheduleEntry, Invoice, Payment
from treatments.services.billing import invoice_issue, payment_record, payment_refund

from ...factories import GuardianFactory, PatientFactory
from ..services.test_billing import (  # noqa: F401 - fixtures
    checked_in,
    clinic_time,
    clock,
    consultation,
    prices,
    signed,
    today,
)
from .test_query_counts import queries_of

pytestmark = pytest.mark.django_db
ROLES = ["anonymous", "receptionist", "dermatologist", "manager"]
CLINIC = {"CLINIC_NAME": "Milia Clinic", "CLINIC_ADDRESS": "12 Main Street, Springfield"}
CLINIC |= {"CLINIC_NPI": "1234567893", "CLINIC_TAX_ID": "12-3456789"}


def pdf_text(response) -> str:
    """The PDF's text, as pypdf extracts it, with runs of spaces made one."""
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(response.content))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


@pytest.fixture
def visit_day(
    dermatologist,
    cryotherapy,
    consultation,  # noqa: F811
    treatment_room,
    prices,  # noqa: F811
    today,  # noqa: F811
    receptionist_client,
):
    """A patient's consultation and 15-lesion cryotherapy of one day, signed; a 100.00
    card payment taken at the desk."""
    dermatologist.npi = "1245319599"
    dermatologist.save()
    patient = PatientFactory(
        first_name="Maya", last_name="Lindqvist", address_line_1="4 Elm Road", city="Springfield"
    )
    patient.mrn = mrn_for(patient.pk)  # as registering at the desk numbers them
    patient.save()
    signed(checked_in(patient, dermatologist, consultation, clinic_time(today, 9)))
    signed(
        checked_in(patient, dermatologist, cryotherapy, clinic_time(today, 9, 30), treatment_room),
        lesions=15,
        secondary_diagnosis_codes=["L70.0"],
    )
    payment = payment_record(
        patient=patient,
        amount="100.00",
        method=Payment.Method.CARD,
        reference="T-4471",
        by=receptionist_client.staff_member.user,
    )
    return {"patient": patient, "payment": payment, "day": today}


@override_settings(**CLINIC)
def test_the_superbill_prints_codes_units_modifiers_diagnoses_and_totals(
    receptionist_client, visit_day
):
    patient, day = visit_day["patient"], visit_day["day"]
    response = receptionist_client.get(
        reverse("treatments:superbill_pdf", args=[patient.pk]), {"date": day.isoformat()}
    )
    text = pdf_text(response)

    assert "Superbill" in text
    assert "Milia Clinic" in text and "12 Main Street, Springfield" in text
    assert "NPI 1234567893" in text and "Tax ID 12-3456789" in text
    assert "Maya Lindqvist" in text and f"MRN {patient.mrn}" in text and patient.mrn
    # The diagnoses lettered in order: the record's principal one first.
    assert "A L72.0 Epidermal cyst" in text
    assert "B L70.0 Acne vulgaris" in text
    # 17111 (units 1, 250.00 + 8.875 % tax = 272.19) pointing at A and B; the same-day
    # consultation 99213 with modifier 25 (120.00), pointing at A.
    assert "17111 — Destruction of benign lesions, 15 or more" in text
    assert "AB 1 250.00 22.19 272.19" in text
    assert "99213 25 Office visit, established patient" in text
    assert "A 1 120.00 0.00 120.00" in text
    assert "NPI 1245319599" in text  # the rendering dermatologist
    assert "Total charges 392.19 USD" in text
    assert "Paid on the day 100.00 USD" in text
    assert "Balance due" in text and "292.19 USD" in text
    assert 'filename="superbill-' in response["Content-Disposition"]


def test_an_issued_invoice_prints_its_number_lines_frozen_totals_and_payments(
    receptionist_client, visit_day
):
    patient = visit_day["patient"]
    receptionist_client.post(reverse("treatments:invoice_issue", args=[patient.pk]))
    invoice = Invoice.objects.get(patient=patient)
    page = receptionist_client.get(reverse("treatments:patient_billing", args=[patient.pk]))
    pdf_url = reverse("treatments:invoice_pdf", args=[invoice.pk])
    assert f'href="{pdf_url}"' in page.content.decode()

    response = receptionist_client.get(pdf_url)
    text = pdf_text(response)
    assert f"Invoice {invoice.number}" in text
    assert "17111" in text and "99213 25" in text
    assert "Subtotal 370.00 USD" in text
    assert "Tax 22.19 USD" in text
    assert "Invoice total 392.19 USD" in text
    assert "T-4471" in text and "100.00" in text  # the card payment
    assert "292.19 USD" in text  # the balance
    assert response["Content-Disposition"] == f'inline; filename="invoice-{invoice.number}.pdf"'


def test_an_invoice_keeps_its_lines_and_totals_after_a_price_change(receptionist_client, visit_day):
    invoice = invoice_issue(patient=visit_day["patient"], by=receptionist_client.staff_member.user)
    FeeScheduleEntry.objects.filter(cpt_code="17111").update(self_pay_price=Decimal("999.00"))
    text = pdf_text(receptionist_client.get(reverse("treatments:invoice_pdf", args=[invoice.pk])))
    assert "Invoice total 392.19 USD" in text
    assert "999.00" not in text


def test_a_receipt_and_a_refund_receipt_print_what_was_taken(receptionist_client, visit_day):
    payment = visit_day["payment"]
    text = pdf_text(receptionist_client.get(reverse("treatments:receipt_pdf", args=[payment.pk])))
    assert f"Receipt {payment.receipt_number}" in text
    assert "Card T-4471 100.00" in text
    refund = payment_refund(
        patient=visit_day["patient"],
        amount="30.00",
        method=Payment.Method.CASH,
        reference="",
        reason="Overcharged at the desk",
        by=receptionist_client.staff_member.user,
    )
    text = pdf_text(receptionist_client.get(reverse("treatments:receipt_pdf", args=[refund.pk])))
    assert f"Refund receipt {refund.receipt_number}" in text
    assert "Refund Cash — −30.00" in text
    assert "Reason: Overcharged at the desk" in text
    assert "322.19 USD" in text  # 392.19 − 100.00 + 30.00


def test_a_minors_documents_name_the_guardian(receptionist_client, visit_day):
    patient = visit_day["patient"]
    patient.date_of_birth = visit_day["day"].replace(year=visit_day["day"].year - 8)
    patient.save()
    GuardianFactory(patient=patient, first_name="Ingrid", last_name="Lindqvist")
    text = pdf_text(
        receptionist_client.get(reverse("treatments:receipt_pdf", args=[visit_day["payment"].pk]))
    )
    assert "Responsible party (guardian) Ingrid Lindqvist" in text


def test_a_download_is_an_export_in_the_access_log(receptionist_client, visit_day):
    patient, day = visit_day["patient"], visit_day["day"]
    receptionist_client.get(
        reverse("treatments:superbill_pdf", args=[patient.pk]), {"date": day.isoformat()}
    )
    receptionist_client.get(reverse("treatments:receipt_pdf", args=[visit_day["payment"].pk]))
    rows = AccessLog.objects.filter(patient=patient).order_by("pk")
    assert [(row.action, row.detail) for row in rows] == [
        (AccessLog.Action.EXPORT, "superbill"),
        (AccessLog.Action.EXPORT, "receipt"),
    ]
    assert {row.user for row in rows} == {receptionist_client.staff_member.user}


@pytest.mark.parametrize("date", ["", "2026-02-30", "yesterday"])
def test_a_superbill_without_a_valid_date_is_a_400_page(receptionist_client, visit_day, date):
    response = receptionist_client.get(
        reverse("treatments:superbill_pdf", args=[visit_day["patient"].pk]), {"date": date}
    )
    assert response.status_code == 400
    assert "text/html" in response["Content-Type"]
    assert not AccessLog.objects.filter(action=AccessLog.Action.EXPORT).exists()


@pytest.mark.parametrize(
    ("name", "statuses"),
    [
        ("treatments:invoice_pdf", (302, 200, 403, 200)),
        ("treatments:receipt_pdf", (302, 200, 403, 200)),
        ("treatments:superbill_pdf", (302, 200, 200, 200)),
    ],
)
@pytest.mark.parametrize("role_index", range(4), ids=ROLES)
def test_each_document_admits_the_roles_it_should(
    as_role, visit_day, receptionist_client, name, statuses, role_index
):
    invoice = invoice_issue(patient=visit_day["patient"], by=receptionist_client.staff_member.user)
    args = {
        "treatments:invoice_pdf": [invoice.pk],
        "treatments:receipt_pdf": [visit_day["payment"].pk],
        "treatments:superbill_pdf": [visit_day["patient"].pk],
    }[name]
    response = as_role(ROLES[role_index]).get(
        reverse(name, args=args), {"date": visit_day["day"].isoformat()}
    )
    assert response.status_code == statuses[role_index]


@pytest.mark.parametrize(
    "name", ["treatments:invoice_pdf", "treatments:receipt_pdf", "treatments:superbill_pdf"]
)
def test_a_missing_document_is_a_404(receptionist_client, name):
    assert (
        receptionist_client.get(reverse(name, args=[999999]), {"date": "2026-03-10"}).status_code
        == 404
    )


def test_the_superbill_costs_the_same_queries_for_two_lines_and_many(
    receptionist_client, visit_day, dermatologist, cryotherapy, treatment_room
):
    patient, day = visit_day["patient"], visit_day["day"]
    url = reverse("treatments:superbill_pdf", args=[patient.pk])
    receptionist_client.get(url, {"date": day.isoformat()})
    # session, user, staff member (role check); the patient (the view's 404 check), the
    # patient (the document), the day's charges with their dermatologists, the day's
    # payments, the balance (one query), the access-log row. No
    # guardian is asked for an adult.
    two = queries_of(lambda: receptionist_client.get(url, {"date": day.isoformat()}))
    for hour in (11, 12, 13):
        signed(
            checked_in(patient, dermatologist, cryotherapy, clinic_time(day, hour), treatment_room),
            lesions=2,
        )
    assert two == 9
    assert queries_of(lambda: receptionist_client.get(url, {"date": day.isoformat()})) == two


def test_printing_a_pdf_leaves_pillows_truncated_image_check_on(receptionist_client, visit_day):
    from PIL import ImageFile

    receptionist_client.get(reverse("treatments:receipt_pdf", args=[visit_day["payment"].pk]))
    # WeasyPrint's import turns it on for the whole process; photo uploads rely on it off.
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
