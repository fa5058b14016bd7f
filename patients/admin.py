from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import Guardian, Lesion, Patient, PatientAlert
from .services import patient_save


class GuardianInline(admin.StackedInline):
    model = Guardian
    extra = 0


@admin.register(Patient)
class PatientAdmin(SimpleHistoryAdmin):
    list_display = [
        "mrn",
        "last_name",
        "first_name",
        "date_of_birth",
        "phone",
        "email",
        "preferred_channel",
        "reminder_consent",
    ]
    list_filter = ["preferred_channel", "reminder_consent", "sex", "language"]
    search_fields = ["mrn", "last_name", "first_name", "email", "phone"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "mrn",
        "reminder_consent_changed_at",
        "reminder_consent_changed_by",
        "created_at",
        "updated_at",
    ]
    inlines = [GuardianInline]

    def save_model(self, request, obj, form, change):
        patient_save(patient=obj, changed_fields=form.changed_data, by=request.user)


@admin.register(Guardian)
class GuardianAdmin(SimpleHistoryAdmin):
    list_display = ["__str__", "patient", "email", "phone", "receives_reminders"]
    list_filter = ["relationship", "receives_reminders"]
    search_fields = ["last_name", "first_name", "email", "phone", "patient__last_name"]
    list_select_related = ["patient"]
    autocomplete_fields = ["patient"]


@admin.register(Lesion)
class LesionAdmin(SimpleHistoryAdmin):
    list_display = ["patient", "site", "milia_type", "count", "size_mm", "status", "first_noted"]
    list_filter = ["status", "milia_type", "site", "colour"]
    search_fields = ["patient__last_name", "patient__first_name"]
    date_hierarchy = "first_noted"
    list_select_related = ["patient"]
    autocomplete_fields = ["patient"]


@admin.register(PatientAlert)
class PatientAlertAdmin(SimpleHistoryAdmin):
    list_display = ["patient", "kind", "description", "is_active", "created_at"]
    list_filter = ["kind", "is_active"]
    search_fields = ["description", "patient__last_name", "patient__first_name"]
    list_select_related = ["patient"]
    autocomplete_fields = ["patient"]
