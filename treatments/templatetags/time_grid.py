"""The time grid's columns, written in Python like the schedule's cards (schedule_cards.py):
a full day has hundreds of segments, each one f-string over values escaped once."""

from html import escape

from django import template
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from ..selectors.time_grid import UNIT_MINUTES, GridColumn, Kind, Segment, TimeGrid
from .schedule_cards import detail_url_pattern

register = template.Library()


def clock(minute: int) -> str:
    """A minute of the day as HH:MM; the end of the day is 24:00."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _span(segment: Segment) -> str:
    return f"tg-rows-{segment.rows}"


def _visit(segment: Segment, detail_url: str, *, with_room: bool) -> str:
    card = segment.card
    assert card is not None  # a visit segment always has its card
    url = detail_url.format(pk=card.pk)
    room = escape(card.room_name) if card.room_name else gettext("no room")
    where = f" · {room}" if with_room else ""
    return (
        f'<a class="schedule-card schedule-card-{card.status} time-grid-visit {_span(segment)}" '
        f'href="{url}" data-appointment="{card.pk}">'
        f'<span class="time-grid-visit-time"><time datetime="{card.starts_at.isoformat()}">'
        f'{card.starts_at:%H:%M}</time>–<time datetime="{card.ends_at.isoformat()}">'
        f"{card.ends_at:%H:%M}</time></span> "
        f'<span class="schedule-card-patient">{escape(card.patient_name)}</span> '
        f'<span class="schedule-card-detail">{escape(card.procedure_name)}{where}</span> '
        f'<span class="badge schedule-status schedule-status-{card.status}">'
        f"{escape(card.status_label)}</span></a>"
    )


def _gap(segment: Segment, book_url: str | None, who: str) -> str:
    """A free gap: for the front desk, a link per quarter hour still ahead."""
    if book_url is None:
        free = gettext("free %(span)s") % {"span": f"{clock(segment.start)}–{clock(segment.end)}"}
        return (
            f'<div class="time-grid-gap {_span(segment)}">'
            f'<span class="time-grid-label">{free}</span></div>'
        )
    book, with_who = gettext("Book"), escape(gettext("with %(name)s") % {"name": who})
    pieces = []
    for piece in segment.pieces:
        if not piece.ahead:
            pieces.append(f'<div class="time-grid-gap time-grid-past {_span(piece)}"></div>')
            continue
        at = clock(piece.start)
        pieces.append(
            f'<a class="time-grid-gap {_span(piece)}" href="{book_url}&amp;time={at}" '
            f'data-time="{at}"><span class="visually-hidden">{book} </span>'
            f'<span class="time-grid-label">{at}</span>'
            f'<span class="visually-hidden"> {with_who}</span></a>'
        )
    return "".join(pieces)


def _segment(segment: Segment, detail_url: str, book_url: str | None, who: str, rooms: bool):
    if segment.kind == Kind.VISIT:
        return _visit(segment, detail_url, with_room=not rooms)
    if segment.kind == Kind.FREE:
        return _gap(segment, book_url, who)
    if segment.kind == Kind.TIME_OFF:
        time_off = gettext("Time off %(span)s") % {
            "span": f"{clock(segment.start)}–{clock(segment.end)}"
        }
        return (
            f'<div class="time-grid-time-off {_span(segment)}"><span class="time-grid-label">'
            f"{time_off}</span></div>"
        )
    return f'<div class="time-grid-closed {_span(segment)}" aria-hidden="true"></div>'


def now_line(now_rows: int | None, now: int | None, *, label: bool = False) -> str:
    if now_rows is None or now is None:
        return ""
    spacer = f'<span class="tg-rows-{now_rows}"></span>' if now_rows else ""
    text = "<span>" + gettext("now %(time)s") % {"time": clock(now)} + "</span>" if label else ""
    return (
        f'<div class="time-grid-now" data-minute="{now}" data-rows-above="{now_rows}" '
        f'aria-hidden="true">{spacer}<span class="time-grid-now-line">{text}</span></div>'
    )


@register.simple_tag
def time_grid_body(
    column: GridColumn, *, grid: TimeGrid, who: str, book_with: int | None = None, rooms=False
) -> SafeString:
    """A column's segments from the top of the grid, and the now-line over them. With
    `book_with` (a dermatologist's id, for the front desk), each quarter hour of a free gap
    still ahead links to the booking page for that dermatologist, day and time."""
    detail_url = detail_url_pattern()
    book_url = None
    if book_with is not None:
        book_url = (
            f"{reverse('treatments:appointment_book')}?dermatologist={book_with}"
            f"&amp;date={grid.day:%Y-%m-%d}"
        )
    segments = "".join(
        _segment(segment, detail_url, book_url, who, rooms) for segment in column.segments
    )
    return mark_safe(
        f'<div class="time-grid-body">{segments}{now_line(grid.now_rows, grid.now)}</div>'
    )


@register.simple_tag
def time_grid_axis(grid: TimeGrid) -> SafeString:
    """The hours down the left, and the time now beside its line."""
    hours = "".join(
        f'<div class="time-grid-hour tg-rows-{min(60, grid.end - hour) // UNIT_MINUTES}">'
        f"<time>{clock(hour)}</time></div>"
        for hour in grid.hours
    )
    return mark_safe(
        f'<div class="time-grid-body time-grid-axis-body">{hours}'
        f"{now_line(grid.now_rows, grid.now, label=True)}</div>"
    )


@register.simple_tag
def not_held(column: GridColumn) -> SafeString:
    """The visits that do not hold their time: cancelled, no-show."""
    if not column.not_held:
        return mark_safe("")
    detail_url = detail_url_pattern()
    items = "".join(
        f'<li><a class="schedule-card schedule-card-{card.status}" '
        f'href="{detail_url.format(pk=card.pk)}" data-appointment="{card.pk}">'
        f"<time>{card.starts_at:%H:%M}</time> {escape(card.patient_name)} · "
        f"{escape(card.status_label)}</a></li>"
        for card in column.not_held
    )
    return mark_safe(f'<ul class="time-grid-not-held list-unstyled small mb-0">{items}</ul>')
