"""The escalation sweeper: finds requests whose timer is due and takes their next step.

A job takes one request at a time in its own transaction: it claims the row (FOR UPDATE SKIP
LOCKED on PostgreSQL, so two processes never work on the same request), re-checks that the work
is still wanted (still open, still due), and writes the step, its pings and its next timer in one
commit. A concurrent acknowledge moves the version column, so a stale step fails
its UPDATE and is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.orm.exc import StaleDataError

from bot.escalation.hotline import remind
from bot.escalation.policy import EscalationConfig, escalate
from bot.store.db import Database
from bot.store.models import HotlineRequest, RequestKind, RequestStatus, utcnow

log = logging.getLogger(__name__)

MAX_PER_SWEEP = 500


Work = Callable[[AsyncSession, HotlineRequest, datetime, EscalationConfig], Awaitable[object]]


async def _take_one(
    db: Database,
    due: ColumnElement[bool],
    order: InstrumentedAttribute[datetime | None],
    work: Work,
    now: datetime,
    config: EscalationConfig,
) -> bool:
    """Claim the most overdue row matching `due` and do `work` on it in one transaction."""
    stmt = select(HotlineRequest).where(due).order_by(order).limit(1)
    if not db.is_sqlite:
        stmt = stmt.with_for_update(skip_locked=True)
    async with db.session() as session:
        request = await session.scalar(stmt)
        if request is None:
            return False
        await work(session, request, now, config)
    return True


def _due_steps(now: datetime) -> ColumnElement[bool]:
    return (
        (HotlineRequest.kind == RequestKind.EMERGENCY)
        & (HotlineRequest.status == RequestStatus.OPEN)
        & (HotlineRequest.next_escalation_at <= now)
    )


def _due_reminders(now: datetime) -> ColumnElement[bool]:
    return (HotlineRequest.status == RequestStatus.ACKNOWLEDGED) & (HotlineRequest.remind_at <= now)


async def sweep(
    db: Database, config: EscalationConfig, clock: Callable[[], datetime] = utcnow
) -> int:
    """Take every due step; returns how many were taken."""
    taken = 0
    kinds: tuple[
        tuple[
            Callable[[datetime], ColumnElement[bool]], InstrumentedAttribute[datetime | None], Work
        ],
        ...,
    ] = (
        (_due_steps, HotlineRequest.next_escalation_at, escalate),
        (_due_reminders, HotlineRequest.remind_at, remind),
    )
    for due, order, work in kinds:
        for _ in range(MAX_PER_SWEEP):
            try:
                now = clock()
                if not await _take_one(db, due(now), order, work, now, config):
                    break
            except StaleDataError:
                log.info("sweeper: a request changed under the step; looking again")
                continue
            taken += 1
    return taken
