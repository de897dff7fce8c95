"""Background work in the bot's process: the escalation sweeper (an APScheduler interval job),
the weekly digest (an APScheduler cron job, when given), the nightly retention run (a cron job
at 02:30 in the partnership's timezone, when given), the hourly clean-up of processed platform
update ids, and the outbox sender loop (an asyncio task that also wakes at once when a message
is queued).

Both reload everything from the database each time, so a restarted process resumes every open
escalation and every unsent message where it stood.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.core.errors import DataError
from bot.core.ports import Sender
from bot.delivery.outbox import deliver_due
from bot.digest.runs import DigestConfig
from bot.digest.schedule import add_digest_job
from bot.digest.weekly import make_weekly_job
from bot.escalation.policy import EscalationConfig
from bot.escalation.sweeper import sweep
from bot.knowledge import KnowledgeBase
from bot.privacy.policy import DEFAULTS, RetentionPolicy, load_policy
from bot.privacy.retention import Summary, forget_processed_updates, run_for_day
from bot.store.db import Database
from bot.store.models import utcnow

log = logging.getLogger(__name__)

STOP_GRACE_S = 10.0
RETENTION_AT = (2, 30)  # hour, minute in the partnership's timezone: a quiet hour
# A process that was down at 02:30 (or busy) still runs that night's retention within this.
RETENTION_GRACE_S = 6 * 3600


class Background:
    def __init__(
        self,
        db: Database,
        config: EscalationConfig,
        senders: Mapping[str, Sender],
        sweep_interval_s: float,
        deliver_interval_s: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
        chat_ids: Collection[str] | None = None,
        # the weekly digest: the knowledge base it reports on and its schedule (DIGEST_CRON)
        weekly: tuple[KnowledgeBase | Callable[[], KnowledgeBase], DigestConfig] | None = None,
        # the nightly retention run: DATA_DIR (for retention.yaml) and the partnership's timezone
        retention: tuple[Path, ZoneInfo] | None = None,
    ) -> None:
        self.weekly: tuple[Callable[[], Awaitable[object]], DigestConfig] | None = None
        if weekly is not None:
            kb, digest = weekly
            job = make_weekly_job(db, kb, digest, clock=clock, after_queued=self.kick)
            self.weekly = (job, digest)
        self.db = db
        self.config = config
        self.senders = senders
        self.sweep_interval_s = sweep_interval_s
        self.deliver_interval_s = deliver_interval_s
        self.clock = clock
        self.chat_ids = chat_ids
        self.retention = retention
        self._wake = asyncio.Event()
        self._sweeping = asyncio.Lock()
        self._scheduler: AsyncIOScheduler | None = None
        self._deliverer: asyncio.Task[None] | None = None
        self._running = False

    def kick(self) -> None:
        """Something was queued: deliver now rather than at the next tick."""
        self._wake.set()

    async def sweep_now(self) -> int:
        async with self._sweeping:
            try:
                taken = await sweep(self.db, self.config, self.clock)
            except Exception:
                log.exception("sweep failed")
                return 0
        if taken:
            self.kick()
        return taken

    def policy(self) -> RetentionPolicy:
        """DATA_DIR/retention.yaml as it is now (edits apply without a restart)."""
        return DEFAULTS if self.retention is None else load_policy(self.retention[0])

    async def forget_old_deliveries(self) -> None:
        """Hourly: processed update ids past the policy's days (bot/privacy/retention.py)."""
        try:
            policy = self.policy()
        except DataError:
            policy = DEFAULTS  # the nightly run reports the bad file; this clean-up goes on
        try:
            async with self.db.session() as session:
                await forget_processed_updates(session, policy, self.clock())
        except Exception:
            log.exception("forgetting old delivery ids failed")

    async def retention_now(self) -> Summary | None:
        """The nightly retention run; None when not configured, refused or another process
        has today's run."""
        if self.retention is None:
            return None
        try:
            policy = self.policy()
        except DataError as exc:
            problems = "; ".join(exc.problems)
            log.error("retention not applied, the policy file is refused: %s", problems)
            return None
        try:
            return await run_for_day(self.db, policy, self.clock(), self.retention[1])
        except Exception:
            log.exception("retention run failed")
            return None

    async def deliver_now(self) -> int:
        if not self.senders:
            return 0
        try:
            return await deliver_due(self.db, self.senders, self.clock, self.chat_ids)
        except Exception:
            log.exception("delivery failed")
            return 0

    async def _deliver_forever(self) -> None:
        while self._running:
            await self.deliver_now()
            # asyncio.timeout rather than wait_for: on Python 3.11 wait_for can swallow a
            # cancellation that arrives as the event fires, and stop() would wait for ever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.deliver_interval_s):
                    await self._wake.wait()
            self._wake.clear()

    def start(self) -> None:
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(
            self.sweep_now,
            IntervalTrigger(seconds=self.sweep_interval_s),
            id="escalation-sweep",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
        scheduler.add_job(
            self.forget_old_deliveries,
            IntervalTrigger(hours=1),
            id="forget-deliveries",
            max_instances=1,
            coalesce=True,
        )
        if self.weekly is not None:
            job, config = self.weekly
            add_digest_job(scheduler, job, config)
        if self.retention is not None:
            hour, minute = RETENTION_AT
            scheduler.add_job(
                self.retention_now,
                CronTrigger(hour=hour, minute=minute, timezone=self.retention[1]),
                id="retention",
                name="nightly retention",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=RETENTION_GRACE_S,
            )
        scheduler.start()
        self._scheduler = scheduler
        self._running = True
        self._deliverer = asyncio.create_task(self._deliver_forever(), name="outbox-delivery")

    async def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.pause()
            async with self._sweeping:  # let a sweep in progress commit rather than cancel it
                self._scheduler.shutdown(wait=False)
            self._scheduler = None
        self._running = False
        if self._deliverer is not None:
            # Let the batch in hand finish and settle, so no row is left leased ("sending");
            # cancel only if it does not finish in time.
            self._wake.set()
            try:
                async with asyncio.timeout(STOP_GRACE_S):
                    await asyncio.shield(self._deliverer)
            except TimeoutError:
                self._deliverer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._deliverer
            self._deliverer = None
