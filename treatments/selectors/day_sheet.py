"""Reads for the printable day sheet: one dermatologist's or one room's visits of a day,
with each patient's active alerts."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from django.db.models import Prefetch, Q

from clinic.models import Room, StaffMember
from patients.models import PatientAlert

from ..models import Appointment
from .appointments import appointments_of_day
from .schedule import dermatologists_of_day


@dataclass
class DaySheet:
    day: date
    dermatologist: StaffMember | None
    room: Room | None
    appointments: list[Appointment]  # each with `patient.active_alerts`

    @property
    def title(self) -> str:
        return str(self.dermatologist or self.room)

    @property
    def patient_ids(self) -> list[int]:
        return [appointment.patient_id for appointment in self.appointments]


def day_sheet(
    *, day: date, dermatologist_id: int | None = None, room_id: int | None = None
) -> DaySheet:
    """The day's visits of one dermatologist or one room, in time order, cancelled ones
    too, each patient with their active alerts in `patient.active_alerts`.

    Three queries: the dermatologist or the room; the visits with their patients,
    procedure types, rooms and dermatologists; the patients' active alerts. Raises
    StaffMember.DoesNotExist or Room.DoesNotExist for an id that names neither.
    """
    appointments = appointments_of_day(day=day).prefetch_related(
        Prefetch(
            "patient__alerts",
            queryset=PatientAlert.objects.filter(is_active=True),
            to_attr="active_alerts",
        )
    )
    if dermatologist_id is not None:
        dermatologist = (
            StaffMember.objects.dermatologists().select_related("user").get(pk=dermatologist_id)
        )
        rows = list(appointments.filter(dermatologist=dermatologist))
        return DaySheet(day, dermatologist, None, rows)
    if room_id is None:
        raise Room.DoesNotExist("A day sheet names a dermatologist or a room.")
    room = Room.objects.get(pk=room_id)
    return DaySheet(day, None, room, list(appointments.filter(room=room)))


def day_sheet_choices(*, day: date) -> tuple[Sequence[StaffMember], list[Room]]:
    """Whose day sheets there are: the day's dermatologists (as the day view lists them)
    and the active rooms, with any inactive one still booked that day."""
    booked = appointments_of_day(day=day).values("room_id")
    rooms = Room.objects.filter(Q(is_active=True) | Q(pk__in=booked))
    return dermatologists_of_day(day=day), list(rooms)
