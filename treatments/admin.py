from django.contrib import admin

from .models import Appointment, ProcedureType


@admin.register(ProcedureType)
class ProcedureTypeAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "duration_minutes",
        "needs_treatment_room",
        "anesthesia",
        "code",
        "code_15_or_more",
        "follow_up_weeks",
        "is_active",
    ]
    list_filter = ["is_active", "is_procedure", "needs_treatment_room", "anesthesia"]
    search_fields = ["name", "code"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Appointment)
class AppointmentAdmin(admin.ModelAdmin):
    list_display = ["starts_at", "patient", "dermatologist", "room", "procedure_type", "status"]
    list_filter = ["status", "dermatologist", "room", "procedure_type"]
    search_fields = ["patient__last_name", "patient__first_name", "patient__phone"]
    date_hierarchy = "starts_at"
    list_select_related = ["patient", "dermatologist__user", "room", "procedure_type"]
    autocomplete_fields = ["patient"]
    readonly_fields = ["created_by", "created_at", "updated_at"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
