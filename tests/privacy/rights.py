"""A member with something of everything for the export and erasure tests: chat accounts on
Telegram and Slack, a question answered and rated, a support request opened on Telegram and an
emergency on Slack (with pings to staff and messages back), digests sent and queued, an invitation
code and audit entries about them. Their texts hold HTML, to check the summary escapes it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Column, Text, select

from bot.core.types import IncomingMessage, Reply
from bot.directory import create_invite, link_identity
from bot.directory.audit import Actor, record
from bot.store import Database
from bot.store.models import (
    Base,
    HotlineRequest,
    OutboundMessage,
    OutboxStatus,
    Person,
    School,
)
from tests.escalation.conftest import Partnership

SCHOOL = "St Mary's CE Primary School"
NAME = "Mo Member"
TELEGRAM = ("telegram", "7001", "7001")  # channel, the user's id, the chat's id
SLACK = ("slack", "U0MO", "D0MO")
QUESTION = "how do I renew our membership"
SUPPORT_TEXT = 'Our head & deputy are both off: who covers <b>"Year 6"</b>?'
EMERGENCY_TEXT = "<script>alert('x')</script> water pouring through the hall ceiling"
DIGEST_TEXT = "Hello Mo, this week: <i>new courses</i>"
STAFF_REPLY = "Mrs Khan covers Year 6 this week"
MEMBER_TEXTS = (QUESTION, SUPPORT_TEXT, EMERGENCY_TEXT, DIGEST_TEXT)


@dataclass(frozen=True)
class Member:
    id: int
    email: str
    references: tuple[str, str]  # the support request (Telegram), the emergency (Slack)


async def _say(p: Partnership, account: tuple[str, str, str], text: str) -> Reply:
    channel, user, chat = account
    message = IncomingMessage(channel, chat, user, text=text)
    replies = await p.dispatcher.handle(message)
    return replies[-1]


async def member_with_everything(p: Partnership) -> Member:
    async with p.db.session() as s:
        member = await s.get(Person, p.member.id)
        assert member is not None
        school = await s.get(School, member.school_id)
        assert school is not None
        school.name = SCHOOL
        member.phone = "07700 900123"
        for channel, user, chat in (TELEGRAM, SLACK):
            await link_identity(s, member, channel, user, chat_id=chat)
        await create_invite(s, member, p.clock(), timedelta(days=14))
        email = member.email

    answered = await _say(p, TELEGRAM, QUESTION)
    rate = next(b.action for b in answered.buttons if b.action.endswith(":1"))
    await p.dispatcher.handle(IncomingMessage(TELEGRAM[0], TELEGRAM[2], TELEGRAM[1], action=rate))
    await _say(p, TELEGRAM, f"/human {SUPPORT_TEXT}")
    await _say(p, SLACK, f"/emergency {EMERGENCY_TEXT}")

    async with p.db.session() as s:
        references = tuple(
            await s.scalars(
                select(HotlineRequest.reference)
                .where(HotlineRequest.person_id == p.member.id)
                .order_by(HotlineRequest.id)
            )
        )
        for run, status in ((1, OutboxStatus.SENT), (2, OutboxStatus.PENDING)):
            s.add(
                OutboundMessage(
                    dedupe_key=f"digest:{run}:{p.member.id}",
                    channel="email",
                    chat_id=email,
                    person_id=p.member.id,
                    text=DIGEST_TEXT,
                    status=status,
                    created_at=p.clock(),
                    next_attempt_at=p.clock(),
                    sent_at=p.clock() if status is OutboxStatus.SENT else None,
                )
            )
        record(
            s,
            Actor(p.primary.id, "192.0.2.1", "console"),
            "view",
            references[1] or "",
            about=p.member.id,
        )
        record(s, Actor(None, None, "cli"), "unlink", email, about=p.member.id, detail="x")
    assert len(references) == 2 and all(references)
    # Staff answer both: a reply on the support request, the emergency taken.
    await p.say(p.primary, f"/reply {references[0]} {STAFF_REPLY}")
    await p.say(p.primary, f"/ack {references[1]}")
    return Member(p.member.id, email, (references[0] or "", references[1] or ""))


def _is_text(column: Column[object]) -> bool:
    try:
        return isinstance(column.type, Text) or column.type.python_type is str
    except NotImplementedError:
        return False


async def texts_in_database(db: Database, needles: tuple[str, ...]) -> list[str]:
    """Every text column of every table holding one of `needles`: "table.column: needle"."""
    found: list[str] = []
    async with db.session() as s:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if _is_text(c)]
            if not columns:
                continue
            for row in await s.execute(select(*columns)):
                for column, value in zip(columns, row, strict=True):
                    for needle in needles:
                        if isinstance(value, str) and needle.lower() in value.lower():
                            found.append(f"{table.name}.{column.name}: {needle}")
    return found
