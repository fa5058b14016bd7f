"""Billing documents at the desk: download an invoice, a receipt or a superbill as PDF,
email one to the patient. Every download is written to the access log
as an export (the URL configuration wraps the views): they print codes and amounts."""

from datetime import date

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from clinic.errors import ServiceError, error_status
from clinic.permissions import EVERY_ROLE, FRONT_DESK, role_required
from patients.models import Patient

from ..forms.billing_documents import BillingEmailForm, ServiceDateForm
from ..models import Invoice, Payment
from ..selectors.billing_documents import BillingDocument
from ..services.billing_documents import (
    billing_document,
    billing_document_pdf,
    billing_email_request,
)


def _problem(request, *, title: str, message: str, patient: Patient, status: int):
    context = {"title": title, "message": message, "patient": patient}
    return render(request, "treatments/billing/problem.html", context, status=status)


def _pdf_response(doc: BillingDocument, filename: str) -> HttpResponse:
    response = HttpResponse(billing_document_pdf(doc), content_type="application/pdf")
    # inline: the browser shows it (and prints it); saving keeps the name.
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
@role_required(*FRONT_DESK)
def invoice_pdf(request, pk):
    try:
        doc = billing_document(document="invoice", invoice_id=pk)
    except Invoice.DoesNotExist:
        raise Http404("No such invoice.") from None
    return _pdf_response(doc, f"invoice-{doc.number}.pdf")


@require_GET
@role_required(*FRONT_DESK)
def receipt_pdf(request, pk):
    try:
        doc = billing_document(document="receipt", payment_id=pk)
    except Payment.DoesNotExist:
        raise Http404("No such payment.") from None
    return _pdf_response(doc, f"receipt-{doc.number}.pdf")


@require_GET
@role_required(*EVERY_ROLE)
def superbill_pdf(request, patient_id):
    """The patient's superbill of ?date= (YYYY-MM-DD): a 400 page without a valid date."""
    patient = get_object_or_404(Patient, pk=patient_id)
    form = ServiceDateForm(request.GET)
    if not form.is_valid():
        return _problem(
            request,
            title=_("No superbill"),
            message=" ".join(str(error) for error in form.errors.get("date", [])),
            patient=patient,
            status=400,
        )
    day: date = form.cleaned_data["date"]
    doc = billing_document(document="superbill", patient_id=patient.pk, service_date=day)
    return _pdf_response(doc, f"superbill-{patient.mrn}-{day:%Y-%m-%d}.pdf")


@require_POST
@role_required(*FRONT_DESK)
def billing_email(request, patient_id):
    """Email one of the patient's documents (invoice, receipt, or the superbill of a day)
    to the patient or the guardian who receives their messages; back to the patient."""
    patient = get_object_or_404(Patient, pk=patient_id)
    form = BillingEmailForm(request.POST, patient=patient)
    if not form.is_valid():
        message = " ".join(str(error) for errors in form.errors.values() for error in errors)
        return _problem(request, title=_("Not sent"), message=message, patient=patient, status=400)
    try:
        row = billing_email_request(patient=patient, by=request.user, **form.cleaned_data)
    except ServiceError as error:
        return _problem(
            request,
            title=_("Not sent"),
            message=str(error),
            patient=patient,
            status=error_status(error),
        )
    messages.success(request, _("Sending it to %(email)s.") % {"email": row.email})
    return redirect("treatments:patient_detail", pk=patient.pk)
