"""Timeline events (the request_events table): what happened to a request, written in the same
transaction as the change."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import RequestEvent, utcnow


def add_event(
    session: AsyncSession,
    request_id: int,
    kind: str,
    detail: str = "",
    person_id: int | None = None,
    at: datetime | None = None,
) -> RequestEvent:
    event = RequestEvent(
        request_id=request_id,
        kind=kind,
        detail=detail[:2000],
        person_id=person_id,
        at=at or utcnow(),
    )
    session.add(event)
    return event


async def events_of(session: AsyncSession, request_id: int) -> list[RequestEvent]:
    rows = await session.scalars(
        select(RequestEvent)
        .where(RequestEvent.request_id == request_id)
        .order_by(RequestEvent.at, RequestEvent.id)
    )
    return list(rows)


# The events an escalation step ends with: what the member is told comes from the latest one.
STEP_EVENTS = ("level_pinged", "out_of_hours", "nobody_reachable", "no_rota")


async def last_step(session: AsyncSession, request_id: int) -> RequestEvent | None:
    return await session.scalar(
        select(RequestEvent)
        .where(RequestEvent.request_id == request_id, RequestEvent.kind.in_(STEP_EVENTS))
        .order_by(RequestEvent.id.desc())
        .limit(1)
    )
