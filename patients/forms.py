"""Forms of the patients app: registration and the record at the desk (demographics,
contact, payer, guardians), and charting lesions (the site preselected from the body map).
They check shape; the services check the rules."""

from datetime import date
from decimal import Decimal

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Fieldset, Layout, Row
from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from phonenumber_field.formfields import PhoneNumberField

from .bodymap import REGIONS
from .models import ADULT_AGE, Guardian, Lesion, Patient, age_on
from .services import patient_unreachable_reason

OLDEST_AGE = 120
GUARDIAN_REQUIRED = _("Required for a patient under 18.")


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February, in a year that has none
        return day.replace(year=day.year - years, day=28)


def _checked_birth_date(born: date) -> date:
    today = timezone.localdate()
    if born > today:
        raise forms.ValidationError(_("The date of birth cannot be in the future."))
    if born < _years_before(today, OLDEST_AGE):
        raise forms.ValidationError(
            _("The date of birth is more than %(years)s years ago.") % {"years": OLDEST_AGE}
        )
    return born


def _form_helper(*layout) -> FormHelper:
    helper = FormHelper()
    helper.form_tag = False
    helper.disable_csrf = True  # the template's <form> has the token
    helper.layout = Layout(*layout)
    return helper


class PatientRegisterForm(forms.ModelForm):
    """A new patient and, for a minor, the guardian who receives their reminders."""

    guardian_first_name = forms.CharField(
        label=_("Guardian's first name"), max_length=100, required=False
    )
    guardian_last_name = forms.CharField(
        label=_("Guardian's last name"), max_length=100, required=False
    )
    guardian_relationship = forms.ChoiceField(
        label=_("Relationship to the patient"),
        choices=[("", "---------"), *Guardian.Relationship.choices],
        required=False,
    )
    guardian_email = forms.EmailField(label=_("Guardian's email"), required=False)
    guardian_phone = PhoneNumberField(label=_("Guardian's phone"), required=False)
    allow_duplicate = forms.BooleanField(
        label=_("This is a different person: register anyway"), required=False
    )

    class Meta:
        model = Patient
        fields = [
            "first_name",
            "last_name",
            "date_of_birth",
            "sex",
            "email",
            "phone",
            "preferred_channel",
            "language",
            "reminder_consent",
        ]
        widgets = {
            "first_name": forms.TextInput(attrs={"autofocus": True}),
            "date_of_birth": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }
        labels = {"reminder_consent": _("Agrees to receive reminders")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True  # the template's <form> has the token
        self.helper.layout = Layout(
            Fieldset(
                _("Patient"),
                Row(Column("first_name"), Column("last_name")),
                Row(Column("date_of_birth"), Column("sex")),
            ),
            Fieldset(
                _("Contact and reminders"),
                Row(Column("email"), Column("phone")),
                Row(Column("preferred_channel"), Column("language")),
                "reminder_consent",
            ),
            Fieldset(
                _("Guardian (only for a patient under 18, who receives the reminders)"),
                Row(Column("guardian_first_name"), Column("guardian_last_name")),
                Row(
                    Column("guardian_relationship"),
                    Column("guardian_email"),
                    Column("guardian_phone"),
                ),
            ),
        )

    def clean_date_of_birth(self):
        return _checked_birth_date(self.cleaned_data["date_of_birth"])

    def clean(self):
        super().clean()
        cleaned_data = self.cleaned_data  # what ModelForm.clean() returns, typed
        born = cleaned_data.get("date_of_birth")
        if born is None:
            return cleaned_data
        if self._is_minor(born):
            for field in ("guardian_first_name", "guardian_last_name", "guardian_relationship"):
                if not cleaned_data.get(field):
                    self.add_error(field, GUARDIAN_REQUIRED)
        if not self.errors:
            reason = patient_unreachable_reason(
                patient=Patient(
                    date_of_birth=born,
                    email=cleaned_data.get("email", ""),
                    phone=cleaned_data.get("phone", ""),
                    preferred_channel=cleaned_data.get("preferred_channel") or "",
                    reminder_consent=bool(cleaned_data.get("reminder_consent")),
                ),
                guardian=self.guardian(),
            )
            if reason:
                self.add_error("preferred_channel", reason)
        return cleaned_data

    def guardian(self) -> Guardian | None:
        """The minor's guardian, unsaved; None for an adult, whose guardian fields are ignored."""
        if not self._is_minor(self.cleaned_data["date_of_birth"]):
            return None
        return Guardian(
            first_name=self.cleaned_data["guardian_first_name"],
            last_name=self.cleaned_data["guardian_last_name"],
            relationship=self.cleaned_data["guardian_relationship"],
            email=self.cleaned_data["guardian_email"],
            phone=self.cleaned_data["guardian_phone"] or "",
        )

    @staticmethod
    def _is_minor(born: date) -> bool:
        return age_on(born, timezone.localdate()) < ADULT_AGE


class PatientEditForm(forms.ModelForm):
    """A registered patient's record at the desk. The MRN is shown, not edited; guardians
    have their own forms. `seen_at` carries the record's version, so that a change saved
    meanwhile by another desk is not silently overwritten."""

    seen_at = forms.DateTimeField(widget=forms.HiddenInput)

    class Meta:
        model = Patient
        fields = [
            "first_name", "last_name", "date_of_birth", "sex",
            "address_line_1", "address_line_2", "city", "region", "postal_code", "country",
            "email", "phone", "preferred_channel", "language", "reminder_consent",
            "payer", "insurer_name", "insurance_member_id", "registered_online",
        ]  # fmt: skip
        widgets = {
            "date_of_birth": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "payer": forms.RadioSelect,
        }
        labels = {"reminder_consent": _("Agrees to receive reminders")}
        help_texts = {
            "reminder_consent": _(
                "Turn back on when the patient asks again, e.g. after using "
                "the stop link of a reminder."
            ),
            "registered_online": _("Clear it once the record is checked with the patient."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["seen_at"].initial = self.instance.updated_at
        self.helper = _form_helper(
            Fieldset(
                _("Patient"),
                Row(Column("first_name"), Column("last_name")),
                Row(Column("date_of_birth"), Column("sex")),
            ),
            Fieldset(
                _("Postal address"),
                "address_line_1",
                "address_line_2",
                Row(Column("city"), Column("region")),
                Row(Column("postal_code"), Column("country")),
            ),
            Fieldset(
                _("Contact and reminders"),
                Row(Column("email"), Column("phone")),
                Row(Column("preferred_channel"), Column("language")),
                "reminder_consent",
            ),
            Fieldset(
                _("Payer"),
                "payer",
                Row(Column("insurer_name"), Column("insurance_member_id")),
            ),
            "registered_online",
            "seen_at",
        )

    def clean_date_of_birth(self):
        return _checked_birth_date(self.cleaned_data["date_of_birth"])

    def _post_clean(self):
        # The service validates and saves the record (and knows its guardians); the
        # ModelForm's own model validation would run without them.
        pass

    def changes(self) -> dict:
        """The record's fields as the form has them, for patient_update."""
        return {name: self.cleaned_data[name] for name in self._meta.fields or ()}


class GuardianForm(forms.ModelForm):
    """A guardian's name, relationship and contact details."""

    class Meta:
        model = Guardian
        fields = ["first_name", "last_name", "relationship", "email", "phone", "language"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _form_helper(
            Row(Column("first_name"), Column("last_name")),
            Row(Column("relationship"), Column("email"), Column("phone")),
            Row(Column("language")),
            *(["receives_reminders"] if "receives_reminders" in self.fields else []),
        )

    def clean(self):
        super().clean()
        cleaned_data = self.cleaned_data
        if not cleaned_data.get("email") and not cleaned_data.get("phone") and not self.errors:
            self.add_error("email", _("Give the guardian's email or phone number."))
        return cleaned_data

    def _post_clean(self):
        # The service validates and saves the guardian, with their patient.
        pass

    def changes(self) -> dict:
        return {name: self.cleaned_data[name] for name in GuardianForm.Meta.fields}


class GuardianAddForm(GuardianForm):
    """A new guardian, who may take over receiving the reminders."""

    receives_reminders = forms.BooleanField(
        label=_("Send the reminders to this guardian"),
        required=False,
        help_text=_("The first guardian added receives them anyway."),
    )


def site_choices() -> list:
    """Every site, grouped as the body map groups them: the face first, then the body."""
    face = [(site, label) for site, label in Lesion.Site.choices if REGIONS[site]["view"] == "face"]
    body = [(site, label) for site, label in Lesion.Site.choices if REGIONS[site]["view"] != "face"]
    return [("", _("Choose a site")), (_("Face"), face), (_("Body"), body)]


class DateInput(forms.DateInput):
    input_type = "date"


class LesionForm(forms.Form):
    """A new lesion. The dates' rules (not in the future, not before birth) are the service's."""

    site = forms.ChoiceField(choices=site_choices, label=_("Site"))
    milia_type = forms.ChoiceField(choices=Lesion.MiliaType.choices, label=_("Type"))
    size_mm = forms.DecimalField(
        label=_("Size (mm)"),
        required=False,
        min_value=Decimal("0.1"),
        max_value=50,
        max_digits=3,
        decimal_places=1,
        help_text=_("Largest diameter, 0.1 to 50 mm."),
        widget=forms.NumberInput(attrs={"step": "0.1"}),
    )
    count = forms.IntegerField(
        min_value=1,
        max_value=500,
        initial=1,
        help_text=_("Number of milia at this site."),
        label=_("Count"),
    )
    colour = forms.ChoiceField(
        choices=Lesion.Colour.choices, initial=Lesion.Colour.WHITE, label=_("Colour")
    )
    first_noted = forms.DateField(widget=DateInput, label=_("First noted"))
    note = forms.CharField(
        max_length=300, required=False, widget=forms.Textarea(attrs={"rows": 2}), label=_("Note")
    )

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

    status = forms.ChoiceField(choices=Lesion.Status.choices, label=_("Status"))
    resolved_on = forms.DateField(
        required=False,
        widget=DateInput,
        help_text=_("Left empty when resolving: today."),
        label=_("Resolved on"),
    )

    field_order = [
        "site", "milia_type", "size_mm", "count", "colour", "first_noted", "status",
        "resolved_on", "note",
    ]  # fmt: skip
