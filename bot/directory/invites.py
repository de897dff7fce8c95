"""One-time invitation codes that link a chat account to a person in the directory.

Only a SHA-256 of each code is stored, so a copy of the database does not hand out accounts.
Codes are single-use and expire; redeeming is one UPDATE guarded on `used_at IS NULL`, so two
accounts racing with the same code cannot both win.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import InviteCode, Person

# Crockford-style alphabet: no 0/O or 1/I/L to misread when a code is typed from a letter.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10
DEFAULT_TTL = timedelta(days=14)


def _digest(code: str) -> str:
    return hashlib.sha256(normalise(code).encode()).hexdigest()


def normalise(code: str) -> str:
    """Codes are read case-insensitively and with any spaces or dashes people add."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


def looks_like_code(text: str) -> bool:
    cleaned = normalise(text)
    return len(cleaned) == CODE_LENGTH and all(ch in ALPHABET for ch in cleaned)


def telegram_link(bot_username: str | None, code: str) -> str | None:
    """The Telegram deep link that sends `/start CODE` to the bot (None without its username)."""
    if not bot_username or not bot_username.strip().lstrip("@"):
        return None
    return f"https://t.me/{bot_username.strip().lstrip('@')}?start={code}"


async def create_invite(
    session: AsyncSession, person: Person, now: datetime, ttl: timedelta = DEFAULT_TTL
) -> str:
    """A new code for this person (earlier unused codes stay valid until they expire)."""
    code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    session.add(InviteCode(person_id=person.id, code_hash=_digest(code), expires_at=now + ttl))
    await session.flush()
    return code


async def redeem_invite(
    session: AsyncSession, code: str, used_by: str, now: datetime
) -> Person | None:
    """The person the code belongs to, marking it used; None for an unknown, used or expired
    code (the caller says so without telling which, to give a guesser nothing)."""
    if not looks_like_code(code):
        return None
    taken = await session.execute(
        update(InviteCode)
        .where(
            InviteCode.code_hash == _digest(code),
            InviteCode.used_at.is_(None),
            InviteCode.expires_at > now,
        )
        .values(used_at=now, used_by=used_by[:160])
        .returning(InviteCode.person_id)
    )
    person_id = taken.scalar_one_or_none()
    if person_id is None:
        return None
    return await session.scalar(
        select(Person).where(Person.id == person_id, Person.active.is_(True))
    )
