"""The requests as staff list them, newest first: `hotline requests list` and the staff
console's inbox (bot/console/) read them here, each with who has been pinged about it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.store.models import HotlineRequest, OutboundMessage, Person, RequestStatus


@dataclass(frozen=True)
class InboxRow:
    request: HotlineRequest
    pinged: tuple[str, ...]  # the names of the people pinged about it, in name order


async def recent_requests(
    session: AsyncSession, *, open_only: bool = False, limit: int = 50
) -> list[InboxRow]:
    """The newest requests (unresolved ones only with `open_only`), newest first, with their
    school, owner and the people pinged (one query for all of them)."""
    stmt = (
        select(HotlineRequest)
        .options(selectinload(HotlineRequest.school), selectinload(HotlineRequest.acknowledged_by))
        .order_by(HotlineRequest.created_at.desc(), HotlineRequest.id.desc())
        .limit(limit)
    )
    if open_only:
        stmt = stmt.where(HotlineRequest.status != RequestStatus.RESOLVED)
    rows = list(await session.scalars(stmt))
    pinged: defaultdict[int, set[str]] = defaultdict(set)
    if rows:
        found = await session.execute(
            select(OutboundMessage.request_id, Person.name)
            .join(Person, Person.id == OutboundMessage.person_id)
            .where(
                OutboundMessage.request_id.in_([r.id for r in rows]),
                OutboundMessage.dedupe_key.like("ping:%"),
            )
            .distinct()
        )
        for request_id, name in found:
            if request_id is not None:
                pinged[request_id].add(name)
    return [InboxRow(r, tuple(sorted(pinged[r.id]))) for r in rows]
