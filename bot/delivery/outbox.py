"""The outbox: every message to someone other than the sender is a row first, sent after commit.

Delivery claims due rows with a lease (status `sending`, `next_attempt_at` = lease expiry), on
PostgreSQL with FOR UPDATE SKIP LOCKED so several processes never claim the same row, then sends
outside any transaction and settles the row: sent, retry with backoff (honouring the platform's
retry_after), or unreachable (final). The lease is short and renewed while the process holds the
rows, so rows a killed process held are free again within seconds; messages about a request
(pings) are claimed before the rest. Delivery is at least once, and exactly once unless a crash
falls between the platform accepting a message and the row being marked sent; at most the sends
in flight then (CONCURRENCY) can go twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.errors import StoreUnavailableError
from bot.core.ports import RetryLater, Sender, SendResult, Sent, Unreachable
from bot.core.types import Button, Reply
from bot.store.db import Database
from bot.store.models import Identity, OutboundMessage, OutboxStatus, utcnow
from bot.store.timeline import add_event

log = logging.getLogger(__name__)

# A killed sender's rows are due again at most LEASE after its last renewal: with the sender
# loop's 1 s poll and a restart, a ping it held goes out within 5 s of the restart. Renewed every
# second while held, so a slow send keeps its row through two missed renewals.
LEASE = timedelta(seconds=3)
RENEW_EVERY_S = LEASE.total_seconds() / 3
# Sends in flight at once (to different chats); also the most a crash can repeat, since a send
# holds its slot until the platform's acceptance is recorded.
CONCURRENCY = 16
# Set in a session's `info` when a row was queued, so the caller wakes the sender after commit
# (and only then: most messages queue nothing).
QUEUED = "outbox_queued"
MAX_ATTEMPTS = 10
MAX_BACKOFF_S = 300.0


@dataclass(frozen=True)
class Outgoing:
    """A message to queue: who gets it, what it says, and its dedupe key. With `edit_ref` (the
    platform's id of a message sent earlier to this chat) the row replaces that message in
    place instead of sending a new one."""

    key: str
    channel: str
    chat_id: str
    reply: Reply
    person_id: int | None = None
    identity_id: int | None = None
    request_id: int | None = None
    edit_ref: str | None = None

    def row(self, now: datetime) -> dict[str, object]:
        """The pending outbox row's columns."""
        return {
            "dedupe_key": self.key[:120],
            "channel": self.channel,
            "chat_id": self.chat_id,
            "person_id": self.person_id,
            "identity_id": self.identity_id,
            "request_id": self.request_id,
            "text": self.reply.text,
            "buttons": json.dumps([[b.label, b.action] for b in self.reply.buttons]),
            "status": OutboxStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "edit_ref": self.edit_ref,
        }


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
    edit_ref: str | None = None,
) -> bool:
    """Add a message unless one with the same dedupe key exists; True when added (see
    `Outgoing` for the fields)."""
    item = Outgoing(key, channel, chat_id, reply, person_id, identity_id, request_id, edit_ref)
    row = OutboundMessage(**item.row(now or utcnow()))
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        return False
    session.info[QUEUED] = True
    return True


async def enqueue_many(session: AsyncSession, items: Sequence[Outgoing], now: datetime) -> None:
    """Add many messages in one statement, skipping any whose dedupe key exists already (a
    resumed digest run queues the same deliveries again; each is sent once)."""
    if not items:
        return
    rows = [item.row(now) | {"created_at": now} for item in items]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    await session.execute(
        dialect.insert(OutboundMessage)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
    )
    session.info[QUEUED] = True


@dataclass(frozen=True)
class Claimed:
    id: int
    channel: str
    chat_id: str
    reply: Reply
    attempts: int
    request_id: int | None
    identity_id: int | None
    edit_ref: str | None = None


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
    # Pings and replies about a request first: a digest backlog never delays an emergency.
    stmt = stmt.order_by(
        OutboundMessage.request_id.is_(None), OutboundMessage.next_attempt_at, OutboundMessage.id
    ).limit(limit)
    if not db.is_sqlite:
        stmt = stmt.with_for_update(skip_locked=True)
    async with db.session() as session:
        rows = list(await session.scalars(stmt))
        for row in rows:
            row.status = OutboxStatus.SENDING
            row.attempts += 1
            row.next_attempt_at = now + LEASE
        return [
            Claimed(
                r.id,
                r.channel,
                r.chat_id,
                _reply(r),
                r.attempts,
                r.request_id,
                r.identity_id,
                r.edit_ref,
            )
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
                log.info(
                    "send unreachable message=%s channel=%s reason=%s", row.id, row.channel, error
                )
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
                if row.status is OutboxStatus.CANCELLED:
                    return  # cancelled while in flight (an unsubscribe): not to be retried
                if row.attempts >= MAX_ATTEMPTS:
                    row.status = OutboxStatus.FAILED
                    log.info(
                        "send given up message=%s channel=%s attempt=%d reason=%s",
                        row.id,
                        row.channel,
                        row.attempts,
                        error,
                    )
                else:
                    row.status = OutboxStatus.PENDING
                    wait = (
                        timedelta(seconds=after_s) if after_s is not None else backoff(row.attempts)
                    )
                    row.next_attempt_at = now + wait
                    log.info(
                        "send retried later message=%s channel=%s attempt=%d reason=%s delay=%.1fs",
                        row.id,
                        row.channel,
                        row.attempts,
                        error,
                        wait.total_seconds(),
                    )
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


async def _send(sender: Sender, item: Claimed) -> SendResult:
    try:
        if item.edit_ref is not None:
            return await sender.edit(item.chat_id, item.edit_ref, item.reply)
        return await sender.send(item.chat_id, item.reply)
    except Exception as exc:  # a sender bug must not stop delivery of the rest
        log.exception("sender failed message=%s channel=%s", item.id, item.channel)
        return RetryLater(f"{type(exc).__name__}")


class _Recorder:
    """Accepted sends are recorded by group commit: a send that the platform accepted waits until
    its row is marked sent; whoever writes takes every row waiting then, in one UPDATE by primary
    key, and sends accepted meanwhile go in the next. So a crash can repeat only the sends
    accepted but not yet written, never more than the sends in flight at once (the delivery's
    concurrency), while a fan-out still writes many rows per transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.rows: list[dict[str, object]] = []
        self._writing = asyncio.Lock()

    async def sent(self, item: Claimed, ref: str | None, now: datetime) -> None:
        self.rows.append(
            {
                "id": item.id,
                "status": OutboxStatus.SENT,
                "sent_at": now,
                "sent_ref": ref,
                "last_error": None,
            }
        )
        await self.flush()

    async def flush(self) -> None:
        async with self._writing:
            rows, self.rows = self.rows, []
            if rows:
                async with self.db.session() as session:
                    await session.execute(update(OutboundMessage), rows)


async def _deliver_chat(
    db: Database,
    senders: Mapping[str, Sender],
    items: Sequence[Claimed],
    clock: Callable[[], datetime],
    gate: asyncio.Semaphore,
    recorder: _Recorder,
) -> int:
    """One chat's messages in order; a failure holds back the rest of that chat's batch."""
    accepted = 0
    for n, item in enumerate(items):
        async with gate:  # held until an accepted send is recorded: at most `gate` unrecorded
            result = await _send(senders[item.channel], item)
            if isinstance(result, Sent):
                await recorder.sent(item, result.ref, clock())
        if isinstance(result, Sent):
            accepted += 1
            continue
        await settle(db, item, result, clock())
        await _hold_behind(db, item, items[n + 1 :], clock())
        break
    return accepted


async def _hold_behind(
    db: Database, failed: Claimed, later: Sequence[Claimed], now: datetime
) -> None:
    """Keep a chat's order: its later messages go back unattempted, due with the failed one's
    retry (ids break the tie, so the failed one goes first)."""
    if not later:
        return
    async with db.session() as session:
        row = await session.get(OutboundMessage, failed.id)
        due = row.next_attempt_at if row and row.status is OutboxStatus.PENDING else now
        for item in later:
            held = await session.get(OutboundMessage, item.id)
            if held is not None and held.status is OutboxStatus.SENDING:
                held.status, held.attempts, held.next_attempt_at = (
                    OutboxStatus.PENDING,
                    held.attempts - 1,
                    due,
                )


async def deliver_due(
    db: Database,
    senders: Mapping[str, Sender],
    clock: Callable[[], datetime] = utcnow,
    chat_ids: Collection[str] | None = None,
    batch: int = 100,
    max_batches: int = 20,
    concurrency: int = CONCURRENCY,
    renew_every_s: float = RENEW_EVERY_S,
) -> int:
    """Send what is due on the given channels, batch after batch while batches come back full;
    returns how many a platform accepted.

    Different chats are sent to concurrently (the senders' throttles keep the platform limits);
    one chat's messages go in order."""
    accepted = 0
    gate = asyncio.Semaphore(concurrency)
    for _ in range(max_batches):
        claimed = await claim_due(db, clock(), senders.keys(), chat_ids, batch)
        chats: dict[tuple[str, str], list[Claimed]] = defaultdict(list)
        for item in claimed:
            chats[item.channel, item.chat_id].append(item)
        recorder = _Recorder(db)
        renewing = asyncio.create_task(_renew(db, [c.id for c in claimed], clock, renew_every_s))
        try:
            results = await asyncio.gather(
                *(
                    _deliver_chat(db, senders, items, clock, gate, recorder)
                    for items in chats.values()
                )
            )
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            await recorder.flush()
        accepted += sum(results)
        if len(claimed) < batch:
            break
    return accepted


async def _renew(
    db: Database, ids: Sequence[int], clock: Callable[[], datetime], every_s: float
) -> None:
    """Extend the lease of the rows this process still holds, every `every_s` (a third of a
    lease), until cancelled: while it lives they are its own; once it dies they are due within
    a lease."""
    while ids:
        await asyncio.sleep(every_s)
        try:
            async with db.session() as session:
                await session.execute(
                    update(OutboundMessage)
                    .where(
                        OutboundMessage.id.in_(list(ids)),
                        OutboundMessage.status == OutboxStatus.SENDING,
                    )
                    .values(next_attempt_at=clock() + LEASE)
                )
        except (SQLAlchemyError, OSError, StoreUnavailableError):
            log.warning("lease not renewed (it may run out and the rows go again)", exc_info=True)


async def queue_reply(db: Database, channel: str, chat_id: str, reply: Reply, key: str) -> None:
    """A reply the platform refused for now (429, 5xx, a timeout): queued, so it is retried."""
    async with db.session() as session:
        await enqueue(session, key=key, channel=channel, chat_id=chat_id, reply=reply)
