"""The booking services: book, reschedule, cancel, confirm, check in, complete, no-show."""

from datetime import timedelta

import pytest
from django.utils import timezone

from clinic.clock import day_bounds
from clinic.models import StaffMember
from treatments.models import Appointment, AppointmentEvent, WaitlistEntry
from treatments.selectors.appointments import waitlist_offers_for
from treatments.services import (
    BookingError,
    SlotTaken,
    TransitionNotAllowed,
    allowed_actions,
    appointment_book,
    appointment_cancel,
    appointment_check_in,
    appointment_complete,
    appointment_confirm,
    appointment_mark_no_show,
    appointment_reinstate,
    appointment_reschedule,
)

from ...factories import AppointmentFactory, PatientFactory, StaffMemberFactory, UserFactory
from ..conftest import open_all_week

pytestmark = pytest.mark.django_db
Status = Appointment.Status


@pytest.fixture
def booker():
    return StaffMemberFactory(role=StaffMember.Role.RECEPTIONIST).user


@pytest.fixture
def booked(dermatologist, cryotherapy, treatment_room, tomorrow_at, booker):
    return appointment_book(
        patient=PatientFactory(),
        dermatologist=dermatologist,
        procedure_type=cryotherapy,
        starts_at=tomorrow_at(10),
        booked_by=booker,
    )


def started_today(dermatologist, cryotherapy, treatment_room, **extra):
    """An appointment that began a minute ago, or at midnight when today is younger than
    that (written directly: booking refuses the past)."""
    start = max(timezone.now() - timedelta(minutes=1), day_bounds(timezone.localdate())[0])
    return AppointmentFactory(
        dermatologist=dermatologist,
        procedure_type=cryotherapy,
        room=treatment_room,
        starts_at=start,
        ends_at=start + timedelta(minutes=15),
        **extra,
    )


def test_booking_takes_its_length_from_the_procedure_and_picks_a_free_room(booked, cryotherapy):
    assert booked.ends_at - booked.starts_at == timedelta(minutes=cryotherapy.duration_minutes)
    assert booked.room is not None
    assert booked.status == Status.BOOKED


def test_booking_records_who_booked_and_when(booked, booker):
    event = booked.events.get()
    assert (event.action, event.actor) == (AppointmentEvent.Action.BOOKED, booker)
    assert booked.created_by == booker


def test_a_taken_time_is_refused_with_the_nearest_free_alternatives(booked, booker):
    with pytest.raises(SlotTaken) as taken:
        appointment_book(
            patient=PatientFactory(),
            dermatologist=booked.dermatologist,
            procedure_type=booked.procedure_type,
            starts_at=booked.starts_at,
            booked_by=booker,
        )
    alternatives = taken.value.alternatives
    assert alternatives
    assert all(
        slot.starts_at >= booked.ends_at or slot.ends_at <= booked.starts_at
        for slot in alternatives
        if slot.dermatologist_id == booked.dermatologist_id
    )
    assert Appointment.objects.count() == 1


def test_no_free_treatment_room_is_a_conflict(booked, booker, tomorrow_at):
    colleague = open_all_week(StaffMemberFactory())
    with pytest.raises(SlotTaken, match="No treatment room"):
        appointment_book(
            patient=PatientFactory(),
            dermatologist=colleague,
            procedure_type=booked.procedure_type,
            starts_at=tomorrow_at(10),
            booked_by=booker,
        )


def test_booking_outside_working_hours_or_in_the_past_is_refused(
    dermatologist, cryotherapy, treatment_room, tomorrow_at, booker
):
    for starts_at in (tomorrow_at(20), timezone.now() - timedelta(hours=2)):
        with pytest.raises(BookingError):
            appointment_book(
                patient=PatientFactory(),
                dermatologist=dermatologist,
                procedure_type=cryotherapy,
                starts_at=starts_at,
                booked_by=booker,
            )
    assert not Appointment.objects.exists()


def test_a_receptionist_cannot_be_booked_as_the_dermatologist(cryotherapy, tomorrow_at, booker):
    receptionist = open_all_week(StaffMemberFactory(role=StaffMember.Role.RECEPTIONIST))
    with pytest.raises(BookingError, match="cannot be booked"):
        appointment_book(
            patient=PatientFactory(),
            dermatologist=receptionist,
            procedure_type=cryotherapy,
            starts_at=tomorrow_at(10),
            booked_by=booker,
        )


def test_rescheduling_moves_the_visit_and_records_from_where(booked, booker, tomorrow_at):
    moved = appointment_reschedule(appointment=booked, starts_at=tomorrow_at(14), by=booker)
    assert timezone.localtime(moved.starts_at).hour == 14
    event = moved.events.get(action=AppointmentEvent.Action.RESCHEDULED)
    assert event.actor == booker and "10:00" in event.note and "14:00" in event.note


def test_rescheduling_a_little_later_overlapping_its_own_old_time_is_allowed(
    booked, booker, tomorrow_at
):
    moved = appointment_reschedule(appointment=booked, starts_at=tomorrow_at(10, 5), by=booker)
    assert timezone.localtime(moved.starts_at).minute == 5


def test_rescheduling_onto_a_taken_time_is_refused_and_changes_nothing(booked, booker, tomorrow_at):
    other = appointment_book(
        patient=PatientFactory(),
        dermatologist=booked.dermatologist,
        procedure_type=booked.procedure_type,
        starts_at=tomorrow_at(11),
        booked_by=booker,
    )
    with pytest.raises(SlotTaken):
        appointment_reschedule(appointment=other, starts_at=tomorrow_at(10), by=booker)
    other.refresh_from_db()
    assert timezone.localtime(other.starts_at).hour == 11


def test_a_completed_visit_cannot_be_moved(
    dermatologist, cryotherapy, treatment_room, booker, tomorrow_at
):
    done = started_today(dermatologist, cryotherapy, treatment_room, status=Status.COMPLETED)
    with pytest.raises(TransitionNotAllowed, match="cannot be moved"):
        appointment_reschedule(appointment=done, starts_at=tomorrow_at(9), by=booker)


def test_the_life_cycle_from_booked_to_completed(
    dermatologist, cryotherapy, treatment_room, booker
):
    visit = started_today(dermatologist, cryotherapy, treatment_room)
    visit = appointment_confirm(appointment=visit, by=booker)
    visit = appointment_check_in(appointment=visit, by=booker)
    visit = appointment_complete(appointment=visit, by=dermatologist.user)
    assert visit.status == Status.COMPLETED
    assert list(visit.events.values_list("action", "actor")) == [
        ("confirmed", booker.pk),
        ("checked_in", booker.pk),
        ("completed", dermatologist.user.pk),
    ]


def test_a_cancelled_visit_cannot_be_checked_in(booked, booker):
    cancelled = appointment_cancel(appointment=booked, reason="Feeling unwell", by=booker)
    with pytest.raises(TransitionNotAllowed, match="cancelled appointment cannot be checked in"):
        appointment_check_in(appointment=cancelled, by=booker)
    assert Appointment.objects.get().status == Status.CANCELLED


def test_cancelling_needs_a_reason_and_records_it(booked, booker):
    with pytest.raises(BookingError, match="reason"):
        appointment_cancel(appointment=booked, reason="  ", by=booker)
    cancelled = appointment_cancel(appointment=booked, reason="Travelling", by=booker)
    assert (cancelled.status, cancelled.cancellation_reason) == (Status.CANCELLED, "Travelling")
    assert cancelled.events.filter(action="cancelled", note="Travelling", actor=booker).exists()


def test_check_in_only_on_the_day_of_the_visit(booked, booker):
    with pytest.raises(TransitionNotAllowed, match="day of the visit"):
        appointment_check_in(appointment=booked, by=booker)


def test_no_show_only_after_the_start(booked, booker, dermatologist, cryotherapy, treatment_room):
    with pytest.raises(TransitionNotAllowed, match="after the start"):
        appointment_mark_no_show(appointment=booked, by=booker)
    late = started_today(
        dermatologist,
        cryotherapy,
        treatment_room,
        patient=PatientFactory(),
        status=Status.CONFIRMED,
    )
    assert appointment_mark_no_show(appointment=late, by=booker).status == Status.NO_SHOW


def test_reinstating_a_cancelled_visit_into_a_taken_time_is_refused(booked, booker):
    appointment_cancel(appointment=booked, reason="Ill", by=booker)
    appointment_book(
        patient=PatientFactory(),
        dermatologist=booked.dermatologist,
        procedure_type=booked.procedure_type,
        starts_at=booked.starts_at,
        booked_by=booker,
    )
    with pytest.raises(SlotTaken):
        appointment_reinstate(appointment=booked, by=booker)
    booked.refresh_from_db()
    assert booked.status == Status.CANCELLED


def test_reinstating_into_a_free_time_books_it_again_without_the_old_reason(booked, booker):
    appointment_cancel(appointment=booked, reason="Ill", by=booker)
    again = appointment_reinstate(appointment=booked, by=booker)
    assert (again.status, again.cancellation_reason) == (Status.BOOKED, "")


def test_allowed_actions_follow_the_status_and_the_day(booked):
    # Tomorrow's visit: not checked in or missed before its day and time.
    assert allowed_actions(booked) == ["confirmed", "cancelled", "rescheduled"]
    booked.status = Status.CANCELLED
    assert allowed_actions(booked) == ["reinstated"]
    booked.status = Status.COMPLETED
    assert allowed_actions(booked) == []


def test_a_visit_that_started_today_can_be_checked_in_or_missed(
    dermatologist, cryotherapy, treatment_room
):
    visit = started_today(dermatologist, cryotherapy, treatment_room)
    assert allowed_actions(visit) == [
        "confirmed",
        "checked_in",
        "no_show",
        "cancelled",
        "rescheduled",
    ]
    visit.status = Status.CANCELLED
    assert allowed_actions(visit) == []  # a past visit is not reinstated


def test_allowed_actions_for_a_user_are_those_of_their_role(booked):
    receptionist = StaffMemberFactory(role="receptionist").user
    dermatologist = booked.dermatologist.user
    booked.status = Status.CHECKED_IN
    assert allowed_actions(booked, user=dermatologist) == ["completed"]
    assert allowed_actions(booked, user=receptionist) == []


def test_a_cancelled_visit_is_offered_to_matching_waitlist_entries(booked, booker, cryotherapy):
    day = timezone.localdate(booked.starts_at)
    waiting = WaitlistEntry.objects.create(
        patient=PatientFactory(), procedure_type=cryotherapy, earliest_date=day, latest_date=day
    )
    WaitlistEntry.objects.create(  # wants another dermatologist
        patient=PatientFactory(),
        procedure_type=cryotherapy,
        earliest_date=day,
        latest_date=day,
        dermatologist=open_all_week(StaffMemberFactory()),
    )
    WaitlistEntry.objects.create(  # wants a later week
        patient=PatientFactory(),
        procedure_type=cryotherapy,
        earliest_date=day + timedelta(days=7),
        latest_date=day + timedelta(days=14),
    )
    WaitlistEntry.objects.create(  # only afternoons
        patient=PatientFactory(),
        procedure_type=cryotherapy,
        earliest_date=day,
        latest_date=day,
        earliest_time=timezone.datetime.strptime("13:00", "%H:%M").time(),
    )
    cancelled = appointment_cancel(appointment=booked, reason="Ill", by=booker)
    assert list(waitlist_offers_for(appointment=cancelled)) == [waiting]


@pytest.fixture
def waiting(cryotherapy):
    return WaitlistEntry.objects.create(
        patient=PatientFactory(),
        procedure_type=cryotherapy,
        earliest_date=timezone.localdate(),
        latest_date=timezone.localdate() + timedelta(days=3),
    )


def book_from_the_waitlist(entry, *, patient, dermatologist, starts_at, booker):
    return appointment_book(
        patient=patient,
        dermatologist=dermatologist,
        procedure_type=entry.procedure_type,
        starts_at=starts_at,
        booked_by=booker,
        waitlist_entry=entry,
    )


def test_booking_from_the_waitlist_marks_the_entry_booked(
    waiting, dermatologist, treatment_room, tomorrow_at, booker
):
    book_from_the_waitlist(
        waiting,
        patient=waiting.patient,
        dermatologist=dermatologist,
        starts_at=tomorrow_at(9),
        booker=booker,
    )
    waiting.refresh_from_db()
    assert waiting.status == WaitlistEntry.Status.BOOKED
    with pytest.raises(TransitionNotAllowed, match="booked already"):
        book_from_the_waitlist(
            waiting,
            patient=waiting.patient,
            dermatologist=dermatologist,
            starts_at=tomorrow_at(11),
            booker=booker,
        )
    assert Appointment.objects.filter(patient=waiting.patient).count() == 1


def test_another_patients_waitlist_entry_is_refused_and_nothing_is_booked(
    waiting, dermatologist, treatment_room, tomorrow_at, booker
):
    someone_else = PatientFactory()
    with pytest.raises(TransitionNotAllowed, match="another patient's"):
        book_from_the_waitlist(
            waiting,
            patient=someone_else,
            dermatologist=dermatologist,
            starts_at=tomorrow_at(9),
            booker=booker,
        )
    waiting.refresh_from_db()
    assert waiting.status == WaitlistEntry.Status.WAITING
    assert not Appointment.objects.filter(patient=someone_else).exists()


def test_a_patient_confirming_through_a_link_is_recorded_without_a_staff_member(booked):
    confirmed = appointment_confirm(appointment=booked, by=None)
    assert confirmed.events.get(action="confirmed").actor is None


def test_booked_by_a_user_without_a_profile_is_still_attributed(
    dermatologist, cryotherapy, treatment_room, tomorrow_at
):
    it_admin = UserFactory(is_superuser=True)
    visit = appointment_book(
        patient=PatientFactory(),
        dermatologist=dermatologist,
        procedure_type=cryotherapy,
        starts_at=tomorrow_at(9),
        booked_by=it_admin,
    )
    assert visit.events.get().actor == it_admin
