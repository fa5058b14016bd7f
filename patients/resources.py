"""The patients CSV of a clinic moving in (docs/import.md): one row per patient, with the
guardian who receives a minor's reminders in the same row. Read by django-import-export,
in the admin (dry run, then confirm) and in `manage.py import_patients`; every row is
written by patients.services.patient_import.

A row's fate: new, updated, skipped (nothing changed since the last import of the same
external id) or an error with its reasons; a row in error writes nothing, the others are
imported.
"""

from datetime import date, datetime, time
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.utils import timezone
from import_export import fields, resources, widgets
from import_export.instance_loaders import CachedInstanceLoader

from .models import Guardian, Patient
from .services import patient_import

DATE_FORMAT = "%Y-%m-%d"
YES = {"yes", "y", "true", "1"}
NO = {"no", "n", "false", "0", ""}

# Columns read into the patient as they are; blank ones take the model's default.
PATIENT_COLUMNS = [
    "external_id", "first_name", "last_name", "date_of_birth", "sex",
    "email", "phone", "preferred_channel", "language",
    "address_line_1", "address_line_2", "city", "region", "postal_code", "country",
    "payer", "insurer_name", "insurance_member_id",
]  # fmt: skip
DEFAULTS = {
    "sex": Patient.Sex.UNKNOWN,
    "preferred_channel": "email",
    "language": "en",
    "payer": Patient.Payer.SELF_PAY,
}
GUARDIAN_COLUMNS = {
    "guardian_external_id": "external_id",
    "guardian_first_name": "first_name",
    "guardian_last_name": "last_name",
    "guardian_relationship": "relationship",
    "guardian_email": "email",
    "guardian_phone": "phone",
    "guardian_language": "language",
}
CONSENT_COLUMNS = ["reminder_consent", "reminder_consent_date"]


def _text(row: dict[str, Any], column: str) -> str:
    value = row.get(column)
    return "" if value is None else str(value).strip()


def _consent(row: dict[str, Any]) -> tuple[bool, date | None]:
    """Consent to reminders only when the row says yes and when it was given."""
    answer = _text(row, "reminder_consent").lower()
    if answer not in YES | NO:
        raise ValidationError({"reminder_consent": f"“{answer}” is not yes or no."})
    if answer in NO:
        return False, None
    given = _text(row, "reminder_consent_date")
    try:
        return True, datetime.strptime(given, DATE_FORMAT).date()
    except ValueError:
        raise ValidationError(
            {"reminder_consent_date": "Consent needs the date it was given (YYYY-MM-DD)."}
        ) from None


def _guardian_check(guardian: Guardian) -> None:
    """The guardian's own fields, checked before anything is written, each error under
    its column's name (guardian_email, not email: the patient has one too)."""
    errors: dict[str, list[str]] = {}
    if not guardian.email and not guardian.phone:
        errors["guardian_email"] = ["Give the guardian's email or phone number."]
    try:
        guardian.full_clean(exclude=["patient"], validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            errors.setdefault(f"guardian_{field}", []).extend(messages)
    if errors:
        raise ValidationError(errors)


class IsoDateWidget(widgets.DateWidget):
    """A YYYY-MM-DD date, and a refusal that says so."""

    def __init__(self) -> None:
        super().__init__(format=DATE_FORMAT)

    def clean(self, value, row=None, **kwargs):
        try:
            return super().clean(value, row, **kwargs)
        except ValueError:
            raise ValueError(f"“{value}” is not a date in the form YYYY-MM-DD.") from None


class PatientResource(resources.ModelResource):
    date_of_birth = fields.Field(
        attribute="date_of_birth", column_name="date_of_birth", widget=IsoDateWidget()
    )
    reminder_consent = fields.Field(column_name="reminder_consent")
    reminder_consent_date = fields.Field(column_name="reminder_consent_date")

    class Meta:
        model = Patient
        fields = [*PATIENT_COLUMNS, *CONSENT_COLUMNS]
        import_id_fields = ["external_id"]
        # One query loads every patient the file names, not one per row.
        instance_loader_class = CachedInstanceLoader
        skip_unchanged = True
        report_skipped = True
        skip_html_diff = True
        # patient_import validates (full_clean and the desk's rules) inside the row's
        # transaction: validating here first would only repeat the queries.
        clean_model_instances = False
        use_transactions = True

    def __init__(self, *, by: User | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.by = by
        # The guardian of the row being imported (rows are imported one at a time), and
        # whether the row changes them.
        self.row_guardian: Guardian | None = None
        self.row_guardian_changed = False

    def before_import_row(self, row, **kwargs):
        for column, default in DEFAULTS.items():
            if column in row and not _text(row, column):
                row[column] = default
        for column in PATIENT_COLUMNS:
            if column in row and row[column] is None:
                row[column] = ""

    def import_instance(self, instance, row, **kwargs):
        errors: dict[str, Any] = {}
        self.row_guardian, self.row_guardian_changed = None, False
        try:
            super().import_instance(instance, row, **kwargs)
        except ValidationError as error:
            errors = error.update_error_dict(errors)
        try:
            self._import_consent(instance, row)
            self.row_guardian = self._guardian(instance, row)
        except ValidationError as error:
            errors = error.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)

    def _import_consent(self, patient: Patient, row: dict[str, Any]) -> None:
        if "reminder_consent" not in row:
            return
        consent, given_on = _consent(row)
        if consent == patient.reminder_consent:
            return
        patient.reminder_consent = consent
        patient.reminder_consent_changed_by = self.by
        patient.reminder_consent_changed_at = (
            timezone.make_aware(datetime.combine(given_on, time(12)))
            if given_on
            else timezone.now()
        )

    def _guardian(self, patient: Patient, row: dict[str, Any]) -> Guardian | None:
        """The row's guardian, changed as the row says, or None when it names none. A
        guardian of the same external id belonging to another patient is an error."""
        values = {field: _text(row, column) for column, field in GUARDIAN_COLUMNS.items()}
        if not any(values.values()):
            return None
        external_id = values.pop("external_id") or None
        guardian = None
        if external_id:
            guardian = Guardian.objects.filter(external_id=external_id).first()
            if guardian is not None and guardian.patient_id != patient.pk:
                raise ValidationError(
                    {"guardian_external_id": f"Guardian {external_id} is another patient's."}
                )
        elif patient.pk is not None:
            guardian = patient.guardians.filter(receives_reminders=True).first()
        guardian = guardian or Guardian(external_id=external_id)
        values["relationship"] = values["relationship"] or Guardian.Relationship.PARENT
        changed = guardian.pk is None
        for field, value in values.items():
            changed = changed or str(getattr(guardian, field)) != value
            setattr(guardian, field, value)
        self.row_guardian_changed = changed
        _guardian_check(guardian)
        return guardian

    def skip_row(self, instance, original, row, import_validation_errors=None):
        if self.row_guardian_changed:
            return False
        if original is not None and instance.reminder_consent != original.reminder_consent:
            return False
        return super().skip_row(instance, original, row, import_validation_errors)

    def save_instance(self, instance, is_create, row, **kwargs):
        patient_import(patient=instance, guardian=self.row_guardian, by=self.by)
