"""What the FAQ is missing, and what it has learned, for the office: the gaps report and the
export of learned phrasings as YAML in the FAQ files' terms."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import yaml
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.types import Band
from bot.knowledge.loader import KnowledgeBase
from bot.knowledge.schema import entry_texts
from bot.store.models import AnswerFeedback, QuestionLog
from bot.teaching.learned import Learned, by_entry, keys_of, normalised, read_learned, tidy


@dataclass(frozen=True, slots=True)
class Gap:
    text: str  # the latest wording of the group
    count: int
    last_asked: datetime
    answered_with: str | None = None  # the entry whose answer was marked not helpful


@dataclass(frozen=True, slots=True)
class Gaps:
    unanswered: tuple[Gap, ...]
    not_helpful: tuple[Gap, ...]
    taught: int  # groups left out because their wording has been taught since


def _grouped(rows: Sequence[tuple[str, datetime, str | None]]) -> list[Gap]:
    """Rows of (text, when, entry) grouped by normalised text and entry, most frequent first."""
    groups: dict[tuple[str, str | None], list[tuple[str, datetime]]] = {}
    for text, when, entry_id in rows:
        normal = normalised(text)
        if normal:
            groups.setdefault((normal, entry_id), []).append((text, when))
    gaps = []
    for (_, entry_id), asked in groups.items():
        text, last = max(asked, key=lambda a: a[1])
        gaps.append(Gap(tidy(text), len(asked), last, entry_id))
    gaps.sort(key=lambda g: (-g.count, -g.last_asked.timestamp(), g.text))
    return gaps


async def gaps_since(session: AsyncSession, since: datetime, kb: KnowledgeBase) -> Gaps:
    """Questions the FAQ could not answer (band unknown, or suggestions of which none was
    chosen) and answers marked not helpful, asked since `since`. Wordings taught since (learned,
    or now in the files of `kb`) are left out; a not-helpful one only when it now belongs to
    another entry than the one whose answer did not help."""
    unanswered = await session.execute(
        select(QuestionLog.text, QuestionLog.created_at).where(
            QuestionLog.created_at >= since,
            or_(
                QuestionLog.band == Band.UNKNOWN,
                and_(QuestionLog.band == Band.SUGGEST, QuestionLog.chosen_id.is_(None)),
            ),
        )
    )
    feedback = await session.execute(
        select(QuestionLog.text, AnswerFeedback.created_at, AnswerFeedback.faq_id)
        .join(QuestionLog, QuestionLog.id == AnswerFeedback.question_id)
        .where(AnswerFeedback.helpful.is_(False), AnswerFeedback.created_at >= since)
    )
    taught = keys_of(by_entry(await read_learned(session))) | keys_of(
        {e.id: tuple(entry_texts(e)) for e in kb.index.entries}
    )
    left_out = 0
    open_gaps = []
    for gap in _grouped([(text, when, None) for text, when in unanswered.all()]):
        if normalised(gap.text) in taught:
            left_out += 1
        else:
            open_gaps.append(gap)
    unhelpful = []
    for gap in _grouped([(text, when, faq_id) for text, when, faq_id in feedback.all()]):
        owner = taught.get(normalised(gap.text))
        if owner is not None and owner != gap.answered_with:
            left_out += 1
        else:
            unhelpful.append(gap)
    return Gaps(tuple(open_gaps), tuple(unhelpful), left_out)


@dataclass(frozen=True, slots=True)
class Export:
    text: str  # the YAML document
    phrasings: int
    entries: int
    already_in_files: int


def export_yaml(rows: Sequence[Learned], kb: KnowledgeBase, when: datetime) -> Export:
    """The learned phrasings as a YAML list of `{id, alternatives}` (the FAQ schema's fields),
    one item per entry, each with a comment naming the entry's file and question, ready to be
    added to those entries' alternatives in data/faq/. Phrasings the files already have are
    left out."""
    in_files = {
        (e.id, normalised(t)) for e in kb.index.entries for t in entry_texts(e) if normalised(t)
    }
    fresh = [r for r in rows if (r.entry_id, normalised(r.text)) not in in_files]
    grouped = by_entry(fresh)
    lines = [
        f"# Learned phrasings from the hotline database, {when:%Y-%m-%d %H:%M} UTC.",
        "# Add each item's alternatives to the entry with that id in data/faq/ (the comment",
        "# names its file), then run `hotline faq check`.",
    ]
    if len(rows) > len(fresh):
        lines.append(
            f"# {len(rows) - len(fresh)} learned phrasings already in the files: left out."
        )
    if not grouped:
        lines.append("[]")
    for entry_id, texts in grouped.items():
        entry = kb.entry(entry_id)
        where = f"{entry.source}: {entry.question}" if entry else "not in data/faq/ any more"
        lines.append(f"# {' '.join(where.split())}")
        item = yaml.safe_dump(
            [{"id": entry_id, "alternatives": list(texts)}],
            sort_keys=False,
            allow_unicode=True,
            width=100,
        )
        lines.append(item.rstrip("\n"))
    return Export("\n".join(lines) + "\n", len(fresh), len(grouped), len(rows) - len(fresh))
