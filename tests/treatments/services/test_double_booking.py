"""No double booking, ever: the database refuses it, under concurrency too, on both engines."""

import logging
import os
import threading
import time
from datetime import timedelta
from functools import partial

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.test import Client
from django.urls import reverse

from clinic.models import StaffMember
from treatments.constraints import OVERLAP_CONSTRAINTS, SQLITE_TRIGGERS
from treatments.models import Appointment
from treatments.services import SlotTaken, appointment_book

from ...factories import (
    AppointmentFactory,
    PatientFactory,
    RoomFactory,
    StaffMemberFactory,
    UserFactory,
)
from ..conftest import open_all_week

THREADS = 20


def run_together(attempts) -> list:
    """Run each attempt in its own thread (and so its own database connection), all released
    at once; return what each returned or raised."""
    barrier = threading.Barrier(len(attempts))
    outcomes = [None] * len(attempts)

    def run(index, attempt):
        try:
            barrier.wait()
            outcomes[index] = attempt()
        except Exception as error:  # collected and asserted on below
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


def active_rows(**filters) -> int:
    return Appointment.objects.filter(status__in=Appointment.ACTIVE_STATUSES, **filters).count()


concurrent = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@concurrent
def test_twenty_threads_booking_the_same_dermatologist_get_exactly_one_appointment(
    dermatologist, cryotherapy, tomorrow_at
):
    for _ in range(3):
        RoomFactory()  # rooms to spare: the dermatologist is what the threads compete for
    patients = [PatientFactory() for _ in range(THREADS)]
    booker = UserFactory()
    # The same slot and overlapping ones (10:00, 10:05, 10:10 against a 15-minute visit).
    starts = [tomorrow_at(10, 5 * (i % 3)) for i in range(THREADS)]

    outcomes = run_together(
        [
            lambda p=p, s=s: appointment_book(
                patient=p,
                dermatologist=dermatologist,
                procedure_type=cryotherapy,
                starts_at=s,
                booked_by=booker,
            )
            for p, s in zip(patients, starts, strict=True)
        ]
    )

    booked = [o for o in outcomes if isinstance(o, Appointment)]
    refused = [o for o in outcomes if isinstance(o, SlotTaken)]
    assert len(booked) == 1, outcomes
    assert len(refused) == THREADS - 1, [o for o in outcomes if not isinstance(o, SlotTaken)]
    assert active_rows(dermatologist=dermatologist) == 1
    assert all(error.alternatives for error in refused)


@concurrent
def test_twenty_threads_booking_the_same_room_get_exactly_one_appointment(
    cryotherapy, treatment_room, tomorrow_at
):
    dermatologists = [open_all_week(StaffMemberFactory()) for _ in range(THREADS)]
    patient = PatientFactory()
    booker = UserFactory()

    outcomes = run_together(
        [
            lambda d=d: appointment_book(
                patient=patient,
                dermatologist=d,
                procedure_type=cryotherapy,
                starts_at=tomorrow_at(11),
                room=treatment_room,
                booked_by=booker,
            )
            for d in dermatologists
        ]
    )

    assert sum(isinstance(o, Appointment) for o in outcomes) == 1, outcomes
    assert sum(isinstance(o, SlotTaken) for o in outcomes) == THREADS - 1, outcomes
    assert active_rows(room=treatment_room) == 1


@concurrent
def test_twenty_browsers_posting_the_same_slot_get_one_booking_and_nineteen_conflicts(
    dermatologist, cryotherapy, treatment_room, tomorrow_at
):
    receptionist = StaffMemberFactory(role=StaffMember.Role.RECEPTIONIST)
    start = tomorrow_at(9)
    clients = []
    for _ in range(THREADS):
        client = Client()
        client.force_login(receptionist.user)
        clients.append((client, PatientFactory()))
    url = reverse("treatments:appointment_book")

    outcomes = run_together(
        [
            lambda c=c, p=p: (
                c.post(
                    f"{url}?patient={p.pk}",
                    {
                        "patient": p.pk,
                        "procedure_type": cryotherapy.pk,
                        "dermatologist": dermatologist.pk,
                        "date": start.date().isoformat(),
                        "slot": f"{dermatologist.pk}|{start.isoformat()}|{treatment_room.pk}",
                    },
                ).status_code
            )
            for c, p in clients
        ]
    )

    assert sorted(outcomes) == [302] + [409] * (THREADS - 1), outcomes
    assert active_rows(dermatologist=dermatologist) == 1


ROOM_RACE_SESSIONS = 30
# Three rounds keep CI inside its time; CLINIC_ROOM_RACE_ROUNDS=20 is the full race (600
# requests, about two minutes on two cores).
ROOM_RACE_ROUNDS = int(os.environ.get("CLINIC_ROOM_RACE_ROUNDS", "3"))


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="deadlocks between the two exclusion constraints are PostgreSQL's; SQLite "
    "serialises writers, and the twenty-thread tests cover it",
)
@concurrent
def test_thirty_desks_racing_for_two_rooms_with_three_dermatologists_never_get_a_500(
    cryotherapy, tomorrow_at
):
    """Round after round, 30 receptionists book one time for a procedure that needs a
    treatment room, ten with each of three dermatologists, any room: each round books
    exactly two visits (two rooms), and every other answer is a 409, never a 5xx."""
    dermatologists = [open_all_week(StaffMemberFactory()) for _ in range(3)]
    rooms = [RoomFactory(), RoomFactory()]
    receptionist = StaffMemberFactory(role=StaffMember.Role.RECEPTIONIST)
    url = reverse("treatments:appointment_book")
    desks = []
    for seat in range(ROOM_RACE_SESSIONS):
        client = Client()
        client.force_login(receptionist.user)
        desks.append((client, dermatologists[seat % 3]))

    def book(client, dermatologist, start):
        patient = PatientFactory()
        return client.post(
            f"{url}?patient={patient.pk}",
            {
                "patient": patient.pk,
                "procedure_type": cryotherapy.pk,
                "dermatologist": dermatologist.pk,
                "date": start.date().isoformat(),
                "slot": f"{dermatologist.pk}|{start.isoformat()}|",
            },
        ).status_code

    statuses: list[int] = []
    for round_number in range(ROOM_RACE_ROUNDS):
        start = tomorrow_at(8 + round_number // 2, 30 * (round_number % 2))
        outcomes = run_together([partial(book, c, d, start) for c, d in desks])
        statuses += outcomes
        assert sorted(outcomes) == [302] * 2 + [409] * (ROOM_RACE_SESSIONS - 2), outcomes
        assert Appointment.objects.active().filter(starts_at=start).count() == 2
    assert len(statuses) == ROOM_RACE_SESSIONS * ROOM_RACE_ROUNDS
    for room in rooms:
        assert active_rows(room=room) == ROOM_RACE_ROUNDS


@pytest.mark.django_db
def test_the_database_itself_refuses_an_overlap_that_skips_the_service(
    dermatologist, cryotherapy, treatment_room, tomorrow_at
):
    first = appointment_book(
        patient=PatientFactory(),
        dermatologist=dermatologist,
        procedure_type=cryotherapy,
        starts_at=tomorrow_at(10),
        booked_by=None,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Appointment.objects.create(
            patient=PatientFactory(),
            dermatologist=dermatologist,
            room=None,
            procedure_type=cryotherapy,
            starts_at=first.starts_at + timedelta(minutes=5),
            ends_at=first.ends_at + timedelta(minutes=5),
        )
    other = Appointment.objects.create(
        patient=PatientFactory(),
        dermatologist=dermatologist,
        procedure_type=cryotherapy,
        starts_at=first.starts_at + timedelta(minutes=5),
        ends_at=first.ends_at,
        status=Appointment.Status.CANCELLED,
        cancellation_reason="ill",
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Appointment.objects.filter(pk=other.pk).update(status=Appointment.Status.BOOKED)


@pytest.mark.django_db
def test_the_overlap_rules_are_installed_in_the_database():
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT conname FROM pg_constraint WHERE contype = 'x' AND conname = ANY(%s)",
                [list(OVERLAP_CONSTRAINTS)],
            )
            assert {row[0] for row in cursor.fetchall()} == set(OVERLAP_CONSTRAINTS)
        else:
            # SQLite drops triggers when a migration rebuilds the table: this catches it.
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            assert set(SQLITE_TRIGGERS) <= {row[0] for row in cursor.fetchall()}


@pytest.mark.django_db
def test_back_to_back_appointments_are_allowed(
    dermatologist, cryotherapy, treatment_room, tomorrow_at
):
    first = appointment_book(
        patient=PatientFactory(),
        dermatologist=dermatologist,
        procedure_type=cryotherapy,
        starts_at=tomorrow_at(10),
        booked_by=None,
    )
    second = appointment_book(
        patient=PatientFactory(),
        dermatologist=dermatologist,
        procedure_type=cryotherapy,
        starts_at=first.ends_at,
        booked_by=None,
    )
    assert second.starts_at == first.ends_at
    assert active_rows(dermatologist=dermatologist) == 2


@pytest.mark.django_db
def test_another_dermatologist_and_a_cancelled_visit_do_not_conflict(
    dermatologist, cryotherapy, tomorrow_at
):
    RoomFactory()
    RoomFactory()
    colleague = open_all_week(StaffMemberFactory())
    cancelled = appointment_book(
        patient=PatientFactory(),
        dermatologist=dermatologist,
        procedure_type=cryotherapy,
        starts_at=tomorrow_at(10),
        booked_by=None,
    )
    cancelled.status, cancelled.cancellation_reason = Appointment.Status.CANCELLED, "moved away"
    cancelled.save()

    same_time = [
        appointment_book(
            patient=PatientFactory(),
            dermatologist=who,
            procedure_type=cryotherapy,
            starts_at=tomorrow_at(10),
            booked_by=None,
        )
        for who in (dermatologist, colleague)
    ]

    assert len({a.room_id for a in same_time}) == 2
    assert active_rows() == 2


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="a deadlock between exclusion constraints is PostgreSQL's; SQLite serialises writers",
)
@concurrent
def test_a_booking_that_loses_a_deadlock_is_tried_again_and_refused_not_a_500(
    dermatologist, cryotherapy, treatment_room, tomorrow_at, caplog
):
    """Another transaction holds a visit of the dermatologist's that overlaps the booking's
    start, then adds one that overlaps its end: each waits for the other. PostgreSQL aborts
    the booking's write (it waited first; the other's deadlock_timeout is longer); the
    service tries again, meets the other's committed visits and answers SlotTaken (409)."""
    caplog.set_level(logging.INFO, logger="treatments.services.booking")
    start = tomorrow_at(10)  # the booking: 10:00 to 10:15
    held, outcome = threading.Event(), {}

    def visit_of_the_dermatologist(starts_at):
        return AppointmentFactory(
            dermatologist=dermatologist,
            room=None,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=15),
        )

    def other_transaction():
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL deadlock_timeout = '10s'")
                visit_of_the_dermatologist(start - timedelta(minutes=10))  # 09:50 to 10:05
                held.set()
                wait_for_a_blocked_write()  # the booking waits for this transaction
                visit_of_the_dermatologist(start + timedelta(minutes=10))  # 10:10 to 10:25
        finally:
            connection.close()

    def booking():
        try:
            held.wait(timeout=30)
            outcome["result"] = appointment_book(
                patient=PatientFactory(),
                dermatologist=dermatologist,
                procedure_type=cryotherapy,
                starts_at=start,
                booked_by=UserFactory(),
            )
        except Exception as error:  # asserted on below
            outcome["result"] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=other_transaction), threading.Thread(target=booking)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert isinstance(outcome["result"], SlotTaken), outcome
    assert "lost a deadlock" in caplog.text
    assert active_rows(dermatologist=dermatologist) == 2  # the other transaction's two


def wait_for_a_blocked_write(seconds: float = 30) -> None:
    """Until some transaction waits for a lock held by another."""
    deadline = time.monotonic() + seconds
    with connections["default"].cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0]:
                return
            time.sleep(0.05)
    raise AssertionError("no write waited for another")
