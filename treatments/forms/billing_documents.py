"""Forms of the billing documents: a superbill's day, and which document to email."""

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from patients.models import Patient

from ..models import BillingEmail, Invoice, Payment
from ..selectors.billing_reports import CHARGES_EXPORT_MAX_DAYS


class ServiceDateForm(forms.Form):
    date = forms.DateField(
        input_formats=["%Y-%m-%d"],
        label=gettext_lazy("Date of service"),
        error_messages={"required": gettext_lazy("Give the date of service (YYYY-MM-DD).")},
    )


class BillingEmailForm(forms.Form):
    """One document of this patient: an invoice, a payment's receipt, or a day's superbill."""

    document = forms.ChoiceField(choices=BillingEmail.Document.choices)
    invoice = forms.ModelChoiceField(queryset=Invoice.objects.none(), required=False)
    payment = forms.ModelChoiceField(queryset=Payment.objects.none(), required=False)
    service_date = forms.DateField(input_formats=["%Y-%m-%d"], required=False)

    def __init__(self, *args, patient: Patient, **kwargs):
        super().__init__(*args, **kwargs)
        # Another patient's invoice or payment is "not one of the choices".
        self.fields["invoice"].queryset = Invoice.objects.filter(patient=patient)  # type: ignore[attr-defined]
        self.fields["payment"].queryset = Payment.objects.filter(patient=patient)  # type: ignore[attr-defined]

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data  # what clean() returned; typed, never None
        needs = {
            BillingEmail.Document.INVOICE: "invoice",
            BillingEmail.Document.RECEIPT: "payment",
            BillingEmail.Document.SUPERBILL: "service_date",
        }
        document = cleaned.get("document")
        if document:
            wanted = needs[BillingEmail.Document(document)]
            if not cleaned.get(wanted):
                self.add_error(wanted, _("Which one? This document needs it."))
            for name in needs.values():
                if name != wanted:
                    cleaned[name] = None
        return cleaned


class TakingsDayForm(forms.Form):
    date = forms.DateField(input_formats=["%Y-%m-%d"], label=gettext_lazy("Day"))


class ChargesExportForm(forms.Form):
    """A period of dates of service, both days included, at most CHARGES_EXPORT_MAX_DAYS."""

    first_day = forms.DateField(input_formats=["%Y-%m-%d"], label=gettext_lazy("From"))
    last_day = forms.DateField(input_formats=["%Y-%m-%d"], label=gettext_lazy("To"))

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data  # what clean() returned; typed, never None
        first_day, last_day = cleaned.get("first_day"), cleaned.get("last_day")
        if first_day and last_day:
            if last_day < first_day:
                self.add_error("last_day", _("The last day comes on or after the first."))
            elif (last_day - first_day).days >= CHARGES_EXPORT_MAX_DAYS:
                message = _("At most %(days)d days at once.") % {"days": CHARGES_EXPORT_MAX_DAYS}
                self.add_error("last_day", message)
        return cleaned
