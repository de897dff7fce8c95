"""Teaching one phrasing: the checks, the conflict report and the row, shared by the staff
chat's /teach and `hotline faq teach`.

A phrasing that would change how other entries' own phrasings are answered is not stored unless
the caller insists (`force`): a conflict changes answers members already get, at once and in
every process, so staff see it first and decide.
"""

from __future__ import annotations

import asyncio
import difflib
import enum
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import texts
from bot.core.errors import UserFacingError
from bot.core.types import Band
from bot.knowledge.loader import KnowledgeBase
from bot.knowledge.matcher import MatchResult
from bot.knowledge.schema import FaqEntry, entry_texts
from bot.store.models import LearnedPhrasing, utcnow
from bot.teaching.conflicts import Conflict, find_conflicts, outcome
from bot.teaching.learned import (
    Learned,
    Version,
    by_entry,
    normalised,
    read_learned,
    text_key,
    tidy,
    version_of,
)
from bot.teaching.live import LiveKnowledge


class Status(enum.StrEnum):
    TAUGHT = "taught"
    KNOWN = "known"  # already a phrasing of that entry: nothing to do
    HELD = "held"  # not stored: it would change other answers


@dataclass(frozen=True)
class Teaching:
    status: Status
    entry: FaqEntry
    text: str
    conflicts: tuple[Conflict, ...] = ()
    result: MatchResult | None = None  # what the text gets once taught
    kb: KnowledgeBase | None = None  # the knowledge base with it, to install after the commit
    version: Version | None = None

    def lines(self, *, held_hint: str) -> list[str]:
        if self.status is Status.KNOWN:
            return [texts.TEACH_KNOWN.format(text=self.text, entry_id=self.entry.id)]
        done = self.status is Status.TAUGHT
        changes = [f"- {c.describe(done=done)}" for c in self.conflicts]
        if not done:
            head = texts.TEACH_HELD.format(text=self.text, entry_id=self.entry.id)
            return [head, *changes, held_hint]
        lines = [
            texts.TEACH_DONE.format(
                text=self.text, entry_id=self.entry.id, question=self.entry.question
            )
        ]
        result = self.result
        if result is not None and result.band is Band.ANSWER and result.answer_id == self.entry.id:
            lines.append(texts.TEACH_ANSWERS)
        elif result is not None:
            lines.append(texts.TEACH_STILL.format(outcome=outcome(result)))
        if changes:
            lines += [texts.TEACH_CHANGES, *changes]
        return lines


def check_text(text: str, max_chars: int) -> str:
    """The text tidied, or a clear refusal when it is empty or too long."""
    tidied = tidy(text)
    if not normalised(tidied):
        raise UserFacingError(texts.TEACH_EMPTY)
    if len(tidied) > max_chars:
        raise UserFacingError(texts.TEACH_TOO_LONG.format(length=len(tidied), limit=max_chars))
    return tidied


def known_entry(kb: KnowledgeBase, entry_id: str) -> FaqEntry:
    entry = kb.entry(entry_id.strip().lower())
    if entry is not None:
        return entry
    close = difflib.get_close_matches(entry_id.strip().lower(), kb.index.ids, n=3, cutoff=0.6)
    hint = texts.TEACH_DID_YOU_MEAN.format(ids=", ".join(close)) if close else ""
    raise UserFacingError(texts.TEACH_UNKNOWN_ENTRY.format(entry_id=entry_id[:60], hint=hint))


def owner_of(base: KnowledgeBase, rows: tuple[Learned, ...], normal: str) -> str | None:
    """The entry that already has this wording, in the files or learned."""
    for entry in base.index.entries:
        if any(normalised(t) == normal for t in entry_texts(entry)):
            return entry.id
    return next(
        (r.entry_id for r in rows if base.entry(r.entry_id) and normalised(r.text) == normal),
        None,
    )


async def teach(
    session: AsyncSession,
    live: LiveKnowledge,
    entry_id: str,
    text: str,
    *,
    max_chars: int,
    taught_by: int | None = None,
    question_id: int | None = None,
    force: bool = False,
) -> Teaching:
    """Store `text` as a phrasing of `entry_id` in the caller's transaction (not committed);
    the caller commits, then installs `kb` in `live`. Refuses (UserFacingError) an empty or
    over-long text, an unknown entry and a wording another entry already has."""
    text = check_text(text, max_chars)
    entry = known_entry(live.base, entry_id)
    normal = normalised(text)
    rows = await read_learned(session)
    owner = owner_of(live.base, rows, normal)
    if owner == entry.id:
        return Teaching(Status.KNOWN, entry, text)
    if owner is not None:
        raise UserFacingError(texts.TEACH_OTHER_ENTRY.format(text=text, owner=owner))

    def rebuild() -> tuple[KnowledgeBase, KnowledgeBase]:
        before = live.current if live.version == version_of(rows) else live.build(rows)
        after = live.base.with_phrasings(by_entry((*rows, Learned(0, entry.id, text))))
        return before, after

    before, after = await asyncio.to_thread(rebuild)
    conflicts = await asyncio.to_thread(find_conflicts, before, after, entry.id, text)
    if conflicts and not force:
        return Teaching(Status.HELD, entry, text, conflicts)
    row = LearnedPhrasing(
        entry_id=entry.id,
        text=text,
        normalised=normal,
        text_key=text_key(normal),
        taught_by_id=taught_by,
        question_id=question_id,
        created_at=utcnow(),
    )
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:  # taught by someone else a moment ago
        return Teaching(Status.KNOWN, entry, text)
    version = version_of((*rows, Learned(row.id, entry.id, text)))
    return Teaching(Status.TAUGHT, entry, text, conflicts, after.match(text), after, version)
