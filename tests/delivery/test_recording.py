"""What a crash could repeat: a send the platform accepted but whose row is not yet marked sent.
The outbox records acceptances by group commit and holds a send's slot until it is recorded, so
at any moment at most the sends in flight (CONCURRENCY) are accepted but unrecorded."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy import func, select

from bot.core.ports import SendResult, Sent
from bot.core.types import Reply
from bot.delivery.outbox import CONCURRENCY, deliver_due, enqueue
from bot.store import Database
from bot.store.models import OutboundMessage, OutboxStatus

MESSAGES = 120  # more than one claim batch, many chats


@dataclass
class WatchingSender:
    """Accepts every message and, before each, counts the messages it accepted earlier whose
    rows are still not marked sent: what a kill at that moment would send twice."""

    db: Database
    channel: str = "console"
    accepted: set[int] = field(default_factory=set)
    worst: int = 0

    async def send(self, chat_id: str, reply: Reply) -> SendResult:
        async with self.db.reading() as session:
            unrecorded = await session.scalar(
                select(func.count())
                .select_from(OutboundMessage)
                .where(
                    OutboundMessage.id.in_(self.accepted),
                    OutboundMessage.status != OutboxStatus.SENT,
                )
            )
        self.worst = max(self.worst, int(unrecorded or 0))
        self.accepted.add(int(reply.text))
        await asyncio.sleep(0)  # let other chats' sends interleave
        return Sent()

    async def edit(self, chat_id: str, ref: str, reply: Reply) -> SendResult:
        return await self.send(chat_id, reply)


async def test_a_crash_could_repeat_at_most_the_sends_in_flight(db: Database) -> None:
    async with db.session() as session:
        for n in range(MESSAGES):
            await enqueue(
                session, key=f"k{n}", channel="console", chat_id=f"chat{n}", reply=Reply("")
            )
        await session.flush()
        rows = (await session.scalars(select(OutboundMessage))).all()
        for row in rows:
            row.text = str(row.id)  # the sender learns each message's row from its text
    sender = WatchingSender(db)
    assert await deliver_due(db, {"console": sender}) == MESSAGES
    assert len(sender.accepted) == MESSAGES
    assert sender.worst < CONCURRENCY  # the other sends in flight, never more
    async with db.session() as session:
        sent = await session.scalar(
            select(func.count())
            .select_from(OutboundMessage)
            .where(OutboundMessage.status == OutboxStatus.SENT)
        )
    assert sent == MESSAGES
