"""Figures for governors: requests by category and school, time to acknowledge and to resolve,
and how many needed level 2 or 3."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.store.models import HotlineRequest


@dataclass(frozen=True)
class Report:
    start: datetime
    end: datetime
    total: int
    by_category: dict[str, int]
    by_school: dict[str, int]
    ack_minutes: tuple[float | None, float | None]  # median, 95th percentile
    resolve_minutes: tuple[float | None, float | None]
    reached_level_2: int
    reached_level_3: int


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


def build_report(rows: Sequence[HotlineRequest], start: datetime, end: datetime) -> Report:
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
        reached_level_2=sum(r.level >= 2 for r in rows),
        reached_level_3=sum(r.level >= 3 for r in rows),
    )
