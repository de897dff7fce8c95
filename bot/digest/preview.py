"""What one person would get for a week, composed exactly as a run would compose it (the same
`as_of`, the same "since"), without queueing anything."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.core.errors import UserFacingError
from bot.core.types import Reply
from bot.digest.channels import email_channel
from bot.digest.compose import member_digest, staff_digest
from bot.digest.email_message import Addressed, as_text, member_email, staff_email
from bot.digest.faq_changes import sync_knowledge_base
from bot.digest.gather import (
    STAFF_PERIOD,
    Channel,
    last_received,
    recipient,
    staff_week,
)
from bot.digest.gather import week_content as read_week_content
from bot.digest.runs import DigestConfig, routes_of, run_for
from bot.digest.schedule import week_of
from bot.knowledge import KnowledgeBase
from bot.store.db import Database
from bot.store.models import DigestKind, Person


@dataclass(frozen=True)
class Preview:
    person: Person
    kind: DigestKind
    channel: Channel | None  # where a run would send it (chat account or email address)
    reply: Reply | None  # with `as_email`, its text is the whole message (.eml)

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
    db: Database,
    kb: KnowledgeBase,
    config: DigestConfig,
    email: str,
    week: date,
    as_email: bool = False,
) -> Preview | None:
    """None when nobody active has that email. `as_email`: the email a run would send them
    (the same Message-ID, date and unsubscribe link as the week's run, once it exists)."""
    if as_email and config.email is None:
        raise UserFacingError(
            "digest emails are off: set EMAIL_SECRET (or CONSOLE_SECRET) to sign their links"
        )
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
        channel = (await routes_of(session, [person], config))[person.id]
    run = await run_for(db, kind, week)
    as_of = run.as_of if run is not None else config.scheduled(week)
    to: Addressed | None = None
    address = email_channel(person)
    if as_email and address is None:
        raise UserFacingError(f"{person.email!r} is not an address a digest can be sent to")
    if as_email and address is not None:
        key = f"digest.{run.id if run is not None else 'preview'}.{person.id}"
        to = Addressed(person.id, address.chat_id, key, as_of)
    async with db.session() as session:
        if kind is DigestKind.STAFF:
            figures = await staff_week(session, kb, as_of - STAFF_PERIOD, as_of)
            reply = staff_digest(figures, config.style)
            if reply is not None and to is not None and config.email is not None:
                reply = Reply(as_text(staff_email(reply, config.style, config.email, to)))
            return Preview(person, kind, channel, reply)
        content = await read_week_content(session, kb, as_of, config.tz, config.events_days)
        last = (await last_received(session, [person.id], as_of)).get(person.id)
    who = recipient(person, as_of, last)
    if to is not None and config.email is not None:
        message = member_email(content, who, config.style, config.email, to)
        return Preview(person, kind, channel, None if message is None else Reply(as_text(message)))
    return Preview(person, kind, channel, member_digest(content, who, config.style))
