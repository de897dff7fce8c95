"""The learned_phrasings table: the normalised form that makes a phrasing unique per entry,
reading every row, and the version that says cheaply whether anything changed."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.knowledge.language import words
from bot.store.models import LearnedPhrasing

# (number of rows, highest id): ids are never reused, so any insert or delete changes it
Version = tuple[int, int]
NO_LEARNED: Version = (0, 0)


@dataclass(frozen=True, slots=True)
class Learned:
    id: int
    entry_id: str
    text: str


def tidy(text: str) -> str:
    """The text as stored and shown: white space collapsed."""
    return " ".join(text.split())


def normalised(text: str) -> str:
    """The words the matcher reads, in order: what makes two phrasings the same one."""
    return " ".join(words(text))


def text_key(normal: str) -> str:
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()


def version_of(rows: Sequence[Learned]) -> Version:
    return len(rows), max((r.id for r in rows), default=0)


def by_entry(rows: Iterable[Learned]) -> dict[str, tuple[str, ...]]:
    grouped: dict[str, list[str]] = {}
    for row in rows:
        grouped.setdefault(row.entry_id, []).append(row.text)
    return {entry_id: tuple(texts) for entry_id, texts in grouped.items()}


def keys_of(phrasings: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Normalised text -> the entry it is a phrasing of (the first, if several)."""
    owners: dict[str, str] = {}
    for entry_id, texts in phrasings.items():
        for text in texts:
            owners.setdefault(normalised(text), entry_id)
    return owners


async def read_version(session: AsyncSession) -> Version:
    count, top = (
        await session.execute(select(func.count(LearnedPhrasing.id), func.max(LearnedPhrasing.id)))
    ).one()
    return int(count or 0), int(top or 0)


async def read_learned(session: AsyncSession) -> tuple[Learned, ...]:
    rows = await session.execute(
        select(LearnedPhrasing.id, LearnedPhrasing.entry_id, LearnedPhrasing.text).order_by(
            LearnedPhrasing.id
        )
    )
    return tuple(Learned(int(i), entry_id, text) for i, entry_id, text in rows.all())
