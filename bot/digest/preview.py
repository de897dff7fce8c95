"""What one person would get for a week, composed exactly as a run would compose it (the same
`as_of`, the same "since"), without queueing anything."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.core.types import Reply
from bot.digest.compose import member_digest, staff_digest
from bot.digest.faq_changes import sync_knowledge_base
from bot.digest.gather import (
    STAFF_PERIOD,
    Channel,
    channels_of,
    last_received,
    recipient,
    staff_week,
)
from bot.digest.gather import week_content as read_week_content
from bot.digest.runs import DigestConfig, run_for
from bot.digest.schedule import week_of
from bot.knowledge import KnowledgeBase
from bot.store.db import Database
from bot.store.models import DigestKind, Person


@dataclass(frozen=True)
class Preview:
    person: Person
    kind: DigestKind
    channel: Channel | None
    reply: Reply | None

    @property
    def nothing_to_send(self) -> str:
        """Why there is no digest for them (when `reply` is None)."""
        what = (
            "news, events or FAQ changes for them"
            if self.kind is DigestKind.MEMBER
            else "requests, open requests, unanswered questions or feedback"
        )
        return f"nothing to send: no {what} this week (DIGEST_SEND_EMPTY is off)"


def next_run_week(config: DigestConfig, now: datetime) -> date:
    """The week of the next scheduled run (DIGEST_CRON) after `now`."""
    fire: datetime | None = config.cron.get_next_fire_time(None, now)
    return week_of(fire or now, config.tz)


async def preview(
    db: Database, kb: KnowledgeBase, config: DigestConfig, email: str, week: date
) -> Preview | None:
    """None when nobody active has that email."""
    await sync_knowledge_base(db, kb)
    async with db.session() as session:
        person = await session.scalar(
            select(Person)
            .where(Person.email == email.strip().lower(), Person.active.is_(True))
            .options(selectinload(Person.school))
        )
        if person is None:
            return None
        kind = DigestKind.STAFF if person.is_staff else DigestKind.MEMBER
        channel = (await channels_of(session, [person.id])).get(person.id)
    run = await run_for(db, kind, week)
    as_of = run.as_of if run is not None else config.scheduled(week)
    async with db.session() as session:
        if kind is DigestKind.STAFF:
            figures = await staff_week(session, kb, as_of - STAFF_PERIOD, as_of)
            return Preview(person, kind, channel, staff_digest(figures, config.style))
        content = await read_week_content(session, kb, as_of, config.tz, config.events_days)
        last = (await last_received(session, [person.id], as_of)).get(person.id)
    return Preview(
        person, kind, channel, member_digest(content, recipient(person, as_of, last), config.style)
    )
