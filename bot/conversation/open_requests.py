"""A member's message while they have requests open: what is a follow-up, and what is not.

Only a plausible follow-up is attached: a reply (the platform's Reply, or a Slack thread) to the
bot's message about a request or to a staff reply on it. Anything else is answered as a question
(with a note that the request is still open) or the member is asked which request it belongs to,
with a button per request and one for "something new": a member with two requests open is never
guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.emergency import references
from bot.core import texts
from bot.core.types import Button, IncomingMessage, Reply
from bot.escalation.hotline import member_follow_up, pinged_people, request_sent_as
from bot.escalation.policy import EscalationConfig
from bot.store.models import HotlineRequest, Person, QuestionLog

REFERENCE_IN_TEXT = re.compile(r"\bHL-\d{4}-\d{4,}\b", re.IGNORECASE)


async def replied_request(
    session: AsyncSession, message: IncomingMessage, open_requests: Sequence[HotlineRequest]
) -> HotlineRequest | None:
    """The open request this message replies to, if it is a reply to a message about one."""
    if message.reply_to_text:
        by_reference = {(r.reference or "").upper(): r for r in open_requests}
        named = {
            by_reference[ref.upper()]
            for ref in REFERENCE_IN_TEXT.findall(message.reply_to_text)
            if ref.upper() in by_reference
        }
        if len(named) == 1:
            return named.pop()
    if message.reply_to:
        found = await request_sent_as(session, message.channel, message.reply_to)
        if found is not None:
            return next((r for r in open_requests if r.id == found.id), None)
    return None


def still_open_note(open_requests: Sequence[HotlineRequest]) -> str:
    note = texts.OPEN_REQUEST_NOTE if len(open_requests) == 1 else texts.OPEN_REQUESTS_NOTE
    return note.format(references=references(open_requests))


def add_or_new(question: QuestionLog, open_requests: Sequence[HotlineRequest]) -> Reply:
    return Reply(
        texts.ADD_OR_NEW.format(references=references(open_requests)),
        (
            *(
                Button(texts.ADD_TO.format(reference=r.reference), f"add:{question.id}:{r.id}")
                for r in open_requests
            ),
            Button(texts.SOMETHING_NEW, f"new:{question.id}"),
        ),
    )


async def attach(
    session: AsyncSession,
    request: HotlineRequest,
    member: Person,
    text: str,
    now: datetime,
    config: EscalationConfig,
) -> Reply:
    """Add the message to the request's timeline and relay it; say who will actually see it."""
    await member_follow_up(session, request, member, text, now, config)
    if request.acknowledged_by_id is not None:
        owner = await session.get(Person, request.acknowledged_by_id)
        state = texts.FOLLOW_UP_OWNER.format(name=owner.name if owner else texts.THE_TEAM)
    elif await pinged_people(session, request):
        state = texts.FOLLOW_UP_PINGED
    else:
        state = texts.FOLLOW_UP_WAITING
    return Reply(texts.FOLLOW_UP_ADDED.format(reference=request.reference, state=state))
