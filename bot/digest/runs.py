"""Digest runs: one row per (kind, week), so a second process, or a restarted one, finds the
run instead of starting another; it resumes it.

Preparing a run composes each subscriber's digest and queues it in the outbox, a batch of people
per transaction. Each batch locks the run row (FOR UPDATE on PostgreSQL; SQLite serialises
writers anyway) and advances `prepared_through`, so two preparers never do the same batch and a
killed one leaves the run exactly where its last commit put it. A delivery is an outbound row
with dedupe key `digest:<run id>:<person id>`, inserted with ON CONFLICT DO NOTHING: whatever
races, a person has one delivery per run. Sending is the outbox's job (claims with SKIP LOCKED,
retries, 429 and 403 handling), and a row is marked sent only when the platform accepted it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.core.errors import UserFacingError
from bot.core.types import Reply
from bot.delivery.outbox import Outgoing, enqueue_many
from bot.digest import schedule
from bot.digest.channels import EMAIL, email_channel, route, unreachable_addresses
from bot.digest.compose import Recipient, Style, WeekContent, member_digest, staff_digest
from bot.digest.email_message import (
    Addressed,
    EmailSetup,
    as_text,
    member_email,
    staff_email,
)
from bot.digest.faq_changes import sync_knowledge_base
from bot.digest.gather import (
    STAFF_PERIOD,
    Channel,
    channels_of,
    last_received,
    recipient,
    staff_week,
    week_content,
)
from bot.digest.subscriptions import DELIVERY_PREFIX, delivery_key
from bot.knowledge import KnowledgeBase
from bot.store.db import Database
from bot.store.models import (
    DigestKind,
    DigestRun,
    DigestRunStatus,
    OutboundMessage,
    OutboxStatus,
    Person,
    Role,
)

log = logging.getLogger(__name__)

BATCH = 500
RECENT_RUNS = timedelta(days=14)  # unfinished runs older than this are left alone


@dataclass(frozen=True)
class DigestConfig:
    tz: ZoneInfo
    hotline_phone: str
    cron: CronTrigger
    grace: timedelta
    events_days: int = 21
    send_empty: bool = False
    # Composing digest emails (email_message.email_setup); None: nobody gets it by email and
    # people with no chat account count as "no channel", as before email existed.
    email: EmailSetup | None = None

    @property
    def style(self) -> Style:
        return Style(self.tz, self.hotline_phone, self.events_days, self.send_empty)

    def scheduled(self, week: date) -> datetime:
        return schedule.scheduled_time(week, self.cron, self.tz)


def as_of_for(config: DigestConfig, week: date, now: datetime) -> datetime:
    """What a run of `week` composes for: its scheduled time, or now when sent early by hand.
    Content then depends on the week alone, so a resumed run says what the first attempt said."""
    return min(config.scheduled(week), now)


@dataclass(frozen=True)
class RunCounts:
    run_id: int
    kind: DigestKind
    week: date
    status: DigestRunStatus
    queued: int
    sent: int
    waiting: int  # pending or being sent
    failed: int
    unreachable: int
    cancelled: int
    nothing_new: int
    no_channel: int
    started_at: datetime
    finished_at: datetime | None
    emailed: int = 0  # of `queued`, those sent (or to be sent) by email

    @property
    def settled(self) -> bool:
        return self.status is not DigestRunStatus.PREPARING and self.waiting == 0


def _audience_filter(kind: DigestKind) -> ColumnElement[bool]:
    if kind is DigestKind.MEMBER:
        return Person.role == Role.MEMBER
    return Person.role.in_([Role.STAFF, Role.ADMIN])


async def start_or_resume(
    db: Database, kind: DigestKind, week: date, as_of: datetime, now: datetime
) -> DigestRun:
    """The run of this kind and week: the existing one, or a new one (the unique constraint
    decides between two processes starting it at the same moment)."""
    async with db.session() as session:
        run = await _find(session, kind, week)
        if run is not None:
            return run
        run = DigestRun(
            kind=kind,
            week=week,
            status=DigestRunStatus.PREPARING,
            as_of=as_of,
            prepared_through=0,
            queued=0,
            nothing_new=0,
            no_channel=0,
            started_at=now,
        )
        try:
            async with session.begin_nested():
                session.add(run)
                await session.flush()
        except IntegrityError:
            found = await _find(session, kind, week)
            assert found is not None
            return found
        log.info("digest run started id=%s kind=%s week=%s", run.id, kind, week)
        return run


async def _find(session: AsyncSession, kind: DigestKind, week: date) -> DigestRun | None:
    run: DigestRun | None = await session.scalar(
        select(DigestRun).where(DigestRun.kind == kind, DigestRun.week == week)
    )
    return run


def addressed(run: DigestRun, person: Person, channel: Channel) -> Addressed:
    """The email of this run to this person: its Message-ID and Date are the run's own, so a
    resumed run composes the very same message."""
    return Addressed(person.id, channel.chat_id, f"digest.{run.id}.{person.id}", run.as_of)


def compose_for(
    run: DigestRun,
    person: Person,
    channel: Channel | None,
    content: WeekContent | Reply | None,
    recipient_of: Recipient | None,
    config: DigestConfig,
) -> Reply | None:
    """One person's digest for the channel it goes by: chat text, or the whole email."""
    setup = config.email if channel is not None and channel.channel == EMAIL else None
    if isinstance(content, WeekContent):
        assert recipient_of is not None
        if setup is None or channel is None:
            return member_digest(content, recipient_of, config.style)
        to = addressed(run, person, channel)
        composed = member_email(content, recipient_of, config.style, setup, to)
        return None if composed is None else Reply(as_text(composed))
    if content is None or setup is None or channel is None:
        return content
    to = addressed(run, person, channel)
    return Reply(as_text(staff_email(content, config.style, setup, to)))


async def _compose_batch(
    session: AsyncSession,
    run: DigestRun,
    people: Sequence[Person],
    content: WeekContent | Reply | None,
    config: DigestConfig,
    routes: dict[int, Channel | None],
) -> dict[int, Reply | None]:
    last: dict[int, datetime] = {}
    if run.kind is DigestKind.MEMBER:
        last = await last_received(session, [p.id for p in people], run.as_of)
    return {
        p.id: compose_for(
            run,
            p,
            routes[p.id],
            content,
            recipient(p, run.as_of, last.get(p.id)) if run.kind is DigestKind.MEMBER else None,
            config,
        )
        for p in people
    }


async def routes_of(
    session: AsyncSession, people: Sequence[Person], config: DigestConfig
) -> dict[int, Channel | None]:
    """Where each person's digest goes (bot/digest/channels.py): their chat account or their
    email address, by their choice; email only when it is set up and the address was not
    refused for good."""
    chats = await channels_of(session, [p.id for p in people])
    emails: dict[int, Channel] = {}
    if config.email is not None:
        candidates = {p.id: c for p in people if (c := email_channel(p)) is not None}
        refused = await unreachable_addresses(session, (c.chat_id for c in candidates.values()))
        emails = {k: c for k, c in candidates.items() if c.chat_id not in refused}
    return {p.id: route(p, chats.get(p.id), emails.get(p.id)) for p in people}


async def prepare_batch(
    db: Database,
    run_id: int,
    content: WeekContent | Reply | None,
    config: DigestConfig,
    now: datetime,
    batch: int = BATCH,
) -> bool:
    """Queue the next batch of subscribers' deliveries; False when preparation is complete."""
    async with db.session() as session:
        stmt = select(DigestRun).where(DigestRun.id == run_id)
        if not db.is_sqlite:
            stmt = stmt.with_for_update()
        run = await session.scalar(stmt)
        if run is None or run.status is not DigestRunStatus.PREPARING:
            return False
        people_stmt = (
            select(Person)
            .where(
                Person.id > run.prepared_through,
                Person.active.is_(True),
                Person.digest_subscribed.is_(True),
                _audience_filter(run.kind),
            )
            .options(selectinload(Person.school))
            .order_by(Person.id)
            .limit(batch)
        )
        if not db.is_sqlite:
            # An unsubscribe in flight either commits first (and this re-reads the flag) or
            # waits for this batch and then cancels what it queued (subscriptions.py).
            people_stmt = people_stmt.with_for_update(read=True, of=Person)
        people = list(await session.scalars(people_stmt))
        if not people:
            run.status, run.prepared_at = DigestRunStatus.SENDING, now
            log.info("digest run prepared id=%s queued=%s", run.id, run.queued)
            return False
        routes = await routes_of(session, people, config)
        digests = await _compose_batch(session, run, people, content, config, routes)
        rows = []
        for person in people:
            reply = digests[person.id]
            channel = routes[person.id]
            if reply is None:
                run.nothing_new += 1
            elif channel is None:
                run.no_channel += 1
            else:
                rows.append(_outgoing(run.id, person.id, channel, reply))
        if rows:
            await enqueue_many(session, rows, now)
            run.queued += len(rows)
        run.prepared_through = people[-1].id
        return True


def _outgoing(run_id: int, person_id: int, channel: Channel, reply: Reply) -> Outgoing:
    return Outgoing(
        key=delivery_key(run_id, person_id),
        channel=channel.channel,
        chat_id=channel.chat_id,
        reply=reply,
        person_id=person_id,
        identity_id=channel.identity_id,
    )


async def shared_content(
    db: Database, kb: KnowledgeBase, run: DigestRun, config: DigestConfig
) -> WeekContent | Reply | None:
    """Read once per run: the week's content for members, or the one staff digest."""
    async with db.session() as session:
        if run.kind is DigestKind.MEMBER:
            return await week_content(session, kb, run.as_of, config.tz, config.events_days)
        week = await staff_week(session, kb, run.as_of - STAFF_PERIOD, run.as_of)
    return staff_digest(week, config.style)


async def prepare(
    db: Database,
    kb: KnowledgeBase,
    config: DigestConfig,
    kind: DigestKind,
    week: date,
    now: datetime,
    batch: int = BATCH,
) -> DigestRun:
    """Start (or resume) the run of this kind and week and queue every delivery."""
    if kind is DigestKind.MEMBER:
        await sync_knowledge_base(db, kb)
    run = await start_or_resume(db, kind, week, as_of_for(config, week, now), now)
    if run.status is DigestRunStatus.PREPARING:
        content = await shared_content(db, kb, run, config)
        while await prepare_batch(db, run.id, content, config, now, batch):
            pass
    return run


def _run_keys(run_id: int) -> ColumnElement[bool]:
    return OutboundMessage.dedupe_key.like(f"{DELIVERY_PREFIX}{run_id}:%")


async def counts(db: Database, run: DigestRun) -> RunCounts:
    async with db.session() as session:
        fresh = await session.get(DigestRun, run.id)
        assert fresh is not None
        by_status = dict(
            (
                await session.execute(
                    select(OutboundMessage.status, func.count())
                    .where(_run_keys(run.id))
                    .group_by(OutboundMessage.status)
                )
            ).all()
        )
        emailed = await session.scalar(
            select(func.count())
            .select_from(OutboundMessage)
            .where(_run_keys(run.id), OutboundMessage.channel == EMAIL)
        )
    return _counts(fresh, {OutboxStatus(k): int(v) for k, v in by_status.items()}, emailed or 0)


def _counts(run: DigestRun, by_status: dict[OutboxStatus, int], emailed: int = 0) -> RunCounts:
    return RunCounts(
        run_id=run.id,
        kind=run.kind,
        week=run.week,
        status=run.status,
        queued=run.queued,
        sent=by_status.get(OutboxStatus.SENT, 0),
        waiting=by_status.get(OutboxStatus.PENDING, 0) + by_status.get(OutboxStatus.SENDING, 0),
        failed=by_status.get(OutboxStatus.FAILED, 0),
        unreachable=by_status.get(OutboxStatus.UNREACHABLE, 0),
        cancelled=by_status.get(OutboxStatus.CANCELLED, 0),
        nothing_new=run.nothing_new,
        no_channel=run.no_channel,
        started_at=run.started_at,
        finished_at=run.finished_at,
        emailed=emailed,
    )


async def finish_if_settled(db: Database, run_id: int, now: datetime) -> bool:
    """Mark a fully prepared run done once none of its deliveries is waiting."""
    async with db.session() as session:
        run = await session.get(DigestRun, run_id)
        if run is None or run.status is not DigestRunStatus.SENDING:
            return run is not None and run.status is DigestRunStatus.DONE
        waiting = await session.scalar(
            select(func.count())
            .select_from(OutboundMessage)
            .where(
                _run_keys(run_id),
                OutboundMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]),
            )
        )
        if waiting:
            return False
        run.status, run.finished_at = DigestRunStatus.DONE, now
        log.info("digest run done id=%s", run_id)
        return True


async def unfinished(db: Database, now: datetime) -> list[DigestRun]:
    async with db.session() as session:
        rows = await session.scalars(
            select(DigestRun)
            .where(
                DigestRun.status != DigestRunStatus.DONE,
                DigestRun.started_at > now - RECENT_RUNS,
            )
            .order_by(DigestRun.id)
        )
        return list(rows)


async def recent(db: Database, limit: int = 10) -> list[RunCounts]:
    async with db.session() as session:
        runs = list(
            await session.scalars(
                select(DigestRun).order_by(DigestRun.week.desc(), DigestRun.kind).limit(limit)
            )
        )
    return [await counts(db, run) for run in runs]


async def status(db: Database, now: datetime, limit: int = 10) -> list[RunCounts]:
    """`hotline digest status` and the console: unfinished runs that have settled are marked
    done first, then the latest runs with their counts."""
    for run in await unfinished(db, now):
        await finish_if_settled(db, run.id, now)
    return await recent(db, limit)


async def run_for(db: Database, kind: DigestKind, week: date) -> DigestRun | None:
    async with db.session() as session:
        return await _find(session, kind, week)


def check_week_started(config: DigestConfig, week: date, now: datetime) -> None:
    start = datetime.combine(week, datetime.min.time(), tzinfo=config.tz)
    if start > now:
        raise UserFacingError(
            f"the week of {week:%d %b %Y} has not started yet; "
            "see what it would say with `hotline digest preview --as EMAIL --week DATE`"
        )


async def unreachable_people(db: Database, run_id: int, limit: int = 20) -> list[tuple[str, str]]:
    """(email, channel) of the people a run could not reach (the platform said 403, or the
    mail server refused the address for good: a 5xx such as 550 no such user)."""
    async with db.session() as session:
        rows = await session.execute(
            select(Person.email, OutboundMessage.channel)
            .join(Person, Person.id == OutboundMessage.person_id)
            .where(_run_keys(run_id), OutboundMessage.status == OutboxStatus.UNREACHABLE)
            .order_by(Person.email)
            .limit(limit)
        )
        return [(email, channel) for email, channel in rows.all()]
