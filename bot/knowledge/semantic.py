"""The sentence-embedding signal beside the lexical matcher, and the one decision over both.

Every phrasing of every entry (its question and alternatives, learned phrasings included) is
embedded once; a question's semantic score for an entry is its best cosine over the entry's
phrasings. The combined score is `lexical_weight * lexical + (1 - lexical_weight) * cosine`, and
the same answer / suggest / unknown decision as the lexical matcher runs on it with thresholds of
its own (`CombinedPolicy`, chosen by cross-validation with bench/tune_matcher.py). When the
lexical score alone is decisive (high, with a clear lead) the model is not run at all.

Pure apart from the embedder's arithmetic: building reads no files (see `phrasing_cache` for
the on-disk cache of phrasing vectors, which the loader uses).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bot.core.types import Band
from bot.knowledge.embedding import Embedder, Vectors, cached_embed
from bot.knowledge.index import FaqIndex
from bot.knowledge.matcher import (
    DEFAULT_COMBINED,
    DEFAULT_POLICY,
    MAX_SUGGESTIONS,
    CombinedPolicy,
    MatchPolicy,
    MatchResult,
    decide,
    guard_one_word,
    lexical,
)
from bot.knowledge.schema import entry_texts

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_COMBINED",
    "CombinedPolicy",
    "SemanticIndex",
    "build_semantic",
    "combine",
    "combined_match",
    "phrasing_cache",
    "phrasings",
]


@dataclass(frozen=True)
class SemanticIndex:
    """Unit vectors of every phrasing, grouped by entry (rows of entry n are
    `starts[n]:starts[n + 1]`, every entry has at least its question)."""

    embedder: Embedder
    vectors: Vectors
    starts: NDArray[np.intp]
    ids: tuple[str, ...]

    def cosines(self, text: str) -> NDArray[np.float32]:
        """The best cosine of `text` with each entry's phrasings, in entry order."""
        similarity = self.vectors @ self.embedder.embed_one(text)
        return np.asarray(np.maximum.reduceat(similarity, self.starts[:-1]), dtype=np.float32)

    def match(
        self, text: str, index: FaqIndex, policy: MatchPolicy, combined: CombinedPolicy
    ) -> MatchResult:
        """`combined_match` with these vectors (the knowledge base asks through here, so that
        it needs numpy only when it has a model)."""
        return combined_match(text, index, self, policy, combined)


def phrasings(index: FaqIndex) -> tuple[list[str], NDArray[np.intp]]:
    texts: list[str] = []
    starts = [0]
    for entry in index.entries:
        texts.extend(entry_texts(entry))
        starts.append(len(texts))
    return texts, np.asarray(starts, dtype=np.intp)


def phrasing_cache(folder: Path | None) -> Callable[[Embedder, list[str]], Vectors]:
    """Embed phrasings, reusing the vectors saved for exactly these texts and this model."""
    return lambda embedder, texts: cached_embed(embedder, texts, folder, "phrasings-")


def build_semantic(
    index: FaqIndex,
    embedder: Embedder,
    embed: Callable[[Embedder, list[str]], Vectors] | None = None,
) -> SemanticIndex:
    texts, starts = phrasings(index)
    vectors = (embed or phrasing_cache(None))(embedder, texts)
    return SemanticIndex(embedder, vectors, starts, index.ids)


def combined_match(
    text: str,
    index: FaqIndex,
    semantic: SemanticIndex,
    policy: MatchPolicy = DEFAULT_POLICY,
    combined: CombinedPolicy = DEFAULT_COMBINED,
) -> MatchResult:
    found = lexical(text, index, policy)
    alone = decide(found.query, found.scores, policy)
    if alone.band is Band.ANSWER and _decisive(alone, combined):
        return guard_one_word(alone, found.terms, index, policy.one_word_spread)
    if not found.query:
        return alone
    scores = combine(found.scores, semantic.cosines(found.query), semantic.ids, combined)
    result = decide(found.query, scores, combined.thresholds(policy))
    return guard_one_word(result, found.terms, index, policy.one_word_spread)


def combine(
    lexical_scores: dict[str, float],
    cosines: NDArray[np.float32],
    ids: Sequence[str],
    combined: CombinedPolicy,
    keep: int = MAX_SUGGESTIONS + 1,
) -> dict[str, float]:
    """The combined score of the entries that can matter to the decision: the `keep` best, and
    any tied with the last of them (the decision breaks ties by id). Scored as arrays, so a
    thousand entries cost no more Python than seventy."""
    w = combined.lexical_weight
    scores = (1 - w) * cosines.astype(np.float64)
    if lexical_scores:
        position = {entry_id: n for n, entry_id in enumerate(ids)}
        for entry_id, s in lexical_scores.items():
            scores[position[entry_id]] += w * s
    if len(scores) > keep:
        cut = np.partition(scores, len(scores) - keep)[len(scores) - keep]
        chosen = np.flatnonzero(scores >= cut)
    else:
        chosen = np.arange(len(scores))
    return {ids[int(n)]: float(scores[n]) for n in chosen}


def _decisive(result: MatchResult, combined: CombinedPolicy) -> bool:
    second = result.suggestions[1].score if len(result.suggestions) > 1 else 0.0
    return (
        result.score >= combined.decisive_at and result.score - second >= combined.decisive_margin
    )
