"""The billing documents and their email in the reader's language: every text of the
PDF templates (invoice, receipt, superbill) and of the email goes through the catalogue,
seen through the pseudo-locale (what is not bracketed was not translated)."""

import re

import pytest
from django.template.loader import render_to_string
from django.utils import formats, timezone, translation

from treatments.services.billing import invoice_issue
from treatments.services.billing_documents import (
    billing_document,
)

from ...clinic.test_outbox import smtp_server  # noqa: F401 - the fixture
from ...clinic.test_translations import (  # noqa: F401 - the fixture
    PSEUDO,
    pseudo_locale,
    untranslated,
)
from ..views.test_billing_documents import CLINIC, visit_day  # noqa: F401 - the fixture
from .test_billing import (  # noqa: F401 - fixtures
    clock,
    consultation,
    prices,
    today,
)

pytestmark = pytest.mark.django_db
# The formats the PDF templates write dates in.
DOCUMENT_DATE_FORMATS = ["DATE_FORMAT", "SHORT_DATE_FORMAT"]


def documents(visit_day, by):  # noqa: F811
    patient, day = visit_day["patient"], visit_day["day"]
    invoice = invoice_issue(patient=patient, by=by)
    return {
        "invoice": billing_document(document="invoice", invoice_id=invoice.pk),
        "receipt": billing_document(document="receipt", payment_id=visit_day["payment"].pk),
        "superbill": billing_document(
            document="superbill", patient_id=patient.pk, service_date=day
        ),
    }


def data_values(doc) -> list[str]:
    """What a document prints as it is: the clinic's and the patient's details, the
    codes and their descriptions, the providers, numbers and references (data, not
    interface)."""
    clinic, patient = doc.clinic, doc.patient
    values = [clinic.name, clinic.address, clinic.phone, clinic.npi, clinic.tax_id, doc.number]
    values += [patient.full_name, patient.first_name, patient.last_name, patient.mrn]
    values += [patient.address_line_1, patient.city, patient.postal_code, doc.currency]
    for line in doc.lines:
        charge = line.charge
        values += [charge.description, charge.cpt_code, charge.modifiers, line.provider]
        values += [line.provider_npi, line.pointers]
    for diagnosis in doc.diagnoses:
        values += [diagnosis.code, diagnosis.description, diagnosis.pointer]
    values += [patient.address_line_2, patient.region, patient.insurer_name]
    values += [patient.insurance_member_id]
    if doc.guardian:
        values += [doc.guardian.first_name, doc.guardian.last_name, doc.guardian.email]
    payments = [*doc.payments, *([doc.payment] if doc.payment else [])]
    values += [payment.reference for payment in payments]
    values += [payment.receipt_number for payment in payments]
    values += [payment.received_by.get_full_name() for payment in payments]
    moments = [doc.printed_at, patient.date_of_birth, *(p.received_at for p in payments)]
    moments += [line.charge.service_date for line in doc.lines]
    moments += [doc.service_date] if doc.service_date else []
    moments += [doc.invoice.issued_at] if doc.invoice else []
    with translation.override(PSEUDO):
        for moment in moments:
            if hasattr(moment, "hour"):
                moment = timezone.localtime(moment)
                values.append(formats.time_format(moment, "TIME_FORMAT"))
            values += [formats.date_format(moment, name) for name in DOCUMENT_DATE_FORMATS]
    return [value for value in values if value]


@pytest.mark.parametrize("kind", ["invoice", "receipt", "superbill"])
def test_every_pdf_template_goes_through_the_catalogue(
    visit_day,  # noqa: F811
    pseudo_locale,  # noqa: F811
    receptionist_client,
    settings,
    kind,
):
    settings.CLINIC_NAME, settings.CLINIC_ADDRESS = CLINIC["CLINIC_NAME"], CLINIC["CLINIC_ADDRESS"]
    settings.CLINIC_NPI, settings.CLINIC_TAX_ID = CLINIC["CLINIC_NPI"], CLINIC["CLINIC_TAX_ID"]
    doc = documents(visit_day, receptionist_client.staff_member.user)[kind]
    with translation.override(PSEUDO):
        html = render_to_string(f"treatments/billing/pdf/{kind}.html", {"doc": doc})
    values = data_values(doc)

    assert f'<html lang="{PSEUDO}">' in html
    assert "⟦" in html
    text = re.sub(r"<style.*?</style>", " ", html, flags=re.S)
    assert untranslated(text, values=values) == []
