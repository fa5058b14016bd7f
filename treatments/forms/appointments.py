"""Forms of the front desk: booking with a slot picker, rescheduling, cancelling, the waitlist."""

from datetime import UTC, datetime, timedelta
from datetime import time as wall_clock_time  # the booking form has a field named `time`
from typing import cast

from django import forms
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from clinic.models import Room, StaffMember
from patients.models import Patient

from ..models import FollowUp, ProcedureType, WaitlistEntry
from ..selectors.availability import FIRST_AVAILABLE_COUNT, FIRST_AVAILABLE_DAYS, PartOfDay


def dermatologists():
    return StaffMember.objects.bookable().select_related("user")


# Far enough for any booking a clinic makes; far past it, time arithmetic overflows.
BOOKING_HORIZON_DAYS = 5 * 366
# A first-available search reads every appointment of its span at once: a year at most.
FIRST_AVAILABLE_MAX_DAYS = 366
FIRST_AVAILABLE_MAX_RESULTS = 100
# No visit is booked or moved to before this; year 1 (or 9999) would overflow on the way.
EARLIEST_BOOKABLE = datetime(2000, 1, 1, tzinfo=UTC)


def within_booking_range(instant: datetime) -> bool:
    """Whether an aware instant lies between 2000 and the booking horizon; years such as 1
    or 9999 (whose conversion to another offset overflows) are outside."""
    try:
        latest = timezone.now() + timedelta(days=BOOKING_HORIZON_DAYS)
        return EARLIEST_BOOKABLE <= instant.astimezone(UTC) <= latest
    except OverflowError:
        return False


def time_of_day(value: object) -> wall_clock_time | None:
    """A time of day written HH:MM or HH:MM:SS, such as 09:15; None for anything else."""
    for time_format in ("%H:%M", "%H:%M:%S"):
        try:
            return datetime.strptime(str(value), time_format).time()
        except ValueError:
            continue
    return None


class SlotField(forms.CharField):
    """A free slot from the slot picker: "<dermatologist id>|<ISO start>|<room id or empty>"."""

    default_error_messages = {"invalid": _("Pick one of the free times.")}

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        try:
            dermatologist_id, start, room_id = value.split("|")
            starts_at = datetime.fromisoformat(start)
            if timezone.is_naive(starts_at) or not within_booking_range(starts_at):
                raise ValueError("naive or out of range")
            dermatologist = dermatologists().get(pk=int(dermatologist_id))
            room = Room.objects.get(pk=int(room_id)) if room_id else None
        except (ValueError, StaffMember.DoesNotExist, Room.DoesNotExist):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None
        return {"dermatologist": dermatologist, "starts_at": starts_at, "room": room}


class RefreshesSlotPicker:
    """Changing one of `slot_search_fields` reloads the slot picker (htmx), sending them all."""

    slot_search_fields: tuple[str, ...] = ("procedure_type", "dermatologist", "date")
    fields: dict[str, forms.Field]  # the form's, which this mixes into

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.slot_search_fields:
            self.fields[name].widget.attrs.update({
                "class": "slot-search",
                "data-hx-get": reverse_lazy("treatments:slot_picker"),
                "data-hx-trigger": "change",
                "data-hx-target": "#slot-picker",
                "data-hx-swap": "outerHTML",
                "data-hx-include": ".slot-search",
            })  # fmt: skip


class SlotSearchForm(RefreshesSlotPicker, forms.Form):
    """What the slot picker needs: the procedure, a dermatologist (or any) and a day; and
    the time to preselect, when the desk chose a gap in the time grid."""

    slot_search_fields = ("procedure_type", "dermatologist", "date", "time")

    procedure_type = forms.ModelChoiceField(
        queryset=ProcedureType.objects.filter(is_active=True), label=_("Procedure")
    )
    dermatologist = forms.ModelChoiceField(
        queryset=dermatologists(),
        required=False,
        empty_label=_("Any dermatologist"),
        label=_("Dermatologist"),
    )
    date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label=_("Day"))
    # Only a preference (HH:MM): a time that names no free slot preselects nothing.
    time = forms.CharField(required=False, max_length=8, widget=forms.HiddenInput)

    def preferred_time(self) -> wall_clock_time | None:
        """The `time` the form carries, as a time of day, or None."""
        return time_of_day(self["time"].value())


class BookingForm(SlotSearchForm):
    patient = forms.ModelChoiceField(queryset=Patient.objects.all(), widget=forms.HiddenInput)
    slot = SlotField(label=_("Free time"))
    reason = forms.CharField(max_length=200, required=False, label=_("Reason for the visit"))
    waitlist_entry = forms.ModelChoiceField(
        queryset=WaitlistEntry.objects.filter(status=WaitlistEntry.Status.WAITING),
        required=False,
        widget=forms.HiddenInput,
    )
    follow_up = forms.ModelChoiceField(
        queryset=FollowUp.objects.filter(status=FollowUp.Status.OPEN),
        required=False,
        widget=forms.HiddenInput,
    )

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data  # what clean() returned; typed, never None
        for name in ("waitlist_entry", "follow_up"):
            owner = cleaned.get(name)
            if owner is not None and owner.patient_id != getattr(
                cleaned.get("patient"), "pk", None
            ):
                self.add_error(name, _("This belongs to another patient."))
        return cleaned


class RescheduleForm(RefreshesSlotPicker, forms.Form):
    slot_search_fields = ("dermatologist", "date")

    dermatologist = forms.ModelChoiceField(
        queryset=dermatologists(),
        required=False,
        empty_label=_("Any dermatologist"),
        label=_("Dermatologist"),
    )
    date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label=_("Day"))
    slot = SlotField(label=_("New time"))


class FirstAvailableForm(forms.Form):
    """A search for the first free times across days: "cryotherapy, any dermatologist,
    mornings, within 60 days". The day it starts from and the span default to today and 60."""

    procedure_type = forms.ModelChoiceField(
        queryset=ProcedureType.objects.filter(is_active=True), label=_("Procedure")
    )
    dermatologist = forms.ModelChoiceField(
        queryset=dermatologists(),
        required=False,
        empty_label=_("Any dermatologist"),
        label=_("Dermatologist"),
    )
    part_of_day = forms.TypedChoiceField(
        choices=[("", _("Any time of day")), *PartOfDay.choices],
        coerce=PartOfDay,
        empty_value=None,
        required=False,
        label=_("Time of day"),
        help_text=_("Mornings start before 12:00, afternoons 12:00–17:00, evenings after 17:00."),
    )
    date = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}), required=False, label=_("From")
    )
    within_days = forms.IntegerField(
        min_value=1,
        max_value=FIRST_AVAILABLE_MAX_DAYS,
        required=False,
        label=_("Within (days)"),
        initial=FIRST_AVAILABLE_DAYS,
        widget=forms.NumberInput(attrs={"placeholder": FIRST_AVAILABLE_DAYS}),
    )

    def clean_date(self):
        day = self.cleaned_data["date"] or timezone.localdate()
        if day < timezone.localdate():
            raise forms.ValidationError(_("Search from today or a later day."))
        if day > timezone.localdate() + timedelta(days=BOOKING_HORIZON_DAYS):
            raise forms.ValidationError(_("That is too far ahead to book."))
        return day

    def clean_within_days(self):
        return self.cleaned_data["within_days"] or FIRST_AVAILABLE_DAYS


class FirstAvailableRequestForm(FirstAvailableForm):
    """The same search from a program (the JSON endpoint), which also says how many."""

    limit = forms.IntegerField(min_value=1, max_value=FIRST_AVAILABLE_MAX_RESULTS, required=False)

    def clean_limit(self):
        return self.cleaned_data["limit"] or FIRST_AVAILABLE_COUNT


class CancelForm(forms.Form):
    reason = forms.CharField(max_length=200, label=_("Reason for cancelling"))


class WaitlistEntryForm(forms.ModelForm):
    class Meta:
        model = WaitlistEntry
        fields = [
            "patient",
            "procedure_type",
            "dermatologist",
            "earliest_date",
            "latest_date",
            "earliest_time",
            "latest_time",
            "note",
        ]
        widgets = {
            "patient": forms.HiddenInput,
            "earliest_date": forms.DateInput(attrs={"type": "date"}),
            "latest_date": forms.DateInput(attrs={"type": "date"}),
            "earliest_time": forms.TimeInput(attrs={"type": "time"}),
            "latest_time": forms.TimeInput(attrs={"type": "time"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        procedures = cast("forms.ModelChoiceField[ProcedureType]", self.fields["procedure_type"])
        procedures.queryset = ProcedureType.objects.filter(is_active=True)
        dermatologist = cast("forms.ModelChoiceField[StaffMember]", self.fields["dermatologist"])
        dermatologist.queryset = dermatologists()
        dermatologist.empty_label = _("Any dermatologist")

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data  # what clean() returned; typed, never None
        earliest, latest = cleaned.get("earliest_date"), cleaned.get("latest_date")
        if earliest and latest and latest < earliest:
            self.add_error("latest_date", _("The last day must not be before the first."))
        if earliest and earliest < timezone.localdate():
            self.add_error("earliest_date", _("The first day cannot be in the past."))
        start, end = cleaned.get("earliest_time"), cleaned.get("latest_time")
        if start and end and end <= start:
            self.add_error("latest_time", _("The latest time must be after the earliest."))
        return cleaned


class AwareDateTimeField(forms.DateTimeField):
    """An ISO 8601 instant with its UTC offset: a time without one is ambiguous."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            instant = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise forms.ValidationError(_("Give an ISO 8601 date and time.")) from None
        if timezone.is_naive(instant):
            raise forms.ValidationError(_("Give the time with its UTC offset."))
        return instant


class AlternativesForm(forms.Form):
    """The nearest free times around a refused one: the procedure, the refused start, the
    dermatologist asked for (or any), the visit being moved (its own time counts as free),
    and which form the offered times fill."""

    FORMS = ("booking-form", "reschedule-form")

    procedure_type = forms.ModelChoiceField(queryset=ProcedureType.objects.filter(is_active=True))
    around = AwareDateTimeField()
    dermatologist = forms.ModelChoiceField(queryset=dermatologists(), required=False)
    exclude = forms.IntegerField(required=False, min_value=1)
    form = forms.ChoiceField(choices=[(name, name) for name in FORMS], required=False)

    @staticmethod
    def query(*, procedure_type, around, dermatologist=None, exclude=None) -> str:
        """The query string of this search, for the link a refusal answers with."""
        query = {"procedure_type": procedure_type.pk, "around": around.isoformat()}
        if dermatologist is not None:
            query["dermatologist"] = dermatologist.pk
        if exclude is not None:
            query["exclude"] = exclude
        return urlencode(query)


class BookingRequestForm(forms.Form):
    """A booking from a program (the JSON endpoint): ids and an instant, no slot picker."""

    patient = forms.ModelChoiceField(queryset=Patient.objects.all())
    dermatologist = forms.ModelChoiceField(queryset=dermatologists())
    procedure_type = forms.ModelChoiceField(queryset=ProcedureType.objects.filter(is_active=True))
    starts_at = AwareDateTimeField()
    room = forms.ModelChoiceField(queryset=Room.objects.all(), required=False)
    reason = forms.CharField(max_length=200, required=False)

    def clean_starts_at(self):
        starts_at = self.cleaned_data["starts_at"]
        if not within_booking_range(starts_at):
            if starts_at.year > EARLIEST_BOOKABLE.year:
                raise forms.ValidationError(_("That is too far ahead to book."))
            raise forms.ValidationError(
                _("Give a time after %(year)s; that one is too far in the past.")
                % {"year": EARLIEST_BOOKABLE.year}
            )
        return starts_at
