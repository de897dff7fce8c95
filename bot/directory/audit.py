"""The audit log: who viewed or changed what, when and from where (the audit_log table).

Rows are only ever added: `record` is the one writer, called in the same transaction as the
change it describes, so an entry exists exactly when the change was committed. `entries` reads
them newest first for the console's audit page (admins only).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.store.models import AuditEntry

DETAIL_CHARS = 500


@dataclass(frozen=True)
class Actor:
    """Who is acting: a person (None: the system) and where from."""

    person_id: int | None
    ip: str | None = None
    via: str = "console"


def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    subject: str = "",
    *,
    about: int | None = None,
    detail: str = "",
    at: datetime | None = None,
) -> AuditEntry:
    """Adds one entry to the session (committed with the change it describes). `about` is the
    id of the person the entry concerns; `detail` never holds a member's message text."""
    entry = AuditEntry(
        actor_id=actor.person_id,
        action=action,
        subject=subject[:200],
        subject_person_id=about,
        detail=detail[:DETAIL_CHARS],
        ip=actor.ip,
        via=actor.via,
    )
    if at is not None:
        entry.at = at
    session.add(entry)
    return entry


async def entries(
    session: AsyncSession,
    *,
    limit: int = 200,
    actor_id: int | None = None,
    action: str | None = None,
) -> list[AuditEntry]:
    """The newest entries first, with their actors loaded."""
    query = select(AuditEntry).options(selectinload(AuditEntry.actor))
    if actor_id is not None:
        query = query.where(AuditEntry.actor_id == actor_id)
    if action:
        query = query.where(AuditEntry.action == action)
    query = query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    return list((await session.scalars(query)).all())
