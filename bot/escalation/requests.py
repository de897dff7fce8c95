"""Opening hotline requests. The reference is shown only from the committed row."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import HotlineRequest, Person, RequestKind, RequestStatus, utcnow


def format_reference(year: int, number: int) -> str:
    return f"HL-{year}-{number:04d}"


async def new_request(
    session: AsyncSession,
    kind: RequestKind,
    person: Person,
    channel: str,
    chat_id: str,
    text: str,
    now: datetime,
    category: str | None = None,
    question_id: int | None = None,
) -> HotlineRequest:
    """Insert a request and number it; the caller's commit makes the reference real."""
    row = HotlineRequest(
        kind=kind,
        status=RequestStatus.OPEN,
        person_id=person.id,
        school_id=person.school_id,
        channel=channel,
        chat_id=chat_id,
        category=category,
        text=text,
        question_id=question_id,
        level=0,
        steps=0,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()  # the id numbers the reference
    row.reference = format_reference(now.year, row.id)
    await session.flush()
    return row


async def open_support_request(
    session: AsyncSession,
    person: Person,
    channel: str,
    chat_id: str,
    text: str,
    question_id: int | None = None,
    now: datetime | None = None,
) -> HotlineRequest:
    """A non-urgent request: no escalation timers, for anyone on the team to pick up."""
    created = now or utcnow()
    return await new_request(
        session,
        RequestKind.SUPPORT,
        person,
        channel,
        chat_id,
        text,
        created,
        question_id=question_id,
    )


async def request_for_question(session: AsyncSession, question_id: int) -> HotlineRequest | None:
    return await session.scalar(
        select(HotlineRequest).where(HotlineRequest.question_id == question_id)
    )
