from django.contrib import admin, messages

from .models import (
    Heartbeat,
    Reminder,
    ReminderTemplate,
    Room,
    StaffMember,
    TimeOff,
    UsedPatientLink,
    WorkingHours,
)
from .outbox import ReminderStateError, reminder_cancel, reminder_retry_now
from .services import staff_member_save


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    extra = 0


class TimeOffInline(admin.TabularInline):
    model = TimeOff
    extra = 0


@admin.register(StaffMember)
class StaffMemberAdmin(admin.ModelAdmin):
    list_display = ["__str__", "role", "user", "is_active"]
    list_filter = ["role", "is_active"]
    search_fields = ["user__first_name", "user__last_name", "user__username", "user__email"]
    list_select_related = ["user"]
    autocomplete_fields = ["user"]
    inlines = [WorkingHoursInline, TimeOffInline]

    def save_model(self, request, obj, form, change):
        # The role decides the user's group; the service keeps the two in step.
        staff_member_save(staff_member=obj)


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name"]


@admin.register(WorkingHours)
class WorkingHoursAdmin(admin.ModelAdmin):
    list_display = ["staff_member", "weekday", "starts_at", "ends_at"]
    list_filter = ["weekday", "staff_member"]
    list_select_related = ["staff_member__user"]


@admin.register(TimeOff)
class TimeOffAdmin(admin.ModelAdmin):
    list_display = ["staff_member", "starts_at", "ends_at", "reason"]
    list_filter = ["staff_member"]
    search_fields = ["reason", "staff_member__user__last_name"]
    date_hierarchy = "starts_at"
    list_select_related = ["staff_member__user"]


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    """Read-only: written by beat, shown so a manager can see background work is alive."""

    list_display = ["name", "last_seen_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(UsedPatientLink)
class UsedPatientLinkAdmin(admin.ModelAdmin):
    """Read-only: which single-use patient links were used, and when."""

    list_display = ["used_at", "action", "subject_id"]
    list_filter = ["action"]
    date_hierarchy = "used_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


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
    ]
    date_hierarchy = "send_at"
    list_select_related = ["patient"]
    ordering = ["-send_at", "-id"]
    actions = ["retry_now", "cancel"]
    fields = [
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
    ]
    readonly_fields = fields

    @admin.display(description="error or reason")
    def problem(self, reminder):
        return reminder.last_error or reminder.skip_reason

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Retry now", permissions=["change"])
    def retry_now(self, request, queryset):
        self._apply(request, queryset, lambda reminder: reminder_retry_now(reminder=reminder))

    @admin.action(description="Cancel", permissions=["change"])
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
        self.message_user(request, f"{done} reminder(s) changed.", messages.SUCCESS)
        if refused:
            self.message_user(request, " ".join(refused), messages.WARNING)


@admin.register(ReminderTemplate)
class ReminderTemplateAdmin(admin.ModelAdmin):
    """The reminder texts (Django template syntax); SMS texts must stay free of clinical
    words: no diagnosis, procedure or lesion."""

    list_display = ["kind", "channel", "language", "subject", "updated_at"]
    list_filter = ["kind", "channel", "language"]
    search_fields = ["subject", "body_text"]
