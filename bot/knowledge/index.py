"""An immutable search index over FAQ entries, built once at load time.

Each entry contributes two term sets: *strong* terms (question, alternative phrasings, keywords,
tags) and *weak* terms (the answer text). Every question and alternative is also kept as a
*phrasing* for a closest-phrasing similarity. Inverted postings keep a query's cost proportional
to the entries that share its terms, not to the size of the knowledge base.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

from bot.knowledge.language import Lexicon, analyse, words
from bot.knowledge.schema import FaqEntry, entry_texts


@dataclass(frozen=True)
class FaqIndex:
    entries: tuple[FaqEntry, ...]
    lexicon: Lexicon
    idf: Mapping[str, float]
    unseen_idf: float
    strong: Mapping[str, frozenset[int]]
    weak: Mapping[str, frozenset[int]]
    bigrams: Mapping[tuple[str, str], frozenset[int]]
    phrasing_postings: Mapping[str, tuple[int, ...]]
    phrasing_entry: tuple[int, ...]
    phrasing_norm: tuple[float, ...]
    # every phrasing's words, normalised, for questions made only of stopwords
    phrasing_texts: tuple[tuple[str, int], ...]
    known_stems: frozenset[str]
    # surface words grouped by first letter and length, for typo correction
    vocabulary: Mapping[tuple[str, int], tuple[str, ...]]
    positions: Mapping[str, int]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(e.id for e in self.entries)

    def entry(self, entry_id: str) -> FaqEntry | None:
        i = self.positions.get(entry_id)
        return None if i is None else self.entries[i]


def term_pairs(terms: Sequence[str]) -> set[tuple[str, str]]:
    return {(a, b) for a, b in pairwise(terms) if a != b}


def _label_words(label: str) -> list[str]:
    return words(label.replace("-", " "))


def build_index(entries: Sequence[FaqEntry], lexicon: Lexicon) -> FaqIndex:
    strong: defaultdict[str, set[int]] = defaultdict(set)
    weak: defaultdict[str, set[int]] = defaultdict(set)
    bigrams: defaultdict[tuple[str, str], set[int]] = defaultdict(set)
    phrasing_terms: list[list[str]] = []
    phrasing_entry: list[int] = []
    surface: set[str] = set(lexicon.surface_words)
    texts: list[tuple[str, int]] = []

    for i, entry in enumerate(entries):
        for text in entry_texts(entry):
            ws = words(text)
            surface.update(ws)
            texts.append((" ".join(ws), i))
            terms = analyse(ws, lexicon)
            if terms:
                phrasing_terms.append(terms)
                phrasing_entry.append(i)
            for t in terms:
                strong[t].add(i)
            for bg in term_pairs(terms):
                bigrams[bg].add(i)
        for label in (*entry.keywords, *entry.tags):
            ws = _label_words(label)
            surface.update(ws)
            terms = analyse(ws, lexicon)
            for t in terms:
                strong[t].add(i)
            for bg in term_pairs(terms):
                bigrams[bg].add(i)
        ws = words(entry.answer)
        surface.update(ws)
        for t in analyse(ws, lexicon):
            weak[t].add(i)

    n = max(len(entries), 1)
    df: defaultdict[str, int] = defaultdict(int)
    for term in set(strong) | set(weak):
        df[term] = len(strong.get(term, set()) | weak.get(term, set()))
    idf = {t: _idf(n, d) for t, d in df.items()}
    unseen = _idf(n, 0)

    postings: defaultdict[str, list[int]] = defaultdict(list)
    norms: list[float] = []
    for p, terms in enumerate(phrasing_terms):
        unique = set(terms)
        for t in unique:
            postings[t].append(p)
        norms.append(math.sqrt(sum(idf[t] ** 2 for t in unique)))

    by_shape: defaultdict[tuple[str, int], list[str]] = defaultdict(list)
    for w in sorted(surface):
        if w.isalpha() and len(w) >= 3:
            by_shape[(w[0], len(w))].append(w)

    return FaqIndex(
        entries=tuple(entries),
        lexicon=lexicon,
        idf=idf,
        unseen_idf=unseen,
        strong={t: frozenset(s) for t, s in strong.items()},
        weak={t: frozenset(s) for t, s in weak.items()},
        bigrams={b: frozenset(s) for b, s in bigrams.items()},
        phrasing_postings={t: tuple(p) for t, p in postings.items()},
        phrasing_entry=tuple(phrasing_entry),
        phrasing_norm=tuple(norms),
        phrasing_texts=tuple(texts),
        known_stems=frozenset(idf) | lexicon.known_stems,
        vocabulary={k: tuple(v) for k, v in by_shape.items()},
        positions={e.id: i for i, e in enumerate(entries)},
    )


def _idf(n: int, df: int) -> float:
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))
