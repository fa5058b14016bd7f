"""Free slots: when a dermatologist, and a treatment room if the procedure needs one, is free.

Reads only. A search loads everything it needs for its whole date range in one statement
(working hours, time off, treatment rooms and appointments, joined by UNION ALL: one
round trip) and then works in Python on sorted interval lists, so its cost in queries
does not grow with the number of days or dermatologists.

Working hours are local wall-clock times; each block is turned into two instants in the
clinic's zone and then normalised to UTC, and candidates step through real time from the
block's start. On a daylight-saving day a block therefore never yields a start in the
skipped hour or the same start twice in the repeated hour. The search itself compares
instants as whole seconds since the epoch (treatments/epoch.py), read as integers; slots
come back as UTC datetimes.
"""

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any

from django.conf import settings
from django.db import connection, models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.clock import day_bounds
from clinic.models import Room, StaffMember, TimeOff, WorkingHours

from ..models import Appointment, ProcedureType
from .appointments import LONGEST_VISIT
from .epoch import epoch_sql, moment_of, seconds_of

NEAREST_DAYS_BEFORE = 2
NEAREST_DAYS_AFTER = 14
FIRST_SEARCH_CHUNK_DAYS = 1
FIRST_AVAILABLE_DAYS = 60
FIRST_AVAILABLE_COUNT = 10


class PartOfDay(models.TextChoices):
    """When a visit starts, by the clinic's wall clock: before noon, until five, after."""

    MORNING = "morning", _("Morning")
    AFTERNOON = "afternoon", _("Afternoon")
    EVENING = "evening", _("Evening")

    @property
    def hours(self) -> tuple[time, time | None]:
        """[from, until) in local time; None is midnight at the day's end."""
        return {
            PartOfDay.MORNING: (time(0), time(12)),
            PartOfDay.AFTERNOON: (time(12), time(17)),
            PartOfDay.EVENING: (time(17), None),
        }[self]

    @classmethod
    def of(cls, local_time: time) -> "PartOfDay":
        if local_time < time(12):
            return cls.MORNING
        return cls.AFTERNOON if local_time < time(17) else cls.EVENING


@dataclass(frozen=True)
class Slot:
    dermatologist_id: int
    starts_at: datetime
    ends_at: datetime
    room_id: int | None  # a free treatment room when the procedure type needs one


class _BusyTimes:
    """Half-open [start, end) intervals, merged and sorted: an overlap check is one bisect.
    Instants are epoch seconds."""

    def __init__(self, intervals: Iterable[tuple[int, int]]) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        for start, end in sorted(intervals):
            if self._ends and start <= self._ends[-1]:
                self._ends[-1] = max(self._ends[-1], end)
            else:
                self._starts.append(start)
                self._ends.append(end)

    def overlaps(self, start: int, end: int) -> bool:
        # The first interval that ends after `start` is the only one that can overlap.
        index = bisect_right(self._ends, start)
        return index < len(self._starts) and self._starts[index] < end


def _busy_by_key(rows: Iterable[tuple[int, int, int]]) -> defaultdict[int, _BusyTimes]:
    """(key, start, end) rows, in epoch seconds, as each key's busy times."""
    grouped: defaultdict[int, list[tuple[int, int]]] = defaultdict(list)
    for key, start, end in rows:
        grouped[key].append((start, end))
    busy: defaultdict[int, _BusyTimes] = defaultdict(lambda: _BusyTimes([]))
    busy.update({key: _BusyTimes(intervals) for key, intervals in grouped.items()})
    return busy


def _block_instants(day: date, starts_at: time, ends_at: time) -> tuple[datetime, datetime]:
    zone = timezone.get_current_timezone()
    start = datetime.combine(day, starts_at, tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day, ends_at, tzinfo=zone).astimezone(UTC)
    return start, end


# What each row of a search's one statement holds: (kind, key, other, start, end).
HOURS, TIME_OFF, ROOM, APPOINTMENT = range(4)


@dataclass
class _Schedule:
    """What a search compares candidates with, for its window."""

    hours: dict[int, list[tuple[int, time, time]]]  # weekday: [(dermatologist, start, end)]
    time_off: defaultdict[int, _BusyTimes]  # by dermatologist
    room_ids: list[int]  # active treatment rooms, in id order: a slot takes the first free
    appointments: defaultdict[int, _BusyTimes]  # by dermatologist
    rooms_busy: defaultdict[int, _BusyTimes]  # by room


@cache
def _schedule_statement(vendor: str, *, one: bool, excluding: bool, needs_room: bool) -> str:
    """The search's one statement for a database and a shape of search, written once.

    Hand-written SQL where the rest of the app uses the ORM: the search runs on every
    booking page, first-available search and FHIR Slot read, and building this UNION of
    four querysets through the ORM cost more than the database took to answer it
    (README, Performance: 6.1 ms in process against 0.9 ms of SQL at full scale). Times
    come back as whole seconds: instants since the epoch (treatments/selectors/epoch.py),
    working hours since midnight."""

    def epoch(column: str) -> str:
        return epoch_sql(vendor, column)

    def since_midnight(column: str) -> str:
        # A time of day read as that time on the epoch's first day.
        return epoch_sql(vendor, column if vendor == "postgresql" else f"'1970-01-01 ' || {column}")

    hours, staff = WorkingHours._meta.db_table, StaffMember._meta.db_table
    time_off, room = TimeOff._meta.db_table, Room._meta.db_table
    appointment = Appointment._meta.db_table
    statuses = ", ".join(["%s"] * len(Appointment.ACTIVE_STATUSES))
    rooms = f"SELECT id FROM {room} WHERE kind = %s AND is_active = %s"
    parts = [
        f"""WITH dermatologist AS (
            SELECT DISTINCT s.id FROM {staff} s JOIN {hours} h ON h.staff_member_id = s.id
            WHERE s.role = %s AND s.is_active = %s{" AND s.id = %s" if one else ""})
        SELECT {HOURS}, staff_member_id, weekday, {since_midnight("starts_at")},
            {since_midnight("ends_at")}
        FROM {hours} WHERE staff_member_id IN (SELECT id FROM dermatologist)""",
        f"""SELECT {TIME_OFF}, staff_member_id, NULL, {epoch("starts_at")}, {epoch("ends_at")}
        FROM {time_off} WHERE staff_member_id IN (SELECT id FROM dermatologist)
            AND starts_at < %s AND ends_at > %s""",
        f"""SELECT {APPOINTMENT}, dermatologist_id, room_id, {epoch("starts_at")},
            {epoch("ends_at")}
        FROM {appointment} WHERE status IN ({statuses})
            AND starts_at > %s AND starts_at < %s AND ends_at > %s{
            " AND id <> %s" if excluding else ""
        }
            AND (dermatologist_id IN (SELECT id FROM dermatologist){
            f" OR room_id IN ({rooms})" if needs_room else ""
        })""",
    ]
    if needs_room:
        parts.append(
            f"SELECT {ROOM}, id, NULL, NULL, NULL FROM {room} WHERE kind = %s AND is_active = %s"
        )
    return "\nUNION ALL\n".join(parts)


def _schedule(
    *,
    dermatologist: StaffMember | None,
    window_start: datetime,
    window_end: datetime,
    exclude_appointment_id: int | None,
    needs_room: bool,
) -> _Schedule:
    """The working hours of the active dermatologists (or the one given), their time off
    in the window, the active treatment rooms when the procedure needs one, and the
    window's active appointments that hold one of those dermatologists or rooms: one
    statement (UNION ALL, _schedule_statement), so one round trip."""
    adapt = connection.ops.adapt_datetimefield_value
    treatment_rooms = [Room.Kind.TREATMENT, True]
    params: list[Any] = [StaffMember.Role.DERMATOLOGIST, True]
    params += [dermatologist.pk] if dermatologist is not None else []
    params += [adapt(window_end), adapt(window_start)]
    params += [*Appointment.ACTIVE_STATUSES, adapt(window_start - LONGEST_VISIT), adapt(window_end)]
    params += [adapt(window_start)]
    params += [exclude_appointment_id] if exclude_appointment_id is not None else []
    params += treatment_rooms * 2 if needs_room else []
    statement = _schedule_statement(
        connection.vendor,
        one=dermatologist is not None,
        excluding=exclude_appointment_id is not None,
        needs_room=needs_room,
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        rows = cursor.fetchall()

    by_weekday: defaultdict[int, list[tuple[int, time, time]]] = defaultdict(list)
    time_off: list[tuple[int, int, int]] = []
    room_ids: list[int] = []
    by_dermatologist: list[tuple[int, int, int]] = []
    by_room: list[tuple[int, int, int]] = []
    for kind, key, other, start, end in rows:
        if kind == APPOINTMENT:
            by_dermatologist.append((key, start, end))
            if other is not None:
                by_room.append((other, start, end))
        elif kind == HOURS:
            by_weekday[other].append((key, _time_of_day(start), _time_of_day(end)))
        elif kind == TIME_OFF:
            time_off.append((key, start, end))
        else:
            room_ids.append(key)
    return _Schedule(
        hours=by_weekday,
        time_off=_busy_by_key(time_off),
        room_ids=sorted(room_ids),
        appointments=_busy_by_key(by_dermatologist),
        rooms_busy=_busy_by_key(by_room),
    )


def _time_of_day(seconds: int) -> time:
    return time(seconds // 3600, seconds // 60 % 60, seconds % 60)


def _candidates(
    blocks: Iterable[tuple[int, time, time]], day: date, length: int, step: int
) -> list[tuple[int, int]]:
    """Every grid start of the day's blocks whose slot ends inside its block, in time
    order, as (epoch seconds, dermatologist id)."""
    candidates = []
    for dermatologist_id, block_starts_at, block_ends_at in blocks:
        start, block_end = map(seconds_of, _block_instants(day, block_starts_at, block_ends_at))
        candidates += [(at, dermatologist_id) for at in range(start, block_end - length + 1, step)]
    return sorted(candidates)


def _starts_allowed(day: date, part_of_day: PartOfDay | None) -> tuple[int, int]:
    """The day's [earliest, latest) start, in epoch seconds, for a part of the day or all of it."""
    earliest, latest = day_bounds(day)
    if part_of_day is not None:
        since, until = part_of_day.hours
        zone = timezone.get_current_timezone()
        earliest = datetime.combine(day, since, tzinfo=zone)
        latest = datetime.combine(day, until, tzinfo=zone) if until else latest
    return seconds_of(earliest), seconds_of(latest)


def free_slots(
    *,
    procedure_type: ProcedureType,
    start_day: date,
    end_day: date,
    dermatologist: StaffMember | None = None,
    now: datetime | None = None,
    exclude_appointment_id: int | None = None,
    limit: int | None = None,
    part_of_day: PartOfDay | None = None,
) -> list[Slot]:
    """Free slots for a procedure type on the clinic's days start_day..end_day inclusive.

    Sorted by start, then dermatologist id; only starts after `now`, and only those that
    start in `part_of_day` when one is given. Pass the appointment being rescheduled as
    `exclude_appointment_id` so that its own time counts as free.
    """
    now_at = seconds_of(now or timezone.now())
    step = 60 * getattr(settings, "CLINIC_SLOT_MINUTES", 15)
    length = 60 * procedure_type.duration_minutes
    window_start, window_end = day_bounds(start_day)[0], day_bounds(end_day)[1]

    schedule = _schedule(
        dermatologist=dermatologist,
        window_start=window_start,
        window_end=window_end,
        exclude_appointment_id=exclude_appointment_id,
        needs_room=procedure_type.needs_treatment_room,
    )
    if procedure_type.needs_treatment_room and not schedule.room_ids:
        return []
    hours, time_off, appointments = schedule.hours, schedule.time_off, schedule.appointments
    room_ids, rooms_busy = schedule.room_ids, schedule.rooms_busy

    slots: list[Slot] = []
    day = start_day
    while day <= end_day and (limit is None or len(slots) < limit):
        earliest, latest = _starts_allowed(day, part_of_day)
        for start, dermatologist_id in _candidates(hours.get(day.weekday(), []), day, length, step):
            end = start + length
            if (
                start <= now_at
                or not earliest <= start < latest
                or time_off[dermatologist_id].overlaps(start, end)
                or appointments[dermatologist_id].overlaps(start, end)
            ):
                continue
            room_id = next(
                (room for room in room_ids if not rooms_busy[room].overlaps(start, end)), None
            )
            if procedure_type.needs_treatment_room and room_id is None:
                continue
            slots.append(Slot(dermatologist_id, moment_of(start), moment_of(end), room_id))
            if len(slots) == limit:
                break
        day += timedelta(days=1)
    return slots


def next_free_slot(
    *,
    procedure_type: ProcedureType,
    dermatologist: StaffMember | None = None,
    days: int = 60,
    now: datetime | None = None,
) -> Slot | None:
    """The first free slot that starts after `now` and within `days` days of it, or None.

    Searches one day first and doubles the span each time (1, 2, 4... days), so a near
    answer costs one small search and a distant one only a few.
    """
    now = now or timezone.now()
    deadline = now + timedelta(days=days)
    last_day = timezone.localdate(deadline)
    chunk_start, chunk_days = timezone.localdate(now), FIRST_SEARCH_CHUNK_DAYS
    while chunk_start <= last_day:
        chunk_end = min(chunk_start + timedelta(days=chunk_days - 1), last_day)
        found = free_slots(
            procedure_type=procedure_type,
            start_day=chunk_start,
            end_day=chunk_end,
            dermatologist=dermatologist,
            now=now,
            limit=1,
        )
        if found:
            return found[0] if found[0].starts_at < deadline else None
        chunk_start, chunk_days = chunk_end + timedelta(days=1), chunk_days * 2
    return None


def first_available(
    *,
    procedure_type: ProcedureType,
    dermatologist: StaffMember | None = None,
    part_of_day: PartOfDay | None = None,
    start_day: date | None = None,
    within_days: int = FIRST_AVAILABLE_DAYS,
    limit: int = FIRST_AVAILABLE_COUNT,
    now: datetime | None = None,
) -> list[Slot]:
    """The first `limit` free slots from `start_day` (today unless given) over `within_days`
    clinic days, for one dermatologist or any, optionally in one part of the day.

    One search over the whole range, so it costs the same few queries for one day as for
    sixty (see free_slots); the loop over days stops as soon as `limit` slots are found.
    """
    now = now or timezone.now()
    first_day = start_day or timezone.localdate(now)
    return free_slots(
        procedure_type=procedure_type,
        start_day=first_day,
        end_day=first_day + timedelta(days=within_days - 1),
        dermatologist=dermatologist,
        now=now,
        limit=limit,
        part_of_day=part_of_day,
    )


def nearest_free_slots(
    *,
    procedure_type: ProcedureType,
    around: datetime,
    dermatologist: StaffMember | None = None,
    count: int = 3,
    exclude_appointment_id: int | None = None,
    now: datetime | None = None,
) -> list[Slot]:
    """Up to `count` free slots closest to `around`: alternatives for a conflicting booking.

    The given dermatologist's slots come first in the choice; when they have fewer than
    `count` in the window, other dermatologists' slots fill the rest. The result is sorted
    by distance from `around`, then by time.
    """
    earliest = around - timedelta(days=NEAREST_DAYS_BEFORE)
    latest = around + timedelta(days=NEAREST_DAYS_AFTER)
    slots = [
        slot
        for slot in free_slots(
            procedure_type=procedure_type,
            start_day=timezone.localdate(earliest),
            end_day=timezone.localdate(latest),
            now=now,
            exclude_appointment_id=exclude_appointment_id,
        )
        if earliest <= slot.starts_at <= latest
    ]

    def closeness(slot: Slot) -> tuple[timedelta, datetime, int]:
        return abs(slot.starts_at - around), slot.starts_at, slot.dermatologist_id

    slots.sort(key=closeness)
    if dermatologist is None:
        return slots[:count]
    own = [slot for slot in slots if slot.dermatologist_id == dermatologist.pk][:count]
    others = [slot for slot in slots if slot.dermatologist_id != dermatologist.pk]
    return sorted(own + others[: count - len(own)], key=closeness)


def slot_fits_working_time(
    *, dermatologist: StaffMember, starts_at: datetime, ends_at: datetime
) -> bool:
    """Whether [starts_at, ends_at) lies inside one of the dermatologist's working-hours
    blocks on that local day and clear of their time off."""
    day = timezone.localdate(starts_at)
    blocks = WorkingHours.objects.filter(
        staff_member=dermatologist, weekday=day.weekday()
    ).values_list("starts_at", "ends_at")
    inside_a_block = any(
        block_start <= starts_at and ends_at <= block_end
        for block_start, block_end in (_block_instants(day, *block) for block in blocks)
    )
    return (
        inside_a_block
        and not TimeOff.objects.filter(
            staff_member=dermatologist, starts_at__lt=ends_at, ends_at__gt=starts_at
        ).exists()
    )
