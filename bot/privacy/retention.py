"""Applying the retention policy (policy.py): what is due (`plan`), doing it (`apply`), and the
nightly run, once a day across every process (`run_for_day`).

What is due, per kind (each measured from the moment policy.py names, strictly more than the
policy's days before `now`):
- questions: not yet redacted; a question that opened a request is left to its request (the
  request's retention redacts it), so a held or open request never loses its question;
- support requests and emergencies: resolved, not yet redacted, not under a legal hold
  (hold_reason set); an open or acknowledged request is never touched;
- outbox: settled rows (sent, unreachable, failed, cancelled) whose text is not yet a marker,
  except those about a request that is held or not resolved. They are redacted, not deleted:
  `hotline digest status` counts a run's deliveries by status, the refused-address check and
  the digest's "last received" read settled rows, and the metrics count rows by status;
- processed update ids and audit log entries: deleted (nothing counts them).

`apply` works in batches, each its own transaction, so a long first run never holds locks for
long and a run cut short leaves finished batches done (the next run does the rest).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, delete, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.directory.audit import Actor, record
from bot.privacy.policy import DELETE, KINDS, LONG_CATEGORIES, RetentionPolicy
from bot.privacy.redaction import marker, redact_message, redact_question, redact_request
from bot.store.db import Database
from bot.store.models import (
    AuditEntry,
    HotlineRequest,
    OutboundMessage,
    OutboxStatus,
    ProcessedUpdate,
    QuestionLog,
    RequestKind,
    RequestStatus,
    RetentionRun,
)

log = logging.getLogger(__name__)

BATCH = 200
REQUEST_KINDS = ("support_requests", "emergencies_safeguarding", "emergencies")
SETTLED = (
    OutboxStatus.SENT,
    OutboxStatus.UNREACHABLE,
    OutboxStatus.FAILED,
    OutboxStatus.CANCELLED,
)
MARKED = "[removed %"  # every redaction marker starts so (redaction.marker)
SYSTEM = Actor(None, None, "system")

# One batch of work: (session, policy, now, batch size) -> how many records it did.
_Batch = Callable[[AsyncSession, RetentionPolicy, datetime, int], Awaitable[int]]


@dataclass
class Summary:
    """Per kind, how many records are (or were) due; the references of the requests."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    references: dict[str, list[str]] = field(
        default_factory=lambda: {kind: [] for kind in REQUEST_KINDS}
    )

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def to_json(self) -> str:
        """Counts only: what the run row and the audit log keep (no references, no text)."""
        return json.dumps(self.counts, sort_keys=True)


# --- What is due ---------------------------------------------------------------------------------


def _question_due(policy: RetentionPolicy, now: datetime) -> ColumnElement[bool]:
    pending_request = exists().where(
        HotlineRequest.question_id == QuestionLog.id, HotlineRequest.redacted_at.is_(None)
    )
    return and_(
        QuestionLog.created_at < policy.cutoff("questions", now),
        QuestionLog.redacted_at.is_(None),
        ~pending_request,
    )


def _request_due(kind: str, policy: RetentionPolicy, now: datetime) -> ColumnElement[bool]:
    if kind == "support_requests":
        which = HotlineRequest.kind == RequestKind.SUPPORT
    elif kind == "emergencies_safeguarding":
        which = and_(
            HotlineRequest.kind == RequestKind.EMERGENCY,
            HotlineRequest.category.in_(LONG_CATEGORIES),
        )
    else:
        which = and_(
            HotlineRequest.kind == RequestKind.EMERGENCY,
            or_(HotlineRequest.category.is_(None), HotlineRequest.category.not_in(LONG_CATEGORIES)),
        )
    return and_(
        which,
        HotlineRequest.status == RequestStatus.RESOLVED,
        HotlineRequest.resolved_at < policy.cutoff(kind, now),
        HotlineRequest.redacted_at.is_(None),
        HotlineRequest.hold_reason.is_(None),
    )


def _outbox_due(policy: RetentionPolicy, now: datetime) -> ColumnElement[bool]:
    untouchable = exists().where(
        HotlineRequest.id == OutboundMessage.request_id,
        or_(
            HotlineRequest.hold_reason.is_not(None),
            HotlineRequest.status != RequestStatus.RESOLVED,
        ),
    )
    return and_(
        OutboundMessage.status.in_(SETTLED),
        func.coalesce(OutboundMessage.sent_at, OutboundMessage.created_at)
        < policy.cutoff("outbox", now),
        ~OutboundMessage.text.like(MARKED),
        ~untouchable,
    )


async def _count(session: AsyncSession, query: Select[int]) -> int:
    return int(await session.scalar(query) or 0)


async def _references(session: AsyncSession, due: ColumnElement[bool]) -> list[str]:
    rows = await session.execute(
        select(HotlineRequest.id, HotlineRequest.reference).where(due).order_by(HotlineRequest.id)
    )
    return [reference or f"#{request_id}" for request_id, reference in rows.all()]


async def plan(session: AsyncSession, policy: RetentionPolicy, now: datetime) -> Summary:
    """What `apply` would redact or delete at `now`; changes nothing."""
    due = Summary()
    due.counts["questions"] = await _count(
        session, select(func.count(QuestionLog.id)).where(_question_due(policy, now))
    )
    for kind in REQUEST_KINDS:
        due.references[kind] = await _references(session, _request_due(kind, policy, now))
        due.counts[kind] = len(due.references[kind])
    due.counts["outbox"] = await _count(
        session, select(func.count(OutboundMessage.id)).where(_outbox_due(policy, now))
    )
    due.counts["processed_updates"] = await _count(
        session,
        select(func.count()).where(
            ProcessedUpdate.received_at < policy.cutoff("processed_updates", now)
        ),
    )
    due.counts["audit_log"] = await _count(
        session,
        select(func.count(AuditEntry.id)).where(AuditEntry.at < policy.cutoff("audit_log", now)),
    )
    return due


# --- Doing it ------------------------------------------------------------------------------------


async def _questions_batch(
    session: AsyncSession, policy: RetentionPolicy, now: datetime, batch: int
) -> int:
    rows = (
        await session.scalars(
            select(QuestionLog)
            .where(_question_due(policy, now))
            .order_by(QuestionLog.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    ).all()
    text = marker(now.date())
    for question in rows:
        redact_question(question, text, now)
    return len(rows)


async def _requests_batch(
    session: AsyncSession, kind: str, policy: RetentionPolicy, now: datetime, batch: int
) -> list[str]:
    rows = (
        await session.scalars(
            select(HotlineRequest)
            .where(_request_due(kind, policy, now))
            .order_by(HotlineRequest.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    ).all()
    text = marker(now.date())
    for request in rows:
        await redact_request(session, request, text, now)
    return [r.reference or f"#{r.id}" for r in rows]


async def _outbox_batch(
    session: AsyncSession, policy: RetentionPolicy, now: datetime, batch: int
) -> int:
    rows = (
        await session.scalars(
            select(OutboundMessage)
            .where(_outbox_due(policy, now))
            .order_by(OutboundMessage.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    ).all()
    text = marker(now.date())
    for message in rows:
        redact_message(message, text)
    return len(rows)


async def _audit_batch(
    session: AsyncSession, policy: RetentionPolicy, now: datetime, batch: int
) -> int:
    ids = (
        select(AuditEntry.id)
        .where(AuditEntry.at < policy.cutoff("audit_log", now))
        .order_by(AuditEntry.id)
        .limit(batch)
    )
    chosen = list((await session.scalars(ids)).all())
    if chosen:
        await session.execute(delete(AuditEntry).where(AuditEntry.id.in_(chosen)))
    return len(chosen)


async def forget_processed_updates(
    session: AsyncSession, policy: RetentionPolicy, now: datetime
) -> int:
    """Delete the platform update ids older than the policy's days: the one clean-up of
    processed_updates (hourly from bot/background.py, and in every retention run)."""
    assert policy["processed_updates"].action == DELETE
    result = await session.execute(
        delete(ProcessedUpdate).where(
            ProcessedUpdate.received_at < policy.cutoff("processed_updates", now)
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def apply(
    db: Database, policy: RetentionPolicy, now: datetime, *, batch: int = BATCH
) -> Summary:
    """Redact and delete what is due at `now`, `batch` records per transaction; returns what
    was done."""
    done = Summary()

    async def repeat(kind: str, one: _Batch) -> None:
        while True:
            async with db.session() as session:
                n = await one(session, policy, now, batch)
            done.counts[kind] += n
            if n < batch:
                return

    # In the order `plan` counts them: a request's own redaction also marks its question and
    # its messages, so those are counted (and done) first under their own kinds.
    await repeat("questions", _questions_batch)
    await repeat("outbox", _outbox_batch)
    for kind in REQUEST_KINDS:
        while True:
            async with db.session() as session:
                references = await _requests_batch(session, kind, policy, now, batch)
            done.references[kind] += references
            done.counts[kind] += len(references)
            if len(references) < batch:
                break
    async with db.session() as session:
        done.counts["processed_updates"] = await forget_processed_updates(session, policy, now)
    await repeat("audit_log", _audit_batch)
    return done


# --- The nightly run -----------------------------------------------------------------------------


async def claim(db: Database, day: date, now: datetime) -> bool:
    """Insert the day's run row; False when another process already has it (the unique day)."""
    try:
        async with db.session() as session:
            session.add(RetentionRun(day=day, started_at=now))
    except IntegrityError:
        return False
    return True


async def run_for_day(
    db: Database, policy: RetentionPolicy, now: datetime, tz: ZoneInfo
) -> Summary | None:
    """The nightly run: claim today's row (the partnership's date), apply the policy, record
    the counts and the time finished, and audit it. None when another process has the day."""
    day = now.astimezone(tz).date()
    if not await claim(db, day, now):
        log.info("retention run for %s already claimed by another process: skipped", day)
        return None
    done = await apply(db, policy, now)
    async with db.session() as session:
        run = await session.scalar(select(RetentionRun).where(RetentionRun.day == day))
        assert run is not None
        run.summary, run.finished_at = done.to_json(), now
        record(session, SYSTEM, "retention", day.isoformat(), detail=done.to_json(), at=now)
    log.info("retention run for %s done: %s", day, done.to_json())
    return done
