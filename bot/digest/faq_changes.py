"""FAQ change tracking: the knowledge base is files loaded at start, so "added or changed since
the last digest" needs memory across reloads. Each entry's content hash is kept with when it
was first seen and when it last changed.

The first sync against an empty table is a baseline: entries that existed before tracking began
are not news, so their `changed_at` stays None and no digest lists them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.digest.compose import FaqChange
from bot.knowledge import FaqEntry, KnowledgeBase
from bot.store.db import Database
from bot.store.models import FaqVersion, utcnow


@dataclass(frozen=True)
class FaqSync:
    baseline: bool
    added: int
    changed: int


def entry_hash(entry: FaqEntry) -> str:
    """What a member would notice: the question, the answer and the category."""
    payload = json.dumps([entry.question, entry.answer, entry.category])
    return hashlib.sha256(payload.encode()).hexdigest()


async def _sync(session: AsyncSession, entries: Iterable[FaqEntry], now: datetime) -> FaqSync:
    known = {row.faq_id: row for row in await session.scalars(select(FaqVersion))}
    baseline = not known
    added = changed = 0
    for entry in entries:
        digest = entry_hash(entry)
        row = known.get(entry.id)
        if row is None:
            session.add(
                FaqVersion(
                    faq_id=entry.id,
                    content_hash=digest,
                    first_seen_at=now,
                    changed_at=None if baseline else now,
                )
            )
            added += 1
        elif row.content_hash != digest:
            row.content_hash, row.changed_at = digest, now
            changed += 1
    await session.flush()
    return FaqSync(baseline, 0 if baseline else added, changed)


async def sync_faq_versions(
    db: Database, entries: Iterable[FaqEntry], now: datetime | None = None
) -> FaqSync:
    """Record what changed since the last sync. Call it at process start and before a digest
    run; two processes syncing at once are safe (the loser of an insert race syncs again)."""
    listed = list(entries)
    now = now or utcnow()
    try:
        async with db.session() as session:
            return await _sync(session, listed, now)
    except IntegrityError:
        async with db.session() as session:
            return await _sync(session, listed, now)


async def sync_knowledge_base(db: Database, kb: KnowledgeBase) -> FaqSync:
    return await sync_faq_versions(db, kb.index.entries)


async def changes_between(
    session: AsyncSession, kb: KnowledgeBase, start: datetime, end: datetime
) -> tuple[FaqChange, ...]:
    """Entries added or changed in (start, end] that the knowledge base still has."""
    rows = await session.scalars(
        select(FaqVersion)
        .where(FaqVersion.changed_at > start, FaqVersion.changed_at <= end)
        .order_by(FaqVersion.changed_at.desc(), FaqVersion.faq_id)
    )
    changes = []
    for row in rows:
        entry = kb.entry(row.faq_id)
        if entry is not None and row.changed_at is not None:
            changes.append(
                FaqChange(
                    row.faq_id, entry.question, row.first_seen_at == row.changed_at, row.changed_at
                )
            )
    return tuple(changes)
