import csv
from collections.abc import Callable
from urllib.parse import urlencode

from axes.models import AccessLog as LoginRecord
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from patients.admin import LesionAdmin, PatientAdmin, PatientAlertAdmin
from patients.models import Channel, Lesion, Patient, PatientAlert

from .audit import access_log_record_export, access_log_record_patients
from .errors import ServiceError
from .forms import StaffInviteForm
from .imports import ClinicImportMixin, PatientImportResource
from .models import (
    AccessLog,
    CalendarFeed,
    InboundSms,
    Reminder,
    ReminderTemplate,
    Room,
    StaffMember,
    TimeOff,
    WorkingHours,
)
from .outbox import ReminderStateError, reminder_cancel, reminder_retry_now
from .schedule_version import schedule_changed_everywhere
from .selectors import reminder_templates_by_language
from .services import (
    calendar_feed_create,
    calendar_feed_revoke,
    staff_invite_resend,
    staff_member_invite,
    staff_member_save,
    staff_two_factor_reset,
)

# --- Exporting a selection to CSV, always written to the access log ------------------

# A cell starting with one of these is a formula to a spreadsheet (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    if value is None:
        return ""
    if hasattr(value, "tzinfo") and value.tzinfo is not None:
        value = timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def export_csv_action(columns: dict[str, Callable], *, patient_id: Callable, name: str) -> Callable:
    """An admin action that downloads the selected rows as CSV (`columns`: header to a
    function of the row) and writes an access-log row for every patient in it."""

    @admin.action(description=gettext_lazy("Export the selection to CSV"), permissions=["view"])
    def export_csv(modeladmin, request, queryset):
        rows = list(queryset)
        access_log_record_export(
            request=request,
            patient_ids=[patient_id(row) for row in rows],
            detail=f"{len(rows)} {modeladmin.model._meta.verbose_name_plural} to CSV",
        )
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
        response["Cache-Control"] = "private, no-store"
        writer = csv.writer(response)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(value(row)) for value in columns.values()])
        return response

    return export_csv


PATIENT_COLUMNS = {
    "id": lambda patient: patient.pk,
    "last name": lambda patient: patient.last_name,
    "first name": lambda patient: patient.first_name,
    "date of birth": lambda patient: patient.date_of_birth,
    "sex": lambda patient: patient.get_sex_display(),
    "phone": lambda patient: patient.phone,
    "email": lambda patient: patient.email,
    "language": lambda patient: patient.language,
    "preferred channel": lambda patient: patient.get_preferred_channel_display(),
    "reminder consent": lambda patient: patient.reminder_consent,
}


# patients/admin.py cannot import this app (imports flow patients <- clinic), so the
# export, which writes the access log, is added here to the patients' admin.
admin.site.unregister(Patient)


class ReadOnlyAdminMixin:
    """A record nobody adds, changes or deletes through the admin: it is written only by
    the app's services, so that every row stays validated and attributable."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ScheduleShownAdminMixin:
    """For what the day and week schedules show (hours, time off, rooms, staff, names,
    procedures): a save or a delete here bumps every day's schedule version in its
    transaction, so the cached schedule pages show the change at once
    (clinic/schedule_version.py)."""

    def save_related(self, request, form, formsets, change):
        # After save_model, and the inlines (working hours, time off) are saved here.
        super().save_related(request, form, formsets, change)  # type: ignore[misc]
        schedule_changed_everywhere()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)  # type: ignore[misc]
        schedule_changed_everywhere()

    def delete_queryset(self, request, queryset):
        # The "delete selected" action runs outside the admin's transaction.
        with transaction.atomic():
            super().delete_queryset(request, queryset)  # type: ignore[misc]
            schedule_changed_everywhere()


class AccessLoggedAdminMixin:
    """For the admin of a model that holds patients' health data: every page that shows
    its rows writes an access-log row for each patient shown — the list (the patients on
    the page, or those an action's confirmation page lists), and an object's change,
    history, old-version and delete pages. `patient_lookup` leads from a row to its patient.

    Refusals, redirects and pages for an object that does not exist leave no row.
    """

    patient_lookup = "patient"

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)  # type: ignore[misc]
        context = getattr(response, "context_data", None) or {}
        # An action's confirmation page (delete the selected rows) lists its queryset.
        rows = context["cl"].result_list if "cl" in context else context.get("queryset")
        if response.status_code == 200 and rows is not None:
            self._log_patients(request, [row.pk for row in rows], page="list")
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)  # type: ignore[misc]
        return self._object_page(request, response, object_id, page="change")

    def history_view(self, request, object_id, extra_context=None):
        response = super().history_view(request, object_id, extra_context)  # type: ignore[misc]
        return self._object_page(request, response, object_id, page="history")

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        """An old version of the object (django-simple-history's history page links it)."""
        response = super().history_form_view(request, object_id, version_id, extra_context)  # type: ignore[misc]
        return self._object_page(request, response, object_id, page="old version")

    def delete_view(self, request, object_id, extra_context=None):
        response = super().delete_view(request, object_id, extra_context)  # type: ignore[misc]
        return self._object_page(request, response, object_id, page="delete")

    def _object_page(self, request, response, object_id, *, page: str):
        if response.status_code == 200:
            self._log_patients(request, [unquote(object_id)], page=page)
        return response

    def _log_patients(self, request, pks: list, *, page: str) -> None:
        model = self.model  # type: ignore[attr-defined]
        rows = model._default_manager.filter(pk__in=pks)
        access_log_record_patients(
            request=request,
            action=AccessLog.Action.RECORD_VIEW,
            patient_ids=list(rows.values_list(self.patient_lookup, flat=True)),
            detail=f"admin: {model._meta.verbose_name_plural} {page}",
        )


@admin.register(Patient)
class AuditedPatientAdmin(ScheduleShownAdminMixin, ClinicImportMixin, PatientAdmin):
    # The CSV import of a clinic moving in (docs/import.md), for managers.
    resource_classes = [PatientImportResource]
    actions = [export_csv_action(PATIENT_COLUMNS, patient_id=lambda p: p.pk, name="patients")]


# Lesions and alerts are health data: their admin pages write the access log.
admin.site.unregister(Lesion)
admin.site.unregister(PatientAlert)


@admin.register(Lesion)
class AuditedLesionAdmin(AccessLoggedAdminMixin, LesionAdmin):
    pass


@admin.register(PatientAlert)
class AuditedPatientAlertAdmin(AccessLoggedAdminMixin, PatientAlertAdmin):
    pass


# django-axes's record of logins and logouts is also called "Access logs": beside the
# access log of health data above it read as the same thing twice. Lockouts stay (access
# attempts and failures), a manager unlocks a user there.
if admin.site.is_registered(LoginRecord):
    admin.site.unregister(LoginRecord)


@admin.register(AccessLog)
class AccessLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Who looked at which patient's health data. Read-only for everyone, superusers too:
    a log that its readers could edit would prove nothing."""

    list_display = [
        "at",
        "user",
        "online_viewer",
        "client",
        "action",
        "patient",
        "ip_address",
        "path",
    ]
    list_filter = ["action", ("user", admin.RelatedOnlyFieldListFilter), "at"]
    search_fields = [
        "patient__last_name",
        "patient__first_name",
        "user__username",
        "online_viewer",
        "path",
    ]
    search_help_text = (
        "Search by the patient's name, a user name, a portal contact or an address in the app"
    )
    date_hierarchy = "at"
    list_select_related = ["user", "patient", "client"]
    ordering = ["-at", "-id"]
    # A tuple: one sequence serves as fields and readonly_fields, whose types differ in the
    # stubs; lists are invariant, so only a tuple fits both.
    fields = (
        "at",
        "user",
        "online_viewer",
        "client",
        "action",
        "patient",
        "path",
        "ip_address",
        "detail",
    )
    readonly_fields = fields


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    extra = 0


class TimeOffInline(admin.TabularInline):
    model = TimeOff
    extra = 0


@admin.register(StaffMember)
class StaffMemberAdmin(ScheduleShownAdminMixin, admin.ModelAdmin):
    list_display = ["__str__", "role", "user", "is_active"]
    list_filter = ["role", "is_active"]
    search_fields = ["user__first_name", "user__last_name", "user__username", "user__email"]
    list_select_related = ["user"]
    inlines = [WorkingHoursInline, TimeOffInline]
    actions = ["send_invitation_again", "reset_two_factor", "new_calendar_feed"]
    # A staff member's user is made by their invitation and never swapped for another.
    readonly_fields = ["user"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            # Adding: who they are and their role; the invitation does the rest.
            kwargs["form"] = StaffInviteForm
            kwargs["fields"] = [
                "username", "first_name", "last_name", "email", "role", "title", "language",
            ]  # fmt: skip
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["username", "first_name", "last_name", "email", "role", "title", "language"]
        return ["user", "role", "title", "language", "npi", "is_active"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["user"]

    def has_change_permission(self, request, obj=None):
        # A manager must not lock a superuser out by deactivating their staff member.
        if obj is not None and obj.user.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            # The role decides the user's group; the service keeps the two in step.
            staff_member_save(staff_member=obj)
            return
        staff_member_invite(
            staff_member=obj,
            username=form.cleaned_data["username"],
            first_name=form.cleaned_data["first_name"],
            last_name=form.cleaned_data["last_name"],
            email=form.cleaned_data["email"],
            by=request.user,
        )
        self.message_user(
            request,
            gettext("An invitation went to %(email)s; it works once, for 72 hours.")
            % {"email": obj.user.email},
        )

    @admin.action(description=gettext_lazy("Send the invitation again"), permissions=["change"])
    def send_invitation_again(self, request, queryset):
        self._apply(
            request, queryset, staff_invite_resend, gettext("%(count)d invitation(s) sent.")
        )

    @admin.action(
        description=gettext_lazy(
            "Reset two-factor login (removes password and phone, emails a link)"
        ),
        permissions=["change"],
    )
    def reset_two_factor(self, request, queryset):
        self._apply(
            request,
            queryset,
            staff_two_factor_reset,
            gettext("%(count)d two-factor reset(s) sent."),
        )

    @admin.action(
        description=gettext_lazy("Make a new calendar feed URL (the old one stops working)"),
        permissions=["change"],
    )
    def new_calendar_feed(self, request, queryset):
        """The new URL is shown here once, for the manager to hand to the dermatologist:
        only its hash is kept."""
        for staff_member in queryset.select_related("user"):
            try:
                token = calendar_feed_create(staff_member=staff_member, by=request.user)
            except ServiceError as error:
                self.message_user(request, f"{staff_member}: {error}", messages.WARNING)
                continue
            url = settings.CLINIC_BASE_URL.rstrip("/") + reverse(
                "treatments:calendar_feed", args=[token]
            )
            self.message_user(request, f"{staff_member}: {url}", messages.SUCCESS)

    def _apply(self, request, queryset, service, done_text):
        done, refused = 0, []
        for staff_member in queryset.select_related("user"):
            try:
                service(staff_member=staff_member, by=request.user)
                done += 1
            except ServiceError as error:
                refused.append(str(error))
        self.message_user(request, done_text % {"count": done}, messages.SUCCESS)
        if refused:
            self.message_user(request, " ".join(refused), messages.WARNING)


@admin.register(CalendarFeed)
class CalendarFeedAdmin(admin.ModelAdmin):
    """Which dermatologists have a calendar feed URL. Deleting one revokes it (through the
    service, which notes who did it); a new one is made from the staff member's page."""

    list_display = ["staff_member", "created_at", "created_by"]
    list_select_related = ["staff_member__user", "created_by"]
    fields = ("staff_member", "created_at", "created_by")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        calendar_feed_revoke(staff_member=obj.staff_member, by=request.user)

    def delete_queryset(self, request, queryset):
        for feed in queryset.select_related("staff_member"):
            calendar_feed_revoke(staff_member=feed.staff_member, by=request.user)


# Users: managers see them; only a superuser changes one directly. Staff are added,
# changed and deactivated through their staff member above, and nobody sets another
# person's password: a forgotten one is reset by email, a lost phone by a two-factor reset.
admin.site.unregister(User)


@admin.register(User)
class ClinicUserAdmin(ScheduleShownAdminMixin, UserAdmin):
    LIMITED_FIELDSETS = (
        (None, {"fields": ("username",)}),
        (gettext_lazy("Personal info"), {"fields": ("first_name", "last_name", "email")}),
        (gettext_lazy("Important dates"), {"fields": ("last_login", "date_joined")}),
    )

    def get_fieldsets(self, request, obj=None):
        if request.user.is_superuser:
            return super().get_fieldsets(request, obj)
        return self.LIMITED_FIELDSETS

    def get_readonly_fields(self, request, obj=None):
        if request.user.is_superuser:
            return super().get_readonly_fields(request, obj)
        return ["last_login", "date_joined"]

    def has_add_permission(self, request):
        return request.user.is_superuser

    def user_change_password(self, request, id, form_url=""):
        if not request.user.is_superuser:
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)


@admin.register(Room)
class RoomAdmin(ScheduleShownAdminMixin, admin.ModelAdmin):
    list_display = ["name", "kind", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name"]


@admin.register(WorkingHours)
class WorkingHoursAdmin(ScheduleShownAdminMixin, admin.ModelAdmin):
    list_display = ["staff_member", "weekday", "starts_at", "ends_at"]
    list_filter = ["weekday", "staff_member"]
    list_select_related = ["staff_member__user"]


@admin.register(TimeOff)
class TimeOffAdmin(ScheduleShownAdminMixin, admin.ModelAdmin):
    list_display = ["staff_member", "starts_at", "ends_at", "reason"]
    list_filter = ["staff_member"]
    search_fields = ["reason", "staff_member__user__last_name"]
    date_hierarchy = "starts_at"
    list_select_related = ["staff_member__user"]


@admin.register(Reminder)
class ReminderAdmin(admin.ModelAdmin):
    """The outbox as the staff see it: what went to whom, what is waiting, what failed and why.

    Rows are written by the reminder rules and the sweep, never by hand; a manager may
    retry or cancel one.
    """

    list_display = [
        "send_at",
        "kind",
        "channel",
        "recipient_name",
        "patient",
        "status",
        "attempts",
        "sent_at",
        "problem",
    ]
    list_filter = ["status", "kind", "channel"]
    search_fields = [
        "patient__last_name",
        "patient__first_name",
        "recipient_name",
        "email",
        "phone",
        "source_key",
        "last_error",  # "refused", "timed out": every reminder a failing channel left behind
    ]
    date_hierarchy = "send_at"
    list_select_related = ["patient"]
    ordering = ["-send_at", "-id"]
    actions = ["retry_now", "cancel"]
    fields = (
        "patient",
        "recipient_name",
        "kind",
        "channel",
        "email",
        "phone",
        "language",
        "status",
        "send_at",
        "next_attempt_at",
        "attempts",
        "claimed_at",
        "sent_at",
        "provider_message_id",
        "last_error",
        "skip_reason",
        "source_key",
        "idempotency_key",
        "created_at",
    )
    readonly_fields = fields

    @admin.display(description=gettext_lazy("error or reason"))
    def problem(self, reminder):
        return reminder.last_error or reminder.skip_reason

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=gettext_lazy("Retry now"), permissions=["change"])
    def retry_now(self, request, queryset):
        self._apply(request, queryset, lambda reminder: reminder_retry_now(reminder=reminder))

    @admin.action(description=gettext_lazy("Cancel"), permissions=["change"])
    def cancel(self, request, queryset):
        self._apply(
            request, queryset, lambda reminder: reminder_cancel(reminder=reminder, by=request.user)
        )

    def _apply(self, request, queryset, change):
        done, refused = 0, []
        for reminder in queryset:
            try:
                change(reminder)
                done += 1
            except ReminderStateError as error:
                refused.append(f"#{reminder.pk}: {error}")
        self.message_user(
            request, gettext("%(count)d reminder(s) changed.") % {"count": done}, messages.SUCCESS
        )
        if refused:
            self.message_user(request, " ".join(refused), messages.WARNING)


@admin.register(ReminderTemplate)
class ReminderTemplateAdmin(admin.ModelAdmin):
    """The reminder texts (Django template syntax); SMS texts must stay free of clinical
    words: no diagnosis, procedure or lesion."""

    list_display = ["kind", "channel", "language", "subject", "updated_at"]
    list_filter = ["kind", "channel", "language"]
    search_fields = ["subject", "body_text"]
    change_list_template = "clinic/admin/remindertemplate_change_list.html"

    def get_urls(self):
        by_language = self.admin_site.admin_view(self.by_language_view)
        return [
            path("by-language/", by_language, name="clinic_remindertemplate_by_language"),
            *super().get_urls(),
        ]

    def by_language_view(self, request):
        """Every message's texts in the patient languages next to each other, each with a
        link to edit it, or to write it where a language has none."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        return TemplateResponse(
            request,
            "clinic/admin/remindertemplate_by_language.html",
            {
                **self.admin_site.each_context(request),
                "title": gettext("Reminder templates by language"),
                "opts": self.model._meta,
                "languages": [name for _, name in settings.PATIENT_LANGUAGES],
                "rows": [self._row_by_language(row) for row in reminder_templates_by_language()],
            },
        )

    def _row_by_language(self, row):
        """The row's label and, per language, (template or None, the page to edit or add it)."""
        add_url = reverse("admin:clinic_remindertemplate_add")
        cells = []
        for (language, _), template in zip(settings.PATIENT_LANGUAGES, row.templates, strict=True):
            if template is not None:
                url = reverse("admin:clinic_remindertemplate_change", args=[template.pk])
            else:
                query = {"kind": row.kind, "channel": row.channel, "language": language}
                url = f"{add_url}?{urlencode(query)}"
            cells.append((template, url))
        label = f"{Reminder.Kind(row.kind).label} · {Channel(row.channel).label}"
        return {"label": label, "cells": cells}


@admin.register(InboundSms)
class InboundSmsAdmin(AccessLoggedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Patients' texts, as received; the desk reads and handles them on /sms/inbox/."""

    list_display = ["received_at", "provider", "sender", "patient", "action", "handled_at"]
    list_filter = ["provider", "action"]
    list_select_related = ["patient"]
    date_hierarchy = "received_at"
