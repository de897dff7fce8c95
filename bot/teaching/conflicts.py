"""What teaching a phrasing would change for the other entries (pure).

Every existing phrasing (question, alternative, learned phrasing) of another entry that shares a
term with the new phrasing is matched before and after; one whose answer or band changes is a
conflict: members asking it would get something else from now on.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.types import Band
from bot.knowledge.loader import KnowledgeBase
from bot.knowledge.matcher import MatchResult, query_terms
from bot.knowledge.schema import entry_texts


@dataclass(frozen=True, slots=True)
class Conflict:
    text: str  # a phrasing of `owner`
    owner: str
    before: MatchResult
    after: MatchResult

    def describe(self, *, done: bool) -> str:
        if self.after.band is Band.ANSWER and self.after.answer_id:
            verb = "now matches" if done else "would match"
        else:
            verb = "now gets" if done else "would get"
        return (
            f'"{self.text}" (a phrasing of {self.owner}) {verb} {outcome(self.after)} '
            f"instead of {outcome(self.before)}"
        )


def outcome(result: MatchResult) -> str:
    if result.band is Band.ANSWER and result.answer_id:
        return result.answer_id
    return "suggestions" if result.band is Band.SUGGEST else "no answer"


def _same(a: MatchResult, b: MatchResult) -> bool:
    return a.band is b.band and a.answer_id == b.answer_id


def _may_move(terms: set[str], own: set[str]) -> bool:
    """A phrasing that shares no term with the new one cannot move; with no terms at all (only
    function words) the matcher compares whole phrases, so those are compared with each other."""
    return bool(terms & own) if terms else not own


def find_conflicts(
    before: KnowledgeBase, after: KnowledgeBase, entry_id: str, text: str
) -> tuple[Conflict, ...]:
    """The phrasings of other entries that `after` (with `text` taught as a phrasing of
    `entry_id`) matches differently from `before`."""
    terms = set(query_terms(text, after.index))
    found: list[Conflict] = []
    for entry in after.index.entries:
        if entry.id == entry_id:
            continue
        for phrasing in entry_texts(entry):
            if not _may_move(terms, set(query_terms(phrasing, after.index))):
                continue
            old, new = before.match(phrasing), after.match(phrasing)
            if not _same(old, new):
                found.append(Conflict(phrasing, entry.id, old, new))
    return tuple(found)
