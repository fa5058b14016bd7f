"""The day as a time grid: a column per dermatologist, and one per room, on a time axis.

The grid runs from the full hour at or before the day's earliest opening to the full
hour at or after its latest closing, widened to take in any visit outside them, in rows
of `UNIT_MINUTES`. Each column is cut into segments that follow one another from the
top, each spanning whole rows: closed time, working time that is free (a gap), time off,
and the visits that hold the time. The page stacks them with CSS grid row spans
(static/css/time-grid.css): the CSP allows no style attributes, so sizes are classes.

Times are wall-clock minutes of the clinic's day (09:30 is 570), as working hours are,
so a visit sits at the time its patient was told, on a daylight-saving day too.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from django.utils import timezone

from clinic.clock import day_bounds
from clinic.models import Room, StaffMember, TimeOff

from ..models import Appointment
from .schedule import ScheduleCard, ScheduleColumn, schedule_of_day

UNIT_MINUTES = 5
# A free gap is offered for booking a quarter of an hour at a time, on the clock's quarters.
GAP_PIECE_MINUTES = 15
MINUTES_IN_DAY = 24 * 60
# The grid of a day when nobody works and nothing is booked.
DEFAULT_HOURS = (8 * 60, 18 * 60)
# The most rows a column can have: a whole day. static/css/time-grid.css has a span class
# for each height up to it (a test checks).
MOST_ROWS = MINUTES_IN_DAY // UNIT_MINUTES
NEVER = MINUTES_IN_DAY + 1  # a gap "bookable from" this minute is in the past


class Kind:
    CLOSED = "closed"
    FREE = "free"
    TIME_OFF = "time-off"
    VISIT = "visit"


@dataclass(frozen=True)
class Segment:
    """A stretch of one column, [start, end) in wall-clock minutes of the day."""

    kind: str
    start: int
    end: int
    card: ScheduleCard | None = None
    # A free gap can be booked from this minute on (not before now, not on a past day).
    bookable_from: int = NEVER

    @property
    def rows(self) -> int:
        return (self.end - self.start) // UNIT_MINUTES

    @property
    def ahead(self) -> bool:
        return self.kind == Kind.FREE and self.start >= self.bookable_from

    @property
    def pieces(self) -> list["Segment"]:
        """A free gap cut at the clock's quarter hours; each piece is booked from its start."""
        quarter = (self.start // GAP_PIECE_MINUTES + 1) * GAP_PIECE_MINUTES
        cuts = [self.start, *range(quarter, self.end, GAP_PIECE_MINUTES)]
        return [
            Segment(self.kind, start, end, bookable_from=self.bookable_from)
            for start, end in zip(cuts, [*cuts[1:], self.end], strict=True)
        ]


@dataclass
class GridColumn:
    """A dermatologist's or a room's day: its segments, and the visits that do not hold the
    time (cancelled, no-show) or that overlap one placed before them (old data)."""

    segments: list[Segment]
    not_held: list[ScheduleCard] = field(default_factory=list)


@dataclass
class DermatologistColumn:
    schedule: ScheduleColumn  # the dermatologist, their hours and their visits
    grid: GridColumn

    @property
    def dermatologist(self) -> StaffMember:
        return self.schedule.dermatologist


@dataclass
class RoomColumn:
    room: Room
    grid: GridColumn


@dataclass
class TimeGrid:
    day: date
    start: int
    end: int
    dermatologists: list[DermatologistColumn]
    rooms: list[RoomColumn]
    # The clinic clock's minute of the day when the day is today and it falls on the grid.
    now: int | None

    @property
    def hours(self) -> list[int]:
        """The full hours the axis labels."""
        return list(range(self.start, self.end, 60))

    @property
    def now_rows(self) -> int | None:
        """How many whole rows lie above the now-line."""
        return None if self.now is None else (self.now - self.start) // UNIT_MINUTES


def wall_clock_minute(moment: datetime, day: date) -> int:
    """The wall-clock minute of the day of an instant in the clinic's zone: 0 for an instant
    before the day, 24 × 60 for one after it."""
    local = timezone.localtime(moment)
    if local.date() != day:
        return 0 if local.date() < day else MINUTES_IN_DAY
    return local.hour * 60 + local.minute


def _down(minute: int, step: int) -> int:
    return minute - minute % step


def _up(minute: int, step: int) -> int:
    return -(-minute // step) * step


def _holds_time(card: ScheduleCard) -> bool:
    return card.status in Appointment.ACTIVE_STATUSES


def _hours_of(column: ScheduleColumn) -> list[tuple[int, int]]:
    return [
        (
            block.starts_at.hour * 60 + block.starts_at.minute,
            block.ends_at.hour * 60 + block.ends_at.minute,
        )
        for block in column.working_hours
    ]


def _bounds(day: date, columns: list[ScheduleColumn]) -> tuple[int, int]:
    spans = [span for column in columns for span in _hours_of(column)]
    spans += [
        (wall_clock_minute(card.starts_at, day), wall_clock_minute(card.ends_at, day))
        for column in columns
        for card in column.appointments
        if _holds_time(card)
    ]
    if not spans:
        return DEFAULT_HOURS
    start = _down(min(start for start, _ in spans), 60)
    end = min(_up(max(end for _, end in spans), 60), MINUTES_IN_DAY)
    return start, max(end, start + 60)


class _Column:
    """A column being laid out: a state per row, and the visits placed on it."""

    def __init__(self, start: int, end: int, day: date) -> None:
        self.start, self.day = start, day
        self.states = [Kind.CLOSED] * ((end - start) // UNIT_MINUTES)
        self.visits: dict[int, tuple[ScheduleCard, int]] = {}  # first row: (visit, row after)
        self.not_held: list[ScheduleCard] = []

    def _rows(self, start: int, end: int) -> tuple[int, int]:
        first = max(_down(start, UNIT_MINUTES) - self.start, 0) // UNIT_MINUTES
        last = min(_up(end, UNIT_MINUTES) - self.start, len(self.states) * UNIT_MINUTES)
        return first, max(last // UNIT_MINUTES, first)

    def mark(self, start: int, end: int, kind: str) -> None:
        first, last = self._rows(start, end)
        self.states[first:last] = [kind] * (last - first)

    def place(self, cards: list[ScheduleCard]) -> None:
        """The visits that hold the time, in start order; each starts after the one before."""
        taken_until = 0
        for card in cards:
            first, last = self._rows(
                wall_clock_minute(card.starts_at, self.day),
                wall_clock_minute(card.ends_at, self.day),
            )
            first = max(first, taken_until)
            if not _holds_time(card) or last <= first:
                self.not_held.append(card)
                continue
            self.visits[first] = (card, last)
            taken_until = last

    def laid_out(self, bookable_from: int) -> GridColumn:
        segments, row, rows = [], 0, len(self.states)
        while row < rows:
            if row in self.visits:
                card, after = self.visits[row]
                segments.append(Segment(Kind.VISIT, self._minute(row), self._minute(after), card))
                row = after
                continue
            kind, after = self.states[row], row + 1
            while after < rows and self.states[after] == kind and after not in self.visits:
                after += 1
            free_from = bookable_from if kind == Kind.FREE else NEVER
            segments.append(
                Segment(kind, self._minute(row), self._minute(after), bookable_from=free_from)
            )
            row = after
        return GridColumn(segments=segments, not_held=self.not_held)

    def _minute(self, row: int) -> int:
        return self.start + row * UNIT_MINUTES


def _time_off_by_dermatologist(
    day: date, dermatologist_ids: list[int]
) -> defaultdict[int, list[tuple[int, int]]]:
    start, end = day_bounds(day)
    rows = TimeOff.objects.filter(
        staff_member_id__in=dermatologist_ids, starts_at__lt=end, ends_at__gt=start
    ).values_list("staff_member_id", "starts_at", "ends_at")
    spans: defaultdict[int, list[tuple[int, int]]] = defaultdict(list)
    for staff_member_id, starts_at, ends_at in rows:
        spans[staff_member_id].append(
            (wall_clock_minute(starts_at, day), wall_clock_minute(ends_at, day))
        )
    return spans


def _bookable_from(day: date, now: datetime) -> int:
    today = timezone.localdate(now)
    if day != today:
        return 0 if day > today else NEVER
    return wall_clock_minute(now, day)


def time_grid_of_day(*, day: date, now: datetime) -> TimeGrid:
    """The day's grid: a column per dermatologist (as the day view lists them) with their
    working hours, time off, free gaps and visits, and a column per room with the visits
    that hold it, open while any dermatologist works. Free gaps before `now` are past.

    Four queries: the three of `schedule_of_day`, and the day's time off.
    """
    schedule = schedule_of_day(day=day)
    start, end = _bounds(day, schedule.columns)
    time_off = _time_off_by_dermatologist(day, [c.dermatologist.pk for c in schedule.columns])
    bookable_from = _bookable_from(day, now)
    dermatologists = []
    for column in schedule.columns:
        layout = _Column(start, end, day)
        for span in _hours_of(column):
            layout.mark(*span, Kind.FREE)
        for span in time_off[column.dermatologist.pk]:
            layout.mark(*span, Kind.TIME_OFF)
        layout.place(column.appointments)
        dermatologists.append(DermatologistColumn(column, layout.laid_out(bookable_from)))
    rooms = []
    open_spans = [span for column in schedule.columns for span in _hours_of(column)]
    for occupancy in schedule.rooms:
        layout = _Column(start, end, day)
        for span in open_spans:
            layout.mark(*span, Kind.FREE)
        layout.place(occupancy.appointments)
        rooms.append(RoomColumn(occupancy.room, layout.laid_out(NEVER)))
    now_minute = wall_clock_minute(now, day) if timezone.localdate(now) == day else None
    if now_minute is not None and not start <= now_minute < end:
        now_minute = None
    return TimeGrid(day, start, end, dermatologists, rooms, now_minute)
