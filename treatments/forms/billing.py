"""Forms of billing at the desk: taking a payment, giving a refund (docs/billing.md).

They check the shape of what was typed; the rules (no more than is owed, a reference
for a card or a transfer, a reason for a refund) are the billing services'.
"""

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from ..models import Payment
from ..services.billing import MAX_AMOUNT


class PaymentForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Amount"),
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=MAX_AMOUNT,
    )
    method = forms.ChoiceField(label=_("Method"), choices=Payment.Method.choices)
    reference = forms.CharField(
        label=_("Reference"),
        max_length=100,
        required=False,
        help_text=_("The card terminal's or the bank transfer's reference; none for cash."),
    )


class RefundForm(PaymentForm):
    reason = forms.CharField(label=_("Reason for the refund"), max_length=200)
