"""The desk's billing pages: a patient's balance, charge lines, payments and invoices;
taking a payment, giving a refund, issuing an invoice (docs/billing.md).

Receptionists and managers use them; dermatologists see a record's charge lines on the
record's page. A refused payment shows the page again with the reason beside the field.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from clinic.errors import error_status, form_add_error
from clinic.permissions import FRONT_DESK, role_required
from patients.models import Patient

from ..forms.billing import PaymentForm, RefundForm
from ..selectors.billing import patient_billing
from ..services import billing


def _page(request, patient, *, payment_form=None, refund_form=None, status=200):
    context = {
        "billing": patient_billing(patient=patient),
        "payment_form": payment_form or PaymentForm(prefix="payment"),
        "refund_form": refund_form or RefundForm(prefix="refund"),
    }
    return render(request, "treatments/billing/patient_billing.html", context, status=status)


@require_GET
@role_required(*FRONT_DESK)
def patient_billing_page(request, patient_id):
    """The patient's balance, charge lines (voided ones with their trail), payments,
    refunds and invoices, with the forms to take a payment or give a refund."""
    return _page(request, get_object_or_404(Patient, pk=patient_id))


@require_POST
@role_required(*FRONT_DESK)
def payment_take(request, patient_id):
    """Take a payment; more than the patient owes is refused beside the amount (409)."""
    return _money_in_or_out(
        request,
        patient_id,
        form_class=PaymentForm,
        prefix="payment",
        record=billing.payment_record,
        done=_("Payment of %(amount)s taken: receipt %(number)s."),
    )


@require_POST
@role_required(*FRONT_DESK)
def payment_refund(request, patient_id):
    """Give money back with a reason; more than was paid is refused (409)."""
    return _money_in_or_out(
        request,
        patient_id,
        form_class=RefundForm,
        prefix="refund",
        record=billing.payment_refund,
        done=_("Refund of %(amount)s given: %(number)s."),
    )


def _money_in_or_out(request, patient_id, *, form_class, prefix: str, record, done: str):
    """A payment or a refund: the form (its errors on the page, 400), the service (its
    refusal beside the form's fields, 400 or 409), then the receipt's number."""
    patient = get_object_or_404(Patient, pk=patient_id)
    form = form_class(request.POST, prefix=prefix)
    forms = {f"{prefix}_form": form}
    if not form.is_valid():
        return _page(request, patient, **forms, status=400)
    try:
        payment = record(patient=patient, by=request.user, **form.cleaned_data)
    except ValidationError as error:
        return _page(request, patient, **forms, status=form_add_error(form, error))
    messages.success(request, done % {"amount": payment.amount, "number": payment.receipt_number})
    return redirect("treatments:patient_billing", patient_id=patient.pk)


@require_POST
@role_required(*FRONT_DESK)
def invoice_issue(request, patient_id):
    """Invoice the patient's charge lines not yet invoiced, under the next number."""
    patient = get_object_or_404(Patient, pk=patient_id)
    try:
        invoice = billing.invoice_issue(patient=patient, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return _page(request, patient, status=error_status(error))
    messages.success(request, _("Invoice %(number)s issued.") % {"number": invoice.number})
    return redirect("treatments:patient_billing", patient_id=patient.pk)
