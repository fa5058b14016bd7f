"""Booking and the appointment life cycle: every write to an appointment goes through here.

No double booking is the database's job (treatments/constraints.py): these services turn
its refusal into a `SlotTaken` error with the nearest free alternatives, and guard each
status transition. Every change is recorded as an AppointmentEvent with who and when,
and bumps the schedule's version of the days it touches in its transaction
(clinic/schedule_version.py), so the cached day and week pages show it at once.
"""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Protocol, TypeVar

from django.contrib.auth.models import AnonymousUser, User
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.errors import ServiceError, StateConflict, is_retryable_write_conflict
from clinic.models import Room, StaffMember
from clinic.permissions import CLINICIANS, FRONT_DESK, has_role
from clinic.schedule_version import schedule_days_changed
from patients.models import Patient

from ..constraints import DERMATOLOGIST_OVERLAP, is_overlap_violation
from ..models import Appointment, AppointmentEvent, FollowUp, ProcedureType, WaitlistEntry
from ..selectors.availability import Slot, nearest_free_slots, slot_fits_working_time
from .billing import appointment_estimate_store
from .reminders import (
    reminders_for_booked_appointment,
    reminders_for_cancelled_appointment,
    reminders_for_moved_appointment,
    reminders_for_reinstated_appointment,
)

logger = logging.getLogger(__name__)
Status = Appointment.Status
Action = AppointmentEvent.Action
MOVABLE = (Status.BOOKED, Status.CONFIRMED)
# Tries of a booking write that keeps losing deadlocks to concurrent ones, then a 409.
WRITE_ATTEMPTS = 3
Written = TypeVar("Written")


class BookingError(ServiceError):
    """A booking the clinic's rules refuse; the message is meant for the receptionist."""


class SlotTaken(BookingError, StateConflict):
    """The dermatologist or the room is already booked then; `alternatives` are free slots.

    They may be given as a search, run the first time they are read: a refusal answered
    with a link to the alternatives (the desk's form, the JSON API) never pays for them.
    """

    def __init__(
        self,
        message: str,
        *,
        alternatives: Iterable[Slot] | Callable[[], Iterable[Slot]] = (),
    ) -> None:
        super().__init__(message)
        self._alternatives = alternatives

    @cached_property
    def alternatives(self) -> list[Slot]:
        found = self._alternatives
        return list(found() if callable(found) else found)


class TransitionNotAllowed(BookingError, StateConflict):
    """The appointment's (or the waitlist entry's, the follow-up's) status does not allow
    the step: it changed since the page was shown, or the step never applies."""


def _on_its_day(appointment: Appointment) -> None:
    if timezone.localdate(appointment.starts_at) != timezone.localdate():
        raise TransitionNotAllowed(_("Patients can be checked in only on the day of the visit."))


def _has_started(appointment: Appointment) -> None:
    if appointment.starts_at > timezone.now():
        raise TransitionNotAllowed(
            _("A patient can be marked as a no-show only after the start time.")
        )


def _still_ahead(appointment: Appointment) -> None:
    if appointment.starts_at < timezone.now():
        raise TransitionNotAllowed(_("A past appointment cannot be reinstated."))


@dataclass(frozen=True)
class Transition:
    sources: tuple[str, ...]  # the statuses it may start from
    target: str | None  # the status it leads to (a move keeps the status)
    roles: tuple[str, ...]  # who may take the step
    # Raises TransitionNotAllowed when the step does not apply now (not the visit's day).
    check: Callable[[Appointment], None] | None = None


# The appointment's life cycle, and who may move it along: the services enforce the
# statuses and checks, the views the roles, and the page shows only the steps open now.
TRANSITIONS: dict[str, Transition] = {
    Action.CONFIRMED: Transition((Status.BOOKED,), Status.CONFIRMED, FRONT_DESK),
    Action.CHECKED_IN: Transition(MOVABLE, Status.CHECKED_IN, FRONT_DESK, _on_its_day),
    Action.COMPLETED: Transition((Status.CHECKED_IN,), Status.COMPLETED, CLINICIANS),
    Action.NO_SHOW: Transition(MOVABLE, Status.NO_SHOW, FRONT_DESK, _has_started),
    Action.CANCELLED: Transition(MOVABLE, Status.CANCELLED, FRONT_DESK),
    Action.REINSTATED: Transition((Status.CANCELLED,), Status.BOOKED, FRONT_DESK, _still_ahead),
    Action.RESCHEDULED: Transition(MOVABLE, None, FRONT_DESK),
}


def _open_now(appointment: Appointment, step: Transition) -> bool:
    if appointment.status not in step.sources:
        return False
    try:
        if step.check is not None:
            step.check(appointment)
    except TransitionNotAllowed:
        return False
    return True


def allowed_actions(
    appointment: Appointment, *, user: User | AnonymousUser | None = None
) -> list[str]:
    """The steps open to this appointment now (for `user`'s role, when given): the
    appointment page's buttons, so that none is shown that would be refused."""
    return [
        action
        for action, step in TRANSITIONS.items()
        if _open_now(appointment, step) and (user is None or has_role(user, step.roles))
    ]


# Loaded by the caller and checked in _check_bookable and _room_for: validating them
# again would only ask the database, one query each, whether they exist.
CHECKED_RELATIONS = ["patient", "dermatologist", "room", "procedure_type", "created_by"]


def _check_bookable(
    *, dermatologist: StaffMember, procedure_type: ProcedureType, starts_at: datetime
) -> datetime:
    """The visit's end; BookingError when it cannot be booked. Translated: a patient
    claiming a freed time through a link reads these too."""
    if dermatologist.role != StaffMember.Role.DERMATOLOGIST or not dermatologist.is_active:
        raise BookingError(_("%(name)s cannot be booked.") % {"name": dermatologist})
    if not procedure_type.is_active:
        raise BookingError(_("%(name)s is no longer offered.") % {"name": procedure_type})
    if starts_at < timezone.now() - timedelta(minutes=5):
        raise BookingError(_("That time has passed."))
    ends_at = starts_at + timedelta(minutes=procedure_type.duration_minutes)
    if not slot_fits_working_time(
        dermatologist=dermatologist, starts_at=starts_at, ends_at=ends_at
    ):
        raise BookingError(_("%(name)s is not working at that time.") % {"name": dermatologist})
    return ends_at


def _room_for(
    *,
    procedure_type: ProcedureType,
    room: Room | None,
    starts_at: datetime,
    ends_at: datetime,
    exclude_id: int | None = None,
) -> Room | None:
    """The room to use: the one asked for, or the first free treatment room if one is needed."""
    if room is not None:
        if not room.is_active:
            raise BookingError(_("%(name)s is not in use.") % {"name": room})
        if procedure_type.needs_treatment_room and room.kind != Room.Kind.TREATMENT:
            raise BookingError(_("%(name)s needs a treatment room.") % {"name": procedure_type})
        return room
    if not procedure_type.needs_treatment_room:
        return None
    busy = Appointment.objects.active().filter(
        starts_at__lt=ends_at,
        ends_at__gt=starts_at,
        room__isnull=False,  # NOT IN with a NULL would exclude every room
    )
    if exclude_id is not None:
        busy = busy.exclude(pk=exclude_id)
    free = (
        Room.objects.filter(kind=Room.Kind.TREATMENT, is_active=True)
        .exclude(pk__in=busy.values("room_id"))
        .order_by("pk")
        .first()
    )
    if free is None:
        raise SlotTaken(_("No treatment room is free at that time."))
    return free


# The first key of the advisory locks that serialise booking writes ("bk").
BOOKING_LOCK = 0x626B


def _one_booking_write_at_a_time(day: date) -> None:
    """Wait for the other booking writes of the day to commit (PostgreSQL; SQLite's
    IMMEDIATE transactions already serialise every write)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [BOOKING_LOCK, day.toordinal()])


def _guarded_write(
    write: Callable[[], Written],
    *,
    procedure_type: ProcedureType,
    dermatologist: StaffMember,
    starts_at: datetime,
    exclude_id: int | None = None,
    takes_time: bool = True,
) -> Written:
    """Run a write that may put an appointment on taken time; a refusal becomes SlotTaken
    with the nearest free alternatives.

    On PostgreSQL the writes that take time (`takes_time`) on one clinic day go one at a
    time: two bookings checking each other's rows under the two exclusion constraints (the
    dermatologist's, the room's) would otherwise deadlock, and PostgreSQL only finds that
    after a second. The constraints stay the guard against double booking. A write that
    still loses a deadlock (to a writer that skips this service) is tried again
    (WRITE_ATTEMPTS in all): by then the other has committed, and the database refuses
    the overlap as usual."""
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                if takes_time:
                    _one_booking_write_at_a_time(timezone.localdate(starts_at))
                return write()
        except IntegrityError as error:
            rule = is_overlap_violation(error)
            if rule is None:
                raise
            who = str(dermatologist) if rule == DERMATOLOGIST_OVERLAP else _("The treatment room")
            local = timezone.localtime(starts_at)
            message = f"{who} is already booked at {local:%H:%M} on {local:%a %d %b}."
            break
        except SlotTaken as taken:  # no free treatment room
            message = str(taken)
            break
        except OperationalError as error:
            if not is_retryable_write_conflict(error):
                raise
            message = "That time is being booked by someone else right now."
            if attempt < WRITE_ATTEMPTS:
                logger.info(
                    "booking write lost a deadlock; attempt %d of %d", attempt, WRITE_ATTEMPTS
                )
    raise SlotTaken(
        message,
        alternatives=lambda: nearest_free_slots(
            procedure_type=procedure_type,
            around=starts_at,
            dermatologist=dermatologist,
            exclude_appointment_id=exclude_id,
        ),
    )


def appointment_book(
    *,
    patient: Patient,
    dermatologist: StaffMember,
    procedure_type: ProcedureType,
    starts_at: datetime,
    booked_by: User | None,
    room: Room | None = None,
    reason: str = "",
    waitlist_entry: WaitlistEntry | None = None,
    follow_up: FollowUp | None = None,
    note: str = "",
    external_id: str | None = None,
) -> Appointment:
    """Book a visit. Raises SlotTaken (with alternatives) when the time is taken.

    `note` says how it was booked in the visit's history ("Booked online").

    The booking's confirmation and reminders, and its self-pay estimate (billing), are
    written with it (reminders_for_booked_appointment), whoever books: the desk, the API,
    a patient claiming a waitlist offer, a patient online.

    A booking that answers the patient's waitlist entry or follow-up closes it in the
    same transaction: the entry is booked, the follow-up booked and linked to the visit.
    Either must be this patient's and still open, else TransitionNotAllowed (409) and
    nothing is written. `external_id` is the visit's id in the system a clinic moved
    from (the CSV import, docs/import.md).
    """
    ends_at = _check_bookable(
        dermatologist=dermatologist, procedure_type=procedure_type, starts_at=starts_at
    )

    def write() -> Appointment:
        appointment = Appointment(
            patient=patient,
            dermatologist=dermatologist,
            procedure_type=procedure_type,
            starts_at=starts_at,
            ends_at=ends_at,
            room=_room_for(
                procedure_type=procedure_type, room=room, starts_at=starts_at, ends_at=ends_at
            ),
            reason=reason,
            created_by=booked_by,
            external_id=external_id,
        )
        appointment.full_clean(exclude=CHECKED_RELATIONS, validate_constraints=False)
        appointment.save()
        AppointmentEvent.objects.create(
            appointment=appointment, action=Action.BOOKED, actor=booked_by, note=note
        )
        if waitlist_entry is not None:
            _waitlist_entry_close(waitlist_entry, appointment=appointment)
        if follow_up is not None:
            _follow_up_close(follow_up, appointment=appointment, by=booked_by)
        if appointment_estimate_store(appointment=appointment) is None:
            # Known to have none: `appointment.estimate` then says so without a query.
            Appointment.estimate.related.set_cached_value(appointment, None)
        reminders_for_booked_appointment(appointment=appointment)
        schedule_days_changed(appointment.starts_at)
        return appointment

    return _guarded_write(
        write, procedure_type=procedure_type, dermatologist=dermatologist, starts_at=starts_at
    )


def _waitlist_entry_close(entry: WaitlistEntry, *, appointment: Appointment) -> None:
    current = WaitlistEntry.objects.select_for_update().get(pk=entry.pk)
    if current.patient_id != appointment.patient_id:
        raise TransitionNotAllowed(_("That waitlist entry is another patient's."))
    if current.status != WaitlistEntry.Status.WAITING:
        raise TransitionNotAllowed(
            f"That waitlist entry is {current.get_status_display().lower()} already."
        )
    current.status = WaitlistEntry.Status.BOOKED
    current.save(update_fields=["status"])


def _follow_up_close(follow_up: FollowUp, *, appointment: Appointment, by: User | None) -> None:
    current = FollowUp.objects.select_for_update().get(pk=follow_up.pk)
    if current.patient_id != appointment.patient_id:
        raise TransitionNotAllowed(_("That follow-up is another patient's."))
    if current.status != FollowUp.Status.OPEN:
        raise TransitionNotAllowed(
            _("This follow-up is %(status)s.") % {"status": current.get_status_display().lower()}
        )
    current.status = FollowUp.Status.BOOKED
    current.appointment = appointment
    current._history_user = by
    current.save(update_fields=["status", "appointment"])


def _locked(appointment: Appointment) -> Appointment:
    return (
        Appointment.objects.select_for_update()
        .select_related("procedure_type")
        .get(pk=appointment.pk)
    )


def appointment_reschedule(
    *,
    appointment: Appointment,
    starts_at: datetime,
    by: User | None,
    dermatologist: StaffMember | None = None,
    room: Room | None = None,
    by_patient: bool = False,
    check: Callable[[Appointment], None] | None = None,
) -> Appointment:
    """Move a booked or confirmed appointment; the new time passes the same guarantee.

    `by_patient`: the patient moved it online (by=None); the history says so and the
    visit's self-move count goes up. `check(current)` runs on the locked row before the
    move and raises (a ServiceError) to refuse it: the self-service policy."""
    dermatologist = dermatologist or appointment.dermatologist
    procedure_type = appointment.procedure_type
    ends_at = _check_bookable(
        dermatologist=dermatologist, procedure_type=procedure_type, starts_at=starts_at
    )

    def write() -> Appointment:
        current = _locked(appointment)
        if current.status not in MOVABLE:
            raise TransitionNotAllowed(
                f"A {current.get_status_display().lower()} appointment cannot be moved."
            )
        if check is not None:
            check(current)
        before = timezone.localtime(current.starts_at)
        current.room = _room_for(
            procedure_type=procedure_type,
            room=room,
            starts_at=starts_at,
            ends_at=ends_at,
            exclude_id=current.pk,
        )
        current.dermatologist = dermatologist
        current.starts_at, current.ends_at = starts_at, ends_at
        current.sequence += 1  # calendar apps replace the entry of a lower SEQUENCE
        if by_patient:
            current.self_moves += 1
        current.full_clean(exclude=CHECKED_RELATIONS, validate_constraints=False)
        current.save()
        moved = f"from {before:%Y-%m-%d %H:%M} to {timezone.localtime(starts_at):%Y-%m-%d %H:%M}"
        AppointmentEvent.objects.create(
            appointment=current,
            action=Action.RESCHEDULED,
            actor=by,
            note=f"moved by the patient online {moved}" if by_patient else moved,
        )
        reminders_for_moved_appointment(appointment=current)  # the pending ones move along
        schedule_days_changed(before, current.starts_at)
        return current

    return _guarded_write(
        write,
        procedure_type=procedure_type,
        dermatologist=dermatologist,
        starts_at=starts_at,
        exclude_id=appointment.pk,
    )


class _Then(Protocol):
    """What runs after a transition, in its transaction: a reminders_for_... rule."""

    def __call__(self, *, appointment: Appointment) -> None: ...


def _transition(
    appointment: Appointment,
    action: str,
    *,
    by: User | None,
    note: str = "",
    then: _Then | None = None,
    locked: bool = False,
) -> Appointment:
    """Move an appointment along its life cycle, if its current status and the step's
    check allow it; `then(appointment)` runs in the same transaction (the reminders).
    `locked`: the caller's transaction already holds the row (SELECT … FOR UPDATE) and
    `appointment` is what it read, so it is not read again."""
    step = TRANSITIONS[action]
    target = step.target
    assert target is not None, "a move keeps its status: appointment_reschedule() does it"

    def write() -> Appointment:
        current = appointment if locked else _locked(appointment)
        if current.status not in step.sources:
            raise TransitionNotAllowed(
                f"A {current.get_status_display().lower()} appointment cannot be "
                f"{Action(action).label.lower()}."
            )
        if step.check is not None:
            step.check(current)
        current.status = target
        # A reinstated appointment is no longer cancelled, so it keeps no reason for it.
        current.cancellation_reason = note if action == Action.CANCELLED else ""
        if action in (Action.CANCELLED, Action.REINSTATED):
            current.sequence += 1  # the calendar entry is removed, or comes back
        current.save(update_fields=["status", "cancellation_reason", "sequence", "updated_at"])
        AppointmentEvent.objects.create(appointment=current, action=action, actor=by, note=note)
        if then is not None:
            then(appointment=current)
        schedule_days_changed(current.starts_at)
        return current

    if locked and action != Action.REINSTATED:
        # Inside the caller's transaction, on the row it holds; a step that keeps or frees
        # the visit's time meets no overlap, so it needs neither a savepoint nor a retry.
        return write()
    return _guarded_write(
        write,
        procedure_type=appointment.procedure_type,
        dermatologist=appointment.dermatologist,
        starts_at=appointment.starts_at,
        exclude_id=appointment.pk,
        # Only reinstating puts the visit back on its time; the other steps keep or free it.
        takes_time=action == Action.REINSTATED,
    )


def appointment_confirm(
    *, appointment: Appointment, by: User | None = None, note: str = ""
) -> Appointment:
    """Confirmed by the desk, or by the patient through a link or a reply (by=None); the
    `note` says how, in the appointment's history."""
    return _transition(appointment, Action.CONFIRMED, by=by, note=note)


def appointment_check_in(*, appointment: Appointment, by: User | None) -> Appointment:
    return _transition(appointment, Action.CHECKED_IN, by=by)


def appointment_complete(
    *, appointment: Appointment, by: User | None, locked: bool = False
) -> Appointment:
    """The visit is over. `locked`: the caller has read `appointment` with SELECT … FOR
    UPDATE in the transaction still open (recording a procedure), so it is not read again."""
    return _transition(appointment, Action.COMPLETED, by=by, locked=locked)


def appointment_mark_no_show(*, appointment: Appointment, by: User | None) -> Appointment:
    return _transition(appointment, Action.NO_SHOW, by=by)


def appointment_cancel(
    *, appointment: Appointment, reason: str, by: User | None = None
) -> Appointment:
    """Cancel with a reason; the freed time can then be offered to the waitlist."""
    reason = reason.strip()
    if not reason:
        raise BookingError(_("Give a reason for the cancellation."))
    return _transition(
        appointment,
        Action.CANCELLED,
        by=by,
        note=reason[:200],
        then=reminders_for_cancelled_appointment,
    )


def appointment_reinstate(*, appointment: Appointment, by: User | None) -> Appointment:
    """Un-cancel: the time must still be free (the database guarantee applies again)."""
    return _transition(
        appointment,
        Action.REINSTATED,
        by=by,
        then=reminders_for_reinstated_appointment,
    )


def waitlist_entry_add(*, entry: WaitlistEntry, by: User | None) -> WaitlistEntry:
    entry.created_by = by
    entry.full_clean()
    entry.save()
    return entry


def waitlist_entry_remove(*, entry: WaitlistEntry) -> WaitlistEntry:
    if entry.status != WaitlistEntry.Status.WAITING:
        raise TransitionNotAllowed(_("Only a waiting entry can be removed."))
    entry.status = WaitlistEntry.Status.REMOVED
    entry.save(update_fields=["status"])
    return entry
