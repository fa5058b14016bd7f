"""The pages behind a patient's link that move a visit or send photos for a check-up
(reached through treatments/views/links.py, which opens the link and sets the patient's
language). No login: the token is the permission. GET shows, POST does.

Moving: a phone-first picker of one day's free times (the availability service, within
the clinic's self-service policy), a day at a time. A time taken meanwhile answers 409
with the nearest free times the policy allows, on the same page.
"""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.errors import form_add_error
from clinic.links import Action, LinkError, PatientLink, link_token
from clinic.models import StaffMember

from ..forms.self_service import MoveDayForm, MoveForm, PhotoCheckForm, slot_value
from ..models import Appointment, FollowUp, SelfServicePolicy
from ..selectors.availability import Slot
from ..selectors.self_service import (
    self_service_first_day,
    self_service_slots,
    self_service_window,
)
from ..services.booking import BookingError, SlotTaken
from ..services.photo_checks import PhotoCheckClosed, photo_check_refusal, photo_check_submit
from ..services.self_service import (
    SelfServiceRefused,
    appointment_self_reschedule,
    reschedule_refusal,
)
from .link_pages import link_refused, page, refused


def reschedule_answer(request, link: PatientLink, appointment: Appointment):
    """The move page (GET, ?day= picks the day) or the move itself (POST)."""
    policy = SelfServicePolicy.current()
    refusal = reschedule_refusal(appointment=appointment, policy=policy)
    if refusal:
        return refused(request, refusal, status=409)
    if request.method == "POST":
        return _move(request, link, appointment, policy)
    if "day" not in request.GET:
        day = self_service_first_day(appointment=appointment, policy=policy)
        return _move_page(request, appointment, policy, day=day)
    form = MoveDayForm(request.GET)
    if not form.is_valid():
        return _move_page(
            request, appointment, policy, day=None, error=_("Choose a day."), status=400
        )
    return _move_page(request, appointment, policy, day=form.cleaned_data["day"])


def _move(request, link: PatientLink, appointment: Appointment, policy: SelfServicePolicy):
    form = MoveForm(request.POST)
    dermatologist = None
    if form.is_valid():
        dermatologist_id, starts_at = form.cleaned_data["slot"]
        dermatologist = StaffMember.objects.filter(
            pk=dermatologist_id, role=StaffMember.Role.DERMATOLOGIST
        ).first()
    if dermatologist is None:
        day = self_service_first_day(appointment=appointment, policy=policy)
        error = _("Choose one of the times offered.")
        return _move_page(request, appointment, policy, day=day, error=error, status=400)
    try:
        moved = appointment_self_reschedule(
            link=link, appointment=appointment, starts_at=starts_at, dermatologist=dermatologist
        )
    except LinkError as error:
        return link_refused(request, error, action=link.action)
    except SlotTaken as taken:
        day = timezone.localdate(starts_at)
        return _move_page(
            request,
            appointment,
            policy,
            day=day,
            slots=taken.alternatives,
            error=str(taken),
            status=409,
        )
    except SelfServiceRefused as error:
        return refused(request, str(error), status=409)
    except BookingError as error:  # the dermatologist does not work then, the time passed
        day = timezone.localdate(starts_at)
        return _move_page(request, appointment, policy, day=day, error=str(error), status=400)
    visit_token = link_token(action=Action.VISIT, subject_id=moved.pk)
    visit_path = reverse("treatments:patient_link", args=[visit_token])
    return page(request, "links/rescheduled.html", {"visit": moved, "visit_path": visit_path})


def _move_page(
    request,
    appointment: Appointment,
    policy: SelfServicePolicy,
    *,
    day,
    slots: list[Slot] | None = None,
    error: str = "",
    status: int = 200,
):
    """One day's free times as big buttons; `slots` given: the alternatives to a taken time."""
    earliest, last_day = self_service_window(policy=policy)
    first_day = timezone.localdate(earliest)
    if day is not None and not first_day <= day <= last_day:
        error, status, day = _("Choose a day in the range shown."), 400, None
    alternatives = slots is not None
    if slots is None:
        slots = self_service_slots(appointment=appointment, policy=policy, day=day) if day else []
    names = {
        member.pk: str(member)
        for member in StaffMember.objects.filter(
            pk__in={slot.dermatologist_id for slot in slots}
        ).select_related("user")
    }
    context = {
        "visit": appointment,
        "day": day,
        "first_day": first_day,
        "last_day": last_day,
        "previous_day": day - timedelta(days=1) if day and day > first_day else None,
        "next_day": day + timedelta(days=1) if day and day < last_day else None,
        "times": [
            {
                "value": slot_value(
                    dermatologist_id=slot.dermatologist_id, starts_at=slot.starts_at
                ),
                "starts_at": slot.starts_at,
                "dermatologist": names.get(slot.dermatologist_id, ""),
            }
            for slot in slots
        ],
        "alternatives": alternatives,
        "error": error,
    }
    return page(request, "links/reschedule.html", context, status=status)


def photo_check_answer(request, link: PatientLink, follow_up: FollowUp):
    """The photo form (GET), or the photos and answers stored (POST)."""
    refusal = photo_check_refusal(follow_up=follow_up)
    if refusal:
        return refused(request, refusal, status=409)
    if request.method != "POST":
        return page(request, "links/photo_check.html", {"form": PhotoCheckForm()})
    form = PhotoCheckForm(request.POST, request.FILES)
    status = 400
    if form.is_valid():
        try:
            photo_check_submit(
                link=link,
                follow_up=follow_up,
                photos=form.photos(),
                new_bumps=form.cleaned_data["new_bumps"],
                where=form.cleaned_data["where"],
            )
        except LinkError as error:
            return link_refused(request, error, action=link.action)
        except PhotoCheckClosed as error:
            return refused(request, str(error), status=409)
        except ValidationError as error:
            status = form_add_error(form, error)
        else:
            return page(request, "links/photo_check_sent.html")
    return page(request, "links/photo_check.html", {"form": form}, status=status)
