"""Who gets the weekly digest. Unsubscribing takes effect at once, even mid-run: the person's
queued digest deliveries are cancelled in the same transaction, and a run still preparing reads
the flag under a share lock (runs.py), so it either sees the change or is waited for and then
has its rows cancelled.

`digest_subscribed` says whether they get it; `digest_channel` how (bot/digest/channels.py).
Unsubscribing also sets the channel to "off" and subscribing clears "off", so the two agree."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.store.models import OutboundMessage, OutboxStatus, Person

DELIVERY_PREFIX = "digest:"
OFF = "off"  # people.digest_channel of someone unsubscribed (bot/digest/channels.py)


def delivery_key(run_id: int, person_id: int) -> str:
    """The dedupe key of a person's delivery in a run: unique per (run, person)."""
    return f"{DELIVERY_PREFIX}{run_id}:{person_id}"


async def subscribe(session: AsyncSession, person: Person) -> bool:
    """True when this changed anything. Call it when a person links a chat account. A person
    who had turned the digest off (digest_channel "off") is back on the default channel."""
    if person.digest_subscribed and person.digest_channel != OFF:
        return False
    person.digest_subscribed = True
    if person.digest_channel == OFF:
        person.digest_channel = None
    await session.flush()
    return True


async def unsubscribe(session: AsyncSession, person: Person) -> bool:
    """True when this changed anything; digest deliveries not yet sent are cancelled either way."""
    changed = person.digest_subscribed
    # A plain UPDATE (not only the ORM attribute) so the row lock is taken now, before the
    # deliveries are cancelled: a run preparing this person finishes its batch first.
    await session.execute(
        update(Person)
        .where(Person.id == person.id)
        .values(digest_subscribed=False, digest_channel=OFF)
        .execution_options(synchronize_session=False)
    )
    person.digest_subscribed, person.digest_channel = False, OFF
    await session.execute(
        update(OutboundMessage)
        .where(
            OutboundMessage.person_id == person.id,
            OutboundMessage.dedupe_key.like(f"{DELIVERY_PREFIX}%"),
            OutboundMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]),
        )
        .values(status=OutboxStatus.CANCELLED, last_error="unsubscribed")
        .execution_options(synchronize_session=False)
    )
    return changed


async def subscribers(session: AsyncSession) -> list[Person]:
    rows = await session.scalars(
        select(Person)
        .where(Person.digest_subscribed.is_(True), Person.active.is_(True))
        .options(selectinload(Person.school), selectinload(Person.identities))
        .order_by(Person.role, Person.email)
    )
    return list(rows)
