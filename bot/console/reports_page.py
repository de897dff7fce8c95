"""The reports page: requests per week, times to acknowledge and to resolve (median and 95th
percentile) overall, by category and by school, for a period; charts (inline SVG from
bot/console/charts.py) with the same numbers in tables, and a CSV download.

The figures are `hotline report --from F --to T --by week --by category --by school`'s: the
period's requests and every figure come from bot/escalation/reports.py (`report_between`,
`breakdown`, `period_of`). A period is two dates in the deployment's timezone, both included
(the default: the last 12 weeks, from a Monday to today); weeks start on Monday.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.console.charts import Bar, bar_chart
from bot.console.common import Signed, bot_of, now_of, page, staff_only
from bot.escalation.reports import (
    CSV_HEADER,
    Figures,
    breakdown,
    csv_row,
    figures,
    minutes_text,
    period_of,
    report_between,
)

PAGE = "/console/reports"
CSV_PATH = "/console/reports.csv"
WEEKS = 12  # the default period: this week and the 11 before it
FIRST_YEAR, LAST_YEAR = 2000, 2999
MAX_DAYS = 5 * 366  # a longer period is refused (its weeks would not make a readable page)
LABELS = {"from": "From", "to": "To"}


@dataclass(frozen=True)
class Period:
    first: date
    last: date

    @property
    def query(self) -> str:
        return urlencode({"from": self.first.isoformat(), "to": self.last.isoformat()})


def default_period(today: date) -> Period:
    monday = today - timedelta(days=today.weekday())
    return Period(monday - timedelta(weeks=WEEKS - 1), today)


def _date(raw: str | None, name: str, fallback: date, errors: dict[str, str]) -> date | None:
    """A date field: absent, the default; empty, too long or not a date: a message."""
    if raw is None:
        return fallback
    value = raw.strip()
    label = LABELS[name]
    if not value:
        errors[name] = f"{label} is needed: a date like 2026-09-01."
        return None
    try:
        day = date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        day = None
    if day is None:
        errors[name] = f"{label} is not a date like 2026-09-01."
        return None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        errors[name] = f"{label} must be a date between {FIRST_YEAR} and {LAST_YEAR}."
        return None
    return day


def period_from(
    params: dict[str, str], today: date
) -> tuple[Period | None, dict[str, str], dict[str, str]]:
    """The period asked for (None with `errors` when it is not one) and the fields as typed."""
    default = default_period(today)
    errors: dict[str, str] = {}
    first = _date(params.get("from"), "from", default.first, errors)
    last = _date(params.get("to"), "to", default.last, errors)
    typed = {
        "from": params.get("from", default.first.isoformat())[:40],
        "to": params.get("to", default.last.isoformat())[:40],
    }
    if first is None or last is None:
        return None, errors, typed
    if last < first:
        errors["to"] = "To must be on or after From."
        return None, errors, typed
    if (last - first).days >= MAX_DAYS:
        errors["to"] = "The period can be at most 5 years; choose a later From or an earlier To."
        return None, errors, typed
    return Period(first, last), errors, typed


@dataclass(frozen=True)
class Figured:
    """The period's figures: overall and per week, category and school."""

    overall: Figures
    weeks: list[Figures]
    categories: list[Figures]
    schools: list[Figures]
    reached: str


async def figures_of(request: Request, period: Period, tz: ZoneInfo) -> Figured:
    start, end = period_of(period.first, period.last, tz)
    async with bot_of(request).db.reading() as session:
        report, rows = await report_between(session, start, end)
    return Figured(
        overall=figures(f"{period.first.isoformat()} to {period.last.isoformat()}", rows),
        weeks=breakdown("week", rows, start, end, tz),
        categories=breakdown("category", rows, start, end, tz),
        schools=breakdown("school", rows, start, end, tz),
        reached=report.reached_line(),
    )


def _week_label(iso: str) -> str:
    return date.fromisoformat(iso).strftime("%d %b %Y")


def charts(figured: Figured) -> dict[str, Markup]:
    weeks = bar_chart(
        "chart-weeks",
        "Requests per week",
        "Emergencies and support requests in each week of the period, by the week's Monday; "
        "the table below has the same numbers.",
        [
            Bar(_week_label(w.label), (float(w.emergencies), float(w.support)))
            for w in figured.weeks
        ],
        series=("emergency", "support"),
    )
    ack = bar_chart(
        "chart-ack",
        "Time to acknowledge by category (median)",
        "The median minutes from a request to its acknowledgement, for each category; the "
        "table below has the same numbers and the 95th percentiles.",
        [Bar(c.label, (c.ack_minutes[0],)) for c in figured.categories],
        value_text=minutes_text,
        missing="none acknowledged",
        empty="No request was acknowledged in this period"
        if figured.categories
        else "No requests in this period",
    )
    return {"weeks": weeks, "ack": ack}


def _row(f: Figures, label: str) -> dict[str, str | int]:
    return {
        "label": label,
        "iso": f.label,
        "total": f.total,
        "emergencies": f.emergencies,
        "support": f.support,
        "ack_median": minutes_text(f.ack_minutes[0]),
        "ack_p95": minutes_text(f.ack_minutes[1]),
        "resolve_median": minutes_text(f.resolve_minutes[0]),
        "resolve_p95": minutes_text(f.resolve_minutes[1]),
    }


async def reports(request: Request, signed: Signed) -> Response:
    bot = bot_of(request)
    tz = bot.deps.timezone
    today = now_of(request).astimezone(tz).date()
    period, errors, typed = period_from(dict(request.query_params), today)
    values: dict[str, Any] = {
        "title": "Reports",
        "signed": signed,
        "current": PAGE,
        "typed": typed,
        "errors": errors,
        "timezone": str(tz),
    }
    if period is None:
        return page("reports.html", 400, **values)
    figured = await figures_of(request, period, tz)
    values.update(
        period=period,
        first=period.first.strftime("%d %b %Y"),
        last=period.last.strftime("%d %b %Y"),
        csv_link=f"{CSV_PATH}?{period.query}",
        overall=_row(figured.overall, "All requests"),
        weeks=[_row(w, _week_label(w.label)) for w in figured.weeks],
        categories=[_row(c, c.label) for c in figured.categories],
        schools=[_row(s, s.label) for s in figured.schools],
        reached=figured.reached,
        charts=charts(figured),
    )
    return page("reports.html", **values)


def report_csv(figured: Figured) -> str:
    """One row for the period, then one per week, category and school (cells a spreadsheet
    could take for a formula are prefixed with ')."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    writer.writerow(csv_row("period", figured.overall))
    for group, rows in (
        ("week", figured.weeks),
        ("category", figured.categories),
        ("school", figured.schools),
    ):
        for f in rows:
            writer.writerow(csv_row(group, f))
    return out.getvalue()


async def reports_csv(request: Request, signed: Signed) -> Response:
    tz = bot_of(request).deps.timezone
    today = now_of(request).astimezone(tz).date()
    period, errors, _ = period_from(dict(request.query_params), today)
    if period is None:
        return Response(
            "\n".join(f"{LABELS[k]}: {v}" for k, v in errors.items()) + "\n",
            status_code=400,
            media_type="text/plain; charset=utf-8",
        )
    figured = await figures_of(request, period, tz)
    name = f"hotline-report-{period.first.isoformat()}-to-{period.last.isoformat()}.csv"
    return Response(
        report_csv(figured),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


def routes() -> list[BaseRoute]:
    return [
        Route(PAGE, staff_only(reports), methods=["GET"]),
        Route(CSV_PATH, staff_only(reports_csv), methods=["GET"]),
    ]
