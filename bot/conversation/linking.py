"""Who is this account? Redeliveries, invitation codes and platform-vouched emails.

A platform may deliver one update twice (Slack retries an event it thinks was acknowledged late;
Telegram resends a webhook that timed out), so each delivery id is recorded once, in the same
transaction as the handling: if the handling fails, the record goes with it and a redelivery is
handled afresh.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.ports import ProfileLookup
from bot.core.types import IncomingMessage
from bot.directory import link_identity, person_by_email, redeem_invite
from bot.directory.identities import identify
from bot.store.db import Database
from bot.store.models import Base, Person, ProcessedUpdate, utcnow

# "/start CODE" (Telegram deep links send exactly this) or "/link CODE" (Slack: /hotline link).
LINK_COMMAND = re.compile(r"^/(?:start|link)(?:@\w+)?\s+(\S.*)$", re.IGNORECASE | re.DOTALL)


# Built once: the statement's cache key is memoised, and Core (the table, not the entity)
# skips the ORM's bulk-insert machinery.
_TABLE = Base.metadata.tables[ProcessedUpdate.__tablename__]
_RECORD = {
    name: insert(_TABLE).on_conflict_do_nothing().returning(_TABLE.c.update_id)
    for name, insert in (("sqlite", sqlite_insert), ("postgresql", postgresql_insert))
}


async def first_delivery(session: AsyncSession, message: IncomingMessage) -> bool:
    """Record the delivery id; False when it was seen before (a redelivery). One statement
    (INSERT ... ON CONFLICT DO NOTHING), as it runs for every message."""
    assert message.update_id is not None
    statement = _RECORD[session.get_bind().dialect.name]
    added = await session.execute(
        statement,
        {"channel": message.channel, "update_id": message.update_id, "received_at": utcnow()},
    )
    return added.first() is not None


def invite_code_in(text: str) -> str | None:
    found = LINK_COMMAND.match(text)
    return found.group(1).strip() if found else None


async def _link(session: AsyncSession, person: Person, message: IncomingMessage) -> None:
    await link_identity(
        session, person, message.channel, message.sender_ref, chat_id=message.reach_id
    )
    person.digest_subscribed = True  # members are subscribed when they link an account
    if person.digest_channel == "off":  # an unsubscribe undone, as /subscribe does
        person.digest_channel = None


async def link_with_code(
    session: AsyncSession, message: IncomingMessage, code: str, now: datetime
) -> Person | None:
    person = await redeem_invite(session, code, f"{message.channel}:{message.sender_ref}", now)
    if person is not None:
        await _link(session, person, message)
    return person


async def profile_email(
    db: Database, message: IncomingMessage, lookup: ProfileLookup
) -> str | None:
    """The email the platform gives for an unknown sender (a network call, made outside any
    transaction); None when the sender is linked already or the platform says nothing."""
    async with db.reading() as session:
        if await identify(session, message.channel, message.sender_ref) is not None:
            return None
    return await lookup.email_of(message.sender_ref)


async def link_from_profile(
    session: AsyncSession, message: IncomingMessage, email: str
) -> Person | None:
    person = await person_by_email(session, email)
    if person is not None:
        await _link(session, person, message)
    return person


# Delivery ids are forgotten after a day by the retention policy (bot/privacy/retention.py's
# forget_processed_updates): platforms redeliver within minutes (Slack retries three times
# within about an hour).
