"""The patients CSV of a clinic moving in (docs/import.md): one row per patient, with the
guardian who receives a minor's reminders in the same row. Read by django-import-export,
in the admin (dry run, then confirm) and in `manage.py import_patients`, both through
PatientResource.import_data: every row is read and checked in Python first (the patients
and guardians the file names are loaded in one query each), then the new patients are
written in batches by patients.services.patient_import_new_batch, and the changed ones
row by row by patients.services.patient_import.

A row's fate: new, updated, skipped (nothing changed since the last import of the same
external id) or an error with its reasons; a row in error writes nothing, the others are
imported.
"""

import copy
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from import_export import fields, resources, widgets
from import_export.results import Error, Result, RowResult

from .models import Guardian, Patient
from .services import patient_import, patient_import_new_batch, patient_import_new_check

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
# New patients written per transaction (patient_import_new_batch).
BATCH_SIZE = 500


@dataclass
class _Row:
    """A row of the file, read and checked: what to write, and its result so far."""

    result: RowResult
    patient: Patient | None = None
    guardian: Guardian | None = None
    new: bool = False
    renamed: bool = False  # an existing patient's first or last name changes


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
            raise ValueError(
                _("“%(value)s” is not a date in the form YYYY-MM-DD.") % {"value": value}
            ) from None


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
        # A row that changes nothing is reported as skipped (skip_row).
        skip_unchanged = True
        report_skipped = True

    def __init__(self, *, by: User | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.by = by
        # The guardian of the row being read (rows are read one at a time), and whether
        # the row changes them.
        self.row_guardian: Guardian | None = None
        self.row_guardian_changed = False
        # Loaded by import_data for the whole file: the guardians it names by external id,
        # those who receive the reminders of the patients it names, and the guardian ids
        # read so far.
        self.guardians: dict[str, Guardian] = {}
        self.recipients: dict[int, Guardian] = {}
        self.file_guardians: set[str] = set()

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
            if external_id in self.file_guardians:
                raise ValidationError(
                    {"guardian_external_id": f"Guardian {external_id} is in another row too."}
                )
            self.file_guardians.add(external_id)
            guardian = copy.copy(self.guardians.get(external_id))
            if guardian is not None and guardian.patient_id != patient.pk:
                raise ValidationError(
                    {"guardian_external_id": f"Guardian {external_id} is another patient's."}
                )
        elif patient.pk is not None:
            guardian = copy.copy(self.recipients.get(patient.pk))
        guardian = guardian or Guardian(external_id=external_id)
        values["relationship"] = values["relationship"] or Guardian.Relationship.PARENT
        changed = guardian.pk is None
        for field, value in values.items():
            changed = changed or str(getattr(guardian, field)) != value
            setattr(guardian, field, value)
        self.row_guardian_changed = changed
        _guardian_check(guardian)
        return guardian

    def import_data(self, dataset, dry_run=False, raise_errors=False, **kwargs) -> Result:
        """Import the file: each row's fate in a Result, as import-export's own would give
        it (the admin's pages and the command read it). The rows in error write nothing;
        a fault that is not a row's writes nothing of the file. A dry run writes it all in
        a transaction rolled back at the end, so its fates are the confirmed import's."""
        result = self.get_result_class()()
        result.diff_headers = list(dataset.headers or [])
        result.total_rows = len(dataset)
        try:
            with transaction.atomic():
                rows = self._read(dataset)
                self._write(rows)
                if any(
                    row.renamed and row.patient is not None and row.result.validation_error is None
                    for row in rows
                ):
                    self.names_changed()
                if dry_run:
                    transaction.set_rollback(True)
        except Exception as error:
            if raise_errors:
                raise
            result.append_base_error(Error(error))
            return result
        for number, row in enumerate(rows, start=1):
            if row.result.validation_error is not None:
                row.result.import_type = RowResult.IMPORT_TYPE_INVALID
                result.append_invalid_row(number, {}, row.result.validation_error)
            result.append_row_result(row.result)
            result.increment_row_result_total(row.result)
        return result

    def names_changed(self) -> None:
        """Called in the import's transaction when it changed a known patient's name: for
        whoever shows names and must know (clinic.imports.PatientImportResource)."""

    def _read(self, dataset) -> list[_Row]:
        """Every row read and checked, with no query but one per kind of record the file
        names."""
        records = [dict(zip(dataset.headers, values, strict=False)) for values in dataset]
        external_ids = {_text(record, "external_id") for record in records} - {""}
        guardian_ids = {_text(record, "guardian_external_id") for record in records} - {""}
        patients = Patient.objects.in_bulk(external_ids, field_name="external_id")
        self.guardians = Guardian.objects.in_bulk(guardian_ids, field_name="external_id")
        self.recipients = {
            guardian.patient_id: guardian
            for guardian in Guardian.objects.filter(
                patient__in=[patient.pk for patient in patients.values()],
                receives_reminders=True,
            )
        }
        self.file_guardians = set()
        rows_of: dict[str, int] = {}
        rows = []
        for number, record in enumerate(records, start=1):
            row = _Row(result=self.get_row_result_class()())
            try:
                self._read_row(row, record, patients, rows_of, number)
            except ValidationError as error:
                row.result.validation_error = error
                row.patient = None
            rows.append(row)
        return rows

    def _read_row(
        self,
        row: _Row,
        record: dict[str, Any],
        patients: dict[str, Patient],
        rows_of: dict[str, int],
        number: int,
    ) -> None:
        self.before_import_row(record)
        external_id = _text(record, "external_id")
        if not external_id:
            raise ValidationError({"external_id": "Each row needs the patient's external id."})
        if external_id in rows_of:
            raise ValidationError(
                {"external_id": f"{external_id} is in row {rows_of[external_id]} too."}
            )
        rows_of[external_id] = number
        existing = patients.get(external_id)
        original = copy.deepcopy(existing)
        patient = existing or Patient()
        row.patient, row.new = patient, existing is None
        self.import_instance(patient, record)
        row.guardian = self.row_guardian
        if existing is not None and original is not None:  # original: existing before
            row.renamed = (patient.first_name, patient.last_name) != (
                original.first_name,
                original.last_name,
            )
            if self.skip_row(patient, original, record):
                row.result.import_type = RowResult.IMPORT_TYPE_SKIP
                row.patient = None
            else:
                row.result.import_type = RowResult.IMPORT_TYPE_UPDATE
            row.result.add_instance_info(patient)
            return
        row.result.import_type = RowResult.IMPORT_TYPE_NEW
        # The fields as patient_save checks them, but for the user who gave consent (the
        # importing manager, a query to check) and the uniqueness of the external id,
        # read above for the whole file.
        patient.full_clean(
            exclude=["reminder_consent_changed_by"],
            validate_unique=False,
            validate_constraints=False,
        )
        patient_import_new_check(patient=patient, guardian=row.guardian)
        row.result.add_instance_info(patient)
        patient._history_user = self.by
        if row.guardian is not None:
            row.guardian._history_user = self.by

    def _write(self, rows: list[_Row]) -> None:
        """The new patients in batches of BATCH_SIZE; a batch the database refuses (an
        external id another import wrote meanwhile) again row by row, each refusal the
        row's error. The changed patients row by row."""
        new = [row for row in rows if row.patient is not None and row.new]
        for start in range(0, len(new), BATCH_SIZE):
            batch = new[start : start + BATCH_SIZE]
            try:
                patient_import_new_batch(
                    rows=[(row.patient, row.guardian) for row in batch if row.patient], by=self.by
                )
            except IntegrityError:
                for row in batch:
                    self._write_row(row)
            else:
                for row in batch:
                    row.result.add_instance_info(row.patient)
        for row in rows:
            if row.patient is not None and not row.new:
                self._write_row(row)

    def _write_row(self, row: _Row) -> None:
        assert row.patient is not None
        try:
            patient_import(patient=row.patient, guardian=row.guardian, by=self.by)
        except ValidationError as error:
            row.result.validation_error = error
            return
        row.result.add_instance_info(row.patient)

    def skip_row(self, instance, original, row, import_validation_errors=None):
        if self.row_guardian_changed:
            return False
        if original is not None and instance.reminder_consent != original.reminder_consent:
            return False
        return super().skip_row(instance, original, row, import_validation_errors)
