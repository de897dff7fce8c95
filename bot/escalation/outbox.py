"""The outbox: every message to someone other than the sender is a row first, sent after commit.

Delivery claims due rows with a lease (status `sending`, `next_attempt_at` = lease expiry), on
PostgreSQL with FOR UPDATE SKIP LOCKED so several processes never claim the same row, then sends
outside any transaction and settles the row: sent, retry with backoff (honouring the platform's
retry_after), or unreachable (final). A process that dies mid-send leaves a lease that expires,
so the row is sent again: delivery is at least once, and exactly once unless a crash falls
between the platform accepting a message and the row being marked sent.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.ports import RetryLater, Sender, SendResult, Sent, Unreachable
from bot.conversation.types import Button, Reply
from bot.escalation.timeline import add_event
from bot.store.db import Database
from bot.store.models import Identity, OutboundMessage, OutboxStatus, utcnow

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 10
MAX_BACKOFF_S = 300.0


async def enqueue(
    session: AsyncSession,
    *,
    key: str,
    channel: str,
    chat_id: str,
    reply: Reply,
    person_id: int | None = None,
    identity_id: int | None = None,
    request_id: int | None = None,
    now: datetime | None = None,
) -> bool:
    """Add a message unless one with the same dedupe key exists; True when added."""
    row = OutboundMessage(
        dedupe_key=key[:120],
        channel=channel,
        chat_id=chat_id,
        person_id=person_id,
        identity_id=identity_id,
        request_id=request_id,
        text=reply.text,
        buttons=json.dumps([[b.label, b.action] for b in reply.buttons]),
        status=OutboxStatus.PENDING,
        attempts=0,
        next_attempt_at=now or utcnow(),
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        return False
    return True


@dataclass(frozen=True)
class Claimed:
    id: int
    channel: str
    chat_id: str
    reply: Reply
    attempts: int
    request_id: int | None
    identity_id: int | None


def _reply(row: OutboundMessage) -> Reply:
    return Reply(
        row.text, tuple(Button(label, action) for label, action in json.loads(row.buttons))
    )


async def claim_due(
    db: Database,
    now: datetime,
    channels: Collection[str],
    chat_ids: Collection[str] | None = None,
    limit: int = 50,
) -> list[Claimed]:
    due = or_(
        and_(
            OutboundMessage.status == OutboxStatus.PENDING, OutboundMessage.next_attempt_at <= now
        ),
        and_(
            OutboundMessage.status == OutboxStatus.SENDING, OutboundMessage.next_attempt_at <= now
        ),
    )
    stmt = select(OutboundMessage).where(due, OutboundMessage.channel.in_(list(channels)))
    if chat_ids is not None:
        stmt = stmt.where(OutboundMessage.chat_id.in_(list(chat_ids)))
    stmt = stmt.order_by(OutboundMessage.next_attempt_at, OutboundMessage.id).limit(limit)
    if not db.is_sqlite:
        stmt = stmt.with_for_update(skip_locked=True)
    async with db.session() as session:
        rows = list(await session.scalars(stmt))
        for row in rows:
            row.status = OutboxStatus.SENDING
            row.attempts += 1
            row.next_attempt_at = now + LEASE
        return [
            Claimed(r.id, r.channel, r.chat_id, _reply(r), r.attempts, r.request_id, r.identity_id)
            for r in rows
        ]


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(2.0**attempts, MAX_BACKOFF_S))


async def settle(db: Database, claimed: Claimed, result: SendResult, now: datetime) -> None:
    async with db.session() as session:
        row = await session.get(OutboundMessage, claimed.id)
        if row is None:
            return
        match result:
            case Sent(ref):
                row.status, row.sent_at, row.sent_ref, row.last_error = (
                    OutboxStatus.SENT,
                    now,
                    ref,
                    None,
                )
            case Unreachable(error):
                row.status, row.last_error = OutboxStatus.UNREACHABLE, error[:300]
                if claimed.identity_id is not None:
                    identity = await session.get(Identity, claimed.identity_id)
                    if identity is not None:
                        identity.reachable = False
                if row.request_id is not None:
                    add_event(
                        session,
                        row.request_id,
                        "send_unreachable",
                        f"{row.channel}:{row.chat_id}: {error}",
                        row.person_id,
                        now,
                    )
            case RetryLater(error, after_s):
                row.last_error = error[:300]
                if row.attempts >= MAX_ATTEMPTS:
                    row.status = OutboxStatus.FAILED
                else:
                    row.status = OutboxStatus.PENDING
                    wait = (
                        timedelta(seconds=after_s) if after_s is not None else backoff(row.attempts)
                    )
                    row.next_attempt_at = now + wait
                if row.request_id is not None:
                    outcome = (
                        "gave up"
                        if row.status is OutboxStatus.FAILED
                        else f"retry at {row.next_attempt_at:%H:%M:%S}"
                    )
                    add_event(
                        session,
                        row.request_id,
                        "send_failed",
                        f"{row.channel}: {error} ({outcome})",
                        row.person_id,
                        now,
                    )


async def deliver_due(
    db: Database,
    senders: Mapping[str, Sender],
    clock: Callable[[], datetime] = utcnow,
    chat_ids: Collection[str] | None = None,
    batch: int = 50,
    max_batches: int = 20,
) -> int:
    """Send what is due on the given channels, batch after batch while batches come back full;
    returns how many a platform accepted."""
    accepted = 0
    for _ in range(max_batches):
        claimed = await claim_due(db, clock(), senders.keys(), chat_ids, batch)
        for item in claimed:
            try:
                result = await senders[item.channel].send(item.chat_id, item.reply)
            except Exception as exc:  # a sender bug must not stop delivery of the rest
                log.exception("sender failed message=%s channel=%s", item.id, item.channel)
                result = RetryLater(f"{type(exc).__name__}")
            await settle(db, item, result, clock())
            accepted += isinstance(result, Sent)
        if len(claimed) < batch:
            break
    return accepted
