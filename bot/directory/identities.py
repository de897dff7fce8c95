"""Who is writing: resolving a chat account to a person in the directory."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from bot.store.models import Identity, Person


async def identify(session: AsyncSession, channel: str, external_id: str) -> Person | None:
    return await session.scalar(
        select(Person)
        .join(Identity, Identity.person_id == Person.id)
        .where(
            Identity.channel == channel,
            Identity.external_id == external_id,
            Person.active.is_(True),
        )
        .options(joinedload(Person.school))  # one query: this runs for every message
    )


async def link_identity(
    session: AsyncSession,
    person: Person,
    channel: str,
    external_id: str,
    chat_id: str | None = None,
) -> Identity:
    identity = await session.scalar(
        select(Identity).where(Identity.channel == channel, Identity.external_id == external_id)
    )
    if identity is None:
        identity = Identity(
            person_id=person.id, channel=channel, external_id=external_id, chat_id=chat_id
        )
        session.add(identity)
    else:
        identity.person_id = person.id
        identity.chat_id = chat_id or identity.chat_id
        identity.reachable = True
    await session.flush()
    return identity


async def person_by_email(session: AsyncSession, email: str) -> Person | None:
    return await session.scalar(
        select(Person).where(Person.email == email.strip().lower(), Person.active.is_(True))
    )
