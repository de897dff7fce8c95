"""Sending a prepared run: drive the outbox until none of the run's deliveries is waiting.

The outbox does the sending (claims, retries with backoff, the platform's retry-after, 403 as
final), so a digest goes out exactly like any other message, and the bot's own sender loop can
deliver the same rows if it gets there first. This loop only waits for the next due attempt,
reports progress and marks the run done. Rows on a channel this process has no sender for are
left to a process that has one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from bot.core.ports import Sender
from bot.delivery.outbox import deliver_due
from bot.digest.runs import RunCounts, counts, finish_if_settled
from bot.digest.subscriptions import DELIVERY_PREFIX
from bot.store.db import Database
from bot.store.models import DigestRun, DigestRunStatus, OutboundMessage, OutboxStatus, utcnow

POLL_S = 1.0


@dataclass(frozen=True)
class Progress:
    counts: RunCounts
    accepted: int  # the run's messages accepted (by any process) since this one started sending
    sending_s: float  # since this process started sending the run
    elsewhere: int  # waiting on channels this process cannot send on

    @property
    def remaining(self) -> int:
        return self.counts.waiting

    @property
    def rate(self) -> float:
        """Messages accepted per second of sending (preparation left out)."""
        return self.accepted / max(self.sending_s, 1e-6)


async def _waiting(db: Database, run_id: int, channels: list[str]) -> tuple[int, datetime | None]:
    """(rows waiting on other channels, the next attempt time on ours)."""
    waiting = OutboundMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING])
    mine = OutboundMessage.dedupe_key.like(f"{DELIVERY_PREFIX}{run_id}:%")
    async with db.session() as session:
        elsewhere = await session.scalar(
            select(func.count())
            .select_from(OutboundMessage)
            .where(mine, waiting, OutboundMessage.channel.not_in(channels))
        )
        next_due = await session.scalar(
            select(func.min(OutboundMessage.next_attempt_at)).where(
                mine, waiting, OutboundMessage.channel.in_(channels)
            )
        )
    return int(elsewhere or 0), next_due


async def send_run(
    db: Database,
    run: DigestRun,
    senders: Mapping[str, Sender],
    clock: Callable[[], datetime] = utcnow,
    on_progress: Callable[[Progress], None] | None = None,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    poll_s: float = POLL_S,
) -> Progress:
    """Send until the run settles (or only rows for other channels are left); returns the last
    progress. Safe to run in several processes at once and to restart after a kill."""
    channels = list(senders)
    started, first_sent = time.monotonic(), (await counts(db, run)).sent
    while True:
        await deliver_due(db, senders, clock)
        current = await counts(db, run)
        elapsed = time.monotonic() - started
        elsewhere, next_due = await _waiting(db, run.id, channels)
        progress = Progress(current, current.sent - first_sent, elapsed, elsewhere)
        if current.status is DigestRunStatus.SENDING and current.waiting == 0:
            await finish_if_settled(db, run.id, clock())
            progress = Progress(await counts(db, run), progress.accepted, elapsed, 0)
        if on_progress is not None:
            on_progress(progress)
        if progress.counts.status is DigestRunStatus.DONE or current.waiting <= elsewhere:
            return progress
        wait = poll_s if next_due is None else (next_due - clock()).total_seconds()
        await sleep(min(max(wait, 0.01), poll_s))
