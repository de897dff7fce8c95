"""Who is writing: resolving a chat account to a person in the directory."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from bot.store.models import HotlineRequest, Identity, Person, RequestStatus

_BY_ACCOUNT = (
    select(Person)
    .join(Identity, Identity.person_id == Person.id)
    .where(
        Identity.channel == bindparam("channel"),
        Identity.external_id == bindparam("external_id"),
        Person.active.is_(True),
    )
    .options(joinedload(Person.school))
)
# Built once, as it runs for every message: its cache key is worked out once, not per message.
_WITH_OPEN = _BY_ACCOUNT.add_columns(
    select(HotlineRequest.id)
    .where(
        HotlineRequest.person_id == Person.id,
        HotlineRequest.status != RequestStatus.RESOLVED,
    )
    .exists()
)


async def identify(session: AsyncSession, channel: str, external_id: str) -> Person | None:
    return await session.scalar(_BY_ACCOUNT, {"channel": channel, "external_id": external_id})


async def identify_with_open_request(
    session: AsyncSession, channel: str, external_id: str
) -> tuple[Person, bool] | None:
    """The person and whether they have an unresolved hotline request, in one query: this runs
    for every message, and most people have none open."""
    found = await session.execute(_WITH_OPEN, {"channel": channel, "external_id": external_id})
    row = found.first()
    return (row[0], bool(row[1])) if row is not None else None


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


async def unlink_identity(
    session: AsyncSession, identity_id: int, person_id: int | None = None
) -> Identity | None:
    """Remove one linked chat account (its person loaded first); None when it is gone already
    (or, with `person_id`, is not that person's). The account is a stranger to the bot again
    until it is linked anew (an invitation code, or the platform's profile email)."""
    query = select(Identity).where(Identity.id == identity_id)
    if person_id is not None:
        query = query.where(Identity.person_id == person_id)
    identity = await session.scalar(query.options(joinedload(Identity.person)))
    if identity is not None:
        await session.delete(identity)
        await session.flush()
    return identity


async def unlink_accounts(
    session: AsyncSession, person: Person, channel: str | None = None
) -> list[Identity]:
    """Remove a person's linked chat accounts (only those on `channel`, when given)."""
    query = select(Identity).where(Identity.person_id == person.id)
    if channel is not None:
        query = query.where(Identity.channel == channel)
    found = list((await session.scalars(query.order_by(Identity.id))).all())
    for identity in found:
        await session.delete(identity)
    await session.flush()
    return found


def masked(external_id: str) -> str:
    """An account id shown without giving it away: its last few characters."""
    keep = min(4, len(external_id) // 2)
    return "…" + external_id[-keep:] if keep else "…"


async def person_by_email(session: AsyncSession, email: str) -> Person | None:
    return await session.scalar(
        select(Person).where(Person.email == email.strip().lower(), Person.active.is_(True))
    )
