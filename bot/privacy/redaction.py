"""Redaction: a record's texts replaced by a marker saying when and why, the record itself kept
(its times, category, school and status), so that counts and reports stay true. Used by the
retention policy (retention.py) and by an erasure (erase.py)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import HotlineRequest, OutboundMessage, QuestionLog, RequestEvent

# The timeline events whose detail holds what someone wrote (bot/store/timeline.py's callers);
# the others hold names of steps and counts, no member text.
TEXT_EVENTS = ("opened", "message_added", "member_message", "note", "reply", "resolved")

RETENTION = "under the retention policy"
ERASURE = "at the person's request"


def marker(day: date, why: str = RETENTION) -> str:
    """'[removed under the retention policy on 2026-11-29]'."""
    return f"[removed {why} on {day.isoformat()}]"


async def redact_request(
    session: AsyncSession, request: HotlineRequest, text: str, now: datetime
) -> None:
    """Replace the request's text, resolution note, its timeline's texts, the texts of the
    messages sent about it (pings quote the member) and its question's text with `text`."""
    request.text = text
    if request.resolution_note:
        request.resolution_note = text
    request.redacted_at = now
    await session.execute(
        update(RequestEvent)
        .where(
            RequestEvent.request_id == request.id,
            RequestEvent.kind.in_(TEXT_EVENTS),
            RequestEvent.detail != "",
        )
        .values(detail=text)
    )
    await session.execute(
        update(OutboundMessage).where(OutboundMessage.request_id == request.id).values(text=text)
    )
    if request.question_id is not None:
        await session.execute(
            update(QuestionLog)
            .where(QuestionLog.id == request.question_id)
            .values(text=text, redacted_at=now)
        )
    await session.flush()


def redact_question(question: QuestionLog, text: str, now: datetime) -> None:
    """Replace what was asked; the band, the match, the time stay (the counts stay true)."""
    question.text = text
    question.redacted_at = now


def redact_message(message: OutboundMessage, text: str) -> None:
    """Replace a settled outgoing message's text; its status, times and recipient stay (digest
    status and the refused-address check count them)."""
    message.text = text
