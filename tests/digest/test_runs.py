"""Runs and delivery on real databases: exactly one digest per member per week, whatever
repeats, races, restarts, rate limits, blocked accounts or unsubscribes happen."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date, timedelta

from sqlalchemy import select

from bot.core.ports import RetryLater, SendResult, Unreachable
from bot.core.types import Band, Reply
from bot.digest.runs import (
    counts,
    prepare,
    prepare_batch,
    shared_content,
    start_or_resume,
    unreachable_people,
)
from bot.digest.subscriptions import unsubscribe
from bot.store import Database
from bot.store.models import (
    DigestKind,
    DigestRunStatus,
    Identity,
    OutboundMessage,
    OutboxStatus,
    Person,
    QuestionLog,
    Role,
)
from tests.digest.conftest import WEEK, Digests, member
from tests.fakes import RecordingSender


async def test_each_member_gets_one_digest_and_a_second_run_sends_nothing(d: Digests) -> None:
    head = await member(d.db)
    governor = await member(d.db, phase="all-through", job_title="Chair of Governors")
    quiet = await member(d.db, subscribed=False)
    no_account = await member(d.db, linked=False)
    staff = await member(d.db, role=Role.STAFF, job_title="Adviser")
    async with d.db.session() as session:
        session.add(
            QuestionLog(
                channel="console",
                text="minibus hire?",
                band=Band.UNKNOWN,
                score=0.0,
                created_at=d.clock() - timedelta(days=2),
            )
        )

    progress = await d.run_week()

    assert [len(d.inbox(p)) for p in (head, governor, quiet, no_account)] == [1, 1, 0, 0]
    assert "Primary Headteachers' Network" in d.inbox(head)[0]
    assert "New governor training dates" in d.inbox(governor)[0]
    assert "New governor training dates" not in d.inbox(head)[0]
    assert "“minibus hire?”" in d.inbox(staff)[0]
    member_run, staff_run = (p.counts for p in progress)
    assert (member_run.status, member_run.queued, member_run.sent) == (DigestRunStatus.DONE, 2, 2)
    assert member_run.no_channel == 1 and staff_run.sent == 1

    await d.run_week()  # again, as a restarted scheduler or a second `digest send` would
    assert len(d.channel.sent) == 3
    assert len(await d.runs()) == 2


async def test_two_runners_at_once_send_each_member_exactly_one(d: Digests) -> None:
    people = [await member(d.db) for _ in range(12)]
    other_db = Database(d.db.url)
    other_channel = RecordingSender()
    try:
        await asyncio.gather(
            d.run_week(real_sleep=True),
            d.run_week(channel=other_channel, db=other_db, real_sleep=True),
        )
    finally:
        await other_db.dispose()
    received = Counter(chat for chat, _ in d.channel.sent + other_channel.sent)
    assert received == Counter({p.email: 1 for p in people})
    assert len(await d.runs()) == 2


class Platform(RecordingSender):
    """429 for the first sends, then 403 for the blocked chats."""

    def __init__(self, blocked: set[str], throttled: int) -> None:
        super().__init__()
        self.blocked = blocked
        self.throttled = throttled

    async def send(self, chat_id: str, reply: Reply) -> SendResult:
        if self.throttled > 0:
            self.throttled -= 1
            self.calls += 1
            return RetryLater("429 Too Many Requests", after_s=3)
        if chat_id in self.blocked:
            self.calls += 1
            return Unreachable("403 Forbidden: bot was blocked by the user")
        return await super().send(chat_id, reply)


async def test_rate_limits_and_blocked_members_the_run_finishes_and_reports_them(
    d: Digests,
) -> None:
    people = [await member(d.db) for _ in range(8)]
    blocked = {people[1].email, people[5].email}
    platform = Platform(blocked, throttled=6)

    progress = await d.run_week(channel=platform)

    got = Counter(chat for chat, _ in platform.sent)
    assert got == Counter({p.email: 1 for p in people if p.email not in blocked})
    result = progress[0].counts
    assert (result.status, result.sent, result.unreachable, result.failed, result.waiting) == (
        DigestRunStatus.DONE,
        6,
        2,
        0,
        0,
    )
    assert {email for email, _ in await unreachable_people(d.db, result.run_id)} == blocked
    async with d.db.session() as session:
        reachable = dict(
            (await session.execute(select(Identity.external_id, Identity.reachable))).all()
        )
    assert not reachable[people[1].email] and reachable[people[0].email]


async def test_unsubscribing_during_a_run_cancels_that_persons_delivery(d: Digests) -> None:
    stays, leaves = await member(d.db), await member(d.db)
    run = await prepare(d.db, d.kb, d.config, DigestKind.MEMBER, WEEK, d.clock())
    async with d.db.session() as session:
        person = await session.get(Person, leaves.id)
        assert person is not None
        assert await unsubscribe(session, person)

    from bot.digest.delivery import send_run

    progress = await send_run(d.db, run, {"console": d.channel}, d.clock, sleep=d.sleep)
    assert len(d.inbox(stays)) == 1 and d.inbox(leaves) == []
    assert (progress.counts.sent, progress.counts.cancelled) == (1, 1)
    assert progress.counts.status is DigestRunStatus.DONE

    d.clock.advance(days=7)
    await d.run_week(date(2026, 12, 7))
    assert d.inbox(leaves) == []


async def test_a_run_interrupted_while_preparing_is_resumed_without_duplicates(
    d: Digests,
) -> None:
    people = [await member(d.db) for _ in range(5)]
    # The first process queues one batch of two and dies.
    run = await start_or_resume(d.db, DigestKind.MEMBER, WEEK, d.clock(), d.clock())
    content = await shared_content(d.db, d.kb, run, d.config)
    assert await prepare_batch(d.db, run.id, content, d.config, d.clock(), batch=2)
    assert (await counts(d.db, run)).queued == 2

    resumed = await prepare(d.db, d.kb, d.config, DigestKind.MEMBER, WEEK, d.clock(), batch=2)
    assert resumed.id == run.id
    async with d.db.session() as session:
        keys = list(await session.scalars(select(OutboundMessage.dedupe_key)))
    assert sorted(keys) == sorted(f"digest:{run.id}:{p.id}" for p in people)
    assert (await counts(d.db, run)).queued == 5


async def test_next_weeks_digest_has_only_what_is_new_since_the_last_one(d: Digests) -> None:
    head = await member(d.db)
    await d.run_week()
    d.clock.advance(days=7)
    await d.run_week(date(2026, 12, 7))
    first, second = d.inbox(head)
    assert "Spring Leadership Conference 2027 – booking open" in first
    assert "Spring Leadership Conference 2027 – booking open" not in second
    assert "Hotline hours over the winter break" in second  # published on 1 December
    assert "Special Schools Leaders' Forum" not in second  # for special schools only


async def test_a_delivery_row_is_sent_only_once_the_platform_accepts(d: Digests) -> None:
    head = await member(d.db)
    failing = RecordingSender(script=[RetryLater("502 Bad Gateway")] * 2)
    await d.run_week(channel=failing)
    async with d.db.session() as session:
        row = await session.scalar(
            select(OutboundMessage).where(OutboundMessage.person_id == head.id)
        )
    assert row is not None and row.status is OutboxStatus.SENT and row.attempts == 3
    assert len(failing.to(head.email)) == 1
