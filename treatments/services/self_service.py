"""What a patient may do to a visit themselves, through the links of their reminders,
within the clinic's SelfServicePolicy: cancel it, or move it to another free time.

Both are refused within the policy's cut-off (default 24 hours) of the visit: the page
showing the refusal gives the clinic's phone. A move must also land outside the cut-off and within
`days_ahead` days, keeps the visit's procedure type (only the time, and unless the policy
says otherwise the dermatologist, change), and counts against `moves_per_visit`. The move
itself is the desk's `appointment_reschedule`: the exclusion constraint decides between
two patients moving into one time, the loser gets SlotTaken with the nearest free times
the policy allows, and the visit's pending reminders move along.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.clock import day_bounds
from clinic.errors import StateConflict
from clinic.links import PatientLink, link_use
from clinic.models import StaffMember

from ..models import Appointment, SelfServicePolicy
from ..selectors.self_service import self_service_window
from .booking import MOVABLE, BookingError, SlotTaken, appointment_reschedule


class SelfServiceRefused(BookingError, StateConflict):
    """The policy does not let the patient do this now; the message says why, for them."""


def self_service_refusal(
    *, appointment: Appointment, policy: SelfServicePolicy, now: datetime | None = None
) -> str | None:
    """Why the patient cannot cancel or move this visit online now; None if they can.

    Exactly `cutoff_hours` before the visit is still allowed; a second later is not."""
    now = now or timezone.now()
    if appointment.status == Appointment.Status.CANCELLED:
        return _("This visit has been cancelled.")
    if appointment.status not in MOVABLE or appointment.starts_at <= now:
        return _("The time of this visit has passed.")
    if appointment.starts_at - now < timedelta(hours=policy.cutoff_hours):
        # No ngettext: the catalogues hold no plurals (tests/clinic/test_translations.py).
        return _(
            "Your visit is less than %(hours)d hours away, so it can no longer be changed online."
        ) % {"hours": policy.cutoff_hours}
    return None


def reschedule_refusal(
    *, appointment: Appointment, policy: SelfServicePolicy, now: datetime | None = None
) -> str | None:
    """Why the patient cannot move this visit online now (self_service_refusal, the policy
    turned off, or the visit moved `moves_per_visit` times already); None if they can."""
    refusal = self_service_refusal(appointment=appointment, policy=policy, now=now)
    if refusal:
        return refusal
    if not policy.patients_may_reschedule:
        return _("Visits cannot be moved online.")
    if appointment.self_moves >= policy.moves_per_visit:
        return _("You have already moved this visit online as often as allowed (%(count)d).") % {
            "count": policy.moves_per_visit
        }
    return None


def _check_new_time(
    *,
    appointment: Appointment,
    starts_at: datetime,
    dermatologist: StaffMember,
    policy: SelfServicePolicy,
) -> None:
    earliest, last_day = self_service_window(policy=policy)
    if starts_at < earliest or starts_at >= day_bounds(last_day)[1]:
        raise SelfServiceRefused(_("Choose one of the times offered on the page."))
    if policy.same_dermatologist and dermatologist.pk != appointment.dermatologist_id:
        raise SelfServiceRefused(_("Choose a time with the same dermatologist."))


def appointment_self_reschedule(
    *,
    link: PatientLink,
    appointment: Appointment,
    starts_at: datetime,
    dermatologist: StaffMember,
) -> Appointment:
    """Move the visit to a new time for the patient, and use up the link: both, or neither.

    Raises SelfServiceRefused (the policy, checked again on the locked visit), SlotTaken
    with alternatives the policy allows, LinkUsed, or BookingError (the dermatologist
    does not work then).
    """
    policy = SelfServicePolicy.current()
    _check_new_time(
        appointment=appointment, starts_at=starts_at, dermatologist=dermatologist, policy=policy
    )

    def check(current: Appointment) -> None:
        refusal = reschedule_refusal(appointment=current, policy=policy)
        if refusal:
            raise SelfServiceRefused(refusal)

    try:
        with transaction.atomic():
            link_use(link)
            return appointment_reschedule(
                appointment=appointment,
                starts_at=starts_at,
                dermatologist=dermatologist,
                by=None,
                by_patient=True,
                check=check,
            )
    except SlotTaken as taken:
        earliest, last_day = self_service_window(policy=policy)
        raise SlotTaken(
            _("That time has just been taken."),
            alternatives=[
                slot
                for slot in taken.alternatives
                if earliest <= slot.starts_at < day_bounds(last_day)[1]
                and (
                    not policy.same_dermatologist
                    or slot.dermatologist_id == appointment.dermatologist_id
                )
            ],
        ) from None
