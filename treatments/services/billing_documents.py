"""Billing documents as PDFs, and emailing one to the patient at the desk's request.

A request writes a BillingEmail row and queues its sending after the transaction
commits (treatments.tasks.billing_email_send); the task makes the PDF in the reader's
language and sends it through Django's email backend (SMTP, or files in the embedded
default), once: a row that is no longer pending is left alone, so running the task twice
sends one email. The body says which document is attached and nothing clinical: no
diagnosis, procedure, code or amount.
"""

import logging
import smtplib
from datetime import date
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from clinic.channels import mail_name
from clinic.errors import ServiceError
from patients.models import Patient
from patients.selectors import patient_reader_language

from ..models import BillingEmail, Invoice, Payment
from ..pdf import pdf_from_template
from ..selectors.billing_documents import (
    BillingDocument,
    invoice_document,
    receipt_document,
    superbill_document,
)

logger = logging.getLogger(__name__)

Document = BillingEmail.Document


class DocumentEmailError(ServiceError):
    """A document that cannot be emailed as asked; the message is for the desk."""


def billing_document(
    *,
    document: str,
    invoice_id: int | None = None,
    payment_id: int | None = None,
    patient_id: int | None = None,
    service_date: date | None = None,
) -> BillingDocument:
    """The document to print: an invoice, a receipt, or a patient's superbill of a day."""
    if document == Document.INVOICE and invoice_id is not None:
        return invoice_document(invoice_id=invoice_id)
    if document == Document.RECEIPT and payment_id is not None:
        return receipt_document(payment_id=payment_id)
    if document == Document.SUPERBILL and patient_id is not None and service_date is not None:
        return superbill_document(patient_id=patient_id, service_date=service_date)
    raise ValueError(f"Not a billing document: {document}")


def billing_document_pdf(doc: BillingDocument, *, language: str | None = None) -> bytes:
    """The document as PDF, in `language` (else the active one)."""
    with translation.override(language or translation.get_language()):
        return pdf_from_template(f"treatments/billing/pdf/{doc.kind}.html", {"doc": doc})


def _reader(patient: Patient) -> tuple[str, str]:
    """(name, email) of whoever receives what the clinic sends about the patient: for a
    minor the guardian who receives the reminders, else the patient."""
    person = patient.guardians.filter(receives_reminders=True).first() if patient.is_minor else None
    reader = person or patient
    return f"{reader.first_name} {reader.last_name}", reader.email


@transaction.atomic
def billing_email_request(
    *,
    patient: Patient,
    document: str,
    by: User,
    invoice: Invoice | None = None,
    payment: Payment | None = None,
    service_date: date | None = None,
) -> BillingEmail:
    """Queue one of the patient's documents for email to the patient (or the guardian
    who receives a minor's messages). A document of another patient, or nobody with an
    email address, is a DocumentEmailError and nothing is written."""
    if (invoice and invoice.patient_id != patient.pk) or (
        payment and payment.patient_id != patient.pk
    ):
        raise DocumentEmailError(_("That document is another patient's."))
    name, email = _reader(patient)
    if not email:
        raise DocumentEmailError(
            _("There is no email address to send it to: add one to the patient's record.")
        )
    row = BillingEmail(
        patient=patient,
        document=document,
        invoice=invoice,
        payment=payment,
        service_date=service_date,
        email=email,
        recipient_name=name,
        language=patient_reader_language(patient),
        requested_by=by,
    )
    row.full_clean(exclude=["patient", "invoice", "payment", "requested_by"])
    row.save()
    from ..tasks import billing_email_send  # the tasks module imports this one

    transaction.on_commit(lambda: billing_email_send.delay(row.pk))
    return row


def _attachment_name(doc: BillingDocument) -> str:
    if doc.kind == Document.SUPERBILL and doc.service_date is not None:
        return f"superbill-{doc.service_date:%Y-%m-%d}.pdf"
    return f"{doc.kind}-{doc.number}.pdf"


def _message(row: BillingEmail, doc: BillingDocument) -> EmailMessage:
    with translation.override(row.language):
        words = {
            Document.INVOICE: _("invoice"),
            Document.RECEIPT: _("receipt"),
            Document.SUPERBILL: _("superbill"),
        }
        context = {
            "name": row.recipient_name,
            "document": words[Document(row.document)],
            "number": "" if row.document == Document.SUPERBILL else doc.number,
            "clinic_name": mail_name(),
            "clinic_phone": settings.CLINIC_PHONE,
        }
        subject = render_to_string("treatments/billing/email/subject.txt", context).strip()
        from_name = context["clinic_name"]
        body = render_to_string("treatments/billing/email/body.txt", context)
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=formataddr((from_name, parseaddr(settings.DEFAULT_FROM_EMAIL)[1])),
        to=[formataddr((row.recipient_name, row.email))],
    )
    message.attach(
        _attachment_name(doc), billing_document_pdf(doc, language=row.language), "application/pdf"
    )
    return message


@transaction.atomic
def billing_email_send(*, email_id: int) -> BillingEmail:
    """Send a queued document email once: the row is locked, and one that is no longer
    pending (sent, failed, or taken by a task running at the same time) is left as it
    is. A refusal or an unreachable server marks it failed with the reason; the desk
    asks again."""
    row = BillingEmail.objects.select_for_update().get(pk=email_id)
    if row.status != BillingEmail.Status.PENDING:
        return row
    doc = billing_document(
        document=row.document,
        invoice_id=row.invoice_id,
        payment_id=row.payment_id,
        patient_id=row.patient_id,
        service_date=row.service_date,
    )
    try:
        _message(row, doc).send()
    except (smtplib.SMTPException, OSError) as error:
        # The error's class and SMTP code only: a server's text may quote the address.
        logger.warning("Billing email %s failed: %s", row.pk, error.__class__.__name__)
        row.status, row.error = BillingEmail.Status.FAILED, error.__class__.__name__[:300]
    else:
        row.status, row.sent_at = BillingEmail.Status.SENT, timezone.now()
    row.save(update_fields=["status", "sent_at", "error"])
    return row
