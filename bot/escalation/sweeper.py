"""The escalation sweeper: finds requests whose timer is due and takes their next step.

A job takes one request at a time in its own transaction: it claims the row (FOR UPDATE SKIP
LOCKED on PostgreSQL, so two processes never work on the same request), re-checks that the work
is still wanted (still open, still due), and writes the step, its pings and its next timer in one
commit (STYLE.md 8). A concurrent acknowledge moves the version column, so a stale step fails
its UPDATE and is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from bot.escalation.hotline import remind
from bot.escalation.policy import EscalationConfig, escalate
from bot.store.db import Database
from bot.store.models import HotlineRequest, RequestKind, RequestStatus, utcnow

log = logging.getLogger(__name__)

MAX_PER_SWEEP = 500


async def _step_one(db: Database, now: datetime, config: EscalationConfig) -> bool:
    due_escalation = (
        (HotlineRequest.kind == RequestKind.EMERGENCY)
        & (HotlineRequest.status == RequestStatus.OPEN)
        & (HotlineRequest.next_escalation_at <= now)
    )
    stmt = (
        select(HotlineRequest)
        .where(due_escalation)
        .order_by(HotlineRequest.next_escalation_at)
        .limit(1)
    )
    if not db.is_sqlite:
        stmt = stmt.with_for_update(skip_locked=True)
    async with db.session() as session:
        request = await session.scalar(stmt)
        if request is None:
            return False
        await escalate(session, request, now, config)
    return True


async def _remind_one(db: Database, now: datetime, config: EscalationConfig) -> bool:
    due = (HotlineRequest.status == RequestStatus.ACKNOWLEDGED) & (HotlineRequest.remind_at <= now)
    stmt = select(HotlineRequest).where(due).order_by(HotlineRequest.remind_at).limit(1)
    if not db.is_sqlite:
        stmt = stmt.with_for_update(skip_locked=True)
    async with db.session() as session:
        request = await session.scalar(stmt)
        if request is None:
            return False
        await remind(session, request, now, config)
    return True


async def sweep(
    db: Database, config: EscalationConfig, clock: Callable[[], datetime] = utcnow
) -> int:
    """Take every due step; returns how many were taken."""
    taken = 0
    for work in (_step_one, _remind_one):
        for _ in range(MAX_PER_SWEEP):
            try:
                if not await work(db, clock(), config):
                    break
            except StaleDataError:
                log.info("sweeper: a request changed under the step; looking again")
                continue
            taken += 1
    return taken
