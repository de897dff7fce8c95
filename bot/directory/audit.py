"""The audit log: who viewed or changed what, when and from where (the audit_log table).

Rows are only ever added: `record` is the one writer, called in the same transaction as the
change it describes, so an entry exists exactly when the change was committed. `entries` reads
them newest first for the console's audit page (admins only) and `hotline privacy audit`.

Append-only from the application's side: a flush that would change or delete an entry already
written raises `AuditChangedError` (the guard below), and no module issues a bulk UPDATE or
DELETE of the table (tests/privacy/test_audit_append_only.py checks both). The one deletion is
the retention policy's, of entries past their retention period (bot/privacy/retention.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.store.models import AuditEntry

DETAIL_CHARS = 500


class AuditChangedError(RuntimeError):
    """Code tried to change an audit entry after it was written: a bug, never a user's doing."""


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
def _refuse_change(_mapper: Any, _connection: Any, entry: AuditEntry) -> None:
    """The unit of work is about to UPDATE or DELETE an entry: refuse, so the change is rolled
    back with the transaction that carried it instead of quietly rewriting the record. (The
    retention policy's deletion is a bulk statement, which these ORM events do not see.)"""
    raise AuditChangedError(f"audit entry {entry.id} is append-only: it cannot be changed")


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
    limit: int | None = 200,
    actor_id: int | None = None,
    action: str | None = None,
    person_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[AuditEntry]:
    """The newest entries first, with their actors loaded: by `actor_id`, of `action`, by or
    about `person_id`, at or after `since` and before `until` (UTC), at most `limit` (None: all).
    """
    query = select(AuditEntry).options(selectinload(AuditEntry.actor))
    if actor_id is not None:
        query = query.where(AuditEntry.actor_id == actor_id)
    if action:
        query = query.where(AuditEntry.action == action)
    if person_id is not None:
        query = query.where(
            or_(AuditEntry.actor_id == person_id, AuditEntry.subject_person_id == person_id)
        )
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    query = query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return list((await session.scalars(query)).all())
