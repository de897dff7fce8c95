"""Figures for governors: requests by category and school, time to acknowledge and to resolve,
and how many needed level 2 or 3 (a level counts when someone there was pinged, not when it was
skipped for want of a reachable account). The same figures broken down per week, category or
school (`hotline report --by`, the console's reports page and its CSV)."""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.store.models import HotlineRequest, RequestEvent, RequestKind

# The timeline event written when a chain step is pinged: "level 2 (backup duty officer): EMAIL".
PINGED = "level_pinged"
PINGED_LEVEL = re.compile(r"level (\d+) ")


@dataclass(frozen=True)
class Report:
    start: datetime
    end: datetime
    total: int
    by_category: dict[str, int]
    by_school: dict[str, int]
    ack_minutes: tuple[float | None, float | None]  # median, 95th percentile
    resolve_minutes: tuple[float | None, float | None]
    # requests whose escalation pinged each step after the first, by step number (a step
    # skipped for want of anyone reachable is not counted as reached)
    reached: dict[int, int]

    def reached_line(self) -> str:
        if not self.reached:
            return "no request went past its first step"
        return "; ".join(f"reached step {n}: {count}" for n, count in sorted(self.reached.items()))


def category_of(request: HotlineRequest) -> str:
    """A request's category in the reports: its emergency category, else its kind."""
    return request.category or request.kind.value


def school_of(request: HotlineRequest) -> str:
    return request.school.name if request.school else "(none)"


def percentiles(values: Sequence[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return statistics.median(ordered), p95


async def requests_between(
    session: AsyncSession, start: datetime, end: datetime
) -> list[HotlineRequest]:
    rows = await session.scalars(
        select(HotlineRequest)
        .where(HotlineRequest.created_at >= start, HotlineRequest.created_at < end)
        .options(selectinload(HotlineRequest.school))
        .order_by(HotlineRequest.created_at)
    )
    return list(rows)


async def levels_pinged(
    session: AsyncSession, start: datetime, end: datetime
) -> dict[int, set[int]]:
    """The rota levels actually pinged for each request created in [start, end), by request id."""
    rows = await session.execute(
        select(RequestEvent.request_id, RequestEvent.detail)
        .join(HotlineRequest, HotlineRequest.id == RequestEvent.request_id)
        .where(
            HotlineRequest.created_at >= start,
            HotlineRequest.created_at < end,
            RequestEvent.kind == PINGED,
        )
    )
    levels: dict[int, set[int]] = defaultdict(set)
    for request_id, detail in rows:
        found = PINGED_LEVEL.match(detail)
        if found:
            levels[request_id].add(int(found.group(1)))
    return dict(levels)


async def report_between(
    session: AsyncSession, start: datetime, end: datetime
) -> tuple[Report, list[HotlineRequest]]:
    """The report for requests created in [start, end), and those requests."""
    rows = await requests_between(session, start, end)
    pinged = await levels_pinged(session, start, end)
    return build_report(rows, start, end, pinged), rows


def build_report(
    rows: Sequence[HotlineRequest],
    start: datetime,
    end: datetime,
    pinged: Mapping[int, Collection[int]],
) -> Report:
    """`pinged`: the levels pinged for each request id (see `levels_pinged`)."""
    ack, res = _times(rows)
    return Report(
        start=start,
        end=end,
        total=len(rows),
        by_category=dict(Counter(category_of(r) for r in rows).most_common()),
        by_school=dict(Counter(school_of(r) for r in rows).most_common()),
        ack_minutes=percentiles(ack),
        resolve_minutes=percentiles(res),
        reached=dict(
            sorted(Counter(n for r in rows for n in set(pinged.get(r.id, ())) if n > 1).items())
        ),
    )


def _minutes(a: datetime, b: datetime | None) -> float | None:
    return None if b is None else (b - a).total_seconds() / 60


def _times(rows: Sequence[HotlineRequest]) -> tuple[list[float], list[float]]:
    """Minutes to acknowledge and to resolve, of the requests that were."""
    ack = [m for r in rows if (m := _minutes(r.created_at, r.acknowledged_at)) is not None]
    res = [m for r in rows if (m := _minutes(r.created_at, r.resolved_at)) is not None]
    return ack, res


def day_start(day: date, tz: tzinfo) -> datetime:
    """The first moment of `day` in `tz`, in UTC."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def period_of(first: date, last: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """[start, end) from the start of `first` to the end of `last` (inclusive) in `tz`."""
    return day_start(first, tz), day_start(last + timedelta(days=1), tz)


@dataclass(frozen=True)
class Figures:
    """One group's figures (a week, a category, a school, or the whole period)."""

    label: str
    emergencies: int
    support: int
    ack_minutes: tuple[float | None, float | None]  # median, 95th percentile
    resolve_minutes: tuple[float | None, float | None]

    @property
    def total(self) -> int:
        return self.emergencies + self.support


def figures(label: str, rows: Sequence[HotlineRequest]) -> Figures:
    """The figures of these requests (the same rules as `build_report`)."""
    ack, res = _times(rows)
    emergencies = sum(1 for r in rows if r.kind is RequestKind.EMERGENCY)
    return Figures(
        label=label,
        emergencies=emergencies,
        support=len(rows) - emergencies,
        ack_minutes=percentiles(ack),
        resolve_minutes=percentiles(res),
    )


def week_of(moment: datetime, tz: tzinfo) -> date:
    """The Monday (in `tz`) that starts the week of `moment`."""
    day = moment.astimezone(tz).date()
    return day - timedelta(days=day.weekday())


def by_week(
    rows: Sequence[HotlineRequest], start: datetime, end: datetime, tz: tzinfo
) -> list[Figures]:
    """Every week (Monday to Sunday in `tz`, labelled by its Monday) that overlaps [start, end),
    oldest first, quiet weeks included; the first and last may be part weeks."""
    grouped: dict[date, list[HotlineRequest]] = defaultdict(list)
    for r in rows:
        grouped[week_of(r.created_at, tz)].append(r)
    weeks: list[Figures] = []
    monday = week_of(start, tz)
    while day_start(monday, tz) < end:
        weeks.append(figures(monday.isoformat(), grouped.get(monday, [])))
        monday += timedelta(days=7)
    return weeks


def _grouped(rows: Sequence[HotlineRequest], key: Callable[[HotlineRequest], str]) -> list[Figures]:
    """Figures per key, the most requests first (the order of the report's counts)."""
    grouped: dict[str, list[HotlineRequest]] = defaultdict(list)
    for r in rows:
        grouped[key(r)].append(r)
    order = Counter(key(r) for r in rows).most_common()
    return [figures(label, grouped[label]) for label, _ in order]


def by_category(rows: Sequence[HotlineRequest]) -> list[Figures]:
    return _grouped(rows, category_of)


def by_school(rows: Sequence[HotlineRequest]) -> list[Figures]:
    return _grouped(rows, school_of)


def breakdown(
    by: str, rows: Sequence[HotlineRequest], start: datetime, end: datetime, tz: tzinfo
) -> list[Figures]:
    """`by`: one of BREAKDOWNS."""
    if by == "week":
        return by_week(rows, start, end, tz)
    if by == "category":
        return by_category(rows)
    if by == "school":
        return by_school(rows)
    raise ValueError(f"no breakdown by {by!r}")


BREAKDOWNS = ("week", "category", "school")


def minutes_text(value: float | None) -> str:
    """A time in minutes as the report prints it ("-" when there is none)."""
    return "-" if value is None else f"{value:.1f} min"


def figures_line(f: Figures) -> str:
    """One group's figures on one line (`hotline report --by`)."""
    return (
        f"{f.label}: {f.total} (emergency {f.emergencies}, support {f.support}); "
        f"acknowledge median {minutes_text(f.ack_minutes[0])}, "
        f"95th percentile {minutes_text(f.ack_minutes[1])}; "
        f"resolve median {minutes_text(f.resolve_minutes[0])}, "
        f"95th percentile {minutes_text(f.resolve_minutes[1])}"
    )


# Spreadsheet formula injection: a cell starting with one of these is read as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CSV_HEADER = (
    "group",
    "label",
    "requests",
    "emergencies",
    "support",
    "acknowledge_median_min",
    "acknowledge_p95_min",
    "resolve_median_min",
    "resolve_p95_min",
)


def safe_cell(value: str) -> str:
    """A CSV cell a spreadsheet shows as text: a leading = + - @ (or tab, CR) gets a '."""
    return "'" + value if value.startswith(FORMULA_START) else value


def csv_row(group: str, f: Figures) -> list[str]:
    def number(value: float | None) -> str:
        return "" if value is None else f"{value:.1f}"

    return [
        safe_cell(cell)
        for cell in (
            group,
            f.label,
            str(f.total),
            str(f.emergencies),
            str(f.support),
            number(f.ack_minutes[0]),
            number(f.ack_minutes[1]),
            number(f.resolve_minutes[0]),
            number(f.resolve_minutes[1]),
        )
    ]
