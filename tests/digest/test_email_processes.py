"""The digest by email with real processes: `hotline digest send` to 500 members who have no chat
account, through the real EmailSender (aiosmtplib), Throttle and outbox, to an SMTP server on
127.0.0.1 (tests/fake_smtp.py) that answers 2% of recipients 450 (try later) at random and
refuses 1% of addresses for good (550); the process is killed with SIGKILL halfway and run again.
The fake records every message it accepted, so "once" is counted at the mail server. The tests
wait for what the processes report, never for a fixed time (tests/processes.py).
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.delivery.outbox import CONCURRENCY
from bot.digest.schedule import monday
from bot.store import Database
from bot.store.models import DigestRun, DigestRunStatus, OutboundMessage, OutboxStatus
from tests.conftest import run_hotline
from tests.factories import seed_digest_members
from tests.fake_smtp import FakeSmtp
from tests.processes import Hotline, start, until

LONDON = ZoneInfo("Europe/London")
MEMBERS = 500
LABEL = "mailed"
CLAIM_BATCH = 100  # deliver_due's batch: the most rows one process has in flight
TEMPORARY, PERMANENT = 0.02, 0.01


def last_week() -> date:
    return monday(datetime.now(LONDON).date() - timedelta(days=7))


def address(n: int) -> str:
    return f"m{n}@{LABEL}.example.org"


EVERYONE = {address(n) for n in range(MEMBERS)}


@asynccontextmanager
async def mail_server() -> AsyncIterator[tuple[FakeSmtp, list[Hotline]]]:
    started: list[Hotline] = []
    async with FakeSmtp() as smtp:
        smtp.random_faults(temporary=TEMPORARY, permanent=PERMANENT, seed=7)
        try:
            yield smtp, started
        finally:
            for send in started:
                send.kill()


def settings(url: str, smtp: FakeSmtp) -> dict[str, str]:
    return {
        "DATABASE_URL": url,
        "SMTP_HOST": smtp.host,
        "SMTP_PORT": str(smtp.port),
        "SMTP_TLS": "none",
        "SMTP_MAX_PER_SECOND": "300",
        "SMTP_TIMEOUT_S": "10",
        "EMAIL_FROM": "Digest <digest@hotline.test>",
        "EMAIL_SECRET": "an-email-secret-for-the-process-tests-0123",
        "PUBLIC_URL": "https://hotline.test",
        "PARTNERSHIP_NAME": "Test Schools Partnership",
        "LOG_LEVEL": "WARNING",
    }


def start_send(url: str, smtp: FakeSmtp, started: list[Hotline], folder: Path) -> Hotline:
    args = ["digest", "send", "--week", last_week().isoformat(), "--kind", "member"]
    send = start(f"mail-{len(started) + 1}", args, settings(url, smtp), folder)
    started.append(send)
    return send


def accepted_per_address(smtp: FakeSmtp) -> dict[str, int]:
    counts: dict[str, int] = {}
    for message in smtp.messages:
        for rcpt in message.rcpt_tos:
            counts[rcpt.lower()] = counts.get(rcpt.lower(), 0) + 1
    return counts


async def rows_by_status(db: Database) -> dict[OutboxStatus, set[str]]:
    async with db.session() as s:
        rows = (
            await s.execute(
                select(OutboundMessage.chat_id, OutboundMessage.status).where(
                    OutboundMessage.channel == "email"
                )
            )
        ).all()
    found: dict[OutboxStatus, set[str]] = {status: set() for status in OutboxStatus}
    for chat_id, status in rows:
        found[status].add(str(chat_id).lower())
    return found


async def test_a_killed_email_digest_is_finished_by_the_next_without_resending(
    db: Database, db_url: str, tmp_path: Path
) -> None:
    """Delivery is at least once, by design (bot/delivery/outbox.py): a message the server
    accepted but the killed process never recorded as sent (its row still `sending`) goes again
    once its lease runs out. So: every member gets the digest except the addresses the server
    refused for good, which are recorded unreachable and shown by `digest status`; anyone who
    gets it twice was in flight at the kill; everyone else gets it exactly once."""
    async with db.session() as s:
        await seed_digest_members(s, MEMBERS, 0, last_week(), LABEL, linked=False)
    async with mail_server() as (smtp, started):
        first = start_send(db_url, smtp, started, tmp_path)
        await until(
            lambda: len(smtp.messages) >= MEMBERS // 2,
            "half the digests accepted by the mail server",
            alive=[first],
        )
        assert await first.stopped(signal.SIGKILL) == -signal.SIGKILL, first.output()
        at_kill = set(accepted_per_address(smtp))
        assert MEMBERS // 2 <= len(at_kill) < MEMBERS, "not killed part-way"
        state = await rows_by_status(db)
        in_flight = state[OutboxStatus.SENDING]
        assert state[OutboxStatus.SENT] <= at_kill, "recorded sent before it was accepted"
        assert len(in_flight) <= CLAIM_BATCH
        assert state[OutboxStatus.UNREACHABLE] <= smtp.doomed

        second = start_send(db_url, smtp, started, tmp_path)
        await until(lambda: not second.running(), "the second send to finish", second)
        assert second.process.returncode == 0, second.output()
        output = second.stdout

    per_address = accepted_per_address(smtp)
    doomed = smtp.doomed
    twice = {a for a, n in per_address.items() if n > 1}
    # the faults happened, so the scenario is the one it says
    assert doomed and len(doomed) < MEMBERS * PERMANENT * 3
    assert any(reply.startswith("450") for _, _, reply in smtp.refused)
    assert set(per_address) == EVERYONE - doomed, "lost or written to a refused address"
    assert max(per_address.values()) <= 2
    assert twice <= in_flight, "only messages in flight at the kill may go twice"
    assert len(twice) <= CONCURRENCY
    assert not twice & state[OutboxStatus.SENT]
    final = await rows_by_status(db)
    assert final[OutboxStatus.SENT] == EVERYONE - doomed
    assert final[OutboxStatus.UNREACHABLE] == doomed
    assert (
        not final[OutboxStatus.PENDING] | final[OutboxStatus.SENDING] | final[OutboxStatus.FAILED]
    )
    async with db.session() as s:
        run = await s.scalar(select(DigestRun).where(DigestRun.week == last_week()))
    assert run is not None and run.status is DigestRunStatus.DONE
    assert f"{MEMBERS - len(doomed)} sent, 0 failed, {len(doomed)} unreachable" in output

    status = run_hotline("digest", "status", env={"DATABASE_URL": db_url, "LOG_LEVEL": "WARNING"})
    assert status.returncode == 0, status.stderr
    shown = {
        line.split(": ", 1)[1].removesuffix(" on email")
        for line in status.stdout.splitlines()
        if line.startswith("unreachable (member")
    }
    assert shown == doomed
