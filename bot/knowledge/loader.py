"""Loading the knowledge base from a data folder: the one place in this package that reads files."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from bot.knowledge.embedding import Embedder
from bot.knowledge.index import FaqIndex, build_index
from bot.knowledge.language import load_lexicon
from bot.knowledge.matcher import DEFAULT_POLICY, MatchPolicy, MatchResult, best_of, match
from bot.knowledge.schema import FaqEntry, load_faq_dir
from bot.knowledge.semantic import (
    DEFAULT_COMBINED,
    CombinedPolicy,
    SemanticIndex,
    build_semantic,
    combined_match,
    phrasing_cache,
    phrasings,
)

# The language files ship with the project; a DATA_DIR without its own falls back to these.
BUNDLED_DATA_DIR = Path(__file__).resolve().parents[2] / "data"


@dataclass(frozen=True)
class KnowledgeBase:
    """The index, and the embedding signal beside it when a model is installed (without one,
    `semantic` is None and the lexical matcher decides alone)."""

    index: FaqIndex
    policy: MatchPolicy = DEFAULT_POLICY
    semantic: SemanticIndex | None = None
    combined: CombinedPolicy = DEFAULT_COMBINED

    def match(self, text: str) -> MatchResult:
        if self.semantic is None:
            return match(text, self.index, self.policy)
        return combined_match(text, self.index, self.semantic, self.policy, self.combined)

    def best_of(self, text: str, candidates: Sequence[str]) -> str | None:
        return best_of(text, self.index, candidates, self.policy)

    def entry(self, entry_id: str) -> FaqEntry | None:
        return self.index.entry(entry_id)

    def with_phrasings(self, extra: Mapping[str, Sequence[str]]) -> KnowledgeBase:
        """The same knowledge base with more phrasings for some entries (learned ones): the
        index is rebuilt, and only phrasings not embedded before are embedded."""
        entries = tuple(
            replace(e, alternatives=(*e.alternatives, *extra[e.id])) if extra.get(e.id) else e
            for e in self.index.entries
        )
        index = build_index(entries, self.index.lexicon)
        if self.semantic is None:
            return replace(self, index=index)
        known_texts, _ = phrasings(self.index)
        known = dict(zip(known_texts, self.semantic.vectors, strict=True))

        def reuse(embedder: Embedder, texts: list[str]) -> np.ndarray:
            new = [t for t in dict.fromkeys(texts) if t not in known]
            fresh = dict(zip(new, embedder.embed(new), strict=True)) if new else {}
            return np.stack([known[t] if t in known else fresh[t] for t in texts])

        semantic = build_semantic(index, self.semantic.embedder, reuse)
        return replace(self, index=index, semantic=semantic)


def language_dir(data_dir: Path) -> Path:
    own = data_dir / "language"
    return own if own.is_dir() else BUNDLED_DATA_DIR / "language"


def load_knowledge_base(
    data_dir: Path, embedder: Embedder | None = None, cache_dir: Path | None = None
) -> KnowledgeBase:
    """Load and validate `data_dir/faq`; raises DataError with one line per problem. With an
    embedder, every phrasing is embedded (or read from `cache_dir`, keyed by model and texts)."""
    entries = load_faq_dir(data_dir / "faq")
    lexicon = load_lexicon(language_dir(data_dir))
    index = build_index(entries, lexicon)
    if embedder is None:
        return KnowledgeBase(index)
    return KnowledgeBase(index, semantic=build_semantic(index, embedder, phrasing_cache(cache_dir)))
