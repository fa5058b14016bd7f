from django.contrib import admin

from .models import Heartbeat, Room, StaffMember, TimeOff, UsedPatientLink, WorkingHours
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
