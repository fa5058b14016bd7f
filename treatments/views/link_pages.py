"""What every page behind a patient's link shares: the clinic's name and phone on it,
private caching, and the page that refuses a link or an action (treatments/views/links.py,
treatments/views/self_service.py)."""

from functools import wraps

from django.conf import settings
from django.shortcuts import render
from django.utils import translation
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _

from clinic.errors import ServiceError, error_status
from clinic.links import Action, LinkError

from ..services.patient_links import patient_link_language, patient_link_subject
from ..services.photo_checks import ALREADY_SENT


def kept_private(view):
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


def page(request, template, context=None, *, status=200):
    clinic = {"clinic_name": settings.CLINIC_NAME, "clinic_phone": settings.CLINIC_PHONE}
    return render(request, template, {**clinic, **(context or {})}, status=status)


def refused(request, message, *, status, detail=""):
    context = {"message": message, "detail": detail}
    return page(request, "links/refused.html", context, status=status)


def link_refused(request, error: ServiceError, *, action: str = ""):
    """400 for a link we never made; 410 for one that was good once (expired, used, gone);
    409 when what it acts on changed since the page was shown. An expired or used link
    answers in the language of the patient it was for."""
    with translation.override(_language_of_refused(error)):
        return refused(
            request,
            str(error),
            status=error_status(error),
            detail=still_waiting(action or _action_of(error), str(error)),
        )


def _action_of(error: ServiceError) -> str:
    link = getattr(error, "link", None)
    return link.action if link is not None else ""


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


def still_waiting(action: str, refusal: str) -> str:
    """A claim that lost the freed time leaves the patient on the waitlist: say so. A
    photo-check link used already: the photos arrived."""
    if action == Action.CLAIM and refusal == _("This time has been taken."):
        return _(
            "You are still on the waiting list: we will let you know when another time is free."
        )
    if action == Action.PHOTO_CHECK and refusal == _("This link has already been used."):
        return str(ALREADY_SENT)
    return ""
