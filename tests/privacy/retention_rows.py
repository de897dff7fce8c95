"""Rows for the retention and hold tests: requests with everything that carries the member's
words (timeline, pings, their question), questions, outbox rows, all at chosen times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import count

from sqlalchemy import select

from bot.core.types import Band
from bot.store import Database
from bot.store.models import (
    HotlineRequest,
    OutboundMessage,
    OutboxStatus,
    Person,
    QuestionLog,
    RequestEvent,
    RequestKind,
    RequestStatus,
)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)  # the controlled clock: every test passes `now`
_n = count(1)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@dataclass(frozen=True)
class Made:
    id: int
    reference: str
    words: str  # what the member wrote: must all go on redaction


async def add_request(
    db: Database,
    person: Person,
    *,
    resolved_days_ago: float | None,
    kind: RequestKind = RequestKind.SUPPORT,
    category: str | None = None,
    acknowledged: bool = True,
) -> Made:
    """A request opened 10 days before it was resolved (or 10 days ago when open), with its
    question, a timeline (opened, a note, a level-2 ping, resolved) and a settled ping."""
    n = next(_n)
    words = f"private words number {n} about a named child"
    resolved = None if resolved_days_ago is None else days_ago(resolved_days_ago)
    created = (resolved or NOW) - timedelta(days=10)
    async with db.session() as session:
        question = QuestionLog(
            person_id=person.id,
            channel="console",
            text=words,
            band=Band.UNKNOWN,
            score=0.0,
            passed_on=True,
            created_at=created,
        )
        session.add(question)
        await session.flush()
        status = (
            RequestStatus.RESOLVED
            if resolved is not None
            else RequestStatus.ACKNOWLEDGED
            if acknowledged
            else RequestStatus.OPEN
        )
        request = HotlineRequest(
            reference=f"HL-2026-{n:04}",
            kind=kind,
            status=status,
            person_id=person.id,
            school_id=person.school_id,
            channel="console",
            chat_id=person.email,
            category=category,
            text=words,
            question_id=question.id,
            level=2,
            created_at=created,
            acknowledged_at=created + timedelta(minutes=5) if acknowledged else None,
            resolved_at=resolved,
            resolution_note=f"called back about {words}" if resolved else None,
        )
        session.add(request)
        await session.flush()
        session.add_all(
            [
                RequestEvent(request_id=request.id, at=created, kind="opened", detail=words),
                RequestEvent(
                    request_id=request.id, at=created, kind="note", detail=f"note: {words}"
                ),
                RequestEvent(
                    request_id=request.id,
                    at=created,
                    kind="level_pinged",
                    detail="level 2 (backup duty officer): backup@p.example.org",
                ),
                OutboundMessage(
                    dedupe_key=f"ping:{request.id}:1",
                    channel="console",
                    chat_id="backup@p.example.org",
                    request_id=request.id,
                    text=f"Emergency at school: {words}",
                    status=OutboxStatus.SENT,
                    created_at=created,
                    sent_at=created,
                ),
            ]
        )
        if resolved is not None:
            session.add(
                RequestEvent(request_id=request.id, at=resolved, kind="resolved", detail=words)
            )
        return Made(request.id, request.reference or "", words)


async def add_question(db: Database, person: Person, days: float) -> int:
    async with db.session() as session:
        question = QuestionLog(
            person_id=person.id,
            channel="console",
            text=f"how do I join, asked {days} days ago",
            band=Band.ANSWER,
            matched_id="join",
            score=0.9,
            created_at=days_ago(days),
        )
        session.add(question)
        await session.flush()
        return question.id


async def add_message(
    db: Database,
    *,
    status: OutboxStatus,
    sent_days_ago: float | None = None,
    created_days_ago: float = 40,
) -> int:
    async with db.session() as session:
        message = OutboundMessage(
            dedupe_key=f"digest:test:{next(_n)}",
            channel="email",
            chat_id="someone@school.example.org",
            text="the weekly digest, addressed to Someone",
            status=status,
            created_at=days_ago(created_days_ago),
            sent_at=None if sent_days_ago is None else days_ago(sent_days_ago),
        )
        session.add(message)
        await session.flush()
        return message.id


async def texts_of(db: Database, made: Made) -> list[str]:
    """Every stored text about the request (request, note, timeline, pings, question) that still
    holds the member's words."""
    async with db.session() as session:
        request = await session.get_one(HotlineRequest, made.id)
        found = [request.text, request.resolution_note or ""]
        found += (
            await session.scalars(
                select(RequestEvent.detail).where(RequestEvent.request_id == made.id)
            )
        ).all()
        found += (
            await session.scalars(
                select(OutboundMessage.text).where(OutboundMessage.request_id == made.id)
            )
        ).all()
        if request.question_id is not None:
            found.append((await session.get_one(QuestionLog, request.question_id)).text)
    return [text for text in found if made.words in text]
