"""The learned_phrasings table: the normalised form that makes a phrasing unique per entry,
reading every row, and the version that says cheaply whether anything changed. SQLAlchemy and
the models are imported by the functions that query through them: `hotline ask` reads the rows
of a SQLite file without them (`read_learned_file`)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.knowledge.language import words
from bot.store.sqlite_file import read_rows

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

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
    from sqlalchemy import func, select

    from bot.store.models import LearnedPhrasing

    count, top = (
        await session.execute(select(func.count(LearnedPhrasing.id), func.max(LearnedPhrasing.id)))
    ).one()
    return int(count or 0), int(top or 0)


async def read_learned(session: AsyncSession) -> tuple[Learned, ...]:
    from sqlalchemy import select

    from bot.store.models import LearnedPhrasing

    rows = await session.execute(
        select(LearnedPhrasing.id, LearnedPhrasing.entry_id, LearnedPhrasing.text).order_by(
            LearnedPhrasing.id
        )
    )
    return tuple(Learned(int(i), entry_id, text) for i, entry_id, text in rows.all())


def read_learned_file(path: Path) -> tuple[Learned, ...]:
    """`read_learned` on a SQLite database file, through the standard library alone;
    StoreUnavailableError when the file cannot be read or is not at this code's revision."""
    rows = read_rows(path, "SELECT id, entry_id, text FROM learned_phrasings ORDER BY id")
    return tuple(Learned(int(i), str(entry_id), str(text)) for i, entry_id, text in rows)
