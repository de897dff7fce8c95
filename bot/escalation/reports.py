"""Figures for governors: requests by category and school, time to acknowledge and to resolve,
and how many needed level 2 or 3 (a level counts when someone there was pinged, not when it was
skipped for want of a reachable account)."""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.store.models import HotlineRequest, RequestEvent

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

    def minutes(a: datetime, b: datetime | None) -> float | None:
        return None if b is None else (b - a).total_seconds() / 60

    ack = [m for r in rows if (m := minutes(r.created_at, r.acknowledged_at)) is not None]
    res = [m for r in rows if (m := minutes(r.created_at, r.resolved_at)) is not None]
    return Report(
        start=start,
        end=end,
        total=len(rows),
        by_category=dict(Counter(r.category or r.kind.value for r in rows).most_common()),
        by_school=dict(
            Counter(r.school.name if r.school else "(none)" for r in rows).most_common()
        ),
        ack_minutes=percentiles(ack),
        resolve_minutes=percentiles(res),
        reached=dict(
            sorted(Counter(n for r in rows for n in set(pinged.get(r.id, ())) if n > 1).items())
        ),
    )
