"""Bar and line charts drawn on the server as SVG: the geometry that templates draw.

No JavaScript library and no inline styles (the Content-Security-Policy forbids both):
templates/treatments/_chart_bar.html and _chart_line.html draw `<rect>`, `<polyline>`
and `<text>` from these numbers, and each series' colour comes from its CSS class in
static/css/dashboard.css. Every chart also carries its numbers as a table, for those
who cannot see it.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field

WIDTH = 720
HEIGHT = 280
# Room for the y axis' tick labels and title on the left, the x axis' below.
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 56
Y_TICKS = 4


@dataclass(frozen=True)
class Series:
    name: str
    values: list[float | None]
    css_class: str
    cells: list[str] | None = None  # the data table's text, when more than the value


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css_class: str
    label: str


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    label: str


@dataclass(frozen=True)
class Line:
    css_class: str
    name: str
    segments: list[str]  # "x,y x,y ..." for each unbroken run of values
    markers: list[Marker]


@dataclass
class Chart:
    kind: str  # "bar" or "line": which template draws it
    id: str
    title: str
    summary: str
    x_label: str
    y_label: str
    series: list[Series]
    table_headers: list[str]
    table_rows: list[list[str]]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    marker: Tick | None = None  # a labelled vertical line, e.g. "Today"

    @property
    def x_label_x(self) -> float:
        return (self.left + self.right) / 2

    @property
    def x_label_y(self) -> int:
        return self.height - 8

    @property
    def y_label_x(self) -> float:
        return (self.top + self.bottom) / 2


def axis_end(value: float, *, smallest_step: float = 1) -> float:
    """Where the y axis ends: Y_TICKS whole, round steps (1, 2, 2.5 or 5 × 10ⁿ) reaching
    `value`."""
    wanted = max(value / Y_TICKS, smallest_step)
    power = 10 ** math.floor(math.log10(wanted))
    steps = [int(n * power) for n in (1, 2, 2.5, 5, 10) if n * power == int(n * power)]
    step = next(step for step in steps if wanted <= step)
    return step * Y_TICKS


def _number(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


def _y_ticks(chart: Chart, y_max: float, fmt: Callable[[float], str]) -> list[Tick]:
    return [
        Tick(position=_y(chart, y_max * i / Y_TICKS, y_max), label=fmt(y_max * i / Y_TICKS))
        for i in range(Y_TICKS + 1)
    ]


def _y(chart: Chart, value: float, y_max: float) -> float:
    return round(chart.bottom - (chart.bottom - chart.top) * value / y_max, 1)


def _step(chart: Chart, categories: list[str]) -> float:
    return (chart.right - chart.left) / max(len(categories), 1)


def _x_ticks(
    chart: Chart, categories: list[str], label_every: int, anchor: int | None
) -> list[Tick]:
    """Every `label_every`-th category's label, counted from `anchor` (the last by default,
    so that the latest period is always named)."""
    step = _step(chart, categories)
    anchor = len(categories) - 1 if anchor is None else anchor
    return [
        Tick(position=round(chart.left + (i + 0.5) * step, 1), label=category)
        for i, category in enumerate(categories)
        if (i - anchor) % label_every == 0
    ]


def _cell(series: Series, i: int, fmt) -> str:
    if series.cells is not None:
        return series.cells[i]
    return "–" if series.values[i] is None else fmt(series.values[i])


def _table(
    x_label: str, categories: list[str], series: list[Series], fmt, extra_columns: dict
) -> tuple[list[str], list[list[str]]]:
    headers = [x_label, *(s.name for s in series), *extra_columns]
    rows = [
        [
            category,
            *(_cell(s, i, fmt) for s in series),
            *(column[i] for column in extra_columns.values()),
        ]
        for i, category in enumerate(categories)
    ]
    return headers, rows


def bar_chart(
    *,
    id: str,
    title: str,
    summary: str,
    categories: list[str],
    series: list[Series],
    x_label: str,
    y_label: str,
    label_every: int = 1,
    marker: tuple[int, str] | None = None,
    extra_columns: dict[str, list[str]] | None = None,
) -> Chart:
    """Stacked bars, one column per category; `marker` (index, label) draws a line before
    that category's column, and the x axis' labels count from it."""
    headers, rows = _table(x_label, categories, series, _number, extra_columns or {})
    chart = Chart("bar", id, title, summary, x_label, y_label, series, headers, rows)
    totals = [sum(s.values[i] or 0 for s in series) for i in range(len(categories))]
    y_max = axis_end(max(totals, default=0))
    chart.y_ticks = _y_ticks(chart, y_max, _number)
    chart.x_ticks = _x_ticks(chart, categories, label_every, marker[0] if marker else None)
    step = _step(chart, categories)
    gap = min(2, step * 0.15)
    for i, category in enumerate(categories):
        stacked = 0.0
        for s in series:
            value = s.values[i] or 0
            if not value:
                continue
            top = _y(chart, stacked + value, y_max)
            chart.bars.append(
                Bar(
                    x=round(chart.left + i * step + gap, 1),
                    y=top,
                    width=round(step - 2 * gap, 1),
                    height=round(_y(chart, stacked, y_max) - top, 1),
                    css_class=s.css_class,
                    label=f"{category}: {_number(value)} {s.name.lower()}",
                )
            )
            stacked += value
    if marker is not None:
        index, label = marker
        chart.marker = Tick(position=round(chart.left + index * step, 1), label=label)
    return chart


def percent(value: float) -> str:
    return f"{value:.0f}%" if value == round(value) else f"{value:.1f}%"


def line_chart(
    *,
    id: str,
    title: str,
    summary: str,
    categories: list[str],
    series: list[Series],
    x_label: str,
    y_label: str,
    label_every: int = 1,
) -> Chart:
    """Lines of percentages (0–100), one per series; a missing value (None) breaks the line."""
    headers, rows = _table(x_label, categories, series, percent, {})
    chart = Chart("line", id, title, summary, x_label, y_label, series, headers, rows)
    values = [v for s in series for v in s.values if v is not None]
    y_max = min(axis_end(max(values, default=0), smallest_step=5), 100)
    chart.y_ticks = _y_ticks(chart, y_max, percent)
    chart.x_ticks = _x_ticks(chart, categories, label_every, None)
    step = _step(chart, categories)
    for s in series:
        segments: list[str] = []
        run: list[str] = []
        markers: list[Marker] = []
        for i, value in enumerate(s.values):
            if value is None:
                segments, run = _close(segments, run), []
                continue
            x, y = round(chart.left + (i + 0.5) * step, 1), _y(chart, value, y_max)
            run.append(f"{x},{y}")
            markers.append(Marker(x=x, y=y, label=f"{s.name}, {categories[i]}: {percent(value)}"))
        chart.lines.append(
            Line(
                css_class=s.css_class,
                name=s.name,
                segments=_close(segments, run),
                markers=markers,
            )
        )
    return chart


def _close(segments: list[str], run: list[str]) -> list[str]:
    return [*segments, " ".join(run)] if run else segments
