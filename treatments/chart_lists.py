"""The chart's lists as templates/treatments/chart.html prints them, written out here.

A long history makes hundreds of rows, and in the template every label, date and link of
a row costs a variable lookup, a filter or a URL reversal; the `date` filter also looks up
the month's name in the translations each time. Here a row is one format string, its
words (sentences, labels and month names) looked up in the staff member's language once
for all the rows.
"""

from collections.abc import Callable
from datetime import date, datetime

from django.urls import reverse
from django.utils import formats, timezone
from django.utils.dates import MONTHS_3
from django.utils.translation import gettext

from patients.models import Lesion

from .models import Appointment, FollowUp, Procedure


def _labels(choices) -> dict[str, str]:
    return {value: str(label) for value, label in choices}


class _Words:
    """The labels, month names and sentences of the rows in the active language, each
    translated once."""

    def __init__(self) -> None:
        self.months = [str(MONTHS_3[month]).title() for month in range(1, 13)]
        self.sites = _labels(Lesion.Site.choices)
        self.milia_types = {
            key: label.lower() for key, label in _labels(Lesion.MiliaType.choices).items()
        }
        self.colours = {key: label.lower() for key, label in _labels(Lesion.Colour.choices).items()}
        self.follow_up_kinds = _labels(FollowUp.Kind.choices)
        self.follow_up_statuses = _labels(FollowUp.Status.choices)
        self.visit_statuses = _labels(Appointment.Status.choices)
        self.procedure_statuses = _labels(Procedure.Status.choices)
        self.resolved = gettext("resolved %(day)s")
        self.noted = gettext("noted %(day)s")
        self.treated = gettext("treated %(day)s, awaiting its check")
        self.due = gettext("%(kind)s due %(day)s")
        self.visit = gettext("%(visit)s with %(dermatologist)s")
        self.lesion = gettext("on 1 lesion")
        self.lesions = gettext("on %(count)s lesions")
        self.no_code = gettext("no code")
        self.on_behalf = gettext("recorded on behalf by %(name)s")
        self.amendment = gettext("by %(author)s: %(reason)s")
        self.planned = gettext("%(kind)s planned for %(day)s")

    def day(self, value: date | None) -> str:
        """As {{ value|date:"j M Y" }} writes it."""
        return f"{value.day} {self.months[value.month - 1]} {value.year}" if value else ""

    def moment(self, value: datetime) -> str:
        """As {{ value|date:"j M Y H:i" }} writes it, in the clinic's time zone."""
        local = timezone.localtime(value)
        return f"{self.day(local)} {local:%H:%M}"


def _url_maker(name: str) -> Callable[[int], str]:
    """The URL of `name` for an id: reversed once for all the rows, not once a row."""
    placeholder = "999999999"
    return reverse(name, args=[placeholder]).replace(placeholder, "{}").format


def chart_lists(chart: dict, *, can_edit: bool) -> dict:
    """The lesions, follow-ups and timeline of chart_for_patient(), as rows of text and
    links; links to change the record only for those who may (can_edit)."""
    active = [lesion for lesion in chart["lesions"] if lesion.status in Lesion.CURRENT]
    resolved = [lesion for lesion in chart["lesions"] if lesion.status not in Lesion.CURRENT]
    words = _Words()
    return {
        "active_lesions": _lesion_rows(active, words, can_edit=can_edit),
        "resolved_lesions": _lesion_rows(resolved, words, can_edit=False),
        "follow_ups": _follow_up_rows(chart["follow_ups"], words, can_edit=can_edit),
        "timeline": _timeline(chart["visits"], words, can_edit=can_edit),
    }


def _lesion_rows(lesions: list[Lesion], words: _Words, *, can_edit: bool) -> list[dict]:
    edit_url = _url_maker("treatments:lesion_edit")
    rows = []
    for lesion in lesions:
        text = f"{lesion.count} × {words.milia_types[lesion.milia_type]}"
        if lesion.status not in Lesion.CURRENT:
            text += ", " + words.resolved % {"day": words.day(lesion.resolved_on)}
        else:
            if lesion.size_mm:
                text += f", {formats.localize(lesion.size_mm)} mm"  # 1,5 mm in Spanish
            text += f", {words.colours[lesion.colour]}; "
            text += words.noted % {"day": words.day(lesion.first_noted)}
            if lesion.status == Lesion.Status.TREATED:
                text += "; " + words.treated % {"day": words.day(lesion.last_treated_on)}
        rows.append(
            {
                "site": words.sites[lesion.site],
                "text": text,
                "edit_url": edit_url(lesion.pk) if can_edit else "",
            }
        )
    return rows


def _follow_up_rows(follow_ups: list[dict], words: _Words, *, can_edit: bool) -> list[dict]:
    outcome_url = _url_maker("treatments:follow_up_outcome")
    open_statuses = {FollowUp.Status.OPEN, FollowUp.Status.BOOKED}
    return [
        {
            "text": (
                words.due
                % {
                    "kind": words.follow_up_kinds[follow_up["kind"]],
                    "day": words.day(follow_up["due_on"]),
                }
                + f" · {words.follow_up_statuses[follow_up['status']]}"
            ),
            "outcome_url": (
                outcome_url(follow_up["pk"])
                if can_edit and follow_up["status"] in open_statuses
                else ""
            ),
        }
        for follow_up in follow_ups
    ]


def _timeline(visits: list[dict], words: _Words, *, can_edit: bool) -> list[dict]:
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
                    words.visit
                    % {"visit": visit["type_name"], "dermatologist": visit["dermatologist"]}
                    + f" · {words.visit_statuses[visit['status']]}"
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
                    (words.lesion if lesions == 1 else words.lesions % {"count": lesions})
                    + f" · {visit['procedure_code'] or words.no_code}"
                    + f" · {words.procedure_statuses[visit['procedure_status']]}"
                    + (
                        " · " + words.on_behalf % {"name": visit["recorded_on_behalf_by"]}
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
                "text": words.amendment
                % {"author": amendment["author"], "reason": amendment["reason"]},
            }
            for amendment in visit["amendments"]
        ]
        entries += [
            {
                "at": follow_up["at"],
                "kind": "follow_up",
                "text": words.planned
                % {
                    "kind": words.follow_up_kinds[follow_up["kind"]],
                    "day": words.day(follow_up["due_on"]),
                },
            }
            for follow_up in visit["follow_ups"]
        ]
    entries.sort(key=lambda entry: entry["at"], reverse=True)
    for entry in entries:
        entry["when"] = words.moment(entry["at"])
    return entries
