"""treatments/availability.py: free slots from working hours, time off, appointments, rooms."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from treatments.models import Appointment, ProcedureType
from treatments.selectors.availability import (
    PartOfDay,
    Slot,
    first_available,
    free_slots,
    nearest_free_slots,
    next_free_slot,
    slot_fits_working_time,
)

from ...factories import (
    AppointmentFactory,
    RoomFactory,
    StaffMemberFactory,
    TimeOffFactory,
    WorkingHoursFactory,
)

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")
MONDAY = date(2026, 6, 1)
BEFORE_IT_ALL = datetime(2026, 5, 1, 12, 0, tzinfo=NEW_YORK)


@pytest.fixture(autouse=True)
def clinic_in_new_york(settings):
    settings.TIME_ZONE = "America/New_York"
    settings.CLINIC_SLOT_MINUTES = 15


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=NEW_YORK)


def procedure(slug: str) -> ProcedureType:
    return ProcedureType.objects.get(slug=slug)


def dermatologist_working(*blocks, weekday=0, **fields):
    """A dermatologist with these working-hours blocks on one weekday (Monday unless told)."""
    dermatologist = StaffMemberFactory(**fields)
    for starts_at, ends_at in blocks:
        WorkingHoursFactory(
            staff_member=dermatologist, weekday=weekday, starts_at=starts_at, ends_at=ends_at
        )
    return dermatologist


def book(dermatologist, starts_at, *, slug="watchful-waiting", room=None, **fields):
    procedure_type = procedure(slug)
    return AppointmentFactory(
        dermatologist=dermatologist,
        procedure_type=procedure_type,
        room=room,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=procedure_type.duration_minutes),
        **fields,
    )


def starts(slots: list[Slot], zone=NEW_YORK) -> list[str]:
    return [f"{slot.starts_at.astimezone(zone):%H:%M}" for slot in slots]


def monday_slots(slug="watchful-waiting", **options) -> list[Slot]:
    return free_slots(
        procedure_type=procedure(slug),
        start_day=MONDAY,
        end_day=MONDAY,
        now=options.pop("now", BEFORE_IT_ALL),
        **options,
    )


def test_slots_follow_a_split_shift_and_skip_the_lunch_break():
    dermatologist_working((time(9), time(10)), (time(13), time(14)))

    assert starts(monday_slots()) == ["09:00", "09:15", "09:30", "09:45"] + [
        "13:00",
        "13:15",
        "13:30",
        "13:45",
    ]


def test_a_block_off_the_hour_starts_its_grid_at_its_own_minute():
    # The database hands the hours over as seconds since midnight: minutes survive.
    dermatologist_working((time(8, 50), time(9, 50)), (time(16, 35), time(17, 5)))

    assert starts(monday_slots()) == ["08:50", "09:05", "09:20", "09:35", "16:35", "16:50"]


def test_slot_length_comes_from_the_procedure_type():
    dermatologist_working((time(9), time(10)))
    RoomFactory()

    cryotherapy = monday_slots("cryotherapy")
    curettage = monday_slots("curettage")

    assert starts(cryotherapy) == ["09:00", "09:15", "09:30", "09:45"]
    assert {slot.ends_at - slot.starts_at for slot in cryotherapy} == {timedelta(minutes=15)}
    assert starts(curettage) == ["09:00", "09:15", "09:30"]
    assert {slot.ends_at - slot.starts_at for slot in curettage} == {timedelta(minutes=30)}


def test_time_off_removes_the_slots_it_overlaps():
    dermatologist = dermatologist_working((time(9), time(10)))
    TimeOffFactory(
        staff_member=dermatologist, starts_at=local(MONDAY, 9, 10), ends_at=local(MONDAY, 9, 30)
    )

    assert starts(monday_slots()) == ["09:00", "09:30", "09:45"]  # 09:00-09:10 ends in time


def test_an_active_appointment_blocks_overlapping_slots_but_back_to_back_ones_remain():
    dermatologist = dermatologist_working((time(9), time(10)))
    book(dermatologist, local(MONDAY, 9, 15), slug="curettage")  # 09:15-09:45

    assert starts(monday_slots("watchful-waiting")) == ["09:00", "09:45"]


@pytest.mark.parametrize("status", [Appointment.Status.CANCELLED, Appointment.Status.NO_SHOW])
def test_cancelled_and_no_show_appointments_do_not_block(status):
    dermatologist = dermatologist_working((time(9), time(10)))
    book(dermatologist, local(MONDAY, 9), status=status, cancellation_reason="Called in sick")

    assert starts(monday_slots()) == ["09:00", "09:15", "09:30", "09:45"]


def test_another_dermatologists_appointment_does_not_block():
    dermatologist = dermatologist_working((time(9), time(9, 30)))
    colleague = dermatologist_working((time(9), time(9, 30)))
    book(colleague, local(MONDAY, 9))

    slots = monday_slots()

    assert [(slot.dermatologist_id, slot.starts_at) for slot in slots] == [
        (dermatologist.pk, local(MONDAY, 9)),
        (dermatologist.pk, local(MONDAY, 9, 15)),
        (colleague.pk, local(MONDAY, 9, 15)),
    ]


def test_a_room_procedure_is_not_offered_when_every_treatment_room_is_taken():
    dermatologist = dermatologist_working((time(9), time(9, 30)))
    colleague = StaffMemberFactory()
    first_room, second_room = RoomFactory(), RoomFactory()
    RoomFactory(kind="consultation")
    book(colleague, local(MONDAY, 9), slug="cryotherapy", room=first_room)
    book(StaffMemberFactory(), local(MONDAY, 9), slug="cryotherapy", room=second_room)
    book(colleague, local(MONDAY, 9, 15), slug="cryotherapy", room=first_room)

    cryotherapy = monday_slots("cryotherapy")
    watchful_waiting = monday_slots("watchful-waiting")

    assert [(slot.starts_at, slot.room_id) for slot in cryotherapy] == [
        (local(MONDAY, 9, 15), second_room.pk)
    ]
    assert [(slot.room_id, slot.dermatologist_id) for slot in watchful_waiting] == [
        (None, dermatologist.pk),
        (None, dermatologist.pk),
    ]


def test_the_lowest_id_free_treatment_room_is_offered():
    dermatologist_working((time(9), time(9, 15)))
    first_room, second_room = RoomFactory(), RoomFactory()

    assert [slot.room_id for slot in monday_slots("cryotherapy")] == [first_room.pk]
    assert second_room.pk > first_room.pk


def test_inactive_dermatologists_are_not_offered():
    dermatologist_working((time(9), time(9, 30)), is_active=False)
    active = dermatologist_working((time(9), time(9, 30)))

    assert {slot.dermatologist_id for slot in monday_slots()} == {active.pk}


def test_inactive_treatment_rooms_are_not_offered():
    dermatologist_working((time(9), time(9, 15)))
    RoomFactory(is_active=False)

    assert monday_slots("cryotherapy") == []


def test_excluding_an_appointment_frees_its_own_time_for_rescheduling():
    dermatologist = dermatologist_working((time(9), time(9, 30)))
    room = RoomFactory()
    appointment = book(dermatologist, local(MONDAY, 9), slug="cryotherapy", room=room)

    assert starts(monday_slots("cryotherapy")) == ["09:15"]
    assert starts(monday_slots("cryotherapy", exclude_appointment_id=appointment.pk)) == [
        "09:00",
        "09:15",
    ]


def test_nothing_is_offered_before_now():
    dermatologist_working((time(9), time(10)))

    assert starts(monday_slots(now=local(MONDAY, 9, 15))) == ["09:30", "09:45"]


def test_the_limit_stops_the_search():
    dermatologist_working((time(9), time(10)))

    assert starts(monday_slots(limit=2)) == ["09:00", "09:15"]


@pytest.mark.parametrize(
    "sunday, first_start_in_utc",
    [
        (date(2026, 3, 8), datetime(2026, 3, 8, 13, 0, tzinfo=UTC)),  # clocks went forward
        (date(2026, 11, 1), datetime(2026, 11, 1, 14, 0, tzinfo=UTC)),  # clocks went back
    ],
)
def test_working_hours_stay_local_on_a_daylight_saving_sunday(sunday, first_start_in_utc):
    dermatologist_working((time(9), time(17)), weekday=6)
    RoomFactory()
    ordinary_sunday = date(2026, 3, 15)

    def sunday_slots(day):
        return free_slots(
            procedure_type=procedure("cryotherapy"),
            start_day=day,
            end_day=day,
            now=datetime(2026, 1, 1, tzinfo=UTC),
        )

    slots = sunday_slots(sunday)

    assert slots[0].starts_at == first_start_in_utc
    assert starts(slots[:1]) == ["09:00"]
    assert starts(slots[-1:]) == ["16:45"]
    assert len(slots) == len(sunday_slots(ordinary_sunday)) == 32


def test_next_free_slot_finds_the_first_free_slot_across_dermatologists():
    early = dermatologist_working((time(9), time(9, 30)))
    late = dermatologist_working((time(10), time(11)))
    book(early, local(MONDAY, 9))
    book(early, local(MONDAY, 9, 15))

    slot = next_free_slot(procedure_type=procedure("watchful-waiting"), now=local(MONDAY, 8))

    assert (slot.dermatologist_id, slot.starts_at) == (late.pk, local(MONDAY, 10))


def test_next_free_slot_for_one_dermatologist_looks_weeks_ahead():
    dermatologist = dermatologist_working((time(9), time(9, 15)))
    dermatologist_working((time(9), time(9, 15)))
    TimeOffFactory(
        staff_member=dermatologist,
        starts_at=local(MONDAY, 0),
        ends_at=local(MONDAY, 0) + timedelta(days=20),
    )

    slot = next_free_slot(
        procedure_type=procedure("watchful-waiting"),
        dermatologist=dermatologist,
        now=local(MONDAY, 8),
    )

    assert (slot.dermatologist_id, slot.starts_at) == (
        dermatologist.pk,
        local(date(2026, 6, 22), 9),
    )


def test_next_free_slot_is_none_when_nothing_is_free_within_the_days():
    dermatologist_working((time(9), time(9, 15)))  # Mondays only

    def next_one(days):
        return next_free_slot(
            procedure_type=procedure("watchful-waiting"), days=days, now=local(MONDAY, 10)
        )

    assert next_one(6) is None
    assert next_one(7).starts_at == local(MONDAY + timedelta(days=7), 9)


def test_nearest_free_slots_are_the_closest_in_order():
    dermatologist = dermatologist_working((time(9), time(11)))
    around = local(MONDAY, 10)
    book(dermatologist, around)

    slots = nearest_free_slots(
        procedure_type=procedure("watchful-waiting"),
        around=around,
        dermatologist=dermatologist,
        now=BEFORE_IT_ALL,
    )

    assert starts(slots) == ["09:45", "10:15", "09:30"]


def test_nearest_free_slots_fill_up_with_other_dermatologists():
    dermatologist = dermatologist_working((time(10), time(10, 30)))
    colleague = dermatologist_working((time(9), time(12)))
    around = local(MONDAY, 10)
    book(dermatologist, around)
    TimeOffFactory(  # away for the rest of the search window
        staff_member=dermatologist,
        starts_at=local(MONDAY, 12),
        ends_at=local(MONDAY, 12) + timedelta(days=20),
    )

    slots = nearest_free_slots(
        procedure_type=procedure("watchful-waiting"),
        around=around,
        dermatologist=dermatologist,
        count=2,
        now=BEFORE_IT_ALL,
    )

    assert [(slot.dermatologist_id, slot.starts_at) for slot in slots] == [
        (colleague.pk, around),
        (dermatologist.pk, local(MONDAY, 10, 15)),
    ]


def test_slot_fits_working_time_inside_a_block_only():
    dermatologist = dermatologist_working((time(9), time(12)), (time(13), time(17)))

    def fits(starts_at, minutes):
        return slot_fits_working_time(
            dermatologist=dermatologist,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=minutes),
        )

    assert fits(local(MONDAY, 11, 45), 15)
    assert not fits(local(MONDAY, 11, 45), 30)  # runs into the lunch break
    assert not fits(local(MONDAY + timedelta(days=1), 10), 15)  # no hours on Tuesday


def test_slot_does_not_fit_working_time_during_time_off():
    dermatologist = dermatologist_working((time(9), time(12)))
    TimeOffFactory(
        staff_member=dermatologist, starts_at=local(MONDAY, 10), ends_at=local(MONDAY, 11)
    )

    assert not slot_fits_working_time(
        dermatologist=dermatologist, starts_at=local(MONDAY, 10, 30), ends_at=local(MONDAY, 11)
    )


def test_free_slots_cost_the_same_queries_for_two_weeks_of_three_dermatologists(
    django_assert_num_queries,
):
    dermatologists = [dermatologist_working((time(9), time(12))) for _ in range(3)]
    rooms = RoomFactory.create_batch(3)
    for day in range(14):
        for dermatologist, room in zip(dermatologists, rooms, strict=True):
            book(
                dermatologist, local(MONDAY, 9) + timedelta(days=day), slug="cryotherapy", room=room
            )
        TimeOffFactory(
            staff_member=dermatologists[0],
            starts_at=local(MONDAY, 11) + timedelta(days=day),
            ends_at=local(MONDAY, 12) + timedelta(days=day),
        )
    cryotherapy = procedure("cryotherapy")

    # One statement, one round trip: the working hours of active dermatologists, their
    # time off in the range, the active treatment rooms and the range's active
    # appointments that hold one of those dermatologists or rooms, by UNION ALL.
    with django_assert_num_queries(1):
        one = free_slots(
            procedure_type=cryotherapy,
            start_day=MONDAY,
            end_day=MONDAY,
            dermatologist=dermatologists[0],
            now=BEFORE_IT_ALL,
        )
    with django_assert_num_queries(1):
        many = free_slots(
            procedure_type=cryotherapy,
            start_day=MONDAY,
            end_day=MONDAY + timedelta(days=13),
            now=BEFORE_IT_ALL,
        )

    assert len(one) == 7  # 09:15 to 10:45: booked at 09:00, time off from 11:00
    assert len(many) == 2 * (7 + 11 + 11)  # two Mondays in the fortnight


def first_free(slug="watchful-waiting", **options) -> list[Slot]:
    return first_available(
        procedure_type=procedure(slug),
        start_day=options.pop("start_day", MONDAY),
        now=options.pop("now", BEFORE_IT_ALL),
        **options,
    )


def days_and_starts(slots: list[Slot]) -> list[str]:
    return [f"{slot.starts_at.astimezone(NEW_YORK):%a %d %H:%M}" for slot in slots]


def test_first_available_runs_across_days_past_a_full_day_and_time_off():
    dermatologist = StaffMemberFactory()
    for weekday in (0, 1, 2):  # Monday to Wednesday, 09:00-09:30
        WorkingHoursFactory(
            staff_member=dermatologist, weekday=weekday, starts_at=time(9), ends_at=time(9, 30)
        )
    book(dermatologist, local(MONDAY, 9))
    book(dermatologist, local(MONDAY, 9, 15))
    tuesday = MONDAY + timedelta(days=1)
    TimeOffFactory(
        staff_member=dermatologist, starts_at=local(tuesday, 0), ends_at=local(tuesday, 23)
    )

    assert days_and_starts(first_free(limit=3)) == ["Wed 03 09:00", "Wed 03 09:15", "Mon 08 09:00"]


def test_first_available_keeps_to_the_part_of_the_day():
    dermatologist_working((time(11, 30), time(12, 30)), (time(16, 45), time(17, 30)))

    def part(part_of_day):
        return starts(first_free(part_of_day=part_of_day, within_days=1))

    assert part(PartOfDay.MORNING) == ["11:30", "11:45"]  # 11:45 starts before noon
    assert part(PartOfDay.AFTERNOON) == ["12:00", "12:15", "16:45"]
    assert part(PartOfDay.EVENING) == ["17:00", "17:15"]
    assert part(None) == ["11:30", "11:45", "12:00", "12:15", "16:45", "17:00", "17:15"]


def test_first_available_for_any_dermatologist_or_one():
    early = dermatologist_working((time(9), time(9, 30)))
    late = dermatologist_working((time(10), time(10, 30)))

    def whose(**options):
        return [
            (slot.dermatologist_id, f"{slot.starts_at.astimezone(NEW_YORK):%H:%M}")
            for slot in first_free(within_days=1, **options)
        ]

    assert whose() == [
        (early.pk, "09:00"),
        (early.pk, "09:15"),
        (late.pk, "10:00"),
        (late.pk, "10:15"),
    ]
    assert whose(dermatologist=late) == [(late.pk, "10:00"), (late.pk, "10:15")]


def test_first_available_stops_at_the_limit():
    dermatologist_working((time(9), time(17)))

    assert days_and_starts(first_free(limit=2)) == ["Mon 01 09:00", "Mon 01 09:15"]
    assert len(first_free(limit=40)) == 32 + 8  # a full Monday, then the next one's first 8


def test_first_available_looks_no_further_than_its_days():
    dermatologist_working((time(9), time(9, 15)))  # Mondays only
    tuesday = MONDAY + timedelta(days=1)

    assert first_free(start_day=tuesday, within_days=6) == []
    assert days_and_starts(first_free(start_day=tuesday, within_days=7)) == ["Mon 08 09:00"]


def test_first_available_starts_after_now_and_from_today_unless_told():
    dermatologist_working((time(9), time(10)))

    slots = first_available(
        procedure_type=procedure("watchful-waiting"), now=local(MONDAY, 9, 20), limit=2
    )

    assert days_and_starts(slots) == ["Mon 01 09:30", "Mon 01 09:45"]


def test_first_available_costs_the_same_queries_for_one_day_and_sixty(
    django_assert_num_queries,
):
    dermatologists = [dermatologist_working((time(9), time(10))) for _ in range(3)]
    room = RoomFactory()
    for week in range(8):
        for dermatologist in dermatologists:  # every Monday full but the ninth, 27 July
            for quarter in range(4):
                book(
                    dermatologist,
                    local(MONDAY + timedelta(weeks=week), 9, 15 * quarter),
                    slug="cryotherapy",
                    room=room if dermatologist is dermatologists[0] else None,
                )
    cryotherapy = procedure("cryotherapy")

    # One statement, one round trip: the working hours of active dermatologists, their
    # time off in the range, the active treatment rooms and the range's active
    # appointments that hold one of those dermatologists or rooms, by UNION ALL.
    with django_assert_num_queries(1):
        one_day = first_available(
            procedure_type=cryotherapy, start_day=MONDAY, within_days=1, now=BEFORE_IT_ALL
        )
    with django_assert_num_queries(1):
        sixty_days = first_available(
            procedure_type=cryotherapy, start_day=MONDAY, within_days=60, now=BEFORE_IT_ALL
        )

    assert one_day == []
    assert len(sixty_days) == 10  # the default limit
    assert {f"{slot.starts_at.astimezone(NEW_YORK):%d %b}" for slot in sixty_days} == {"27 Jul"}


@pytest.mark.parametrize("sunday", [date(2026, 3, 8), date(2026, 11, 1)])  # 23 h and 25 h
def test_the_parts_of_the_day_follow_the_wall_clock_on_a_daylight_saving_sunday(sunday):
    dermatologist_working((time(11, 30), time(12, 30)), (time(16, 30), time(17, 30)), weekday=6)

    def part(part_of_day):
        return starts(
            first_free(
                start_day=sunday,
                within_days=1,
                part_of_day=part_of_day,
                now=datetime(2026, 1, 1, tzinfo=UTC),
            )
        )

    assert part(PartOfDay.MORNING) == ["11:30", "11:45"]
    assert part(PartOfDay.AFTERNOON) == ["12:00", "12:15", "16:30", "16:45"]
    assert part(PartOfDay.EVENING) == ["17:00", "17:15"]
