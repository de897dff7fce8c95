"""Sign-in to the staff console (bot/console/): one-time links and the sessions they start.

A link is `{PUBLIC_URL}/console/signin/{token}`: valid for 15 minutes, usable once, only for
staff and admins (a member's link cannot be made). As with invitation codes
(bot/directory/invites.py) only a SHA-256 of the token is stored, and redeeming is one UPDATE
guarded on `used_at IS NULL`, so two browsers racing with one link cannot both win. A session
lasts 12 hours; its id is random, stored as a SHA-256, and revoked by signing out.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import ConsoleLink, ConsoleSession, Person

LINK_TTL = timedelta(minutes=15)
SESSION_TTL = timedelta(hours=12)
SIGNIN_PATH = "/console/signin/"
TOKEN_BYTES = 32  # 43 characters of URL-safe base64


class NotStaffError(Exception):
    """A console link asked for someone who is not staff or admin."""


class LinkRefused(enum.Enum):
    """Why a link did not sign anyone in: for the log only (the page says none of it)."""

    MALFORMED = "malformed"
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    NOT_STAFF = "not staff"  # the person is no longer active staff


@dataclass(frozen=True)
class LinkCheck:
    """What a link is: its row id (None when unknown) and its person, or why it is refused."""

    link_id: int | None
    person: Person | None
    refused: LinkRefused | None


@dataclass(frozen=True)
class Started:
    """A session begun by a link: the id to put in the cookie (never stored as such)."""

    session_id: str
    person: Person
    expires_at: datetime


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def signin_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}{SIGNIN_PATH}{token}"


def looks_like_token(token: str) -> bool:
    return 20 <= len(token) <= 100 and all(ch.isalnum() or ch in "-_" for ch in token)


async def create_link(
    session: AsyncSession, person: Person, now: datetime, ttl: timedelta = LINK_TTL
) -> str:
    """A new one-time token for this person (staff or admin only)."""
    if not person.is_staff or not person.active:
        raise NotStaffError(person.email)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(ConsoleLink(person_id=person.id, token_hash=_digest(token), expires_at=now + ttl))
    await session.flush()
    return token


async def check_link(session: AsyncSession, token: str, now: datetime) -> LinkCheck:
    """Whether the link would sign someone in now, without using it."""
    if not looks_like_token(token):
        return LinkCheck(None, None, LinkRefused.MALFORMED)
    link = await session.scalar(select(ConsoleLink).where(ConsoleLink.token_hash == _digest(token)))
    if link is None:
        return LinkCheck(None, None, LinkRefused.UNKNOWN)
    if link.used_at is not None:
        return LinkCheck(link.id, None, LinkRefused.USED)
    if link.expires_at <= now:
        return LinkCheck(link.id, None, LinkRefused.EXPIRED)
    person = await session.get(Person, link.person_id)
    if person is None or not person.active or not person.is_staff:
        return LinkCheck(link.id, None, LinkRefused.NOT_STAFF)
    return LinkCheck(link.id, person, None)


async def redeem_link(
    session: AsyncSession, token: str, now: datetime, ip: str | None
) -> tuple[LinkCheck, Started | None]:
    """Use the link and start a session; the check says why not when it cannot."""
    check = await check_link(session, token, now)
    if check.person is None:
        return check, None
    taken = await session.execute(
        update(ConsoleLink)
        .where(
            ConsoleLink.id == check.link_id,
            ConsoleLink.used_at.is_(None),
            ConsoleLink.expires_at > now,
        )
        .values(used_at=now)
        .returning(ConsoleLink.id)
    )
    if taken.scalar_one_or_none() is None:  # another browser used it in the same moment
        return LinkCheck(check.link_id, None, LinkRefused.USED), None
    session_id = secrets.token_urlsafe(TOKEN_BYTES)
    expires_at = now + SESSION_TTL
    session.add(
        ConsoleSession(
            person_id=check.person.id,
            session_hash=_digest(session_id),
            link_id=check.link_id,
            ip=(ip or "")[:64] or None,
            created_at=now,
            expires_at=expires_at,
        )
    )
    await session.flush()
    return check, Started(session_id, check.person, expires_at)


async def session_person(session: AsyncSession, session_id: str, now: datetime) -> Person | None:
    """The staff member signed in with this session id: None when it is unknown, expired or
    revoked, or its person is no longer active staff."""
    row = await session.scalar(
        select(ConsoleSession).where(
            ConsoleSession.session_hash == _digest(session_id),
            ConsoleSession.revoked_at.is_(None),
            ConsoleSession.expires_at > now,
        )
    )
    if row is None:
        return None
    person = await session.get(Person, row.person_id)
    if person is None or not person.active or not person.is_staff:
        return None
    return person


async def revoke_session(session: AsyncSession, session_id: str, now: datetime) -> bool:
    """Sign out: the session is refused from now on, whatever cookie still carries it."""
    done = await session.execute(
        update(ConsoleSession)
        .where(
            ConsoleSession.session_hash == _digest(session_id),
            ConsoleSession.revoked_at.is_(None),
        )
        .values(revoked_at=now)
        .returning(ConsoleSession.id)
    )
    return done.scalar_one_or_none() is not None
