"""From a signed record to a printed receipt, in real browsers: the dermatologist signs a
15-lesion cryotherapy, the receptionist sees the balance, takes a card payment, issues the
invoice and opens the receipt (a PDF, read back with pypdf); the manager reads the day's
takings. Screenshots: docs/screenshots/invoice.png (the invoice's first page, rendered
from the PDF with pdfium) and docs/screenshots/takings.png."""

import base64
import io
from datetime import datetime, time
from decimal import Decimal

import pypdfium2
import pytest
from django.test import override_settings
from django.utils import timezone
from pypdf import PdfReader
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from clinic.models import StaffMember
from patients.models import mrn_for
from treatments.models import Appointment, Invoice, Payment, Procedure, ProcedureType
from treatments.services import records

from ..factories import (
    AppointmentFactory,
    FeeScheduleEntryFactory,
    LesionFactory,
    PatientFactory,
    RoomFactory,
    StaffMemberFactory,
    UserFactory,
)
from .conftest import SCREENSHOTS, log_in, screenshot, submit_and_wait, wait_for, wait_for_text

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
CLINIC = {
    "CLINIC_NAME": "Milia Clinic",
    "CLINIC_ADDRESS": "12 Main Street, Springfield, IL 62701",
    "CLINIC_NPI": "1234567893",
    "CLINIC_TAX_ID": "12-3456789",
}


def _today_at(hour: int) -> datetime:
    return timezone.make_aware(datetime.combine(timezone.localdate(), time(hour)))


@pytest.fixture
def draft():
    """Dr. Ortiz's draft record of a cryotherapy of 15 milia today, to sign; the clinic's
    price of 17111; a receptionist and a manager."""
    FeeScheduleEntryFactory(
        cpt_code="17111",
        description="Destruction of benign lesions, 15 or more",
        self_pay_price=Decimal("250.00"),
        tax_rate=Decimal("8.875"),
    )
    doctor = StaffMemberFactory(
        user=UserFactory(username="dermatologist", first_name="Ana", last_name="Ortiz"),
        role=StaffMember.Role.DERMATOLOGIST,
        npi="1245319599",
    )
    StaffMemberFactory(
        user=UserFactory(username="reception", first_name="Rosa", last_name="Diaz"),
        role=StaffMember.Role.RECEPTIONIST,
    )
    StaffMemberFactory(
        user=UserFactory(username="manager", first_name="Lena", last_name="Park"),
        role=StaffMember.Role.MANAGER,
    )
    patient = PatientFactory(
        first_name="Grace",
        last_name="Okoye",
        address_line_1="4 Elm Road",
        city="Springfield",
        region="IL",
        postal_code="62704",
    )
    patient.mrn = mrn_for(patient.pk)
    patient.save()
    cryotherapy = ProcedureType.objects.get(slug="cryotherapy")
    visit = AppointmentFactory(
        patient=patient,
        dermatologist=doctor,
        room=RoomFactory(name="Treatment room 1"),
        procedure_type=cryotherapy,
        starts_at=_today_at(9),
        status=Appointment.Status.CHECKED_IN,
    )
    return records.procedure_record(
        appointment=visit,
        procedure_type=cryotherapy,
        lesions=[LesionFactory(patient=patient, count=15)],
        technique={"cryo_method": "spray", "freeze_seconds": 5, "freeze_thaw_cycles": 2},
        consent={"consent_obtained": True, "consent_given_by": "patient"},
        complications={},
        note="Tolerated well.",
        by=doctor.user,
        performed_at=visit.starts_at,
    )


def fetched(driver, path: str) -> tuple[str, bytes]:
    """GET `path` in the browser's own session: (Content-Type, body)."""
    result = driver.execute_async_script(
        "const [path, done] = arguments;"
        "fetch(path).then(async r => {"
        "  const bytes = new Uint8Array(await r.arrayBuffer()); let text = '';"
        "  for (const b of bytes) text += String.fromCharCode(b);"
        "  done([r.headers.get('Content-Type'), btoa(text)]); });",
        path,
    )
    return result[0], base64.b64decode(result[1])


def text_of(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def save_first_page(pdf: bytes, name: str) -> None:
    """The PDF's first page as docs/screenshots/<name>.png, at 110 dpi."""
    document = pypdfium2.PdfDocument(pdf)
    image = document[0].render(scale=110 / 72).to_pil()
    image.save(SCREENSHOTS / f"{name}.png")
    document.close()


@override_settings(**CLINIC)
def test_from_signing_a_record_to_printing_the_receipt(new_browser, live_server, draft):
    patient = draft.patient

    # The dermatologist signs the record: its charge line is written with the signature.
    doctor = new_browser()
    log_in(doctor, live_server, "dermatologist")
    doctor.get(f"{live_server.url}/procedures/{draft.pk}/sign/")
    submit_and_wait(doctor, wait_for(doctor, "form button.btn-success"))
    wait_for_text(doctor, "body", "Signed. The record is now locked.")
    assert Procedure.objects.get().is_signed

    # The receptionist sees what is owed and takes a card payment.
    desk = new_browser()
    log_in(desk, live_server, "reception")
    desk.get(f"{live_server.url}/patients/{patient.pk}/billing/")
    assert wait_for(desk, "#owed").text == "272.19 USD"
    assert "17111" in desk.find_element(By.ID, "charges").text
    payment_form = desk.find_element(By.CSS_SELECTOR, "form[action$='/billing/payments/']")
    payment_form.find_element(By.NAME, "payment-amount").send_keys("200.00")
    Select(payment_form.find_element(By.NAME, "payment-method")).select_by_value("card")
    payment_form.find_element(By.NAME, "payment-reference").send_keys("T-88120")
    submit_and_wait(desk, payment_form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert wait_for(desk, "#owed").text == "72.19 USD"
    payment = Payment.objects.get()

    # ...issues the invoice, and opens the receipt from the payments list.
    submit_and_wait(
        desk,
        desk.find_element(By.CSS_SELECTOR, "form[action$='/billing/invoices/'] button"),
    )
    invoice = Invoice.objects.get()
    receipt_link = wait_for(desk, f"#payments a[href$='/payments/{payment.pk}/receipt/']")
    assert receipt_link.text == payment.receipt_number
    content_type, pdf = fetched(desk, receipt_link.get_attribute("href"))
    assert content_type == "application/pdf"
    receipt = text_of(pdf)
    assert f"Receipt {payment.receipt_number}" in receipt
    assert "Grace Okoye" in receipt and "Card T-88120 200.00" in receipt
    assert "Balance due" in receipt and "72.19 USD" in receipt
    assert "NPI 1234567893" in receipt

    invoice_link = wait_for(desk, f"#invoices a[href$='/invoices/{invoice.pk}/pdf/']")
    content_type, pdf = fetched(desk, invoice_link.get_attribute("href"))
    assert content_type == "application/pdf"
    assert "Invoice total 272.19 USD" in text_of(pdf)
    save_first_page(pdf, "invoice")

    # The manager reads the day's takings.
    manager = new_browser()
    log_in(manager, live_server, "manager")
    manager.get(f"{live_server.url}/billing/takings/")
    assert wait_for(manager, "#takings-net").text == "200.00"
    assert (
        payment.receipt_number
        in manager.find_element(By.ID, "receipts").find_element(By.XPATH, "..").text
    )
    screenshot(manager, "takings")
