"""The chart's lists as templates/treatments/chart.html prints them, written out here.

A long history makes hundreds of rows, and in the template every label, date and link of
a row costs a variable lookup, a filter or a URL reversal; the `date` filter also looks up
the month's name in the translations each time. Here a row is one f-string. The staff
pages are in English only, so the month names are too.
"""

from collections.abc import Callable
from datetime import date, datetime

from django.urls import reverse
from django.utils import timezone

from patients.models import Lesion

from .models import Appointment, FollowUp, Procedure

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
SITES = dict(Lesion.Site.choices)
MILIA_TYPES = dict(Lesion.MiliaType.choices)
COLOURS = dict(Lesion.Colour.choices)
FOLLOW_UP_KINDS = dict(FollowUp.Kind.choices)
FOLLOW_UP_STATUSES = dict(FollowUp.Status.choices)
VISIT_STATUSES = dict(Appointment.Status.choices)
PROCEDURE_STATUSES = dict(Procedure.Status.choices)


def _day(value: date | None) -> str:
    """As {{ value|date:"j M Y" }} writes it."""
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}" if value else ""


def _moment(value: datetime) -> str:
    """As {{ value|date:"j M Y H:i" }} writes it, in the clinic's time zone."""
    local = timezone.localtime(value)
    return f"{_day(local)} {local:%H:%M}"


def _url_maker(name: str) -> Callable[[int], str]:
    """The URL of `name` for an id: reversed once for all the rows, not once a row."""
    placeholder = "999999999"
    return reverse(name, args=[placeholder]).replace(placeholder, "{}").format


def chart_lists(chart: dict, *, can_edit: bool) -> dict:
    """The lesions, follow-ups and timeline of chart_for_patient(), as rows of text and
    links; links to change the record only for those who may (can_edit)."""
    active = [lesion for lesion in chart["lesions"] if lesion.status in Lesion.CURRENT]
    resolved = [lesion for lesion in chart["lesions"] if lesion.status not in Lesion.CURRENT]
    return {
        "active_lesions": _lesion_rows(active, can_edit=can_edit),
        "resolved_lesions": _lesion_rows(resolved, can_edit=False),
        "follow_ups": _follow_up_rows(chart["follow_ups"], can_edit=can_edit),
        "timeline": _timeline(chart["visits"], can_edit=can_edit),
    }


def _lesion_rows(lesions: list[Lesion], *, can_edit: bool) -> list[dict]:
    edit_url = _url_maker("treatments:lesion_edit")
    rows = []
    for lesion in lesions:
        text = f"{lesion.count} × {MILIA_TYPES[lesion.milia_type].lower()}"
        if lesion.status not in Lesion.CURRENT:
            text += f", resolved {_day(lesion.resolved_on)}"
        else:
            if lesion.size_mm:
                text += f", {lesion.size_mm} mm"
            text += f", {COLOURS[lesion.colour].lower()}; noted {_day(lesion.first_noted)}"
            if lesion.status == Lesion.Status.TREATED:
                text += f"; treated {_day(lesion.last_treated_on)}, awaiting its check"
        rows.append(
            {
                "site": SITES[lesion.site],
                "text": text,
                "edit_url": edit_url(lesion.pk) if can_edit else "",
            }
        )
    return rows


def _follow_up_rows(follow_ups: list[dict], *, can_edit: bool) -> list[dict]:
    outcome_url = _url_maker("treatments:follow_up_outcome")
    open_statuses = {FollowUp.Status.OPEN, FollowUp.Status.BOOKED}
    return [
        {
            "text": (
                f"{FOLLOW_UP_KINDS[follow_up['kind']]} due {_day(follow_up['due_on'])}"
                f" · {FOLLOW_UP_STATUSES[follow_up['status']]}"
            ),
            "outcome_url": (
                outcome_url(follow_up["pk"])
                if can_edit and follow_up["status"] in open_statuses
                else ""
            ),
        }
        for follow_up in follow_ups
    ]


def _timeline(visits: list[dict], *, can_edit: bool) -> list[dict]:
    """The visits, their procedures, the procedures' amendments and the follow-ups they
    planned, latest first."""
    record_url, detail_url = (
        _url_maker("treatments:procedure_record"),
        _url_maker("treatments:procedure_detail"),
    )
    entries = []
    for visit in visits:
        has_procedure = visit["procedure_id"] is not None
        recordable = visit["status"] == Appointment.Status.CHECKED_IN and not has_procedure
        entries.append(
            {
                "at": visit["starts_at"],
                "kind": "visit",
                "text": (
                    f"{visit['type_name']} with {visit['dermatologist']}"
                    f" · {VISIT_STATUSES[visit['status']]}"
                ),
                "url": record_url(visit["pk"]) if can_edit and recordable else "",
            }
        )
        if not has_procedure:
            continue
        url, name = detail_url(visit["procedure_id"]), visit["procedure_type_name"]
        lesions = visit["lesion_count"] or 0
        entries.append(
            {
                "at": visit["performed_at"],
                "kind": "procedure",
                "url": url,
                "name": name,
                "text": (
                    f"on {lesions} lesion{'' if lesions == 1 else 's'}"
                    f" · {visit['procedure_code'] or 'no code'}"
                    f" · {PROCEDURE_STATUSES[visit['procedure_status']]}"
                    + (
                        f" · recorded on behalf by {visit['recorded_on_behalf_by']}"
                        if visit["recorded_on_behalf_by"]
                        else ""
                    )
                ),
            }
        )
        entries += [
            {
                "at": amendment["at"],
                "kind": "amendment",
                "url": url,
                "name": name,
                "text": f"by {amendment['author']}: {amendment['reason']}",
            }
            for amendment in visit["amendments"]
        ]
        entries += [
            {
                "at": follow_up["at"],
                "kind": "follow_up",
                "text": (
                    f"{FOLLOW_UP_KINDS[follow_up['kind']]} planned for {_day(follow_up['due_on'])}"
                ),
            }
            for follow_up in visit["follow_ups"]
        ]
    entries.sort(key=lambda entry: entry["at"], reverse=True)
    for entry in entries:
        entry["when"] = _moment(entry["at"])
    return entries
