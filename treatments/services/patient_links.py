"""What patients and guardians do through the signed links in their reminders.

They have no login: the link is the permission (clinic.links). An action that changes
something runs in one transaction with `link_use`, so it happens once: a reused link,
or the second of two simultaneous clicks, changes nothing. Refusals are worded for the
patient, who reads them on the page behind the link.

A waitlist offer's claim link books the freed time for the patient: of two patients who
claim one time, the first to commit gets it (the database refuses the second booking's
overlap) and the other is told that the time is taken and stays on the waitlist.
"""

from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from clinic.links import Action, LinkError, LinkInvalid, PatientLink, link_use
from patients.models import Patient
from patients.selectors import patient_reader_language
from patients.services import patient_set_reminder_consent

from ..models import Appointment, FollowUp, Procedure, SelfServicePolicy, WaitlistEntry
from .booking import (
    MOVABLE,
    SlotTaken,
    TransitionNotAllowed,
    appointment_book,
    appointment_cancel,
    appointment_confirm,
)
from .photo_checks import photo_check_refusal
from .reminders import CLAIM_ID_BITS
from .self_service import reschedule_refusal, self_service_refusal

CANCEL_REASON = "Cancelled by the patient through a reminder link"
# Kept in the patient's history as why consent was withdrawn; nobody at the clinic did it.
STOPPED_BY_LINK = "The patient stopped reminders through a reminder link"
CLAIM_REASON = "Claimed by the patient from a waitlist offer"


@dataclass(frozen=True)
class WaitlistClaim:
    """What a claim link names: the waitlist entry, and the cancelled visit whose time
    was offered to it."""

    entry: WaitlistEntry
    freed: Appointment


# What a link acts on, by its action.
Subject = Appointment | Procedure | FollowUp | Patient | WaitlistClaim
SUBJECTS: dict[str, type[Appointment | Procedure | FollowUp | Patient]] = {
    Action.CONFIRM: Appointment,
    Action.CANCEL: Appointment,
    Action.VISIT: Appointment,
    Action.RESCHEDULE: Appointment,
    Action.AFTERCARE: Procedure,
    Action.BOOK_CHECK: FollowUp,
    Action.PHOTO_CHECK: FollowUp,
    Action.STOP: Patient,
}


# Translated where they are used, in the language active then (the patient's).
FOLLOW_UP_CLOSED: dict[str, str] = {
    FollowUp.Status.BOOKED: gettext_noop("This check-up is already booked."),
    FollowUp.Status.DONE: gettext_noop("This check-up has already taken place."),
    FollowUp.Status.CANCELLED: gettext_noop("This check-up has been called off by the clinic."),
}


class LinkSubjectGone(LinkError):
    """The visit, procedure, follow-up or patient that the link names no longer exists."""


def _claim_subject(link: PatientLink, *, for_update: bool) -> WaitlistClaim:
    freed_id, entry_id = link.subject_id >> CLAIM_ID_BITS, link.subject_id & (2**CLAIM_ID_BITS - 1)
    entries = WaitlistEntry.objects.select_related("patient", "procedure_type")
    if for_update:
        entries = entries.select_for_update(of=("self",))  # the entry, not its patient
    try:
        entry = entries.get(pk=entry_id)
        freed = Appointment.objects.select_related("dermatologist__user", "room").get(pk=freed_id)
    except (WaitlistEntry.DoesNotExist, Appointment.DoesNotExist):
        raise LinkSubjectGone(_("What this link was for no longer exists.")) from None
    return WaitlistClaim(entry=entry, freed=freed)


def patient_link_subject(*, link: PatientLink, for_update: bool = False) -> Subject:
    """What the link acts on; raises LinkSubjectGone, or LinkInvalid for an unsigned procedure
    (its aftercare is not final until the dermatologist signs)."""
    if link.action == Action.CLAIM:
        return _claim_subject(link, for_update=for_update)
    model = SUBJECTS[link.action]
    queryset: QuerySet[Appointment | Procedure | FollowUp | Patient] = model.objects.all()
    if model is not Patient:  # its patient too: the page is in the patient's language
        queryset = queryset.select_related("patient")
    if link.action in (Action.VISIT, Action.RESCHEDULE):  # the page names the dermatologist
        queryset = Appointment.objects.select_related(
            "dermatologist__user", "patient", "procedure_type"
        )
    if for_update:
        queryset = queryset.select_for_update(of=("self",))  # the subject, not its patient
    try:
        subject = queryset.get(pk=link.subject_id)
    except model.DoesNotExist:
        raise LinkSubjectGone(_("What this link was for no longer exists.")) from None
    if link.action == Action.AFTERCARE and isinstance(subject, Procedure) and not subject.is_signed:
        raise LinkInvalid(_("This link is not valid."))
    return subject


def patient_link_language(subject: Subject) -> str:
    """The language of whoever reads the link's pages and refusals: the patient's, or for
    a minor the language of the guardian who receives the reminders, as in them."""
    if isinstance(subject, Patient):
        return patient_reader_language(subject)
    if isinstance(subject, WaitlistClaim):
        return patient_reader_language(subject.entry.patient)
    return patient_reader_language(subject.patient)


def patient_link_refusal(*, link: PatientLink, subject: Subject) -> str | None:
    """Why the link's action cannot be done now, in the patient's words; None if it can."""
    # Each isinstance() holds for its action (SUBJECTS); it tells the type checker so.
    if link.action in (Action.CONFIRM, Action.CANCEL) and isinstance(subject, Appointment):
        if subject.status == Appointment.Status.CANCELLED:
            return _("This visit has been cancelled.")
        # A visit that has begun is the desk's to close (checked in, no-show), not the patient's.
        if subject.status not in MOVABLE or subject.starts_at <= timezone.now():
            return _("The time of this visit has passed.")
        if link.action == Action.CANCEL:  # within the cut-off, the patient calls the clinic
            return self_service_refusal(appointment=subject, policy=SelfServicePolicy.current())
    if link.action == Action.RESCHEDULE and isinstance(subject, Appointment):
        return reschedule_refusal(appointment=subject, policy=SelfServicePolicy.current())
    if link.action == Action.PHOTO_CHECK and isinstance(subject, FollowUp):
        return photo_check_refusal(follow_up=subject)
    if link.action == Action.BOOK_CHECK and isinstance(subject, FollowUp):
        closed = FOLLOW_UP_CLOSED.get(subject.status)
        return _(closed) if closed else None
    if link.action == Action.CLAIM and isinstance(subject, WaitlistClaim):
        return _claim_refusal(subject)
    return None


def _claim_refusal(claim: WaitlistClaim) -> str | None:
    entry, freed = claim.entry, claim.freed
    if entry.status == WaitlistEntry.Status.BOOKED:
        return _("Your waitlist request has already been booked.")
    if entry.status != WaitlistEntry.Status.WAITING:
        return _("You are no longer on the waiting list for this.")
    if freed.starts_at <= timezone.now():
        return _("This time has passed.")
    if freed.status != Appointment.Status.CANCELLED or _time_taken(freed):
        return _("This time has been taken.")
    return None


def _time_taken(freed: Appointment) -> bool:
    """Whether an active visit now holds the freed visit's dermatologist at that time."""
    return (
        Appointment.objects.active()
        .filter(
            dermatologist_id=freed.dermatologist_id,
            starts_at__lt=freed.ends_at,
            ends_at__gt=freed.starts_at,
        )
        .exists()
    )


def waitlist_claim_book(*, claim: WaitlistClaim) -> Appointment:
    """Book the freed time for the entry's patient and close the entry: the booking
    service's write, so the database decides between two claims at once. The loser's
    SlotTaken becomes TransitionNotAllowed("This time has been taken.", a 409); its entry
    stays waiting, since nothing of its transaction is kept."""
    entry, freed = claim.entry, claim.freed
    try:
        return appointment_book(
            patient=entry.patient,
            dermatologist=freed.dermatologist,
            procedure_type=entry.procedure_type,
            starts_at=freed.starts_at,
            booked_by=None,
            room=freed.room if entry.procedure_type.needs_treatment_room else None,
            reason=CLAIM_REASON,
            waitlist_entry=entry,
        )
    except SlotTaken:
        raise TransitionNotAllowed(_("This time has been taken.")) from None


def follow_up_request_booking(*, follow_up: FollowUp) -> FollowUp:
    """The patient asks the clinic to book their check-up; the desk sees when they asked.

    Only a follow-up that is still due can be asked for; raises TransitionNotAllowed.
    """
    with transaction.atomic():
        current = FollowUp.objects.select_for_update().get(pk=follow_up.pk)
        if current.status != FollowUp.Status.OPEN:
            raise TransitionNotAllowed(_(FOLLOW_UP_CLOSED[current.status]))
        current.booking_requested_at = timezone.now()
        current.full_clean()
        current.save(update_fields=["booking_requested_at"])
    return current


def patient_link_carry_out(*, link: PatientLink, reason: str = "") -> Subject:
    """Do what a single-use link asks and mark it used: both, or neither.

    Returns the changed subject. Raises LinkUsed (also when a simultaneous request used it
    first), LinkSubjectGone, or TransitionNotAllowed / BookingError when the subject's
    state no longer allows the action.
    """
    if not link.single_use:
        raise ValueError(f"{link.action!r} links only show something")
    if link.action in (Action.RESCHEDULE, Action.PHOTO_CHECK):
        raise ValueError(f"{link.action!r} links have a service of their own")
    with transaction.atomic():
        # First, so that of two simultaneous uses the second waits on the unique nonce here
        # and fails as "already used" rather than tripping over the first one's change.
        link_use(link)
        subject = patient_link_subject(link=link, for_update=True)
        refusal = patient_link_refusal(link=link, subject=subject)
        if refusal:
            raise TransitionNotAllowed(refusal)
        if link.action == Action.CONFIRM and isinstance(subject, Appointment):
            if subject.status == Appointment.Status.CONFIRMED:
                return subject  # the desk confirmed it already: what the patient wanted
            return appointment_confirm(appointment=subject, by=None)
        if link.action == Action.CANCEL and isinstance(subject, Appointment):
            return appointment_cancel(
                appointment=subject, reason=reason.strip() or CANCEL_REASON, by=None
            )
        if link.action == Action.BOOK_CHECK and isinstance(subject, FollowUp):
            return follow_up_request_booking(follow_up=subject)
        if link.action == Action.CLAIM and isinstance(subject, WaitlistClaim):
            return waitlist_claim_book(claim=subject)
        assert isinstance(subject, Patient)  # Action.STOP, the one single-use action left
        return patient_set_reminder_consent(patient=subject, consent=False, reason=STOPPED_BY_LINK)
