"""Patients' signed links from reminders: a visit's page (the one link of an SMS, with its
calendar file), confirm or cancel a visit, read aftercare, ask for a check-up to be
booked, claim a freed time from the waitlist, stop reminders. No login: the token in the
URL is the permission.

Each page is in the language of the patient the link is for (for a minor's guardian, the
patient's); a link that names nobody any more answers in the browser's language.

GET only shows what a button would do, because mail scanners and link previews fetch
links; the button POSTs, and that does it. A stop link also answers at /unsubscribe/, the
one-click endpoint (RFC 8058) that reminder emails name in List-Unsubscribe.
"""

from functools import wraps

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from clinic.channels import calendar_file, calendar_values
from clinic.errors import ServiceError, error_status
from clinic.links import Action, LinkError, LinkInvalid, PatientLink, link_open, link_token
from patients.selectors import patient_reader_language

from ..models import Appointment
from ..services.booking import MOVABLE
from ..services.patient_links import (
    Subject,
    patient_link_carry_out,
    patient_link_language,
    patient_link_refusal,
    patient_link_subject,
)
from ..services.reminders import appointment_calendar_context

QUESTION_PAGES = {
    Action.CONFIRM: "links/confirm.html",
    Action.CANCEL: "links/cancel.html",
    Action.BOOK_CHECK: "links/book_check.html",
    Action.STOP: "links/stop.html",
    Action.CLAIM: "links/claim.html",
}


def _kept_private(view):
    """The token is in the URL: keep the page out of caches, other sites' Referer headers
    and search engines, whatever the response."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        add_never_cache_headers(response)  # Cache-Control: ..., no-store, private
        # same-origin, not no-referrer: the token never leaves the clinic's site, and the
        # browser still sends the Origin/Referer that Django's CSRF check needs on the POST.
        response["Referrer-Policy"] = "same-origin"
        response["X-Robots-Tag"] = "noindex"
        return response

    return wrapped


def _page(request, template, context=None, *, status=200):
    clinic = {"clinic_name": settings.CLINIC_NAME, "clinic_phone": settings.CLINIC_PHONE}
    return render(request, template, {**clinic, **(context or {})}, status=status)


def _refused(request, message, *, status, detail=""):
    context = {"message": message, "detail": detail}
    return _page(request, "links/refused.html", context, status=status)


def _link_refused(request, error: ServiceError, *, action: str = ""):
    """400 for a link we never made; 410 for one that was good once (expired, used, gone);
    409 when what it acts on changed since the page was shown. An expired or used link
    answers in the language of the patient it was for."""
    with translation.override(_language_of_refused(error)):
        return _refused(
            request,
            str(error),
            status=error_status(error),
            detail=_still_waiting(action, str(error)),
        )


def _language_of_refused(error: ServiceError) -> str:
    """The language of the patient an expired or used link was for, if they still
    exist; otherwise the language already active."""
    link = getattr(error, "link", None)
    if link is not None:
        try:
            return patient_link_language(patient_link_subject(link=link))
        except LinkError:
            pass
    return translation.get_language()


def _still_waiting(action: str, refusal: str) -> str:
    """A claim that lost the freed time leaves the patient on the waitlist: say so."""
    if action == Action.CLAIM and refusal == _("This time has been taken."):
        return _(
            "You are still on the waiting list: we will let you know when another time is free."
        )
    return ""


def _link_path(action: str, subject_id: int) -> str:
    return reverse(
        "treatments:patient_link", args=[link_token(action=action, subject_id=subject_id)]
    )


def _visit_page(request, token: str, appointment: Appointment):
    """The visit: when and with whom, and links of their own to confirm, cancel, add it to
    a calendar and stop reminders, each shown only while it can be used."""
    ahead = appointment.status in MOVABLE and appointment.starts_at > timezone.now()
    context = {
        "visit": appointment,
        "is_ahead": ahead,
        "confirm_path": (
            _link_path(Action.CONFIRM, appointment.pk)
            if ahead and appointment.status == Appointment.Status.BOOKED
            else ""
        ),
        "cancel_path": _link_path(Action.CANCEL, appointment.pk) if ahead else "",
        "calendar_path": (
            reverse("treatments:patient_link_calendar", args=[token]) if ahead else ""
        ),
        "stop_path": (
            _link_path(Action.STOP, appointment.patient_id)
            if appointment.patient.reminder_consent
            else ""
        ),
    }
    return _page(request, "links/visit.html", context)


@_kept_private
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
            return _link_refused(request, error)


def _browser_language(request) -> str:
    """Of the clinic's languages, the one the browser asks for first (Accept-Language),
    else the clinic's default: for pages that know no patient yet."""
    return translation.get_language_from_request(request)


def _patient_link_answer(request, token: str, link: PatientLink, subject: Subject):
    """The page of an opened link, rendered in its patient's language."""
    if link.action in Action.READ_ONLY and request.method == "POST":
        response = _refused(request, _("This page only shows instructions."), status=405)
        response["Allow"] = "GET, HEAD"
        return response
    if link.action == Action.VISIT:
        assert isinstance(subject, Appointment)  # SUBJECTS[Action.VISIT]
        return _visit_page(request, token, subject)
    if link.action == Action.AFTERCARE:
        return _page(request, "links/aftercare.html", {"procedure": subject})
    if request.method != "POST":
        refusal = patient_link_refusal(link=link, subject=subject)
        if refusal:
            detail = _still_waiting(link.action, refusal)
            return _refused(request, refusal, status=409, detail=detail)
        return _page(request, QUESTION_PAGES[link.action], {"subject": subject})
    # A POST is refused, if it is, by the service: after taking the link (so of two
    # simultaneous clicks the second is told the link was used, not that the visit
    # changed), under the subject's lock.
    try:
        done = patient_link_carry_out(link=link, reason=request.POST.get("reason", ""))
    except ServiceError as error:
        return _link_refused(request, error, action=link.action)
    return _page(request, "links/done.html", {"action": link.action, "subject": done})


@_kept_private
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
            return _refused(request, _("This visit is no longer ahead."), status=409)
    values = calendar_values(appointment_calendar_context(appointment))
    ics = calendar_file(values, language=language)
    response = HttpResponse(ics, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="visit.ics"'
    return response


ONE_CLICK_BODY = "One-Click"


@_kept_private
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
        return _page(request, "links/stop.html", {"subject": subject, "form_action": form_action})
    if request.POST.get("List-Unsubscribe") != ONE_CLICK_BODY:
        return _refused(
            request, _("A one-click unsubscribe posts List-Unsubscribe=One-Click."), status=400
        )
    try:
        done = patient_link_carry_out(link=link)
    except ServiceError as error:
        return _link_refused(request, error)
    return _page(request, "links/done.html", {"action": link.action, "subject": done})
