"""The schedule's appointment cards, written in Python.

A day holds hundreds of cards; through the template engine each costs a URL reversal,
four date filters and a dozen lookups, which made the page several times slower than
its data. Here each card is one f-string over values escaped once. The markup is the
one the schedule's styles, scripts and tests know.
"""

from html import escape  # the standard library's: Django's wraps it, at a cost per call

from django import template
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from ..selectors.schedule import ScheduleCard

register = template.Library()

# A pk no appointment has, reversed once per list and replaced by each card's pk.
_PK_MARK = 2_147_483_647


def detail_url_pattern() -> str:
    return reverse("treatments:appointment_detail", args=[_PK_MARK]).replace(str(_PK_MARK), "{pk}")


def _hm(moment) -> str:
    return f"{moment.hour:02d}:{moment.minute:02d}"


def _card(card: ScheduleCard, url_pattern: str) -> str:
    url = url_pattern.format(pk=card.pk)
    room = escape(card.room_name) if card.room_name else "no room"
    return (
        f'<li>\n    <a class="schedule-card schedule-card-{card.status}" href="{url}" '
        f'data-appointment="{card.pk}">\n'
        f'      <span class="schedule-card-top">\n'
        f'        <span class="schedule-card-time"><time datetime="{card.starts_at.isoformat()}">'
        f'{_hm(card.starts_at)}</time>–<time datetime="{card.ends_at.isoformat()}">'
        f"{_hm(card.ends_at)}</time></span>\n"
        f'        <span class="badge schedule-status schedule-status-{card.status}">'
        f"{escape(card.status_label)}</span>\n"
        f"      </span>\n"
        f'      <span class="schedule-card-patient">{escape(card.patient_name)}</span>\n'
        f'      <span class="schedule-card-detail">{escape(card.procedure_name)} · {room}</span>\n'
        f"    </a>\n  </li>"
    )


@register.simple_tag
def schedule_cards(cards: list[ScheduleCard]) -> SafeString:
    """A column's appointments as a list of cards, or a note that there are none."""
    if not cards:
        none = escape(gettext("No appointments."))
        return mark_safe(f'<p class="schedule-empty small text-body-secondary mb-0">{none}</p>')
    url_pattern = detail_url_pattern()
    items = "\n  ".join(_card(card, url_pattern) for card in cards)
    return mark_safe(f'<ol class="schedule-cards list-unstyled mb-0">\n  {items}\n</ol>')
