"""The data the pure composers need, read from the database: a run's shared content once, and
per batch of people their audience, their channel and when they last received a digest."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.core.types import Band
from bot.digest.audience import role_of
from bot.digest.compose import OpenRequestLine, Recipient, StaffWeek, WeekContent
from bot.digest.content_store import events_between, news_between
from bot.digest.faq_changes import changes_between
from bot.digest.subscriptions import DELIVERY_PREFIX
from bot.escalation.reports import report_between
from bot.knowledge import KnowledgeBase
from bot.knowledge.source import KnowledgeSource
from bot.store.models import (
    AnswerFeedback,
    DigestRun,
    HotlineRequest,
    Identity,
    OutboundMessage,
    OutboxStatus,
    Person,
    QuestionLog,
    RequestStatus,
)

# A first digest covers the week before it; someone back after months gets at most four weeks.
FIRST_DIGEST_COVERS = timedelta(days=7)
LOOKBACK = timedelta(days=28)
STAFF_PERIOD = timedelta(days=7)  # the staff digest covers the week before it
TOP_GAPS = 10
OPEN_LIST = 15


async def week_content(
    session: AsyncSession, kb: KnowledgeBase, as_of: datetime, tz: ZoneInfo, events_days: int
) -> WeekContent:
    earliest = as_of - LOOKBACK
    today = datetime.combine(as_of.astimezone(tz).date(), time(0), tzinfo=tz)
    return WeekContent(
        as_of=as_of,
        news=tuple(await news_between(session, earliest, as_of)),
        events=tuple(
            await events_between(session, today, as_of + timedelta(days=events_days), as_of)
        ),
        faq=await changes_between(session, kb, earliest, as_of),
    )


@dataclass(frozen=True, slots=True)
class Channel:
    identity_id: int | None  # None for email (the address is the directory's)
    channel: str
    chat_id: str


async def channels_of(session: AsyncSession, person_ids: Sequence[int]) -> dict[int, Channel]:
    """Each person's most recently linked reachable chat account."""
    rows = await session.scalars(
        select(Identity)
        .where(Identity.person_id.in_(list(person_ids)), Identity.reachable.is_(True))
        .order_by(Identity.created_at, Identity.id)
    )
    found: dict[int, Channel] = {}
    for identity in rows:  # later rows win
        found[identity.person_id] = Channel(
            identity.id, identity.channel, identity.chat_id or identity.external_id
        )
    return found


def run_id_of(key: str) -> int | None:
    match = re.match(rf"^{DELIVERY_PREFIX}(\d+):\d+$", key)
    return int(match[1]) if match else None


async def last_received(
    session: AsyncSession, person_ids: Sequence[int], before: datetime
) -> dict[int, datetime]:
    """When the last digest each person received was composed (its run's as_of), for runs
    composed before `before`. The delivery's dedupe key names its run."""
    rows = (
        await session.execute(
            select(OutboundMessage.person_id, OutboundMessage.dedupe_key).where(
                OutboundMessage.person_id.in_(list(person_ids)),
                OutboundMessage.dedupe_key.like(f"{DELIVERY_PREFIX}%"),
                OutboundMessage.status == OutboxStatus.SENT,
                OutboundMessage.created_at > before - LOOKBACK - timedelta(days=7),
            )
        )
    ).all()
    run_ids = {r for _, key in rows if (r := run_id_of(key)) is not None}
    as_of: dict[int, datetime] = {}
    if run_ids:
        runs = await session.execute(
            select(DigestRun.id, DigestRun.as_of).where(DigestRun.id.in_(run_ids))
        )
        as_of = {int(run_id): moment for run_id, moment in runs.all()}
    latest: dict[int, datetime] = {}
    for person_id, key in rows:
        moment = as_of.get(run_id_of(key) or 0)
        if person_id is None or moment is None or moment >= before:
            continue
        if person_id not in latest or moment > latest[person_id]:
            latest[person_id] = moment
    return latest


def recipient(person: Person, as_of: datetime, last: datetime | None) -> Recipient:
    floor = as_of - LOOKBACK
    since = last if last is not None else as_of - FIRST_DIGEST_COVERS
    return Recipient(
        name=person.name,
        phase=person.school.phase if person.school else None,
        role=role_of(person.job_title),
        since=max(since, floor),
    )


def _question_key(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


async def staff_week(
    session: AsyncSession, kb: KnowledgeSource, start: datetime, end: datetime
) -> StaffWeek:
    """The team's figures for [start, end): requests, response times, what is still open, the
    questions the FAQ could not answer and the answers marked not helpful."""
    report, _ = await report_between(session, start, end)
    open_rows = await session.scalars(
        select(HotlineRequest)
        .where(HotlineRequest.status != RequestStatus.RESOLVED, HotlineRequest.created_at < end)
        .options(selectinload(HotlineRequest.school), selectinload(HotlineRequest.acknowledged_by))
        .order_by(HotlineRequest.created_at)
        .limit(OPEN_LIST * 4)
    )
    open_requests = tuple(
        OpenRequestLine(
            reference=r.reference or f"#{r.id}",
            kind=r.kind.value,
            category=r.category,
            school=r.school.name if r.school else None,
            opened_at=r.created_at,
            level=r.level,
            owner=r.acknowledged_by.name if r.acknowledged_by else None,
        )
        for r in open_rows
    )
    unknown = await session.scalars(
        select(QuestionLog.text).where(
            QuestionLog.band == Band.UNKNOWN,
            QuestionLog.created_at >= start,
            QuestionLog.created_at < end,
        )
    )
    counts: Counter[str] = Counter()
    first_text: dict[str, str] = {}
    for text in unknown:
        key = _question_key(text)
        if key:
            counts[key] += 1
            first_text.setdefault(key, " ".join(text.split()))
    gaps = tuple((first_text[k], n) for k, n in counts.most_common(TOP_GAPS))
    feedback = await session.execute(
        select(AnswerFeedback.faq_id, func.count())
        .where(
            AnswerFeedback.helpful.is_(False),
            AnswerFeedback.created_at >= start,
            AnswerFeedback.created_at < end,
        )
        .group_by(AnswerFeedback.faq_id)
        .order_by(func.count().desc(), AnswerFeedback.faq_id)
    )
    not_helpful = []
    for faq_id, n in feedback.all():
        entry = kb.entry(faq_id)
        not_helpful.append((entry.question if entry else faq_id, int(n)))
    return StaffWeek(start, end, report, open_requests, gaps, tuple(not_helpful))
