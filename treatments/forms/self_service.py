"""Forms of the pages patients reach through their links to move a visit or send photos for
a check, and the dermatologist's review of those photos. Shapes only: the services decide."""

from datetime import datetime

from django import forms
from django.utils.translation import gettext_lazy as _

from ..models import PhotoCheck
from ..services.photo_checks import MAX_PHOTOS, Decision


class MoveDayForm(forms.Form):
    """?day= on the move page: the day whose free times are shown."""

    day = forms.DateField(label=_("Day"), widget=forms.DateInput(attrs={"type": "date"}))


class MoveForm(forms.Form):
    """The time chosen: one radio button per free time, "<dermatologist id>|<ISO start>"."""

    slot = forms.CharField(max_length=60)

    def clean_slot(self) -> tuple[int, datetime]:
        dermatologist_id, _separator, starts_at = self.cleaned_data["slot"].partition("|")
        try:
            moment = datetime.fromisoformat(starts_at)
            if not dermatologist_id.isdigit() or moment.tzinfo is None:
                raise ValueError
        except ValueError:
            raise forms.ValidationError(_("Choose one of the times offered.")) from None
        return int(dermatologist_id), moment


def slot_value(*, dermatologist_id: int, starts_at: datetime) -> str:
    """The value of a free time's radio button, as MoveForm reads it back."""
    return f"{dermatologist_id}|{starts_at.isoformat()}"


class PhotoCheckForm(forms.Form):
    """Up to three photos of the treated area, and two questions."""

    photo_1 = forms.FileField(label=_("Photo"))
    photo_2 = forms.FileField(label=_("Second photo (optional)"), required=False)
    photo_3 = forms.FileField(label=_("Third photo (optional)"), required=False)
    new_bumps = forms.ChoiceField(
        label=_("Have new bumps appeared on the treated area?"),
        choices=[
            (PhotoCheck.NewBumps.NO, _("No")),
            (PhotoCheck.NewBumps.YES, _("Yes")),
            (PhotoCheck.NewBumps.NOT_SURE, _("Not sure")),
        ],
        widget=forms.RadioSelect,
    )
    where = forms.CharField(
        label=_("Where? (optional)"),
        max_length=200,
        required=False,
        help_text=_("For example: under the left eye."),
    )

    def photos(self) -> list:
        """The photos sent, in order."""
        files = [self.cleaned_data.get(f"photo_{number}") for number in range(1, MAX_PHOTOS + 1)]
        return [upload for upload in files if upload]


class DecisionForm(forms.Form):
    """The dermatologist's decision on one lesion, from the patient's photos."""

    decision = forms.ChoiceField(
        label=_("Decision"), choices=Decision.choices, widget=forms.RadioSelect
    )
