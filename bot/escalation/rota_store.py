"""The rota in the database: the newest imported document and the overrides (swaps, cover)."""

from __future__ import annotations

import functools
import json
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.core.errors import DataError, UserFacingError
from bot.directory.identities import person_by_email
from bot.escalation.rota import Duty, Override, Rota, duty_at, named_people
from bot.escalation.rota_file import parse_rota
from bot.store.db import Database
from bot.store.models import Identity, Person, RotaOverride, RotaVersion

ROLES = ("primary", "backup")


async def current_rota(session: AsyncSession) -> Rota | None:
    content = await session.scalar(
        select(RotaVersion.content).order_by(RotaVersion.id.desc()).limit(1)
    )
    return _parsed(content) if content is not None else None


@functools.lru_cache(maxsize=8)
def _parsed(content: str) -> Rota:
    """A stored rota, parsed once per process: an emergency reads it several times, and a
    version's content never changes (a new import is a new row). Keyed by the content itself,
    so two databases, or a table emptied and filled again, never share a wrong one."""
    return Rota.from_json(json.loads(content))


async def overrides_between(
    session: AsyncSession, start: datetime, end: datetime
) -> list[Override]:
    rows = await session.scalars(
        select(RotaOverride)
        .where(RotaOverride.ends_at > start, RotaOverride.starts_at <= end)
        .options(selectinload(RotaOverride.person))
        .order_by(RotaOverride.id)
    )
    return [Override(r.person.email, r.role, r.starts_at, r.ends_at) for r in rows]  # type: ignore[arg-type]


async def duty_now(session: AsyncSession, at: datetime) -> Duty | None:
    found = await rota_and_duty(session, at)
    return found[1] if found else None


async def rota_and_duty(session: AsyncSession, at: datetime) -> tuple[Rota, Duty] | None:
    rota = await current_rota(session)
    if rota is None:
        return None
    return rota, duty_at(rota, await overrides_between(session, at, at), at)


async def import_rota(db: Database, path: Path) -> Rota:
    rota = parse_rota(path)
    async with db.session() as session:
        known = {
            p.email for p in await session.scalars(select(Person).where(Person.active.is_(True)))
        }
        missing = sorted(named_people(rota) - known)
        if missing:
            raise DataError(
                [
                    f"{path.name}: {email}: not in the directory (import it first)"
                    for email in missing
                ]
            )
        content = json.dumps(rota.to_json(), sort_keys=True)
        latest = await session.scalar(select(RotaVersion).order_by(RotaVersion.id.desc()).limit(1))
        if latest is None or latest.content != content:  # importing the same file again is a no-op
            session.add(RotaVersion(source=path.name, content=content))
    return rota


async def add_override(
    session: AsyncSession, email: str, role: str, start: datetime, end: datetime
) -> RotaOverride:
    if role not in ROLES:
        raise UserFacingError(f"role must be primary or backup, not {role!r}")
    if end <= start:
        raise UserFacingError("the override must end after it starts")
    person = await person_by_email(session, email)
    if person is None or not person.is_staff:
        raise UserFacingError(f"{email} is not a member of staff in the directory")
    row = RotaOverride(person_id=person.id, role=role, starts_at=start, ends_at=end)
    session.add(row)
    await session.flush()
    return row


async def reachable_emails(session: AsyncSession) -> set[str]:
    """Staff with at least one linked chat identity that has not blocked the bot."""
    rows = await session.scalars(
        select(Person.email)
        .join(Identity, Identity.person_id == Person.id)
        .where(Identity.reachable.is_(True))
    )
    return set(rows)
