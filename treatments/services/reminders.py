"""The clinic's reminder rules: who is reminded of what, and when.

Called by the booking and records services inside their transactions, so a reminder
exists exactly when what caused it was committed. Each rule turns a visit, a signed
procedure or a follow-up into outbox rows (clinic/outbox.py), which know a recipient, a
time and a few template values: times, names and patient links, never a diagnosis, a
procedure or a lesion.

Sources are named by stable keys: "appointment:42" for a visit's reminders,
"appointment:42:booked" for the confirmation sent at booking, "appointment:42:moved" and
"appointment:42:cancelled" for the notices that change the entry a patient already holds
in their calendar,
"appointment:42:freed" for the waitlist offers its cancellation made, "procedure:7",
"follow-up:9".

A visit's messages carry its calendar entry (clinic/channels.py): the same UID every
time, and the appointment's `sequence`, which booking raises on every move, cancellation
and reinstatement, so a calendar app replaces what it holds with the newest message.
"""

from datetime import UTC, time, timedelta

from django.utils import timezone

from clinic.channels import calendar_event_uid
from clinic.clock import local_datetime
from clinic.links import Action
from clinic.models import Reminder
from clinic.outbox import (
    reminder_plan,
    reminder_replace,
    reminders_add,
    reminders_cancel_pending,
)
from patients.models import Channel

from ..models import Appointment, FollowUp, Procedure, WaitlistEntry
from ..selectors.appointments import waitlist_offers_for

Kind = Reminder.Kind
# What changed a calendar entry the patient holds: its notice's source key ends so.
MOVED, CANCELLED = "moved", "cancelled"
# The confirmation sent at booking: its source key ends so.
BOOKED = "booked"
RECURRENCE_CHECK_HOUR = time(10, 0)
# A claim link's subject id holds two ids, 32 bits each (claim_subject_id).
CLAIM_ID_BITS = 32


def _appointment_key(appointment: Appointment) -> str:
    return f"appointment:{appointment.pk}"


def claim_subject_id(*, freed: Appointment, entry: WaitlistEntry) -> int:
    """The one subject id of a waitlist offer's claim link: the freed visit's id in the
    high 32 bits, the waitlist entry's in the low ones (a token holds one 64-bit id; a
    clinic's ids stay far below 2**32)."""
    return (freed.pk << CLAIM_ID_BITS) | entry.pk


def _slot(idempotency_key: str) -> str:
    """The offset and channel of an appointment reminder's key, without the visit time:
    "appointment:42:20260501T1400Z:reminder-24h:email" → "reminder-24h:email"."""
    return idempotency_key.split(":", 3)[3]


def appointment_calendar_context(appointment: Appointment) -> dict[str, object]:
    """What the visit's calendar entry says: when, where, which version of it."""
    source_key = _appointment_key(appointment)
    return {
        "starts_at": appointment.starts_at.isoformat(),
        "ends_at": appointment.ends_at.isoformat(),
        "event_uid": calendar_event_uid(source_key),
        "sequence": appointment.sequence,
        "room": appointment.room.name if appointment.room else "",
    }


def _visit_links(appointment: Appointment) -> dict[str, list[object]]:
    """The links a visit's messages carry: in an SMS only `visit_url`, the one short link
    whose page offers confirming, cancelling, the calendar file and stopping reminders."""
    return {
        "visit_url": [Action.VISIT, appointment.pk],
        "confirm_url": [Action.CONFIRM, appointment.pk],
        "cancel_url": [Action.CANCEL, appointment.pk],
        "stop_url": [Action.STOP, appointment.patient_id],
    }


def _appointment_plan(appointment: Appointment) -> list[Reminder]:
    """The visit's reminders: one per offset of its procedure type
    (ProcedureType.reminder_offsets_hours, or CLINIC_REMINDER_OFFSETS_HOURS when the type
    has none) whose time is still ahead.

    The rule, for a visit booked inside an offset too: an offset's reminder is planned
    when its time (that many hours before the visit, moved to the end of quiet hours if it
    falls in them) is after now and before the visit. Booked 30 hours ahead with offsets
    of 48 and 24 hours, the visit gets the 24-hour reminder; booked 10 hours ahead, none:
    the confirmation sent at booking is then its only message.
    """
    now = timezone.now()
    source_key = _appointment_key(appointment)
    starts = f"{appointment.starts_at.astimezone(UTC):%Y%m%dT%H%MZ}"
    context = {
        **appointment_calendar_context(appointment),
        "dermatologist": str(appointment.dermatologist),
        "links": _visit_links(appointment),
    }
    planned = []
    for hours in appointment.procedure_type.reminder_offsets_hours:
        # In UTC: arithmetic on a zoned datetime is wall-clock, an hour off across DST.
        send_at = appointment.starts_at.astimezone(UTC) - timedelta(hours=hours)
        if send_at <= now:
            continue  # a booking for tomorrow gets no 72-hour reminder
        reminder = reminder_plan(
            patient=appointment.patient,
            kind=Kind.APPOINTMENT,
            source_key=source_key,
            key=f"{source_key}:{starts}:reminder-{hours}h",
            send_at=send_at,
            context=context,
        )
        if reminder.send_at < appointment.starts_at:  # quiet hours did not push it past
            planned.append(reminder)
    return planned


def _confirmation_plan(appointment: Appointment) -> Reminder:
    """The confirmation of a booking, at once (quiet hours still apply), by the channel
    and consent that the visit's reminders use; by email with the calendar file."""
    source_key = f"{_appointment_key(appointment)}:{BOOKED}"
    return reminder_plan(
        patient=appointment.patient,
        kind=Kind.CONFIRMATION,
        source_key=source_key,
        key=source_key,
        send_at=timezone.now(),
        context={
            **appointment_calendar_context(appointment),
            "dermatologist": str(appointment.dermatologist),
            "links": _visit_links(appointment),
        },
    )


def _pop_same_slot(planned: dict[str, Reminder], reminder: Reminder) -> Reminder | None:
    slot = _slot(reminder.idempotency_key)
    for key in planned:
        if _slot(key) == slot:
            return planned.pop(key)
    return None


def _replanned(appointment: Appointment) -> list[Reminder]:
    """Re-plan the visit's existing reminders; returns the new ones still to be added.

    Pending reminders move to the new times (the same rows); ones whose time has passed
    are cancelled; a reminder already sent for the old time stays sent, and the new time
    gets its own.
    """
    planned = {reminder.idempotency_key: reminder for reminder in _appointment_plan(appointment)}
    existing = Reminder.objects.filter(
        source_key=_appointment_key(appointment), kind=Kind.APPOINTMENT
    )
    replaceable = (Reminder.Status.PENDING, Reminder.Status.CANCELLED, Reminder.Status.SKIPPED)
    for reminder in existing:
        plan = planned.pop(reminder.idempotency_key, None)
        if plan is None and reminder.status == Reminder.Status.PENDING:
            plan = _pop_same_slot(planned, reminder)
            if plan is None:
                reminder.status = Reminder.Status.CANCELLED
                reminder.next_attempt_at = None
                reminder.skip_reason = "The visit moved; this reminder's time has passed."
                reminder.save(update_fields=["status", "next_attempt_at", "skip_reason"])
                continue
        if plan is not None and reminder.status in replaceable:
            reminder_replace(reminder, plan)
    return list(planned.values())


def reminders_for_appointment(*, appointment: Appointment) -> None:
    """Plan a visit's reminders, or re-plan them after it moved or was reinstated (see
    _replanned)."""
    reminders_add(_replanned(appointment))


def reminders_for_booked_appointment(*, appointment: Appointment) -> None:
    """A new booking: its confirmation now and its reminders (see _appointment_plan).

    Written in the booking's transaction; booking the same visit's plan twice adds
    nothing (the rows' idempotency keys), so a retried write sends one confirmation.
    Without consent the confirmation is written skipped, like every reminder.
    """
    reminders_add([_confirmation_plan(appointment), *_replanned(appointment)])


def _calendar_sent(appointment: Appointment) -> bool:
    """Whether the patient holds the visit's calendar entry: an email of it went out."""
    key = _appointment_key(appointment)
    return Reminder.objects.filter(
        source_key__in=[key, f"{key}:{BOOKED}", f"{key}:{MOVED}"],
        channel=Channel.EMAIL,
        status__in=(Reminder.Status.SENT, Reminder.Status.SENDING),
    ).exists()


def _calendar_notice(appointment: Appointment, *, change: str) -> list[Reminder]:
    """To a patient reminded by email who already holds the visit's calendar entry, at
    once: its new version, moved (METHOD:REQUEST, the new time) or cancelled
    (METHOD:CANCEL). Before any reminder went out there is no entry to change; SMS
    carries none."""
    if not _calendar_sent(appointment):
        return []
    source_key = f"{_appointment_key(appointment)}:{change}"
    notice = reminder_plan(
        patient=appointment.patient,
        kind=Kind.APPOINTMENT,
        source_key=source_key,
        key=f"{source_key}:sequence-{appointment.sequence}",
        send_at=timezone.now(),
        context={
            **appointment_calendar_context(appointment),
            "change": change,
            "links": {"stop_url": [Action.STOP, appointment.patient_id]},
        },
    )
    return [notice] if notice.channel == Channel.EMAIL else []


def reminders_for_moved_appointment(*, appointment: Appointment) -> None:
    """The visit has a new time: its pending reminders move along (see
    reminders_for_appointment), and a patient who holds its calendar entry gets the new
    version now, in place of a notice of an earlier move still waiting."""
    reminders_cancel_pending(
        source_key=f"{_appointment_key(appointment)}:{MOVED}", reason="The visit moved again."
    )
    # A confirmation still waiting (for the end of quiet hours) confirms the new time.
    waiting = Reminder.objects.filter(
        source_key=f"{_appointment_key(appointment)}:{BOOKED}", status=Reminder.Status.PENDING
    )
    for confirmation in waiting:
        reminder_replace(confirmation, _confirmation_plan(appointment))
    reminders_for_appointment(appointment=appointment)
    if appointment.starts_at > timezone.now():
        reminders_add(_calendar_notice(appointment, change=MOVED))


def reminders_for_cancelled_appointment(*, appointment: Appointment) -> None:
    """Cancel the visit's pending reminders, send a patient who has its calendar file
    the entry's cancellation, and offer the freed time to the waitlist."""
    key = _appointment_key(appointment)
    for source_key in (key, f"{key}:{BOOKED}", f"{key}:{MOVED}"):
        reminders_cancel_pending(source_key=source_key, reason="The visit was cancelled.")
    if appointment.starts_at <= timezone.now():
        return
    reminders_add(_calendar_notice(appointment, change=CANCELLED))
    freed = f"{_appointment_key(appointment)}:freed"
    starts = f"{appointment.starts_at.astimezone(UTC):%Y%m%dT%H%MZ}"
    offers = [
        reminder_plan(
            patient=entry.patient,
            kind=Kind.WAITLIST_OFFER,
            source_key=freed,
            key=f"{freed}:{starts}:waitlist-entry-{entry.pk}",
            send_at=timezone.now(),
            context={
                "starts_at": appointment.starts_at.isoformat(),
                "links": {
                    "claim_url": [
                        Action.CLAIM,
                        claim_subject_id(freed=appointment, entry=entry),
                    ],
                    "stop_url": [Action.STOP, entry.patient_id],
                },
            },
        )
        for entry in waitlist_offers_for(appointment=appointment)
    ]
    reminders_add(offers)


def reminders_for_reinstated_appointment(*, appointment: Appointment) -> None:
    """The visit is back: its reminders again, no offers of its time, no cancellation
    notice if it has not gone out yet, and the entry back in the patient's calendar."""
    reminders_cancel_pending(
        source_key=f"{_appointment_key(appointment)}:freed",
        reason="The visit was reinstated; its time is no longer free.",
    )
    reminders_cancel_pending(
        source_key=f"{_appointment_key(appointment)}:{CANCELLED}",
        reason="The visit was reinstated.",
    )
    reminders_for_moved_appointment(appointment=appointment)


def reminders_for_aftercare(*, procedure: Procedure) -> list[Reminder]:
    """Right after signing: where to read the aftercare (quiet hours still apply)."""
    source_key = f"procedure:{procedure.pk}"
    reminder = reminder_plan(
        patient=procedure.patient,
        kind=Kind.AFTERCARE,
        source_key=source_key,
        key=f"{source_key}:aftercare",
        send_at=timezone.now(),
        context={
            "links": {
                "aftercare_url": [Action.AFTERCARE, procedure.pk],
                "stop_url": [Action.STOP, procedure.patient_id],
            }
        },
    )
    return reminders_add([reminder])


def reminders_for_recurrence_check(*, follow_up: FollowUp) -> list[Reminder]:
    """An invitation to book the check when it falls due: at 10:00 clinic time that day.

    Nothing is planned when that moment has already passed.
    """
    send_at = local_datetime(follow_up.due_on, RECURRENCE_CHECK_HOUR)
    if send_at <= timezone.now():
        return []
    source_key = f"follow-up:{follow_up.pk}"
    reminder = reminder_plan(
        patient=follow_up.patient,
        kind=Kind.RECURRENCE_CHECK,
        source_key=source_key,
        key=f"{source_key}:recurrence-check",
        send_at=send_at,
        context={
            "due_on": follow_up.due_on.isoformat(),
            "links": {
                "book_url": [Action.BOOK_CHECK, follow_up.pk],
                "stop_url": [Action.STOP, follow_up.patient_id],
            },
        },
    )
    return reminders_add([reminder])


def reminders_for_photo_check_invitation(*, follow_up: FollowUp) -> list[Reminder]:
    """After photos that show the patient should come in: an invitation to book the check,
    at once (quiet hours still apply). The recurrence-check message with its book link:
    no diagnosis, no finding, only that it is time for a check-up visit."""
    source_key = f"follow-up:{follow_up.pk}"
    reminder = reminder_plan(
        patient=follow_up.patient,
        kind=Kind.RECURRENCE_CHECK,
        source_key=source_key,
        key=f"{source_key}:photo-check-invitation",
        send_at=timezone.now(),
        context={
            "due_on": follow_up.due_on.isoformat(),
            "links": {
                "book_url": [Action.BOOK_CHECK, follow_up.pk],
                "stop_url": [Action.STOP, follow_up.patient_id],
            },
        },
    )
    return reminders_add([reminder])
