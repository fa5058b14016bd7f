"""The day view (dermatologists side by side) and the week view of one dermatologist.

Both keep their calendar region, the costly part (the grid and its HTML), in Django's
cache, keyed by the schedule's version of the days shown (clinic/schedule_version.py) and
by everything else the region depends on: never stale, because every write bumps the
version in its own transaction. What belongs to the request (the user, the CSRF token,
messages) is rendered around it each time. A repeated GET with the page's ETag (the same
version, user, session and language) is answered 304 without rendering.
"""

import hashlib
import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta

from django.contrib.messages import get_messages
from django.core.cache import cache
from django.http import Http404, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from redis.exceptions import RedisError

from clinic.audit import access_log_record_patients
from clinic.clock import week_of
from clinic.models import AccessLog, Room, StaffMember
from clinic.params import id_param
from clinic.permissions import CLINICAL_READERS, EVERY_ROLE, FRONT_DESK, has_role, role_required
from clinic.schedule_version import schedule_version_of

from ..selectors.day_sheet import day_sheet, day_sheet_choices
from ..selectors.schedule import dermatologists_to_choose, schedule_of_week
from ..selectors.time_grid import time_grid_of_day

# Far beyond any booking, and far enough from datetime's limits that a day's bounds
# in any time zone (and the next or previous day's) still exist.
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(2999, 12, 31)


class BadDate(ValueError):
    """The ?date= parameter is not a YYYY-MM-DD date the schedule can show."""


def requested_day(request) -> date:
    """The ?date= of the request, or today in the clinic's time zone when it is empty."""
    raw = request.GET.get("date", "").strip()
    if not raw:
        return timezone.localdate()
    try:
        day = datetime.strptime(raw, "%Y-%m-%d").date()
    except ValueError:
        raise BadDate(_("“%(raw)s” is not a date in the form YYYY-MM-DD.") % {"raw": raw}) from None
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise BadDate(
            _("The schedule covers %(first)s to %(last)s.")
            % {"first": EARLIEST_DAY.year, "last": LATEST_DAY.year}
        )
    return day


def bad_date_page(request, error: BadDate):
    context = {"message": str(error), "today": timezone.localdate()}
    return render(request, "treatments/_schedule_bad_date.html", context, status=400)


logger = logging.getLogger(__name__)

# How long a calendar region stays cached: a day's, until its version moves on anyway;
# today's day view, whose now-line moves, for the minute it was drawn in.
CALENDAR_SECONDS = 24 * 60 * 60
NOW_LINE_SECONDS = 2 * 60


def _digest(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def _render_schedule(
    request,
    *,
    page: str,
    calendar: str,
    version: str,
    shown: tuple,
    context: dict,
    build: Callable[[], dict],
    seconds: int = CALENDAR_SECONDS,
):
    """The whole page, or only the calendar region when htmx swaps it in; 304 when the
    request's If-None-Match is the page's ETag.

    `shown` is everything the calendar region depends on besides the schedule's
    `version`, the language and the time zone; `build()` makes its context, run only when
    the region is not in the cache, with in `page` the few values the page around it needs
    from there (cached with it). `context` is the page's own.

    A history restore (the back button after the cache expired) replaces the whole body,
    so it gets the whole page.
    """
    swaps_calendar = request.headers.get("HX-Request") == "true" and not request.headers.get(
        "HX-History-Restore-Request"
    )
    region = (*shown, version, get_language(), timezone.get_current_timezone_name())
    region += (swaps_calendar,)
    # The rest of the page is the user's (their name, the CSRF token of the logout form).
    get_token(request)  # the CSRF secret the page carries, made now if the browser has none
    session, csrf = request.session.session_key, request.META["CSRF_COOKIE"]
    etag = '"' + _digest(region, request.user.pk, session, csrf) + '"'
    # A page with a message shows it once: it gets no ETag, and no 304 hides the message.
    conditional = not len(get_messages(request))
    if conditional and (not_modified := get_conditional_response(request, etag=etag)):
        return _schedule_headers(not_modified, etag)

    def make() -> dict:
        calendar_context = {**build(), "is_partial": swaps_calendar}
        html = render_to_string(calendar, calendar_context)
        return {"html": html, "page": calendar_context.get("page", {})}

    cached = _cached(f"schedule:{calendar}:{_digest(region)}", make, seconds)
    if swaps_calendar:
        response = HttpResponse(cached["html"])
    else:
        page_context = {**context, **cached["page"], "calendar": mark_safe(cached["html"])}  # noqa: S308 (our own template's HTML)
        response = render(request, page, page_context)
    return _schedule_headers(response, etag if conditional else None)


def _cached(key: str, make: Callable[[], dict], seconds: int) -> dict:
    """The cached value, or make() stored; with the cache server down, make() alone."""
    try:
        value = cache.get(key)
        if value is None:
            value = make()
            cache.set(key, value, seconds)
    except (OSError, RedisError) as error:
        logger.warning("The schedule is drawn without its cache: %s", error)
        return make()
    return value


def _schedule_headers(response, etag: str | None):
    if etag:
        response["ETag"] = etag
    # The page is the user's: no shared cache keeps it; a browser asks again each time.
    patch_cache_control(response, private=True, no_cache=True)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_GET
@role_required(*EVERY_ROLE)
def schedule_day(request):
    """The day as a time grid: the dermatologists side by side with their hours, time off,
    visits and free gaps (links to book them, for the front desk), then the rooms."""
    try:
        day = requested_day(request)
    except BadDate as error:
        return bad_date_page(request, error)
    version = schedule_version_of(days=[day])  # before the schedule: see its module
    now = timezone.now()
    today, can_book = timezone.localdate(now), has_role(request.user, FRONT_DESK)
    # Today's grid shows the time now and books only the gaps ahead: it is the minute's.
    minute = f"{timezone.localtime(now):%H:%M}" if day == today else ""

    def build() -> dict:
        return {
            "day": day,
            "today": today,
            "previous_day": day - timedelta(days=1),
            "next_day": day + timedelta(days=1),
            "grid": time_grid_of_day(day=day, now=now),
            "can_book": can_book,
        }

    return _render_schedule(
        request,
        page="treatments/schedule_day.html",
        calendar="treatments/_schedule_day_calendar.html",
        version=version,
        shown=("day", day, today, minute, can_book),
        context={"day": day},
        build=build,
        seconds=NOW_LINE_SECONDS if minute else CALENDAR_SECONDS,
    )


@require_GET
@role_required(*EVERY_ROLE)
def schedule_week(request, dermatologist_id):
    """One dermatologist's appointments, Monday to Sunday, with their working hours."""
    try:
        day = requested_day(request)
    except BadDate as error:
        return bad_date_page(request, error)
    chosen = request.GET.get("dermatologist", "")
    if chosen and chosen != str(dermatologist_id):
        # The switch is a plain GET form, so the chosen id arrives as a parameter.
        if not chosen.isdecimal():
            raise Http404(_("No such dermatologist."))
        url = reverse("treatments:schedule_week", args=[int(chosen)])
        return redirect(f"{url}?date={day.isoformat()}")
    days = week_of(day)
    version = schedule_version_of(days=days)  # before the schedule: see its module
    today, can_book = timezone.localdate(), has_role(request.user, FRONT_DESK)

    def build() -> dict:
        try:
            week = schedule_of_week(dermatologist_id=dermatologist_id, day=day)
        except StaffMember.DoesNotExist:
            raise Http404(_("No such dermatologist.")) from None
        return {
            "day": day,
            "week": week,
            "dermatologist": week.dermatologist,
            "today": today,
            "previous_week": days[0] - timedelta(days=7),
            "next_week": days[0] + timedelta(days=7),
            "dermatologists": dermatologists_to_choose(current=week.dermatologist),
            "can_book": can_book,
            "page": {"dermatologist_name": str(week.dermatologist)},
        }

    return _render_schedule(
        request,
        page="treatments/schedule_week.html",
        calendar="treatments/_schedule_week_calendar.html",
        version=version,
        shown=("week", dermatologist_id, day, today, can_book),
        context={"monday": days[0]},
        build=build,
    )


def _sheet_choice(request, day: date, *, error: str = "", status: int = 200):
    dermatologists, rooms = day_sheet_choices(day=day)
    context = {"day": day, "dermatologists": dermatologists, "rooms": rooms, "error": error}
    return render(request, "treatments/day_sheet_choice.html", context, status=status)


@require_GET
@role_required(*EVERY_ROLE)
def schedule_day_sheet(request):
    """The printable day sheet of one dermatologist (?dermatologist=) or one room (?room=):
    times, patients, procedures, statuses and alerts. Without either, whose to print.

    Every patient on it gets an access-log row: the sheet flags their alerts (and shows
    them to the clinical readers)."""
    try:
        day = requested_day(request)
    except BadDate as error:
        return bad_date_page(request, error)
    dermatologist, room = request.GET.get("dermatologist", ""), request.GET.get("room", "")
    if dermatologist and room:
        both = _("A day sheet is of a dermatologist or of a room: choose one.")
        return _sheet_choice(request, day, error=both, status=400)
    if not (dermatologist or room):
        return _sheet_choice(request, day)
    dermatologist_id, room_id = id_param(dermatologist), id_param(room)
    if dermatologist_id is None and room_id is None:
        raise Http404(_("No such dermatologist or room."))
    try:
        sheet = day_sheet(day=day, dermatologist_id=dermatologist_id, room_id=room_id)
    except (StaffMember.DoesNotExist, Room.DoesNotExist):
        raise Http404(_("No such dermatologist or room.")) from None
    access_log_record_patients(
        request=request,
        action=AccessLog.Action.EXPORT,
        patient_ids=list(sheet.patient_ids),
        detail=f"Day sheet of {day.isoformat()}",
    )
    context = {
        "sheet": sheet,
        "day": day,
        "shows_alerts": has_role(request.user, CLINICAL_READERS),
    }
    return render(request, "treatments/day_sheet.html", context)
