"""Patients' signed links from reminders: confirm or cancel a visit, read aftercare, ask for
a check-up to be booked, stop reminders. No login: the token in the URL is the permission.

GET only shows what a button would do, because mail scanners and link previews fetch
links; the button POSTs, and that does it. A stop link also answers at /unsubscribe/, the
one-click endpoint (RFC 8058) that reminder emails name in List-Unsubscribe.
"""

from functools import wraps

from django.conf import settings
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from clinic.errors import ServiceError, error_status
from clinic.links import Action, LinkError, LinkInvalid, link_open

from ..services.patient_links import (
    patient_link_carry_out,
    patient_link_refusal,
    patient_link_subject,
)

QUESTION_PAGES = {
    Action.CONFIRM: "links/confirm.html",
    Action.CANCEL: "links/cancel.html",
    Action.BOOK_CHECK: "links/book_check.html",
    Action.STOP: "links/stop.html",
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


def _refused(request, message, *, status):
    return _page(request, "links/refused.html", {"message": message}, status=status)


def _link_refused(request, error: ServiceError):
    """400 for a link we never made; 410 for one that was good once (expired, used, gone);
    409 when what it acts on changed since the page was shown."""
    return _refused(request, str(error), status=error_status(error))


@_kept_private
@require_http_methods(["GET", "HEAD", "POST"])
def patient_link(request, token):
    """Show what the link does (GET), or do it (POST) and say that it is done."""
    try:
        link = link_open(token)
        subject = patient_link_subject(link=link)
    except LinkError as error:
        return _link_refused(request, error)
    if link.action == Action.AFTERCARE:
        if request.method == "POST":
            response = _refused(request, _("This page only shows instructions."), status=405)
            response["Allow"] = "GET, HEAD"
            return response
        return _page(request, "links/aftercare.html", {"procedure": subject})
    refusal = patient_link_refusal(link=link, subject=subject)
    if refusal:
        return _refused(request, refusal, status=409)
    if request.method != "POST":
        return _page(request, QUESTION_PAGES[link.action], {"subject": subject})
    try:
        done = patient_link_carry_out(link=link, reason=request.POST.get("reason", ""))
    except ServiceError as error:
        return _link_refused(request, error)
    return _page(request, "links/done.html", {"action": link.action, "subject": done})


ONE_CLICK_BODY = "One-Click"


@_kept_private
@csrf_exempt  # RFC 8058: the mail provider posts it, with no cookie and no token
@require_http_methods(["GET", "HEAD", "POST"])
def patient_link_unsubscribe(request, token):
    """One-click unsubscribe (RFC 8058): a POST whose body is `List-Unsubscribe=One-Click`
    stops reminders as the stop link's button does, and answers 200. GET shows the stop
    link's page, whose button posts to the stop link itself."""
    try:
        link = link_open(token)
        if link.action != Action.STOP:
            raise LinkInvalid(_("This link is not valid."))
        subject = patient_link_subject(link=link)
    except LinkError as error:
        return _link_refused(request, error)
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
