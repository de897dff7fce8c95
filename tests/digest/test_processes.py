"""Digest faults with real processes: `hotline digest send` killed with SIGKILL early, halfway
and late through 2,000 deliveries and run again, and two `digest send` at once on one PostgreSQL. Each process
talks to the fake Telegram Bot API over HTTP through the real TelegramSender, Throttle and outbox;
the fake counts the messages it accepted per chat, so "once" is checked at the platform's edge.
The tests wait for what the processes report (the fake's counts, a progress line, an exit), never
for a fixed time (tests/processes.py).
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.delivery.outbox import CONCURRENCY
from bot.digest.schedule import monday
from bot.store import Database
from bot.store.models import (
    DigestRun,
    DigestRunStatus,
    OutboundMessage,
    OutboxStatus,
)
from tests.factories import seed_digest_members
from tests.handlers.fake_telegram import FakeTelegram
from tests.processes import Hotline, start, until

LONDON = ZoneInfo("Europe/London")
TOKEN = "123:TEST"
USER_BASE = 500_000
MEMBERS = 2_000
CLAIM_BATCH = 100  # deliver_due's batch: the most rows one process has in flight


def last_week() -> date:
    """A week whose digest time has passed (`digest send` refuses weeks not yet started)."""
    return monday(datetime.now(LONDON).date() - timedelta(days=7))


def chat(n: int) -> int:
    return USER_BASE + n


async def seed(db: Database, members: int, week: date) -> None:
    async with db.session() as s:
        await seed_digest_members(s, members, USER_BASE, week, "procs")


@asynccontextmanager
async def fake_telegram() -> AsyncIterator[tuple[FakeTelegram, list[Hotline]]]:
    """The fake Bot API, and the processes started against it (killed on the way out)."""
    started: list[Hotline] = []
    async with FakeTelegram(token=TOKEN) as fake:
        try:
            yield fake, started
        finally:
            for send in started:
                send.kill()


def start_send(
    url: str, fake: FakeTelegram, week: date, started: list[Hotline], folder: Path
) -> Hotline:
    env = {
        "DATABASE_URL": url,
        "TELEGRAM_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "TELEGRAM_MAX_PER_SECOND": "400",
        "TELEGRAM_CHAT_INTERVAL_S": "0",
        "PLATFORM_TIMEOUT_S": "5",
        "LOG_LEVEL": "WARNING",
    }
    args = ["digest", "send", "--week", week.isoformat(), "--kind", "member"]
    send = start(f"send-{len(started) + 1}", args, env, folder)
    started.append(send)
    return send


async def finished(send: Hotline) -> str:
    """Wait without blocking the loop (the fake server runs on it); what it printed, checked
    ok."""
    await until(lambda: not send.running(), f"{send.name} to finish", send)
    assert send.process.returncode == 0, send.output()
    return send.stdout


async def chats_by_status(db: Database) -> dict[OutboxStatus, set[int]]:
    async with db.session() as s:
        rows = (await s.execute(select(OutboundMessage.chat_id, OutboundMessage.status))).all()
    found: dict[OutboxStatus, set[int]] = {status: set() for status in OutboxStatus}
    for chat_id, status in rows:
        found[status].add(int(chat_id))
    return found


async def run_status(db: Database) -> DigestRunStatus:
    async with db.session() as s:
        run = await s.scalar(select(DigestRun).where(DigestRun.week == last_week()))
    assert run is not None
    return run.status


@pytest.mark.parametrize("kill_at", [0.1, 0.5, 0.8], ids=["early", "halfway", "late"])
async def test_a_killed_send_is_finished_by_the_next_without_resending(
    db: Database, db_url: str, tmp_path: Path, kill_at: float
) -> None:
    """SIGKILL once the platform has accepted a tenth, half or four fifths of 2,000 digests (and
    half a claim batch more, so that the kill falls while a batch is in flight); the next
    `digest send` sends the rest, and nobody whose delivery was recorded as sent gets a second
    one.

    Delivery is at least once, by design (outbox.py): a message the platform accepted but the
    killed process never recorded as sent (its row still `sending`, under a lease nobody renews
    any more) is sent again once the lease runs out, within outbox.LEASE. So the exact claim is:
    every member gets the digest; anyone who gets it twice was in flight at the kill (rows left
    `sending`), and no more than the sends in flight at once; everyone else gets it exactly once.
    The restarted run sends everything else at once and the leased rows when their lease ends,
    without anyone expiring them by hand.
    """
    week = last_week()
    await seed(db, MEMBERS, week)
    everyone = {chat(n) for n in range(MEMBERS)}
    async with fake_telegram() as (fake, started):
        first = start_send(db_url, fake, week, started, tmp_path)
        kill_after = int(MEMBERS * kill_at)
        await until(
            lambda: fake.accepted >= kill_after + CLAIM_BATCH // 2,
            f"{kill_after} digests accepted",
            alive=[first],
        )
        assert await first.stopped(signal.SIGKILL) == -signal.SIGKILL, first.output()
        at_kill = dict(fake.sends_per_chat())
        assert kill_after <= len(at_kill) < MEMBERS, "not killed part-way"
        state = await chats_by_status(db)
        in_flight = state[OutboxStatus.SENDING]
        assert state[OutboxStatus.SENT] <= set(at_kill), "recorded sent before it was accepted"
        assert state[OutboxStatus.SENT] | in_flight | state[OutboxStatus.PENDING] == everyone
        assert len(in_flight) <= CLAIM_BATCH

        second = start_send(db_url, fake, week, started, tmp_path)
        await until(
            lambda: state[OutboxStatus.PENDING] <= set(fake.sends_per_chat()),
            "the deliveries left pending by the killed process",
            alive=[second],
        )
        output = await finished(second)

    per_chat = fake.sends_per_chat()
    twice = {c for c, n in per_chat.items() if n > 1}
    assert set(per_chat) == everyone
    assert max(per_chat.values()) <= 2
    assert twice <= in_flight, "only messages in flight at the kill may go twice"
    # Accepted by the platform but not yet recorded: at most the sends in flight at once.
    assert len(set(at_kill) & in_flight) <= CONCURRENCY
    assert len(twice) <= CONCURRENCY
    assert not twice & state[OutboxStatus.SENT]
    assert (await chats_by_status(db))[OutboxStatus.SENT] == everyone
    assert await run_status(db) is DigestRunStatus.DONE
    assert f"{MEMBERS} sent, 0 failed, 0 unreachable" in output


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_two_sends_at_once_on_one_postgres_send_each_member_one_digest(
    db: Database, db_url: str, tmp_path: Path
) -> None:
    members = 500
    week = last_week()
    await seed(db, members, week)
    async with fake_telegram() as (fake, started):
        sends = [start_send(db_url, fake, week, started, tmp_path) for _ in range(2)]
        outputs = [await finished(send) for send in sends]

    assert fake.sends_per_chat() == {chat(n): 1 for n in range(members)}
    assert (await chats_by_status(db))[OutboxStatus.SENT] == {chat(n) for n in range(members)}
    assert await run_status(db) is DigestRunStatus.DONE
    async with db.session() as s:
        assert len(list(await s.scalars(select(DigestRun)))) == 1
    assert all("member digest" in output for output in outputs)
