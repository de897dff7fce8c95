"""How the weekly digest reaches each person: `people.digest_channel`.

- None: the default rule, their most recently linked reachable chat account, else email.
- "chat": their chat account only (none reachable: not sent, counted as "no channel").
- "email": their directory email address.
- "off": they do not get it. Written by `unsubscribe` (subscriptions.py), so "off" and
  `digest_subscribed` False go together; choosing "chat" or "email" subscribes them.

Email goes to the address the directory holds, as an outbox row on the "email" channel with no
identity. An address the mail server refused for good (a 550: the row is `unreachable`) is not
written to again while that refusal is the latest word on it; a later accepted message to it
(say the mailbox was re-created and an admin sent a test) clears it.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.digest.gather import Channel
from bot.digest.subscriptions import OFF, subscribe, unsubscribe
from bot.store.models import OutboundMessage, OutboxStatus, Person

EMAIL = "email"
CHAT = "chat"
CHOICES = (CHAT, EMAIL, OFF)
DEFAULT = "default"  # what an admin types to put someone back on the default rule
DIGEST_CHOICES = (DEFAULT, *CHOICES)
MAX_ADDRESS = 120  # outbound_messages.chat_id's length


def choice_of(person: Person) -> str:
    """What they chose, or what the default rule means for them, as /digest shows it."""
    if not person.digest_subscribed or person.digest_channel == OFF:
        return OFF
    return person.digest_channel or ""


async def set_channel(session: AsyncSession, person: Person, choice: str) -> bool:
    """Set their choice ("chat", "email" or "off"); True when anything changed. "off" is an
    unsubscribe (queued digests cancelled); "chat" or "email" subscribes them."""
    if choice not in CHOICES:
        raise ValueError(f"digest channel {choice!r} is not one of {', '.join(CHOICES)}")
    if choice == OFF:
        return await unsubscribe(session, person)
    changed = await subscribe(session, person)
    if person.digest_channel != choice:
        person.digest_channel = choice
        await session.flush()
        changed = True
    return changed


async def set_digest_choice(session: AsyncSession, person: Person, choice: str) -> bool:
    """Set how they get the digest: "chat", "email", "off" (bot/digest/channels.py) or
    "default" (subscribed, on the default rule); True when anything changed."""
    if choice not in DIGEST_CHOICES:
        raise ValueError(
            f"digest channel {choice[:20]!r} is not one of {', '.join(DIGEST_CHOICES)}"
        )
    if choice != DEFAULT:
        return await set_channel(session, person, choice)
    changed = await subscribe(session, person)  # "off" is cleared to the default rule
    if person.digest_channel is not None:
        person.digest_channel = None
        await session.flush()
        changed = True
    return changed


def digest_choice(person: Person) -> str:
    """Their choice as one of DIGEST_CHOICES."""
    if not person.digest_subscribed or person.digest_channel == OFF:
        return OFF
    return person.digest_channel if person.digest_channel in CHOICES else DEFAULT


def email_channel(person: Person) -> Channel | None:
    address = (person.email or "").strip()
    if not address or "@" not in address or len(address) > MAX_ADDRESS:
        return None
    return Channel(None, EMAIL, address)


def route(person: Person, chat: Channel | None, email: Channel | None) -> Channel | None:
    """Where their digest goes, given their reachable chat account and their usable address
    (None when there is none, or email is not set up)."""
    choice = person.digest_channel
    if choice == OFF:
        return None
    if choice == EMAIL:
        return email
    if choice == CHAT:
        return chat
    return chat or email


async def unreachable_addresses(session: AsyncSession, addresses: Iterable[str]) -> set[str]:
    """The addresses whose latest digest-or-other email the server refused for good."""
    wanted = sorted(set(addresses))
    if not wanted:
        return set()
    rows = await session.execute(
        select(OutboundMessage.chat_id, OutboundMessage.status, func.max(OutboundMessage.id))
        .where(
            OutboundMessage.channel == EMAIL,
            OutboundMessage.chat_id.in_(wanted),
            OutboundMessage.status.in_([OutboxStatus.SENT, OutboxStatus.UNREACHABLE]),
        )
        .group_by(OutboundMessage.chat_id, OutboundMessage.status)
    )
    latest: dict[str, tuple[int, OutboxStatus]] = {}
    for address, status, last_id in rows.all():
        if address not in latest or last_id > latest[address][0]:
            latest[address] = (int(last_id), OutboxStatus(status))
    return {a for a, (_, status) in latest.items() if status is OutboxStatus.UNREACHABLE}
