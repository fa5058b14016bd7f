"""Every write of the treatments app: booking and the appointment life cycle (booking),
clinical records (records), planning reminders (reminders), photos (photos) and what
patients do through their links (patient_links). Reads are in selectors/."""

from .booking import (
    MOVABLE,
    TRANSITIONS,
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
    waitlist_entry_add,
    waitlist_entry_remove,
)

__all__ = [
    "MOVABLE",
    "TRANSITIONS",
    "BookingError",
    "SlotTaken",
    "TransitionNotAllowed",
    "allowed_actions",
    "appointment_book",
    "appointment_cancel",
    "appointment_check_in",
    "appointment_complete",
    "appointment_confirm",
    "appointment_mark_no_show",
    "appointment_reinstate",
    "appointment_reschedule",
    "waitlist_entry_add",
    "waitlist_entry_remove",
]
