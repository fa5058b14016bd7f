"""The day view (dermatologists side by side) and the week view of one dermatologist."""

from datetime import date, datetime, timedelta

from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from clinic.audit import access_log_record_patients
from clinic.clock import week_of
from clinic.models import AccessLog, Room, StaffMember
from clinic.params import id_param
from clinic.permissions import CLINICAL_READERS, EVERY_ROLE, FRONT_DESK, has_role, role_required

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


def _render_schedule(request, page: str, calendar: str, context: dict):
    """The whole page, or only the calendar region when htmx swaps it in.

    A history restore (the back button after the cache expired) replaces the whole body,
    so it gets the whole page.
    """
    swaps_calendar = request.headers.get("HX-Request") == "true" and not request.headers.get(
        "HX-History-Restore-Request"
    )
    context["is_partial"] = swaps_calendar
    response = render(request, calendar if swaps_calendar else page, context)
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
    context = {
        "day": day,
        "today": timezone.localdate(),
        "previous_day": day - timedelta(days=1),
        "next_day": day + timedelta(days=1),
        "grid": time_grid_of_day(day=day, now=timezone.now()),
        "can_book": has_role(request.user, FRONT_DESK),
    }
    return _render_schedule(
        request, "treatments/schedule_day.html", "treatments/_schedule_day_calendar.html", context
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
    try:
        week = schedule_of_week(dermatologist_id=dermatologist_id, day=day)
    except StaffMember.DoesNotExist:
        raise Http404(_("No such dermatologist.")) from None
    monday = week_of(day)[0]
    context = {
        "day": day,
        "week": week,
        "dermatologist": week.dermatologist,
        "today": timezone.localdate(),
        "previous_week": monday - timedelta(days=7),
        "next_week": monday + timedelta(days=7),
        "dermatologists": dermatologists_to_choose(current=week.dermatologist),
        "can_book": has_role(request.user, FRONT_DESK),
    }
    return _render_schedule(
        request, "treatments/schedule_week.html", "treatments/_schedule_week_calendar.html", context
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
