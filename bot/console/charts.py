"""Charts as inline SVG, drawn on the server from numbers (pure: no I/O, no state).

A chart is an <svg role="img"> named by its <title> and <desc> (aria-labelledby); the page puts
the same numbers in a table beside it, the text alternative. Colour is never the only signal:
every bar carries its value in words, and a second series is hatched as well as coloured. No
style="" attributes (the console's Content-Security-Policy refuses inline styles): presentation
attributes and classes (static/reports.css) only. Nothing is ever divided by a zero maximum:
a value that reads as zero (as `value_text` writes it: "0", "0.0 min") draws no bar but says
its value, and a chart without any value says so in words instead. The viewBox is about a
phone's width, so that its text stays readable there (the SVG is not drawn much smaller).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH = 360  # the viewBox's width; the SVG scales to its box (reports.css), about 1:1 on a phone
LABEL_WIDTH = 116  # the bars' labels, left of the bars
PLOT_LEFT = LABEL_WIDTH + 8
PLOT_WIDTH = 160  # the longest bar; its value is written after it
ROW = 26
BAR = 18
LEGEND = 26
FONT = 14
LABEL_CHARS = 16  # longer labels are cut with "…" (the whole one is in the bar's <title>)
CHART_ID = re.compile(r"[a-z][a-z0-9-]{0,40}")
COLOURS = ("#005ea5", "#d4351c")  # series 1 also hatched


@dataclass(frozen=True)
class Bar:
    """One row of a chart: its label and one value per series (stacked); None: no figure."""

    label: str
    values: tuple[float | None, ...]

    @property
    def total(self) -> float | None:
        present = [v for v in self.values if v is not None]
        return sum(present) if present else None


def _number(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1].rstrip() + "…"


def _open(chart_id: str, title: str, desc: str, height: int) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'font-size="{FONT}" font-family="system-ui, sans-serif">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
    ]


def _empty(chart_id: str, title: str, desc: str, empty: str) -> Markup:
    height = 2 * ROW
    parts = [
        *_open(chart_id, title, desc, height),
        f'<text x="{WIDTH // 2}" y="{height // 2 + FONT // 3}" text-anchor="middle" '
        f'fill="currentColor" class="chart-empty">{escape(empty)}</text>',
        "</svg>",
    ]
    return Markup("\n".join(parts))  # noqa: S704 - every text in it was escaped


def bar_chart(
    chart_id: str,
    title: str,
    desc: str,
    bars: Sequence[Bar],
    *,
    series: Sequence[str] = ("",),
    value_text: Callable[[float], str] = _number,
    missing: str = "no figure",
    empty: str = "No requests in this period",
) -> Markup:
    """Horizontal bars, one row per `bars` item, scaled to the largest total; with more than one
    series the values are stacked (series 2 hatched) under a legend. A row without any value
    says `missing`; a value that `value_text` writes as zero draws no bar (however small it
    really is) but is said; when no row has any value the whole chart says `empty`.
    `chart_id`: unique on the page (it prefixes the ids of the title, description and hatch)."""
    if not CHART_ID.fullmatch(chart_id):
        raise ValueError(f"a chart id is letters, digits and dashes: {chart_id!r}")
    if len(series) > len(COLOURS):
        raise ValueError(f"at most {len(COLOURS)} series")
    if any(len(bar.values) != len(series) for bar in bars):
        raise ValueError("every bar needs one value per series")
    if any(v is not None and v < 0 for bar in bars for v in bar.values):
        raise ValueError("bars cannot be negative")
    if all(v is None for bar in bars for v in bar.values):
        return _empty(chart_id, title, desc, empty)
    zero = value_text(0.0)

    def drawn(value: float | None) -> float:
        """The value a bar is drawn for: none for a value that reads as zero."""
        return 0.0 if value is None or value_text(value) == zero else value

    largest = max(sum(drawn(v) for v in bar.values) for bar in bars)
    legend = LEGEND if len(series) > 1 else 0
    height = legend + ROW * len(bars) + 6
    hatch = f"{chart_id}-hatch"
    parts = _open(chart_id, title, desc, height)
    if len(series) > 1:
        parts.append(
            f'<defs><pattern id="{hatch}" patternUnits="userSpaceOnUse" width="6" height="6" '
            f'patternTransform="rotate(45)"><rect width="6" height="6" fill="{COLOURS[1]}"/>'
            '<line x1="0" y1="0" x2="0" y2="6" stroke="#fff" stroke-width="3"/></pattern></defs>'
        )
        left = PLOT_LEFT
        parts.append('<g class="chart-legend">')
        for n, name in enumerate(series):
            fill = COLOURS[0] if n == 0 else f"url(#{hatch})"
            parts.append(
                f'<rect x="{left}" y="4" width="14" height="14" fill="{fill}" '
                f'stroke="currentColor" stroke-width="0.5"/>'
                f'<text x="{left + 19}" y="16" fill="currentColor">{escape(name)}</text>'
            )
            left += 30 + 9 * len(name)
        parts.append("</g>")
    for row, bar in enumerate(bars):
        top = legend + row * ROW + 4
        middle = top + BAR // 2 + FONT // 3
        words = f"{bar.label}: " + ", ".join(
            f"{name + ' ' if name else ''}{missing if v is None else value_text(v)}"
            for name, v in zip(series, bar.values, strict=True)
        )
        parts.append(f'<g class="chart-bar"><title>{escape(words)}</title>')
        parts.append(
            f'<text x="{LABEL_WIDTH}" y="{middle}" text-anchor="end" '
            f'fill="currentColor">{escape(_short(bar.label))}</text>'
        )
        x = float(PLOT_LEFT)
        for n, value in enumerate(bar.values):
            value = drawn(value)
            if value <= 0:  # (then largest may be 0 too: nothing is divided by it)
                continue
            width = value / largest * PLOT_WIDTH
            fill = COLOURS[0] if n == 0 else f"url(#{hatch})"
            parts.append(
                f'<rect class="series-{n + 1}" x="{x:.1f}" y="{top}" width="{width:.1f}" '
                f'height="{BAR}" fill="{fill}"/>'
            )
            x += width
        total = bar.total
        said = missing if total is None else value_text(total)
        parts.append(
            f'<text x="{x + 5:.1f}" y="{middle}" fill="currentColor" '
            f'class="chart-value">{escape(said)}</text></g>'
        )
    parts.append(
        f'<line x1="{PLOT_LEFT}" y1="{legend}" x2="{PLOT_LEFT}" y2="{height - 2}" '
        'stroke="currentColor" stroke-width="1"/>'
    )
    parts.append("</svg>")
    return Markup("\n".join(parts))  # noqa: S704 - every text in it was escaped
