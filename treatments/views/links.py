"""Patients' signed links from reminders: a visit's page (the one link of an SMS, with its
calendar file), confirm, cancel or move a visit (treatments/views/self_service.py), read
aftercare, ask for a check-up to be booked or send photos for it instead, claim a freed
time from the waitlist, stop reminders. No login: the token in the
URL is the permission.

Each page is in the language of the patient the link is for (for a minor's guardian, the
patient's); a link that names nobody any more answers in the browser's language.

GET only shows what a button would do, because mail scanners and link previews fetch
links; the button POSTs, and that does it. A stop link also answers at /unsubscribe/, the
one-click endpoint (RFC 8058) that reminder emails name in List-Unsubscribe.
"""

from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from clinic.channels import calendar_file, calendar_values
from clinic.errors import ServiceError
from clinic.links import Action, LinkError, LinkInvalid, PatientLink, link_open, link_token
from patients.selectors import patient_reader_language

from ..models import Appointment, FollowUp, SelfServicePolicy
from ..services.booking import MOVABLE
from ..services.patient_links import (
    Subject,
    patient_link_carry_out,
    patient_link_language,
    patient_link_refusal,
    patient_link_subject,
)
from ..services.photo_checks import photo_check_refusal
from ..services.reminders import appointment_calendar_context
from ..services.self_service import reschedule_refusal, self_service_refusal
from .link_pages import kept_private, link_refused, page, refused, still_waiting
from .self_service import photo_check_answer, reschedule_answer

QUESTION_PAGES = {
    Action.CONFIRM: "links/confirm.html",
    Action.CANCEL: "links/cancel.html",
    Action.BOOK_CHECK: "links/book_check.html",
    Action.STOP: "links/stop.html",
    Action.CLAIM: "links/claim.html",
}


def _question_context(subject: Subject) -> dict[str, object]:
    """A question page's values; a check-up's page also offers to send photos instead."""
    context: dict[str, object] = {"subject": subject}
    if isinstance(subject, FollowUp) and photo_check_refusal(follow_up=subject) is None:
        context["photo_check_path"] = _link_path(Action.PHOTO_CHECK, subject.pk)
    return context


def _link_path(action: str, subject_id: int) -> str:
    return reverse(
        "treatments:patient_link", args=[link_token(action=action, subject_id=subject_id)]
    )


def _visit_page(request, token: str, appointment: Appointment):
    """The visit: when and with whom, and links of their own to confirm, cancel, add it to
    a calendar and stop reminders, each shown only while it can be used."""
    ahead = appointment.status in MOVABLE and appointment.starts_at > timezone.now()
    policy = SelfServicePolicy.current()
    # Within the policy's cut-off the page says why nothing can be changed online.
    too_late = ahead and self_service_refusal(appointment=appointment, policy=policy)
    cannot_move = ahead and reschedule_refusal(appointment=appointment, policy=policy)
    context = {
        "visit": appointment,
        "is_ahead": ahead,
        "too_late": too_late or "",
        "cannot_move": "" if too_late else cannot_move or "",
        "reschedule_path": (
            _link_path(Action.RESCHEDULE, appointment.pk) if ahead and not cannot_move else ""
        ),
        "confirm_path": (
            _link_path(Action.CONFIRM, appointment.pk)
            if ahead and appointment.status == Appointment.Status.BOOKED
            else ""
        ),
        "cancel_path": (
            _link_path(Action.CANCEL, appointment.pk) if ahead and not too_late else ""
        ),
        "calendar_path": (
            reverse("treatments:patient_link_calendar", args=[token]) if ahead else ""
        ),
        "stop_path": (
            _link_path(Action.STOP, appointment.patient_id)
            if appointment.patient.reminder_consent
            else ""
        ),
    }
    return page(request, "links/visit.html", context)


@kept_private
@require_http_methods(["GET", "HEAD", "POST"])
def patient_link(request, token):
    """Show what the link does (GET), or do it (POST) and say that it is done."""
    opened = _opened(request, token)
    if isinstance(opened, HttpResponse):
        return opened
    link, subject = opened
    with translation.override(patient_link_language(subject)):
        return _patient_link_answer(request, token, link, subject)


def _opened(
    request, token: str, *, only: str | None = None
) -> tuple[PatientLink, Subject] | HttpResponse:
    """The link and what it acts on, or the page refusing it, in the browser's language
    (no patient is known yet). `only`: the one action this address serves."""
    with translation.override(_browser_language(request)):
        try:
            link = link_open(token)
            if only is not None and link.action != only:
                raise LinkInvalid(_("This link is not valid."))
            return link, patient_link_subject(link=link)
        except LinkError as error:
            return link_refused(request, error)


def _browser_language(request) -> str:
    """Of the clinic's languages, the one the browser asks for first (Accept-Language),
    else the clinic's default: for pages that know no patient yet."""
    return translation.get_language_from_request(request)


def _patient_link_answer(request, token: str, link: PatientLink, subject: Subject):
    """The page of an opened link, rendered in its patient's language."""
    if link.action in Action.READ_ONLY and request.method == "POST":
        response = refused(request, _("This page only shows instructions."), status=405)
        response["Allow"] = "GET, HEAD"
        return response
    if link.action == Action.VISIT:
        assert isinstance(subject, Appointment)  # SUBJECTS[Action.VISIT]
        return _visit_page(request, token, subject)
    if link.action == Action.AFTERCARE:
        return page(request, "links/aftercare.html", {"procedure": subject})
    if link.action == Action.RESCHEDULE:
        assert isinstance(subject, Appointment)  # SUBJECTS[Action.RESCHEDULE]
        return reschedule_answer(request, link, subject)
    if link.action == Action.PHOTO_CHECK:
        assert isinstance(subject, FollowUp)  # SUBJECTS[Action.PHOTO_CHECK]
        return photo_check_answer(request, link, subject)
    if request.method != "POST":
        refusal = patient_link_refusal(link=link, subject=subject)
        if refusal:
            detail = still_waiting(link.action, refusal)
            return refused(request, refusal, status=409, detail=detail)
        return page(request, QUESTION_PAGES[link.action], _question_context(subject))
    # A POST is refused, if it is, by the service: after taking the link (so of two
    # simultaneous clicks the second is told the link was used, not that the visit
    # changed), under the subject's lock.
    try:
        done = patient_link_carry_out(link=link, reason=request.POST.get("reason", ""))
    except ServiceError as error:
        return link_refused(request, error, action=link.action)
    return page(request, "links/done.html", {"action": link.action, "subject": done})


@kept_private
@require_http_methods(["GET", "HEAD"])
def patient_link_calendar(request, token):
    """The visit's calendar file (.ics), from its page: the entry the reminder emails
    carry, so a calendar app that has it replaces it rather than adding a second one."""
    opened = _opened(request, token, only=Action.VISIT)
    if isinstance(opened, HttpResponse):
        return opened
    _link, appointment = opened
    assert isinstance(appointment, Appointment)  # SUBJECTS[Action.VISIT]
    language = patient_reader_language(appointment.patient)
    if appointment.status not in MOVABLE or appointment.starts_at <= timezone.now():
        with translation.override(language):
            return refused(request, _("This visit is no longer ahead."), status=409)
    values = calendar_values(appointment_calendar_context(appointment))
    ics = calendar_file(values, language=language)
    response = HttpResponse(ics, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="visit.ics"'
    return response


ONE_CLICK_BODY = "One-Click"


@kept_private
@csrf_exempt  # RFC 8058: the mail provider posts it, with no cookie and no token
@require_http_methods(["GET", "HEAD", "POST"])
def patient_link_unsubscribe(request, token):
    """One-click unsubscribe (RFC 8058): a POST whose body is `List-Unsubscribe=One-Click`
    stops reminders as the stop link's button does, and answers 200. GET shows the stop
    link's page, whose button posts to the stop link itself."""
    opened = _opened(request, token, only=Action.STOP)
    if isinstance(opened, HttpResponse):
        return opened
    link, subject = opened
    with translation.override(patient_link_language(subject)):
        return _unsubscribe_answer(request, token, link, subject)


def _unsubscribe_answer(request, token: str, link: PatientLink, subject: Subject):
    """The stop page (GET) or the one-click stop (POST), in the patient's language."""
    if request.method != "POST":
        form_action = reverse("treatments:patient_link", args=[token])
        return page(request, "links/stop.html", {"subject": subject, "form_action": form_action})
    if request.POST.get("List-Unsubscribe") != ONE_CLICK_BODY:
        return refused(
            request, _("A one-click unsubscribe posts List-Unsubscribe=One-Click."), status=400
        )
    try:
        done = patient_link_carry_out(link=link)
    except ServiceError as error:
        return link_refused(request, error)
    return page(request, "links/done.html", {"action": link.action, "subject": done})
