"""Reads for the day and week schedules: who works when, and what is booked.

Each function runs a fixed number of queries, however many appointments or
dermatologists there are; the grouping into columns happens in Python.

A full day holds hundreds of appointments, so a schedule reads them as plain values
(no model instances) into `ScheduleCard`s whose times are converted to the clinic's
zone once; treatments/templatetags/schedule.py turns the cards into HTML.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, NamedTuple, TypeAlias, TypedDict, cast

from django.db.models import Exists, F, FilteredRelation, OuterRef, Q, QuerySet
from django.utils import formats, timezone
from django.utils.translation import gettext

from clinic.clock import day_bounds, week_of
from clinic.models import Room, StaffMember, WorkingHours

from ..models import Appointment, AppointmentQuerySet
from .epoch import EpochSeconds, moment_of

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class _Hours(TypedDict):
    hours: list[WorkingHours]  # the working hours a schedule read with the staff member


# A staff member with `hours`, as _with_hours() reads them.
StaffMemberWithHours: TypeAlias = "WithAnnotations[StaffMember, _Hours]"

STATUS_LABELS = dict(Appointment.Status.choices)


class ScheduleCard(NamedTuple):
    """What a schedule shows of one appointment; times in the clinic's zone."""

    pk: int
    dermatologist_id: int
    room_id: int | None
    status: str
    starts_at: datetime
    ends_at: datetime
    patient_name: str
    procedure_name: str
    room_name: str

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS.get(self.status, self.status))

    @property
    def holds_room(self) -> bool:
        return self.room_id is not None and self.status in Appointment.ACTIVE_STATUSES


def _cards(appointments: QuerySet[Appointment]) -> list[ScheduleCard]:
    """The appointments as cards, in start order: one query of plain values."""
    zone = timezone.get_current_timezone()
    rows = appointments.order_by("starts_at", "dermatologist_id").values_list(
        "pk", "dermatologist_id", "room_id", "status", EpochSeconds("starts_at"),
        EpochSeconds("ends_at"), "patient__first_name", "patient__last_name",
        "procedure_type__name", "room__name",
    )  # fmt: skip
    return [
        ScheduleCard(
            pk, dermatologist_id, room_id, status, moment_of(starts_at, zone),
            moment_of(ends_at, zone), f"{first_name} {last_name}", procedure_name, room_name or "",
        )
        for (pk, dermatologist_id, room_id, status, starts_at, ends_at, first_name, last_name,
             procedure_name, room_name) in rows
    ]  # fmt: skip


@dataclass
class ScheduleColumn:
    """One column of a schedule: a dermatologist's day, with their hours and appointments."""

    dermatologist: StaffMember
    day: date
    working_hours: list[WorkingHours]
    appointments: list[ScheduleCard] = field(default_factory=list)

    # The column's day as its headers and links write it, without a date filter each:
    # Python's own names of days and months are English, as the staff pages are.
    @property
    def iso(self) -> str:
        return self.day.isoformat()

    @property
    def label(self) -> str:
        """Like "Monday 30 Nov", in the active language."""
        return formats.date_format(self.day, "l j M")

    @property
    def long_label(self) -> str:
        """Like "Monday 30 November", in the active language."""
        return formats.date_format(self.day, "l j F")

    @property
    def hours_text(self) -> str:
        """Like "08:30–12:30, 13:30–17:00", or "not working"."""
        blocks = [f"{block.starts_at:%H:%M}–{block.ends_at:%H:%M}" for block in self.working_hours]
        return ", ".join(blocks) or gettext("not working")


@dataclass
class RoomOccupancy:
    """A room and the active appointments that hold it."""

    room: Room
    appointments: list[ScheduleCard] = field(default_factory=list)


@dataclass
class DaySchedule:
    columns: list[ScheduleColumn]
    rooms: list[RoomOccupancy]


@dataclass
class WeekSchedule:
    dermatologist: StaffMember
    days: list[ScheduleColumn]


def _appointments_between(start: datetime, end: datetime) -> AppointmentQuerySet:
    return Appointment.objects.starting_between(start, end)


def _with_hours(
    staff: QuerySet[StaffMember], *, weekday: int | None = None
) -> list[StaffMemberWithHours]:
    """Staff members with their working hours (of one weekday, or all) in `hours`, in one
    query: a LEFT JOIN gives one row per block, and a row with no block for someone
    without hours, so that nobody drops out of the list."""
    condition = Q(working_hours__weekday=weekday) if weekday is not None else Q()
    rows = (
        staff.select_related("user")
        .annotate(
            block=FilteredRelation("working_hours", condition=condition),
            block_id=F("block__id"),
            block_weekday=F("block__weekday"),
            block_starts_at=F("block__starts_at"),
            block_ends_at=F("block__ends_at"),
        )
        .order_by("user__last_name", "user__first_name", "pk", "block_weekday", "block_starts_at")
    )
    members: dict[int, StaffMemberWithHours] = {}
    for row in rows:
        # A member's first row stands for them, and gets `hours` (a cast: no conversion).
        member = members.setdefault(row.pk, cast(StaffMemberWithHours, row))
        if not hasattr(member, "hours"):
            member.hours = []
        if row.block_id is not None:
            member.hours.append(
                WorkingHours(
                    id=row.block_id,
                    staff_member=member,
                    weekday=row.block_weekday,
                    starts_at=row.block_starts_at,
                    ends_at=row.block_ends_at,
                )
            )
    return list(members.values())


def dermatologists_of_day(*, day: date) -> list[StaffMemberWithHours]:
    """The active dermatologists, and any inactive one still booked that day, with the
    working hours of the day's weekday in `hours`."""
    start, end = day_bounds(day)
    booked_that_day = _appointments_between(start, end).filter(dermatologist=OuterRef("pk"))
    dermatologists = StaffMember.objects.dermatologists().filter(
        Q(is_active=True) | Exists(booked_that_day)
    )
    return _with_hours(dermatologists, weekday=day.weekday())


def _columns_of_day(day: date, appointments: list[ScheduleCard]) -> list[ScheduleColumn]:
    by_dermatologist: defaultdict[int, list[ScheduleCard]] = defaultdict(list)
    for appointment in appointments:
        by_dermatologist[appointment.dermatologist_id].append(appointment)
    return [
        ScheduleColumn(
            dermatologist=dermatologist,
            day=day,
            working_hours=dermatologist.hours,
            appointments=by_dermatologist[dermatologist.pk],
        )
        for dermatologist in dermatologists_of_day(day=day)
    ]


def _rooms_of_day(day: date, appointments: list[ScheduleCard]) -> list[RoomOccupancy]:
    start, end = day_bounds(day)
    in_use = _appointments_between(start, end).active().filter(room=OuterRef("pk"))
    rooms = Room.objects.filter(Q(is_active=True) | Exists(in_use))
    occupancy = {room.pk: RoomOccupancy(room=room) for room in rooms}
    for appointment in appointments:
        if appointment.holds_room and appointment.room_id in occupancy:
            occupancy[appointment.room_id].appointments.append(appointment)
    return list(occupancy.values())


def schedule_of_day(*, day: date) -> DaySchedule:
    """The day's columns, one per dermatologist, and the rooms' occupied times.

    Three queries: dermatologists with their working hours, appointments, rooms.
    """
    appointments = _cards(_appointments_between(*day_bounds(day)))
    return DaySchedule(
        columns=_columns_of_day(day, appointments),
        rooms=_rooms_of_day(day, appointments),
    )


def _dermatologist_with_hours(dermatologist_id: int) -> StaffMemberWithHours:
    dermatologist = _with_hours(StaffMember.objects.dermatologists().filter(pk=dermatologist_id))
    if not dermatologist:
        raise StaffMember.DoesNotExist(f"No dermatologist with id {dermatologist_id}.")
    return dermatologist[0]


def schedule_of_week(*, dermatologist_id: int, day: date) -> WeekSchedule:
    """Seven columns, Monday to Sunday, of one dermatologist's week that contains the day.

    Two queries: the dermatologist (active or not) with their working hours, the
    appointments. Raises StaffMember.DoesNotExist for an id that is not a dermatologist's.
    """
    dermatologist = _dermatologist_with_hours(dermatologist_id)
    days = week_of(day)
    start, end = day_bounds(days[0])[0], day_bounds(days[-1])[1]
    appointments = _cards(_appointments_between(start, end).filter(dermatologist=dermatologist))
    columns = {
        weekday: ScheduleColumn(
            dermatologist=dermatologist,
            day=weekday,
            working_hours=[h for h in dermatologist.hours if h.weekday == weekday.weekday()],
        )
        for weekday in days
    }
    for appointment in appointments:
        columns[appointment.starts_at.date()].appointments.append(appointment)
    return WeekSchedule(dermatologist=dermatologist, days=list(columns.values()))


def dermatologists_to_choose(*, current: StaffMember) -> QuerySet[StaffMember]:
    """The dermatologists one can switch to: the active ones, and the one shown now."""
    return (
        StaffMember.objects.dermatologists()
        .filter(Q(is_active=True) | Q(pk=current.pk))
        .select_related("user")
    )
