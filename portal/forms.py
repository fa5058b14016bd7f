"""Forms of the public pages: shapes only; the services enforce the rules."""

from datetime import date

import phonenumbers
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from patients.models import ADULT_AGE, Channel, age_on

from .models import CODE_DIGITS
from .selectors import bookable_dermatologists, bookable_online_types


class ContactField(forms.CharField):
    """An email address or a mobile number, as (channel, normalised contact): the address
    in lower case, the number in E.164 (national numbers in the clinic's region)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 254)
        kwargs.setdefault("label", _("Email or mobile phone number"))
        super().__init__(**kwargs)

    def clean(self, value):
        text = super().clean(value).strip()
        if "@" in text:
            try:
                validate_email(text)
            except ValidationError:
                raise ValidationError(_("Enter a valid email address.")) from None
            return Channel.EMAIL, text.lower()
        try:
            number = phonenumbers.parse(text, settings.PHONENUMBER_DEFAULT_REGION)
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_valid_number(number):
            raise ValidationError(_("Enter a valid email address or mobile phone number."))
        return Channel.SMS, phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class SlotSearchForm(forms.Form):
    procedure_type = forms.ModelChoiceField(
        queryset=bookable_online_types(),
        label=_("Type of visit"),
        empty_label=None,
        widget=forms.RadioSelect,
    )
    dermatologist = forms.ModelChoiceField(
        queryset=bookable_dermatologists(),
        label=_("Dermatologist"),
        required=False,
        empty_label=_("Any dermatologist"),
    )
    day = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class SlotForm(forms.Form):
    """The free time chosen: carried from the slot list to the details form."""

    procedure_type = forms.ModelChoiceField(
        queryset=bookable_online_types(), widget=forms.HiddenInput
    )
    dermatologist = forms.ModelChoiceField(
        queryset=bookable_dermatologists(), widget=forms.HiddenInput
    )
    starts_at = forms.DateTimeField(widget=forms.HiddenInput)


class AlternativeForm(forms.Form):
    """One of the nearest free times offered when the time asked for was taken."""

    dermatologist = forms.ModelChoiceField(
        queryset=bookable_dermatologists(), widget=forms.HiddenInput
    )
    starts_at = forms.DateTimeField(widget=forms.HiddenInput)


class BookingDetailsForm(SlotForm):
    FOR_ME, FOR_CHILD = "me", "child"
    booking_for = forms.ChoiceField(
        label=_("Who is the visit for?"),
        choices=[(FOR_ME, _("For me")), (FOR_CHILD, _("For my child (under 18)"))],
        initial=FOR_ME,
        widget=forms.RadioSelect,
    )
    first_name = forms.CharField(label=_("Patient's first name"), max_length=100)
    last_name = forms.CharField(label=_("Patient's last name"), max_length=100)
    date_of_birth = forms.DateField(
        label=_("Patient's date of birth"), widget=forms.DateInput(attrs={"type": "date"})
    )
    guardian_first_name = forms.CharField(
        label=_("Your first name (parent or guardian)"), max_length=100, required=False
    )
    guardian_last_name = forms.CharField(
        label=_("Your last name (parent or guardian)"), max_length=100, required=False
    )
    contact = ContactField(
        help_text=_("We send a code there to check it is yours, then the confirmation.")
    )
    reminders = forms.BooleanField(
        label=_("Send me reminders before the visit"), required=False, initial=True
    )

    def clean(self):
        super().clean()
        data = self.cleaned_data
        born: date | None = data.get("date_of_birth")
        if born is None:
            return data
        today = timezone.localdate()
        if born > today:
            self.add_error("date_of_birth", _("The date of birth cannot be in the future."))
        elif data.get("booking_for") == self.FOR_CHILD:
            if age_on(born, today) >= ADULT_AGE:
                self.add_error("booking_for", _("The patient is an adult: book for them."))
            for name in ("guardian_first_name", "guardian_last_name"):
                if not (data.get(name) or "").strip():
                    self.add_error(name, _("A parent or guardian books for a child: your name."))
        elif age_on(born, today) < ADULT_AGE:
            self.add_error(
                "booking_for", _("Under 18: a parent or guardian books for the patient.")
            )
        return data


class CodeForm(forms.Form):
    code = forms.RegexField(
        regex=rf"^\s*[0-9]{{{CODE_DIGITS}}}\s*$",
        label=_("The 6-digit code we sent you"),
        error_messages={"invalid": _("The code is 6 digits.")},
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 8}
        ),
    )


class PortalRequestForm(forms.Form):
    contact = ContactField(
        help_text=_("The email address or phone number the clinic has for you or your child.")
    )


# The patient languages' names, translated (settings.PATIENT_LANGUAGES names them in English).
LANGUAGE_NAMES = {"en": _("English"), "es": _("Spanish"), "fr": _("French")}


class PreferencesForm(forms.Form):
    preferred_channel = forms.ChoiceField(
        label=_("Send reminders by"),
        choices=[(Channel.EMAIL, _("Email")), (Channel.SMS, _("Text message (SMS)"))],
        widget=forms.RadioSelect,
    )
    language = forms.ChoiceField(
        label=_("Language"),
        choices=[
            (code, LANGUAGE_NAMES.get(code, name)) for code, name in settings.PATIENT_LANGUAGES
        ],
    )
    reminder_consent = forms.BooleanField(label=_("Send me reminders"), required=False)
