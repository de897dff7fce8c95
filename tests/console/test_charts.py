"""The console's SVG charts (bot/console/charts.py): bars scaled to the largest, stacked series
told apart by more than colour, labels escaped, nothing divided by a zero maximum."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from bot.console.charts import PLOT_WIDTH, Bar, bar_chart
from bot.escalation.reports import minutes_text

SVG = "{http://www.w3.org/2000/svg}"


def parsed(markup: str) -> ET.Element:
    """The chart as XML (it must be well-formed to be parsed at all)."""
    return ET.fromstring(markup)


def widths(markup: str) -> list[float]:
    return [float(r.get("width", "0")) for r in parsed(markup).iter(f"{SVG}rect")]


def test_bars_are_scaled_to_the_largest_and_carry_their_values_in_words() -> None:
    chart = bar_chart(
        "weeks",
        "Requests per week",
        "Requests in each week.",
        [Bar("a", (10.0,)), Bar("b", (5.0,)), Bar("c", (2.5,)), Bar("d", (0.0,))],
    )
    assert widths(chart) == [PLOT_WIDTH, PLOT_WIDTH / 2, PLOT_WIDTH / 4]  # no bar for zero
    svg = parsed(chart)
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "weeks-title weeks-desc"
    assert svg.find(f"{SVG}title").text == "Requests per week"  # type: ignore[union-attr]
    assert svg.find(f"{SVG}desc").text == "Requests in each week."  # type: ignore[union-attr]
    values = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "chart-value"]
    assert values == ["10", "5", "2.5", "0"]
    assert "style" not in chart  # the CSP refuses inline styles


def test_stacked_series_are_hatched_and_named_in_a_legend() -> None:
    chart = bar_chart(
        "weeks",
        "Requests per week",
        "Emergencies and support.",
        [Bar("16 Nov", (3.0, 1.0)), Bar("23 Nov", (2.0, 0.0))],
        series=("emergency", "support"),
    )
    rects = [r for r in parsed(chart).iter(f"{SVG}rect") if r.get("class", "").startswith("series")]
    assert [(r.get("class"), float(r.get("width", "0"))) for r in rects] == [
        ("series-1", PLOT_WIDTH * 3 / 4),
        ("series-2", PLOT_WIDTH / 4),
        ("series-1", PLOT_WIDTH / 2),
    ]
    assert rects[1].get("fill") == "url(#weeks-hatch)"  # not colour alone
    assert 'id="weeks-hatch"' in chart
    texts = [t.text for t in parsed(chart).iter(f"{SVG}text")]
    assert "emergency" in texts and "support" in texts  # the legend in words
    assert "<title>16 Nov: emergency 3, support 1</title>" in chart


@pytest.mark.parametrize(
    "bars",
    [[], [Bar("a", (None,))], [Bar("a", (None,)), Bar("b", (None,))]],
    ids=["no bars", "no figures", "no figures in any row"],
)
def test_a_chart_without_values_says_so_instead_of_dividing_by_zero(bars: list[Bar]) -> None:
    chart = bar_chart("empty", "Requests per week", "Nothing.", bars)
    svg = parsed(chart)
    assert list(svg.iter(f"{SVG}rect")) == []
    said = [t.text for t in svg.iter(f"{SVG}text")]
    assert said == ["No requests in this period"]
    other = bar_chart("empty", "t", "d", bars, empty="No request was acknowledged")
    assert "No request was acknowledged" in other


def test_zero_values_draw_no_bar_and_say_zero_even_when_every_value_is_zero() -> None:
    chart = bar_chart("zero", "t", "d", [Bar("a", (0.0,)), Bar("b", (0.0,))])
    assert widths(chart) == []  # nothing scaled by a zero maximum
    values = [t.text for t in parsed(chart).iter(f"{SVG}text") if t.get("class") == "chart-value"]
    assert values == ["0", "0"]


def test_a_value_that_reads_as_zero_draws_no_bar_rather_than_a_full_one() -> None:
    # A median of a few seconds is written "0.0 min": it must not fill the chart's width.
    chart = bar_chart(
        "ack",
        "Time to acknowledge",
        "Medians.",
        [Bar("safeguarding", (0.02,)), Bar("other-urgent", (None,)), Bar("support", (0.0,))],
        value_text=minutes_text,
        missing="none acknowledged",
        empty="No request was acknowledged",
    )
    assert "No request was acknowledged" not in chart  # some were: in no time at all
    assert widths(chart) == []
    values = [t.text for t in parsed(chart).iter(f"{SVG}text") if t.get("class") == "chart-value"]
    assert values == ["0.0 min", "none acknowledged", "0.0 min"]
    # Beside a real value, it still draws nothing and the real one takes the whole width.
    mixed = bar_chart(
        "ack",
        "t",
        "d",
        [Bar("a", (0.02,)), Bar("b", (12.0,))],
        value_text=minutes_text,
    )
    assert widths(mixed) == [PLOT_WIDTH]


def test_the_chart_is_drawn_about_a_phones_width_so_its_text_stays_readable() -> None:
    chart = bar_chart("weeks", "t", "d", [Bar("a", (1.0,))])
    width = float(parsed(chart).get("viewBox", "").split()[2])
    assert width <= 400  # at 360 px, 14-unit text is drawn at about 13 px, not 9


def test_a_missing_figure_is_said_and_minutes_are_written_as_the_report_does() -> None:
    chart = bar_chart(
        "ack",
        "Time to acknowledge",
        "Medians.",
        [Bar("premises", (4.0,)), Bar("safeguarding", (None,))],
        value_text=minutes_text,
        missing="none acknowledged",
    )
    values = [t.text for t in parsed(chart).iter(f"{SVG}text") if t.get("class") == "chart-value"]
    assert values == ["4.0 min", "none acknowledged"]
    assert "<title>safeguarding: none acknowledged</title>" in chart


def test_labels_from_data_are_escaped_and_long_ones_cut() -> None:
    name = '<script>alert(1)</script> & "Saint Mary\'s" Church of England Primary'
    chart = bar_chart("schools", "By <school>", "d & e", [Bar(name, (1.0,))])
    assert "<script>" not in chart and "&lt;script&gt;" in chart
    svg = parsed(chart)
    assert svg.find(f"{SVG}title").text == "By <school>"  # type: ignore[union-attr]
    (bar,) = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "chart-bar"]
    assert bar.find(f"{SVG}title").text == f"{name}: 1"  # type: ignore[union-attr]
    label = next(t.text or "" for t in bar.iter(f"{SVG}text") if t.get("text-anchor") == "end")
    assert label.endswith("…") and len(label) <= 21 and name.startswith(label[:-1])


def test_bad_charts_are_refused() -> None:
    with pytest.raises(ValueError, match="chart id"):
        bar_chart('x" onload="alert(1)', "t", "d", [Bar("a", (1.0,))])
    with pytest.raises(ValueError, match="one value per series"):
        bar_chart("x", "t", "d", [Bar("a", (1.0, 2.0))])
    with pytest.raises(ValueError, match="negative"):
        bar_chart("x", "t", "d", [Bar("a", (-1.0,))])
    with pytest.raises(ValueError, match="series"):
        bar_chart("x", "t", "d", [Bar("a", (1.0, 1.0, 1.0))], series=("a", "b", "c"))


def test_ids_are_prefixed_so_two_charts_fit_one_page() -> None:
    first = bar_chart("one", "t", "d", [Bar("a", (1.0, 1.0))], series=("x", "y"))
    second = bar_chart("two", "t", "d", [Bar("a", (1.0, 1.0))], series=("x", "y"))
    ids = set(re.findall(r'id="([^"]+)"', first)) & set(re.findall(r'id="([^"]+)"', second))
    assert ids == set()
