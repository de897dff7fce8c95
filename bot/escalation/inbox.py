"""The requests as staff list them, newest first: `hotline requests list` and the staff
console's inbox (bot/console/) read them here, each with who has been pinged about it.

`Filters` narrows the list (status, kind, category, school, when opened); the console's filter
form builds one, `hotline requests list --open` is `open_only`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.store.models import (
    HotlineRequest,
    OutboundMessage,
    Person,
    RequestKind,
    RequestStatus,
)

NOT_RESOLVED = frozenset({RequestStatus.OPEN, RequestStatus.ACKNOWLEDGED})


@dataclass(frozen=True)
class InboxRow:
    request: HotlineRequest
    pinged: tuple[str, ...]  # the names of the people pinged about it, in name order


@dataclass(frozen=True)
class Filters:
    """Which requests to list; None (or empty) is any."""

    statuses: frozenset[RequestStatus] | None = None
    kind: RequestKind | None = None
    category: str | None = None
    school_id: int | None = None
    opened_from: datetime | None = None  # opened at or after
    opened_before: datetime | None = None  # opened before


def _where(stmt: Select[HotlineRequest], filters: Filters) -> Select[HotlineRequest]:
    if filters.statuses:
        stmt = stmt.where(HotlineRequest.status.in_(sorted(filters.statuses)))
    if filters.kind is not None:
        stmt = stmt.where(HotlineRequest.kind == filters.kind)
    if filters.category:
        stmt = stmt.where(HotlineRequest.category == filters.category)
    if filters.school_id is not None:
        stmt = stmt.where(HotlineRequest.school_id == filters.school_id)
    if filters.opened_from is not None:
        stmt = stmt.where(HotlineRequest.created_at >= filters.opened_from)
    if filters.opened_before is not None:
        stmt = stmt.where(HotlineRequest.created_at < filters.opened_before)
    return stmt


async def recent_requests(
    session: AsyncSession,
    *,
    open_only: bool = False,
    limit: int = 50,
    filters: Filters | None = None,
) -> list[InboxRow]:
    """The newest requests (unresolved ones only with `open_only`; those `filters` lets
    through), newest first, with their school, owner and the people pinged (one query for all
    of them)."""
    stmt = (
        select(HotlineRequest)
        .options(selectinload(HotlineRequest.school), selectinload(HotlineRequest.acknowledged_by))
        .order_by(HotlineRequest.created_at.desc(), HotlineRequest.id.desc())
        .limit(limit)
    )
    if open_only:
        stmt = stmt.where(HotlineRequest.status != RequestStatus.RESOLVED)
    if filters is not None:
        stmt = _where(stmt, filters)
    rows = list(await session.scalars(stmt))
    pinged = await pinged_names(session, [r.id for r in rows])
    return [InboxRow(r, pinged.get(r.id, ())) for r in rows]


async def count_requests(session: AsyncSession, filters: Filters) -> int:
    """How many requests `filters` lets through (the inbox shows the newest of them)."""
    ids = _where(select(HotlineRequest), filters).with_only_columns(HotlineRequest.id)
    return int(await session.scalar(select(func.count()).select_from(ids.subquery())) or 0)


async def pinged_names(
    session: AsyncSession, request_ids: Collection[int]
) -> dict[int, tuple[str, ...]]:
    """For each of the requests, the names of the people pinged about it, in name order."""
    pinged: defaultdict[int, set[str]] = defaultdict(set)
    if request_ids:
        found = await session.execute(
            select(OutboundMessage.request_id, Person.name)
            .join(Person, Person.id == OutboundMessage.person_id)
            .where(
                OutboundMessage.request_id.in_(list(request_ids)),
                OutboundMessage.dedupe_key.like("ping:%"),
            )
            .distinct()
        )
        for request_id, name in found:
            if request_id is not None:
                pinged[request_id].add(name)
    return {k: tuple(sorted(v)) for k, v in pinged.items()}


async def categories_in_use(session: AsyncSession) -> Sequence[str]:
    """The categories requests have, for a filter's choices (besides the known ones)."""
    rows = await session.scalars(
        select(HotlineRequest.category)
        .where(HotlineRequest.category.is_not(None))
        .distinct()
        .order_by(HotlineRequest.category)
    )
    return [r for r in rows if r]
