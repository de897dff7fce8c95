"""Digest faults with real processes: `hotline digest send` killed with SIGKILL halfway through
2,000 deliveries and run again, and two `digest send` at once on one PostgreSQL. Each process
talks to the fake Telegram Bot API over HTTP through the real TelegramSender, Throttle and outbox;
the fake counts the messages it accepted per chat, so "once" is checked at the platform's edge.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import IO
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from bot.digest.schedule import monday
from bot.store import Database
from bot.store.models import (
    DigestRun,
    DigestRunStatus,
    OutboundMessage,
    OutboxStatus,
)
from tests.conftest import DATA, ROOT
from tests.factories import seed_digest_members
from tests.handlers.fake_telegram import FakeTelegram

LONDON = ZoneInfo("Europe/London")
TOKEN = "123:TEST"
USER_BASE = 500_000
MEMBERS = 2_000
CLAIM_BATCH = 100  # deliver_due's batch: the most rows one process has in flight
RUN_TIMEOUT_S = 60.0


def last_week() -> date:
    """A week whose digest time has passed (`digest send` refuses weeks not yet started)."""
    return monday(datetime.now(LONDON).date() - timedelta(days=7))


def chat(n: int) -> int:
    return USER_BASE + n


async def seed(db: Database, members: int, week: date) -> None:
    async with db.session() as s:
        await seed_digest_members(s, members, USER_BASE, week, "procs")


@dataclass
class Send:
    """One `hotline digest send` process; its output goes to files, read on failure."""

    process: subprocess.Popen[bytes]
    out: IO[bytes]
    err: IO[bytes]

    def output(self) -> str:
        self.out.seek(0)
        self.err.seek(0)
        return self.out.read().decode() + self.err.read().decode()[-3000:]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.out.close()
        self.err.close()


@asynccontextmanager
async def fake_telegram() -> AsyncIterator[tuple[FakeTelegram, list[Send]]]:
    """The fake Bot API, and the processes started against it (killed on the way out)."""
    started: list[Send] = []
    async with FakeTelegram(token=TOKEN) as fake:
        try:
            yield fake, started
        finally:
            for send in started:
                send.close()


def start_send(url: str, fake: FakeTelegram, week: date, started: list[Send]) -> Send:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DATA_DIR": str(DATA),
        "TELEGRAM_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "TELEGRAM_MAX_PER_SECOND": "400",
        "TELEGRAM_CHAT_INTERVAL_S": "0",
        "PLATFORM_TIMEOUT_S": "5",
        "LOG_LEVEL": "WARNING",
    }
    out = tempfile.TemporaryFile()  # noqa: SIM115 (closed by Send.close)
    err = tempfile.TemporaryFile()  # noqa: SIM115
    command = [sys.executable, "-m", "bot", "digest", "send"]
    process = subprocess.Popen(
        [*command, "--week", week.isoformat(), "--kind", "member"],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=err,
    )
    send = Send(process, out, err)
    started.append(send)
    return send


async def finished(send: Send, timeout: float = RUN_TIMEOUT_S) -> str:  # noqa: ASYNC109
    """Wait without blocking the loop (the fake server runs on it); the output, checked ok."""
    deadline = time.monotonic() + timeout
    while send.process.poll() is None:
        if time.monotonic() > deadline:
            pytest.fail(f"digest send still running after {timeout} s: {send.output()}")
        await asyncio.sleep(0.05)
    assert send.process.returncode == 0, send.output()
    return send.output()


async def chats_by_status(db: Database) -> dict[OutboxStatus, set[int]]:
    async with db.session() as s:
        rows = (await s.execute(select(OutboundMessage.chat_id, OutboundMessage.status))).all()
    found: dict[OutboxStatus, set[int]] = {status: set() for status in OutboxStatus}
    for chat_id, status in rows:
        found[status].add(int(chat_id))
    return found


async def expire_leases(db: Database, chats: Collection[int]) -> None:
    """What the lease running out does (outbox.LEASE, 60 s, no setting): the rows a killed
    process left in `sending` become due."""
    async with db.session() as s:
        await s.execute(
            update(OutboundMessage)
            .where(
                OutboundMessage.status == OutboxStatus.SENDING,
                OutboundMessage.chat_id.in_([str(c) for c in chats]),
            )
            .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
        )


async def run_status(db: Database) -> DigestRunStatus:
    async with db.session() as s:
        run = await s.scalar(select(DigestRun).where(DigestRun.week == last_week()))
    assert run is not None
    return run.status


async def test_a_send_killed_halfway_is_finished_by_the_next_without_resending(
    db: Database, db_url: str
) -> None:
    """SIGKILL once the platform has accepted half of 2,000 digests; the next `digest send`
    sends the rest, and nobody whose delivery was recorded as sent gets a second one.

    Delivery is at least once, by design (outbox.py): a message the platform accepted but the
    killed process never recorded as sent (its row still `sending`, under a 60 s lease) is sent
    again once the lease expires. So the exact claim is: every member gets the digest; anyone
    who gets it twice was in flight at the kill (rows left `sending`, at most one claim batch);
    everyone else gets it exactly once. The restarted run sends everything else at once and then
    waits for those leases (60 s, no setting to shorten it); the test checks that it is waiting
    and then expires the leases itself rather than sleeping for a minute.
    """
    week = last_week()
    await seed(db, MEMBERS, week)
    everyone = {chat(n) for n in range(MEMBERS)}
    async with fake_telegram() as (fake, started):
        first = start_send(db_url, fake, week, started)
        await fake.wait_for(
            lambda: fake.accepted >= MEMBERS // 2 or first.process.poll() is not None,
            RUN_TIMEOUT_S,
            "half the digests accepted",
        )
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(10)
        assert first.process.returncode == -signal.SIGKILL, first.output()
        at_kill = dict(fake.sends_per_chat())
        assert MEMBERS // 2 <= len(at_kill) < MEMBERS, "not killed halfway"
        state = await chats_by_status(db)
        in_flight = state[OutboxStatus.SENDING]
        assert state[OutboxStatus.SENT] <= set(at_kill), "recorded sent before it was accepted"
        assert state[OutboxStatus.SENT] | in_flight | state[OutboxStatus.PENDING] == everyone
        assert len(in_flight) <= CLAIM_BATCH

        second = start_send(db_url, fake, week, started)
        await fake.wait_for(
            lambda: state[OutboxStatus.PENDING] <= set(fake.sends_per_chat()),
            RUN_TIMEOUT_S,
            "the deliveries left pending by the killed process",
        )
        if in_flight:  # (empty only if the kill fell between two claims)
            await asyncio.sleep(1.5)  # more than send_run's poll: those rows are not due yet
            assert second.process.poll() is None, "finished without the rows under lease"
            assert (await chats_by_status(db))[OutboxStatus.SENDING] == in_flight
            await expire_leases(db, in_flight)
        output = await finished(second)

    per_chat = fake.sends_per_chat()
    twice = {c for c, n in per_chat.items() if n > 1}
    assert set(per_chat) == everyone
    assert max(per_chat.values()) <= 2
    assert twice <= in_flight, "only messages in flight at the kill may go twice"
    assert not twice & state[OutboxStatus.SENT]
    assert (await chats_by_status(db))[OutboxStatus.SENT] == everyone
    assert await run_status(db) is DigestRunStatus.DONE
    assert f"{MEMBERS} sent, 0 failed, 0 unreachable" in output


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_two_sends_at_once_on_one_postgres_send_each_member_one_digest(
    db: Database, db_url: str
) -> None:
    members = 500
    week = last_week()
    await seed(db, members, week)
    async with fake_telegram() as (fake, started):
        sends = [start_send(db_url, fake, week, started) for _ in range(2)]
        outputs = [await finished(send) for send in sends]

    assert fake.sends_per_chat() == {chat(n): 1 for n in range(members)}
    assert (await chats_by_status(db))[OutboxStatus.SENT] == {chat(n) for n in range(members)}
    assert await run_status(db) is DigestRunStatus.DONE
    async with db.session() as s:
        assert len(list(await s.scalars(select(DigestRun)))) == 1
    assert all("member digest" in output for output in outputs)
