"""A dermatologist's calendar feed: the .ics URL their calendar app subscribes to (no
login: the secret token in the URL is the key) and their page to make or revoke it."""

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import get_conditional_response
from django.utils.http import http_date, quote_etag
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from clinic.audit import access_log_record_calendar_feed
from clinic.errors import ServiceError, error_status
from clinic.permissions import CLINICIANS, role_required
from clinic.selectors import calendar_feed_for_token, calendar_feed_of
from clinic.services import calendar_feed_create, calendar_feed_fetch_count, calendar_feed_revoke

from ..selectors.calendar_feed import calendar_feed_file


@require_GET
def calendar_feed(request, token: str):
    """The feed itself: 404 for a revoked or made-up token, 429 past the hourly limit,
    304 when the calendar app already holds this version (ETag or Last-Modified)."""
    feed = calendar_feed_for_token(token)
    if feed is None:
        raise Http404("No such calendar feed.")
    try:
        allowed = calendar_feed_fetch_count(feed=feed)
    except ServiceError as error:
        return HttpResponse(str(error), status=error_status(error), content_type="text/plain")
    if not allowed:
        response = HttpResponse("Too many fetches of this feed.", status=429)
        response["Retry-After"] = "3600"
        return response
    file = calendar_feed_file(dermatologist=feed.staff_member, now=timezone.now())
    last_modified = int(file.last_modified.timestamp()) if file.last_modified else None
    etag = quote_etag(file.etag)
    not_modified = get_conditional_response(request, etag=etag, last_modified=last_modified)
    response = not_modified or HttpResponse(file.body, content_type="text/calendar; charset=utf-8")
    response["ETag"] = etag
    if last_modified is not None:
        response["Last-Modified"] = http_date(last_modified)
    # Only the subscriber's own calendar app keeps a copy, never a shared cache.
    response["Cache-Control"] = (
        f"private, max-age={settings.CLINIC_CALENDAR_FEED_REFRESH_MINUTES * 60}"
    )
    if response.status_code == 200:
        response["Content-Disposition"] = 'inline; filename="visits.ics"'
        access_log_record_calendar_feed(
            request=request,
            owner=feed.staff_member.user,
            token=token,
            detail=f"calendar feed of {feed.staff_member}",
        )
    return response


def _feed_url(request, token: str) -> str:
    return request.build_absolute_uri(reverse("treatments:calendar_feed", args=[token]))


@role_required(*CLINICIANS)
@require_GET
def my_calendar_feed(request):
    """Whether the dermatologist has a feed URL, and the buttons to make a new one or
    revoke it. The URL itself is shown only once, when it is made."""
    feed = calendar_feed_of(request.user.staff_member.pk)
    return render(request, "treatments/my_calendar_feed.html", {"feed": feed})


@require_POST
@role_required(*CLINICIANS)
def my_calendar_feed_new(request):
    try:
        token = calendar_feed_create(staff_member=request.user.staff_member, by=request.user)
    except ServiceError as error:
        messages.error(request, str(error))
        return redirect("treatments:my_calendar_feed")
    feed = calendar_feed_of(request.user.staff_member.pk)
    context = {"feed": feed, "feed_url": _feed_url(request, token)}
    return render(request, "treatments/my_calendar_feed.html", context)


@require_POST
@role_required(*CLINICIANS)
def my_calendar_feed_revoke(request):
    if calendar_feed_revoke(staff_member=request.user.staff_member, by=request.user):
        messages.success(
            request, _("Your calendar feed URL is revoked: it shows nothing any more.")
        )
    return redirect("treatments:my_calendar_feed")
