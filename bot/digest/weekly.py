"""The scheduled job: prepare this week's runs when one is due, and resume unfinished ones.

It only queues deliveries; the process's outbox sender loop sends them (call `after_queued`
to wake it). Running it twice, in two processes, or after a restart, queues nothing twice: the
run rows and dedupe keys see to that. So it is also run once at start-up (schedule.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime

from bot.digest.runs import DigestConfig, finish_if_settled, prepare, unfinished
from bot.digest.schedule import due_fire_time, week_of
from bot.knowledge import KnowledgeBase
from bot.store.db import Database
from bot.store.models import DigestKind, DigestRun, DigestRunStatus, utcnow

log = logging.getLogger(__name__)


def _nothing() -> None:
    return None


async def prepare_week(
    db: Database,
    kb: KnowledgeBase,
    config: DigestConfig,
    week: date,
    now: datetime,
    kinds: tuple[DigestKind, ...] = (DigestKind.MEMBER, DigestKind.STAFF),
) -> list[DigestRun]:
    return [await prepare(db, kb, config, kind, week, now) for kind in kinds]


async def weekly_tick(
    db: Database, kb: KnowledgeBase, config: DigestConfig, now: datetime
) -> list[DigestRun]:
    """Start the week's runs if a scheduled time passed within the grace period; resume any
    unfinished run; mark settled ones done. Returns the runs started or resumed."""
    touched: list[DigestRun] = []
    fire = due_fire_time(config.cron, now, config.grace)
    if fire is not None:
        touched += await prepare_week(db, kb, config, week_of(fire, config.tz), now)
    for run in await unfinished(db, now):
        if run.status is DigestRunStatus.PREPARING:
            touched.append(await prepare(db, kb, config, run.kind, run.week, now))
        else:
            await finish_if_settled(db, run.id, now)
    return touched


def make_weekly_job(
    db: Database,
    kb: KnowledgeBase | Callable[[], KnowledgeBase],
    config: DigestConfig,
    clock: Callable[[], datetime] = utcnow,
    after_queued: Callable[[], None] = _nothing,
) -> Callable[[], Awaitable[list[DigestRun]]]:
    """The callable for `schedule.add_digest_job`; errors are logged, never raised into
    APScheduler (the next tick, or the next start, resumes). `kb`: the knowledge base, or how to
    get the current one (a process re-reads the FAQ files when they change)."""
    current = kb if callable(kb) else (lambda: kb)

    async def job() -> list[DigestRun]:
        try:
            runs = await weekly_tick(db, current(), config, clock())
        except Exception:
            log.exception("weekly digest tick failed")
            return []
        if runs:
            after_queued()
        return runs

    return job
