"""Leases: a sender keeps the rows it holds for as long as it lives (the lease is renewed), so a
slow send is never taken by another process; a killed sender's rows come back within a lease
(tests/digest/test_processes.py kills one); and messages about a request are claimed first."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select

from bot.core.ports import SendResult, Sent
from bot.core.types import Reply
from bot.delivery.outbox import LEASE, claim_due, deliver_due, enqueue
from bot.escalation.requests import new_request
from bot.store import Database
from bot.store.models import OutboundMessage, OutboxStatus, RequestKind
from tests.factories import make_person
from tests.fakes import FakeClock


@dataclass
class SlowSender:
    """Accepts, but only once `release` is set; says when a send has begun."""

    channel: str = "console"
    began: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    sent: list[str] = field(default_factory=list)

    async def send(self, chat_id: str, reply: Reply) -> SendResult:
        self.began.set()
        await self.release.wait()
        self.sent.append(chat_id)
        return Sent()

    async def edit(self, chat_id: str, ref: str, reply: Reply) -> SendResult:
        return await self.send(chat_id, reply)


async def test_a_slow_send_keeps_its_row_past_the_first_lease(db: Database) -> None:
    clock = FakeClock()
    async with db.session() as session:
        await enqueue(
            session, key="k", channel="console", chat_id="c", reply=Reply("hi"), now=clock()
        )
    slow = SlowSender()
    first = asyncio.create_task(deliver_due(db, {"console": slow}, clock, renew_every_s=0.01))
    await asyncio.wait_for(slow.began.wait(), 10)
    clock.advance(seconds=2 * LEASE.total_seconds())  # the first lease is long over
    await asyncio.sleep(0.2)  # the holder renews meanwhile, at the new time
    other = SlowSender()
    other.release.set()
    assert await deliver_due(db, {"console": other}, clock) == 0  # nothing free to take
    assert other.sent == []
    slow.release.set()
    assert await asyncio.wait_for(first, 10) == 1
    async with db.session() as session:
        row = (await session.scalars(select(OutboundMessage))).one()
    assert row.status is OutboxStatus.SENT and slow.sent == ["c"]


async def test_rows_of_a_sender_that_stopped_renewing_are_free_after_one_lease(
    db: Database,
) -> None:
    clock = FakeClock()
    async with db.session() as session:
        await enqueue(
            session, key="k", channel="console", chat_id="c", reply=Reply("hi"), now=clock()
        )
    held = await claim_due(db, clock(), ["console"])  # a sender that then died
    assert len(held) == 1
    assert await claim_due(db, clock.advance(seconds=LEASE.total_seconds() - 1), ["console"]) == []
    again = await claim_due(db, clock.advance(seconds=1), ["console"])
    assert [c.id for c in again] == [held[0].id]


async def test_messages_about_a_request_are_claimed_before_the_rest(db: Database) -> None:
    clock = FakeClock()
    member = await make_person(db)
    async with db.session() as session:
        for n in range(3):  # a digest backlog, due first
            await enqueue(
                session,
                key=f"digest{n}",
                channel="console",
                chat_id=f"m{n}",
                reply=Reply("digest"),
                now=clock() - timedelta(minutes=5),
            )
        request = await new_request(
            session, RequestKind.EMERGENCY, member, "console", "x", "flood", clock()
        )
        await enqueue(
            session,
            key="ping",
            channel="console",
            chat_id="duty",
            reply=Reply("ping"),
            request_id=request.id,
            now=clock(),
        )
    (first,) = await claim_due(db, clock(), ["console"], limit=1)
    assert first.chat_id == "duty" and first.request_id is not None
