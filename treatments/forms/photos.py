"""The form a dermatologist adds a clinical photo with; treatments/photos.py checks the file."""

from typing import cast

from django import forms
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from patients.models import Lesion, Patient

from ..models import Appointment


class AppointmentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, appointment):
        starts_at = formats.date_format(timezone.localtime(appointment.starts_at), "d M Y, H:i")
        return f"{starts_at} · {appointment.procedure_type}"


class PhotoUploadForm(forms.Form):
    """The file and what it shows: a lesion of this patient, a visit, or both."""

    image = forms.FileField(
        label=_("Photo"),
        help_text=_("A JPEG or PNG. Location and camera details are removed when it is saved."),
        widget=forms.FileInput(attrs={"accept": "image/jpeg,image/png"}),
    )
    lesion = forms.ModelChoiceField(
        queryset=Lesion.objects.none(),
        required=False,
        empty_label=_("No particular lesion"),
        label=_("Lesion"),
    )
    appointment = AppointmentChoiceField(
        queryset=Appointment.objects.none(),
        required=False,
        label=_("Visit"),
        empty_label=_("No particular visit"),
    )
    caption = forms.CharField(max_length=200, required=False, label=_("Caption"))
    taken_on = forms.DateField(
        label=_("Taken on"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def __init__(self, *args, patient: Patient, **kwargs):
        super().__init__(*args, **kwargs)
        lesion = cast("forms.ModelChoiceField[Lesion]", self.fields["lesion"])
        lesion.queryset = patient.lesions.all()
        appointment = cast("forms.ModelChoiceField[Appointment]", self.fields["appointment"])
        appointment.queryset = patient.appointments.select_related("procedure_type").order_by(
            "-starts_at"
        )
