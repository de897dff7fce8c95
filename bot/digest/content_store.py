"""News and events in the database: import a file in one transaction (all of it or nothing,
upserting by id so a second import changes nothing), add, edit or withdraw one item, and the
digest's queries (a withdrawn item is in none of them)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.errors import DataError
from bot.digest.audience import Audience
from bot.digest.content import ContentRecord, build_record, check_item, parse_when
from bot.store.db import Database
from bot.store.models import ContentItem, ContentKind, utcnow


@dataclass
class ImportSummary:
    added: int = 0
    updated: int = 0
    unchanged: int = 0

    def __str__(self) -> str:
        return f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged"


def _apply(row: ContentItem, record: ContentRecord, source: str, now: datetime) -> None:
    phases, roles = record.audience.columns()
    row.title, row.body = record.title, record.body
    row.link_url, row.link_label, row.location = record.link_url, record.link_label, record.location
    row.starts_at, row.ends_at, row.all_day = record.starts_at, record.ends_at, record.all_day
    row.publish_from, row.publish_until = record.publish_from, record.publish_until
    row.phases, row.roles = phases, roles
    row.source, row.content_hash, row.updated_at = source[:200], record.content_hash, now


async def upsert(
    session: AsyncSession,
    record: ContentRecord,
    source: str,
    now: datetime,
    created_by_id: int | None = None,
) -> str:
    """Insert or update by (kind, id); returns "added", "updated" or "unchanged"."""
    row = await session.scalar(
        select(ContentItem).where(ContentItem.kind == record.kind, ContentItem.slug == record.slug)
    )
    if row is None:
        row = ContentItem(
            kind=record.kind, slug=record.slug, created_by_id=created_by_id, created_at=now
        )
        _apply(row, record, source, now)
        session.add(row)
        await session.flush()
        return "added"
    if row.content_hash == record.content_hash:
        return "unchanged"
    _apply(row, record, source, now)
    return "updated"


async def import_records(
    db: Database, records: Sequence[ContentRecord], source: str, now: datetime | None = None
) -> ImportSummary:
    """Apply every record in one transaction: a failure leaves the database as it was."""
    now = now or utcnow()
    summary = ImportSummary()
    async with db.session() as session:
        for record in records:
            outcome = await upsert(session, record, source, now)
            setattr(summary, outcome, getattr(summary, outcome) + 1)
    return summary


def slugify(title: str, day: datetime, tz: ZoneInfo) -> str:
    folded = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    words = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")[:50].rstrip("-") or "item"
    return f"{day.astimezone(tz):%Y-%m-%d}-{words}"


async def _free_slug(session: AsyncSession, kind: ContentKind, base: str) -> str:
    taken = set(
        await session.scalars(
            select(ContentItem.slug).where(
                ContentItem.kind == kind, ContentItem.slug.like(f"{base}%")
            )
        )
    )
    slug = base
    n = 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


async def add_from_chat(
    session: AsyncSession,
    kind: ContentKind,
    raw: dict[str, object],
    tz: ZoneInfo,
    now: datetime,
    created_by_id: int | None,
    source: str,
) -> ContentRecord:
    """An item typed by staff: an id made from the date and title (numbered if taken)."""
    title = str(raw.get("title") or "")
    slug = await _free_slug(session, kind, slugify(title, now, tz))
    record, problems = build_record(kind, {**raw, "id": slug}, tz, "")
    if record is None:
        raise DataError([p.removeprefix(": ") for p in problems])
    await upsert(session, record, source, now, created_by_id)
    return record


class StaleItem(Exception):
    """The item changed since the form was read (its content hash is not the form's)."""


async def add_item(
    session: AsyncSession,
    kind: ContentKind,
    raw: dict[str, object],
    tz: ZoneInfo,
    now: datetime,
    created_by_id: int | None,
    source: str,
) -> ContentItem:
    """A new item from a form (the console): checked like `hotline news add` (ItemProblems by
    field), with an id made from its date and title like the CLI's, numbered if taken, so an
    add never overwrites another item."""
    check_item(kind, {**raw, "id": "new-item"}, tz)  # every problem, before any id is made
    when = parse_when(raw.get("date"), tz)
    base = slugify(str(raw.get("title") or ""), when[0] if when else now, tz)
    record = check_item(kind, {**raw, "id": await _free_slug(session, kind, base)}, tz)
    await upsert(session, record, source, now, created_by_id)
    found = await item(session, kind, record.slug)
    assert found is not None
    return found


async def item(session: AsyncSession, kind: ContentKind, key: int | str) -> ContentItem | None:
    """One item by its number (`news list` shows it) or its id (slug)."""
    where = ContentItem.id == key if isinstance(key, int) else ContentItem.slug == key
    found: ContentItem | None = await session.scalar(
        select(ContentItem).where(ContentItem.kind == kind, where)
    )
    return found


async def edit_item(
    session: AsyncSession,
    row: ContentItem,
    raw: dict[str, object],
    tz: ZoneInfo,
    now: datetime,
    source: str,
    expected_hash: str | None = None,
) -> bool:
    """Replace an item's fields (its id stays), checked like an add; StaleItem when
    `expected_hash` (the form's) is not the item's any more, nothing changed. True when
    anything changed. A withdrawn item stays withdrawn."""
    if expected_hash is not None and expected_hash != row.content_hash:
        raise StaleItem(row.id)
    record = check_item(row.kind, {**raw, "id": row.slug}, tz)
    return await upsert(session, record, source, now) == "updated"


async def withdraw(session: AsyncSession, row: ContentItem, now: datetime) -> bool:
    """Take an item out of every digest composed from now on (digests sent keep it); False when
    it was withdrawn already."""
    if row.withdrawn_at is not None:
        return False
    row.withdrawn_at = now
    await session.flush()
    return True


async def current_items(
    session: AsyncSession, kind: ContentKind, now: datetime, since: datetime
) -> list[ContentItem]:
    """Items a digest may still carry, not withdrawn and inside their publish window or before
    it: news published after `since` (or later), events starting after `since` or not ended;
    in date order."""
    query = select(ContentItem).where(
        ContentItem.kind == kind, ContentItem.withdrawn_at.is_(None), _still_published(now)
    )
    if kind is ContentKind.NEWS:
        query = query.where(ContentItem.publish_from > since).order_by(
            ContentItem.publish_from, ContentItem.id
        )
    else:
        query = query.where(
            or_(ContentItem.starts_at >= since, ContentItem.ends_at >= now)
        ).order_by(ContentItem.starts_at, ContentItem.id)
    return list(await session.scalars(query))


async def withdrawn_items(
    session: AsyncSession, kind: ContentKind, limit: int = 10
) -> list[ContentItem]:
    """The items withdrawn most recently."""
    rows = await session.scalars(
        select(ContentItem)
        .where(ContentItem.kind == kind, ContentItem.withdrawn_at.is_not(None))
        .order_by(ContentItem.withdrawn_at.desc(), ContentItem.id.desc())
        .limit(limit)
    )
    return list(rows)


def record_of(row: ContentItem) -> ContentRecord:
    return ContentRecord(
        kind=row.kind,
        slug=row.slug,
        title=row.title,
        body=row.body,
        link_url=row.link_url,
        link_label=row.link_label,
        location=row.location,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        all_day=row.all_day,
        publish_from=row.publish_from,
        publish_until=row.publish_until,
        audience=Audience.from_columns(row.phases, row.roles),
    )


def _still_published(as_of: datetime) -> ColumnElement[bool]:
    return or_(ContentItem.publish_until.is_(None), ContentItem.publish_until > as_of)


def _not_withdrawn(as_of: datetime) -> ColumnElement[bool]:
    """Not withdrawn before `as_of`: a run composed earlier (and resumed) says what it said."""
    return or_(ContentItem.withdrawn_at.is_(None), ContentItem.withdrawn_at > as_of)


async def news_between(
    session: AsyncSession, since: datetime, as_of: datetime
) -> list[ContentRecord]:
    """News published in (since, as_of] and still inside its publish window, newest first."""
    rows = await session.scalars(
        select(ContentItem)
        .where(
            ContentItem.kind == ContentKind.NEWS,
            ContentItem.publish_from > since,
            ContentItem.publish_from <= as_of,
            _still_published(as_of),
            _not_withdrawn(as_of),
        )
        .order_by(ContentItem.publish_from.desc(), ContentItem.id)
    )
    return [record_of(r) for r in rows]


async def events_between(
    session: AsyncSession, start: datetime, end: datetime, as_of: datetime
) -> list[ContentRecord]:
    """Events starting in [start, end) whose publish window contains `as_of`, soonest first."""
    rows = await session.scalars(
        select(ContentItem)
        .where(
            ContentItem.kind == ContentKind.EVENT,
            ContentItem.starts_at >= start,
            ContentItem.starts_at < end,
            or_(ContentItem.publish_from.is_(None), ContentItem.publish_from <= as_of),
            _still_published(as_of),
            _not_withdrawn(as_of),
        )
        .order_by(ContentItem.starts_at, ContentItem.id)
    )
    return [record_of(r) for r in rows]


async def latest(session: AsyncSession, kind: ContentKind, limit: int = 30) -> list[ContentItem]:
    order = ContentItem.publish_from if kind is ContentKind.NEWS else ContentItem.starts_at
    rows = await session.scalars(
        select(ContentItem)
        .where(ContentItem.kind == kind)
        .order_by(order.desc(), ContentItem.id.desc())
        .limit(limit)
    )
    return list(rows)
