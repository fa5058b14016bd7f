"""Forms for charting lesions: the site comes preselected from the body map."""

from decimal import Decimal

from django import forms
from django.utils import timezone

from patients.models import Lesion, Patient

from .bodymap import REGIONS


def site_choices() -> list:
    """Every site, grouped as the body map groups them: the face first, then the body."""
    face = [(site, label) for site, label in Lesion.Site.choices if REGIONS[site]["view"] == "face"]
    body = [(site, label) for site, label in Lesion.Site.choices if REGIONS[site]["view"] != "face"]
    return [("", "Choose a site"), ("Face", face), ("Body", body)]


class DateInput(forms.DateInput):
    input_type = "date"


class LesionForm(forms.Form):
    """A new lesion. The dates' rules (not in the future, not before birth) are the service's."""

    site = forms.ChoiceField(choices=site_choices)
    milia_type = forms.ChoiceField(choices=Lesion.MiliaType.choices, label="Type")
    size_mm = forms.DecimalField(
        label="Size (mm)",
        required=False,
        min_value=Decimal("0.1"),
        max_value=50,
        max_digits=3,
        decimal_places=1,
        help_text="Largest diameter, 0.1 to 50 mm.",
        widget=forms.NumberInput(attrs={"step": "0.1"}),
    )
    count = forms.IntegerField(
        min_value=1, max_value=500, initial=1, help_text="Number of milia at this site."
    )
    colour = forms.ChoiceField(choices=Lesion.Colour.choices, initial=Lesion.Colour.WHITE)
    first_noted = forms.DateField(widget=DateInput)
    note = forms.CharField(max_length=300, required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, patient: Patient, **kwargs):
        super().__init__(*args, **kwargs)
        # Hints for the browser's date picker; the service checks the same bounds.
        today = timezone.localdate().isoformat()
        self.fields["first_noted"].widget.attrs.update(
            {"min": patient.date_of_birth.isoformat(), "max": today}
        )
        if "resolved_on" in self.fields:
            self.fields["resolved_on"].widget.attrs["max"] = today


class LesionEditForm(LesionForm):
    """A charted lesion, which may also be resolved (or found active again)."""

    status = forms.ChoiceField(choices=Lesion.Status.choices)
    resolved_on = forms.DateField(
        required=False, widget=DateInput, help_text="Left empty when resolving: today."
    )

    field_order = [
        "site", "milia_type", "size_mm", "count", "colour", "first_noted", "status",
        "resolved_on", "note",
    ]  # fmt: skip
