from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext, gettext_lazy
from simple_history.admin import SimpleHistoryAdmin

from clinic.admin import (
    AccessLoggedAdminMixin,
    ReadOnlyAdminMixin,
    ScheduleShownAdminMixin,
    export_csv_action,
)
from clinic.imports import ClinicImportMixin

from .constraints import is_fee_overlap_violation, is_overlap_violation
from .models import (
    Amendment,
    Appointment,
    AppointmentEstimate,
    AppointmentEvent,
    BillingEmail,
    Charge,
    ClinicalPhoto,
    FeeScheduleEntry,
    FollowUp,
    FollowUpOutcome,
    Invoice,
    Payment,
    PhotoCheck,
    Procedure,
    ProcedureLesion,
    ProcedureType,
    SelfServicePolicy,
    WaitlistEntry,
)
from .resources import AppointmentResource
from .selectors.appointments import appointment_overlaps
from .selectors.billing import fee_entry_overlaps
from .selectors.catalogue import aftercare_texts_of
from .services.billing import charge_price_from_schedule
from .services.booking import BookingError, appointment_cancel, appointment_mark_no_show
from .services.catalogue import aftercare_texts_save

APPOINTMENT_COLUMNS = {
    "id": lambda visit: visit.pk,
    "starts at": lambda visit: visit.starts_at,
    "ends at": lambda visit: visit.ends_at,
    "patient id": lambda visit: visit.patient_id,
    "patient": lambda visit: visit.patient,
    "dermatologist": lambda visit: visit.dermatologist,
    "room": lambda visit: visit.room,
    "procedure": lambda visit: visit.procedure_type,
    "status": lambda visit: visit.get_status_display(),
    "cancellation reason": lambda visit: visit.cancellation_reason,
}


class CancellationReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=200,
        help_text=gettext_lazy("Kept with each appointment and shown in its history."),
    )


class ReminderOffsetsField(forms.CharField):
    """Hours before the visit as the manager types them, "48, 24"; a list of whole hours
    in the model, whose validator then checks their range and that none repeats."""

    def prepare_value(self, value):
        if isinstance(value, list):
            return ", ".join(str(hours) for hours in value)
        return value

    def to_python(self, value):
        text = super().to_python(value) or ""
        parts = [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
        try:
            return [int(part) for part in parts]
        except ValueError:
            raise forms.ValidationError(
                gettext("Give whole hours separated by commas, e.g. 48, 24.")
            ) from None


def _aftercare_field(language: str) -> str:
    return f"aftercare_{language}"


class ProcedureTypeAdminForm(forms.ModelForm):
    """The catalogue entry, with its aftercare text in each patient language as fields of
    its own (aftercare_en, aftercare_es, …) so the admin can lay them side by side."""

    reminder_offsets = ReminderOffsetsField(
        required=False,
        label=gettext_lazy("Reminder offsets (hours)"),
        help_text=ProcedureType._meta.get_field("reminder_offsets").help_text,
    )

    class Meta:
        model = ProcedureType
        fields = [
            "slug",
            "name",
            "is_procedure",
            "duration_minutes",
            "needs_treatment_room",
            "anesthesia",
            "code",
            "code_15_or_more",
            "follow_up_weeks",
            "reminder_offsets",
            "is_active",
            "sort_order",
            "bookable_online",
            "online_returning_only",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        texts = aftercare_texts_of(self.instance) if self.instance.pk else {}
        for language, name in settings.PATIENT_LANGUAGES:
            self.fields[_aftercare_field(language)] = forms.CharField(
                label=gettext("Aftercare (%(language)s)") % {"language": name},
                required=False,
                initial=texts.get(language, ""),
                widget=forms.Textarea(attrs={"rows": 12, "cols": 36, "lang": language}),
                help_text=gettext_lazy("Empty: the patient gets the clinic's default language."),
            )

    def aftercare_texts(self) -> dict[str, str]:
        """The texts as typed, by language (an empty one removes that language's text)."""
        return {
            language: self.cleaned_data[_aftercare_field(language)]
            for language, _ in settings.PATIENT_LANGUAGES
        }


@admin.register(ProcedureType)
class ProcedureTypeAdmin(ScheduleShownAdminMixin, admin.ModelAdmin):
    form = ProcedureTypeAdminForm
    list_display = [
        "name",
        "duration_minutes",
        "needs_treatment_room",
        "anesthesia",
        "code",
        "code_15_or_more",
        "follow_up_weeks",
        "reminder_offsets",
        "is_active",
        "bookable_online",
    ]
    list_filter = [
        "is_active",
        "is_procedure",
        "needs_treatment_room",
        "anesthesia",
        "bookable_online",
    ]
    search_fields = ["name", "code"]
    prepopulated_fields = {"slug": ["name"]}

    def get_fieldsets(self, request, obj=None):
        catalogue = list(ProcedureTypeAdminForm.Meta.fields)
        # One row of the admin's form holds the languages next to each other.
        languages = tuple(_aftercare_field(language) for language, _ in settings.PATIENT_LANGUAGES)
        return [
            (None, {"fields": catalogue}),
            (gettext("Aftercare, one text per language"), {"fields": [languages]}),
        ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        # The aftercare fields are the form's own, added per language when it is made:
        # the admin must build the model form from the model's fields only.
        kwargs["fields"] = ProcedureTypeAdminForm.Meta.fields
        return super().get_form(request, obj, change, **kwargs)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        aftercare_texts_save(procedure_type=form.instance, texts=form.aftercare_texts())


class AppointmentAdminForm(forms.ModelForm):
    """An edit in the admin meets the same rule as a booking: no overlap for an active visit."""

    class Meta:
        model = Appointment
        fields = [
            "patient",
            "dermatologist",
            "room",
            "procedure_type",
            "starts_at",
            "ends_at",
            "status",
            "reason",
            "cancellation_reason",
        ]

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data  # what clean() returned; typed, never None
        starts_at, ends_at = cleaned.get("starts_at"), cleaned.get("ends_at")
        dermatologist, room = cleaned.get("dermatologist"), cleaned.get("room")
        status = cleaned.get("status")
        if starts_at and ends_at and dermatologist and status in Appointment.ACTIVE_STATUSES:
            clash = appointment_overlaps(
                dermatologist_id=dermatologist.pk,
                room_id=room.pk if room else None,
                starts_at=starts_at,
                ends_at=ends_at,
                exclude_id=self.instance.pk,
            ).first()
            if clash is not None:
                raise forms.ValidationError(
                    gettext("This overlaps %(clash)s; that time is already taken.")
                    % {"clash": clash}
                )
        return cleaned


@admin.register(Appointment)
class AppointmentAdmin(ScheduleShownAdminMixin, ClinicImportMixin, SimpleHistoryAdmin):
    # The CSV import of a clinic moving in (docs/import.md), for managers.
    resource_classes = [AppointmentResource]
    form = AppointmentAdminForm
    list_display = ["starts_at", "patient", "dermatologist", "room", "procedure_type", "status"]
    list_filter = ["status", "dermatologist", "room", "procedure_type"]
    search_fields = ["patient__last_name", "patient__first_name", "patient__phone"]
    date_hierarchy = "starts_at"
    list_select_related = ["patient", "dermatologist__user", "room", "procedure_type"]
    autocomplete_fields = ["patient"]
    readonly_fields = ["created_by", "created_at", "updated_at"]
    actions = [
        "mark_no_show",
        "cancel_with_reason",
        export_csv_action(
            APPOINTMENT_COLUMNS, patient_id=lambda visit: visit.patient_id, name="appointments"
        ),
    ]

    @admin.action(description=gettext_lazy("Mark as no-show"), permissions=["change"])
    def mark_no_show(self, request, queryset):
        self._apply(
            request,
            queryset,
            lambda visit: appointment_mark_no_show(appointment=visit, by=request.user),
        )

    @admin.action(description=gettext_lazy("Cancel with a reason…"), permissions=["change"])
    def cancel_with_reason(self, request, queryset):
        """First a page asking for the reason; its submit comes back here with it."""
        form = CancellationReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            reason = form.cleaned_data["reason"]
            self._apply(
                request,
                queryset,
                lambda visit: appointment_cancel(appointment=visit, reason=reason, by=request.user),
            )
            return None
        return TemplateResponse(
            request,
            "clinic/admin/appointment_cancel.html",
            {
                **self.admin_site.each_context(request),
                "title": gettext("Cancel appointments"),
                "opts": self.model._meta,
                "appointments": queryset.select_related("patient", "dermatologist__user"),
                "form": form,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            },
        )

    def _apply(self, request, queryset, change):
        """Each appointment through its service; a refusal is reported for its row."""
        done, refused = 0, []
        for visit in queryset.select_related("patient"):
            try:
                change(visit)
                done += 1
            except BookingError as error:
                refused.append(f"{visit}: {error}")
        self.message_user(
            request,
            gettext("%(count)d appointment(s) changed.") % {"count": done},
            messages.SUCCESS,
        )
        for line in refused:
            self.message_user(
                request, gettext("Not changed: %(line)s") % {"line": line}, messages.WARNING
            )

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # Two people saving overlapping times at the same instant both pass the form's
        # check; the database refuses the second, which gets a message instead of a 500.
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except IntegrityError as error:
            if not is_overlap_violation(error):
                raise
            self.message_user(
                request,
                gettext("That time was taken meanwhile; nothing was saved."),
                messages.ERROR,
            )
            return HttpResponseRedirect(request.get_full_path())


@admin.register(AppointmentEvent)
class AppointmentEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The life cycle's record: read-only, so nobody rewrites who did what."""

    list_display = ["at", "appointment", "action", "actor", "note"]
    list_filter = ["action"]
    date_hierarchy = "at"
    list_select_related = ["appointment__patient", "appointment__dermatologist__user", "actor"]


@admin.register(BillingEmail)
class BillingEmailAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Billing documents emailed at the desk's request: who asked, to whom, and whether
    it went. Read-only: the desk sends again from the patient's page."""

    list_display = ["requested_at", "patient", "document", "email", "status", "requested_by"]
    list_filter = ["document", "status"]
    date_hierarchy = "requested_at"
    list_select_related = ["patient", "requested_by"]


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(admin.ModelAdmin):
    list_display = [
        "patient",
        "procedure_type",
        "dermatologist",
        "earliest_date",
        "latest_date",
        "status",
    ]
    list_filter = ["status", "procedure_type", "dermatologist"]
    search_fields = ["patient__last_name", "patient__first_name"]
    date_hierarchy = "earliest_date"
    list_select_related = ["patient", "procedure_type", "dermatologist__user"]
    autocomplete_fields = ["patient"]


class ReadOnlyClinicalAdmin(AccessLoggedAdminMixin, ReadOnlyAdminMixin, SimpleHistoryAdmin):
    """Clinical records change only through the app's services (signing, amendments), so
    that every change is validated and attributable; the admin shows them and their history,
    and each page that shows them writes the access log."""


class ProcedureLesionInline(admin.TabularInline):
    """The lesions a procedure treated: shown on the procedure, no admin page of their own."""

    model = ProcedureLesion
    extra = 0

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Procedure)
class ProcedureAdmin(ReadOnlyClinicalAdmin):
    list_display = [
        "performed_at",
        "patient",
        "procedure_type",
        "dermatologist",
        "procedure_code",
        "status",
    ]
    list_filter = ["status", "procedure_type", "dermatologist"]
    search_fields = ["patient__last_name", "patient__first_name", "procedure_code"]
    date_hierarchy = "performed_at"
    list_select_related = ["patient", "procedure_type", "dermatologist__user"]
    inlines = [ProcedureLesionInline]


@admin.register(Amendment)
class AmendmentAdmin(ReadOnlyClinicalAdmin):
    patient_lookup = "procedure__patient"
    list_display = ["created_at", "procedure", "author", "reason"]
    date_hierarchy = "created_at"
    list_select_related = ["procedure__patient", "procedure__procedure_type", "author"]


@admin.register(FollowUp)
class FollowUpAdmin(AccessLoggedAdminMixin, SimpleHistoryAdmin):
    list_display = ["due_on", "patient", "kind", "status", "appointment"]
    list_filter = ["status", "kind"]
    search_fields = ["patient__last_name", "patient__first_name"]
    date_hierarchy = "due_on"
    list_select_related = ["patient", "appointment"]
    raw_id_fields = ["patient", "procedure", "appointment"]


@admin.register(FollowUpOutcome)
class FollowUpOutcomeAdmin(ReadOnlyClinicalAdmin):
    patient_lookup = "lesion__patient"
    list_display = ["recorded_at", "lesion", "outcome", "complication", "recorded_by"]
    list_filter = ["outcome", "complication"]
    list_select_related = ["lesion__patient", "recorded_by"]


@admin.register(ClinicalPhoto)
class ClinicalPhotoAdmin(ReadOnlyClinicalAdmin):
    list_display = ["taken_on", "patient", "lesion", "caption", "uploaded_by"]
    date_hierarchy = "taken_on"
    list_select_related = ["patient", "lesion", "uploaded_by"]
    exclude = ["image", "thumbnail"]  # shown only through the app's checked photo view


@admin.register(PhotoCheck)
class PhotoCheckAdmin(AccessLoggedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """What patients sent for a check-up by photo: read-only (the review is the app's), its
    images shown only through the app's checked view."""

    list_display = ["submitted_at", "patient", "new_bumps", "status", "result", "reviewed_by"]
    list_filter = ["status", "result"]
    date_hierarchy = "submitted_at"
    list_select_related = ["patient", "reviewed_by"]


@admin.register(SelfServicePolicy)
class SelfServicePolicyAdmin(admin.ModelAdmin):
    """The one policy row, written with the defaults by its migration: the manager changes
    it; nobody adds another or deletes it."""

    list_display = [
        "__str__",
        "patients_may_reschedule",
        "cutoff_hours",
        "days_ahead",
        "moves_per_visit",
        "same_dermatologist",
    ]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Billing (docs/billing.md) ---------------------------------------------------------


class FeeScheduleEntryForm(forms.ModelForm):
    class Meta:
        model = FeeScheduleEntry
        fields = [
            "procedure_type",
            "cpt_code",
            "description",
            "self_pay_price",
            "insured_price",
            "tax_rate",
            "effective_from",
            "effective_to",
        ]

    def clean(self):
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        entry = FeeScheduleEntry(
            pk=self.instance.pk, **{name: cleaned.get(name) for name in self.Meta.fields}
        )
        entry.cpt_code = entry.cpt_code or ""
        if fee_entry_overlaps(entry=entry):
            raise forms.ValidationError(FEE_OVERLAP_MESSAGE)
        return cleaned


FEE_OVERLAP_MESSAGE = (
    "Another price for this procedure type or code applies on some of these days: "
    "end it the day before this one starts."
)


class FeeOverlap(Exception):
    """Another manager saved an overlapping price between this form's check and its save."""


@admin.register(FeeScheduleEntry)
class FeeScheduleEntryAdmin(SimpleHistoryAdmin):
    """The manager's prices. A new price is a new entry from a later day (end the old one
    the day before): charges and invoices keep the price of their day. An overlapping
    period is the form's error; one saved meanwhile by someone else, which the database
    refuses (an exclusion constraint, or SQLite's trigger), is a 409 page."""

    form = FeeScheduleEntryForm
    list_display = [
        "__str__",
        "description",
        "self_pay_price",
        "insured_price",
        "tax_rate",
        "effective_from",
        "effective_to",
    ]
    list_filter = ["procedure_type"]
    search_fields = ["cpt_code", "description", "procedure_type__name"]
    list_select_related = ["procedure_type"]
    date_hierarchy = "effective_from"

    def save_model(self, request, obj, form, change):
        try:
            with transaction.atomic():
                super().save_model(request, obj, form, change)
        except IntegrityError as error:
            if not is_fee_overlap_violation(error):
                raise
            raise FeeOverlap from None

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except FeeOverlap:
            return TemplateResponse(
                request,
                "treatments/billing/fee_overlap.html",
                {**self.admin_site.each_context(request), "message": FEE_OVERLAP_MESSAGE},
                status=409,
            )


class ReadOnlyBillingAdmin(AccessLoggedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Charges, payments, invoices and estimates are written by the billing services alone
    (never edited: voided or refunded with who, when and why); the manager reads them."""


@admin.register(Charge)
class ChargeAdmin(ReadOnlyBillingAdmin):
    list_display = [
        "service_date",
        "patient",
        "cpt_code",
        "modifiers",
        "units",
        "total",
        "payer",
        "price_missing",
        "status",
    ]
    list_filter = ["status", "price_missing", "payer", "kind"]
    search_fields = ["patient__last_name", "patient__first_name", "cpt_code"]
    date_hierarchy = "service_date"
    list_select_related = ["patient"]
    actions = ["price_from_schedule"]

    @admin.action(
        description="Price the lines written without a price, from the fee schedule",
        permissions=["view"],
    )
    def price_from_schedule(self, request, queryset):
        """Lines flagged "no price" get the price the manager has since added; each is
        voided and replaced (the billing service), so the change keeps its trail."""
        priced, refused = 0, []
        for charge in queryset.filter(status=Charge.Status.ACTIVE, price_missing=True):
            try:
                charge_price_from_schedule(charge=charge, by=request.user)
            except ValidationError as error:
                refused.append(" ".join(error.messages))
            else:
                priced += 1
        self.message_user(
            request,
            gettext("Charge lines priced: %(count)d.") % {"count": priced},
            messages.SUCCESS,
        )
        for reason in refused:
            self.message_user(request, reason, messages.WARNING)


@admin.register(Payment)
class PaymentAdmin(ReadOnlyBillingAdmin):
    list_display = [
        "receipt_number",
        "received_at",
        "patient",
        "kind",
        "method",
        "amount",
        "received_by",
    ]
    list_filter = ["kind", "method"]
    search_fields = ["receipt_number", "patient__last_name", "reference"]
    date_hierarchy = "received_at"
    list_select_related = ["patient", "received_by"]


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyBillingAdmin):
    list_display = ["number", "issued_at", "patient", "total", "currency", "issued_by"]
    search_fields = ["number", "patient__last_name"]
    date_hierarchy = "issued_at"
    list_select_related = ["patient", "issued_by"]


@admin.register(AppointmentEstimate)
class AppointmentEstimateAdmin(ReadOnlyBillingAdmin):
    patient_lookup = "appointment__patient"
    list_display = ["appointment", "total", "currency", "priced_on"]
    list_select_related = ["appointment__patient", "appointment__dermatologist__user"]
