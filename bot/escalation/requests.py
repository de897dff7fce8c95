"""Opening hotline requests. The reference comes from the committed row (DESIGN.md durability)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import HotlineRequest, Person, RequestKind, RequestStatus, utcnow


def format_reference(year: int, number: int) -> str:
    return f"HL-{year}-{number:04d}"


async def open_support_request(
    session: AsyncSession,
    person: Person,
    channel: str,
    chat_id: str,
    text: str,
    question_id: int | None = None,
    now: datetime | None = None,
) -> HotlineRequest:
    """Insert a non-urgent request; the caller's transaction commit makes the reference real."""
    created = now or utcnow()
    row = HotlineRequest(
        kind=RequestKind.SUPPORT,
        status=RequestStatus.OPEN,
        person_id=person.id,
        school_id=person.school_id,
        channel=channel,
        chat_id=chat_id,
        text=text,
        question_id=question_id,
        created_at=created,
        updated_at=created,
    )
    session.add(row)
    await session.flush()  # the id numbers the reference
    row.reference = format_reference(created.year, row.id)
    await session.flush()
    return row


async def request_for_question(session: AsyncSession, question_id: int) -> HotlineRequest | None:
    return await session.scalar(
        select(HotlineRequest).where(HotlineRequest.question_id == question_id)
    )
