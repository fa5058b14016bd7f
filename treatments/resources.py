"""The visits CSV of a clinic moving in (docs/import.md): one row per future visit of a
patient imported before (by the patient's external id). Read by django-import-export, in
the admin and in `manage.py import_appointments`.

Every visit is booked through the booking service, as at the desk: the dermatologist's
working time, the treatment room, and the database's refusal of an overlap for the same
dermatologist or room. A visit that would overlap another is a row in error with the
reason, never dropped and never inserted around the constraint. A visit imported before
(same external id) at the same time with the same people is skipped; one that differs is
an error: moving it is the desk's work.
"""

from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.utils import timezone
from django.utils.translation import gettext as _
from import_export import fields, resources
from import_export.instance_loaders import CachedInstanceLoader

from clinic.models import Room, StaffMember
from patients.models import Patient

from .models import Appointment, ProcedureType
from .services import appointment_book

LOCAL_TIME_FORMAT = "%Y-%m-%d %H:%M"
COLUMNS = [
    "external_id", "patient_external_id", "dermatologist", "procedure_type", "starts_at",
    "room", "reason",
]  # fmt: skip


def _text(row: dict[str, Any], column: str) -> str:
    value = row.get(column)
    return "" if value is None else str(value).strip()


def _local_time(text: str) -> datetime:
    """A wall-clock time in the clinic's zone; one the clocks skip or repeat is refused."""
    try:
        naive = datetime.strptime(text, LOCAL_TIME_FORMAT)
    except ValueError:
        raise ValidationError(
            {"starts_at": f"“{text}” is not a time in the form YYYY-MM-DD HH:MM."}
        ) from None
    zone = timezone.get_current_timezone()
    first, second = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        raise ValidationError(
            {"starts_at": f"{text} does not exist, or happens twice, on the clinic's clock."}
        )
    return first


class AppointmentResource(resources.ModelResource):
    patient_external_id = fields.Field(column_name="patient_external_id")
    dermatologist = fields.Field(column_name="dermatologist")
    procedure_type = fields.Field(column_name="procedure_type")
    starts_at = fields.Field(column_name="starts_at")
    room = fields.Field(column_name="room")

    class Meta:
        model = Appointment
        fields = COLUMNS
        import_id_fields = ["external_id"]
        instance_loader_class = CachedInstanceLoader
        report_skipped = True
        skip_diff = True
        clean_model_instances = False  # the booking service validates
        use_transactions = True

    def __init__(self, *, by: User | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.by = by

    def before_import(self, dataset, **kwargs):
        """What the rows refer to, loaded once: dermatologists by user name, procedure
        types by slug, rooms by name, the file's patients by external id."""
        self.dermatologists = {
            staff.user.username: staff
            for staff in StaffMember.objects.dermatologists().select_related("user")
        }
        self.procedure_types = {kind.slug: kind for kind in ProcedureType.objects.all()}
        self.rooms = {room.name: room for room in Room.objects.all()}
        wanted = {str(value).strip() for value in dataset["patient_external_id"] if value}
        self.patients = {
            patient.external_id: patient
            for patient in Patient.objects.filter(external_id__in=wanted)
        }

    def import_instance(self, instance, row, **kwargs):
        errors: dict[str, str] = {}
        lookups: list[tuple[str, str, dict[Any, Any], str]] = [
            ("patient", "patient_external_id", self.patients, "No imported patient has"),
            ("dermatologist", "dermatologist", self.dermatologists, "No dermatologist has"),
            ("procedure_type", "procedure_type", self.procedure_types, "No procedure type has"),
        ]
        for field, column, known, missing in lookups:
            value = _text(row, column)
            if value in known:
                setattr(instance, field, known[value])
            else:
                errors[column] = f"{missing} the id “{value}”."
        room = _text(row, "room")
        if room and room not in self.rooms:
            errors["room"] = f"No room is called “{room}”."
        instance.room = self.rooms.get(room)
        try:
            instance.starts_at = _local_time(_text(row, "starts_at"))
        except ValidationError as error:
            errors |= {field: " ".join(messages) for field, messages in error.message_dict.items()}
        instance.reason = _text(row, "reason")
        instance.external_id = _text(row, "external_id")
        if not instance.external_id:
            errors["external_id"] = "Each row needs the visit's external id."
        if errors:
            raise ValidationError(errors)

    def skip_row(self, instance, original, row, import_validation_errors=None):
        """A visit imported before is skipped if the file still says the same of it."""
        if instance.pk is None or import_validation_errors:
            return False
        current = Appointment.objects.get(pk=instance.pk)
        same = (
            current.patient_id == instance.patient.pk
            and current.dermatologist_id == instance.dermatologist.pk
            and current.starts_at == instance.starts_at
        )
        if not same:
            raise ValidationError(
                _(
                    "This visit was imported before with another patient, dermatologist or "
                    "time: change it at the desk."
                )
            )
        return True

    def save_instance(self, instance, is_create, row, **kwargs):
        try:
            booked = appointment_book(
                patient=instance.patient,
                dermatologist=instance.dermatologist,
                procedure_type=instance.procedure_type,
                starts_at=instance.starts_at,
                room=instance.room,
                reason=instance.reason,
                booked_by=self.by,
                external_id=instance.external_id,
            )
        except IntegrityError as error:
            raise ValidationError(_("Another import booked this visit meanwhile.")) from error
        instance.pk, instance.ends_at = booked.pk, booked.ends_at
