"""Match a question against the FAQ index: a typed result with a band and scores (STYLE.md 3).

Pure: reads only the index it is given. The score of an entry blends three signals, each in
[0, 1]:

* coverage: the share of the question's information (IDF mass) that the entry's words account
  for; words the knowledge base has never seen count against every entry, which is what makes
  out-of-scope questions score low;
* closest phrasing: IDF-weighted cosine between the question and the entry's best question or
  alternative phrasing;
* word pairs: the share of the question's adjacent term pairs that the entry also has.

The band follows from the top score and its lead over the runner-up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from rapidfuzz import fuzz, process

from bot.knowledge.index import FaqIndex, term_pairs
from bot.knowledge.language import analyse, stem, words

MAX_QUERY_WORDS = 60
MAX_SUGGESTIONS = 3


class Band(StrEnum):
    ANSWER = "answer"
    SUGGEST = "suggest"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Scored:
    id: str
    score: float


@dataclass(frozen=True, slots=True)
class MatchResult:
    query: str
    band: Band
    answer_id: str | None
    score: float
    suggestions: tuple[Scored, ...]

    def as_json(self) -> dict[str, object]:
        return {
            "query": self.query,
            "band": self.band.value,
            "answer_id": self.answer_id,
            "score": round(self.score, 4),
            "suggestions": [{"id": s.id, "score": round(s.score, 4)} for s in self.suggestions],
        }


@dataclass(frozen=True, slots=True)
class MatchPolicy:
    """Weights and thresholds, tuned with bench/faq_quality.py."""

    coverage_weight: float = 0.5
    phrasing_weight: float = 0.4
    bigram_weight: float = 0.1
    weak_credit: float = 0.4
    answer_at: float = 0.5
    answer_margin: float = 0.06
    suggest_at: float = 0.3
    suggestion_floor: float = 0.12
    typo_cutoff: float = 80.0


DEFAULT_POLICY = MatchPolicy()


def query_terms(text: str, index: FaqIndex, policy: MatchPolicy = DEFAULT_POLICY) -> list[str]:
    """The analysed terms of a question, with unknown words corrected to known ones when close."""
    raw = words(text)[:MAX_QUERY_WORDS]
    corrected = [_correct(w, index, policy.typo_cutoff) for w in raw]
    seen: set[str] = set()
    out: list[str] = []
    for t in analyse(corrected, index.lexicon):
        if t in seen:
            continue
        if t.isdigit() and t not in index.idf:
            continue  # times, dates and counts say nothing about the topic
        seen.add(t)
        out.append(t)
    return out


def _correct(word: str, index: FaqIndex, cutoff: float) -> str:
    if len(word) < 4 or not word.isalpha() or word in index.lexicon.stopwords:
        return word
    if stem(word) in index.known_stems:
        return word
    candidates: list[str] = []
    for length in range(len(word) - 2, len(word) + 3):
        candidates.extend(index.vocabulary_by_length.get(length, ()))
    needed = cutoff if len(word) > 5 else max(cutoff, 85.0)
    best = process.extractOne(word, candidates, scorer=fuzz.ratio, score_cutoff=needed)
    return best[0] if best else word


def match(text: str, index: FaqIndex, policy: MatchPolicy = DEFAULT_POLICY) -> MatchResult:
    query = text.strip()
    terms = query_terms(query, index, policy)
    scores = _score(terms, index, policy)
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    suggestions = tuple(
        Scored(index.entries[i].id, s)
        for i, s in ranked[:MAX_SUGGESTIONS]
        if s >= policy.suggestion_floor
    )
    top = ranked[0][1] if ranked else 0.0
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    if top >= policy.answer_at and top - second >= policy.answer_margin:
        band = Band.ANSWER
    elif top >= policy.suggest_at and suggestions:
        band = Band.SUGGEST
    else:
        band = Band.UNKNOWN
    answer_id = index.entries[ranked[0][0]].id if band is Band.ANSWER else None
    return MatchResult(query, band, answer_id, top, suggestions)


def _score(terms: list[str], index: FaqIndex, policy: MatchPolicy) -> dict[int, float]:
    if not terms:
        return {}
    weights = {t: index.idf.get(t, index.unseen_idf) for t in terms}
    total = sum(weights.values())
    coverage: dict[int, float] = {}
    for t, w in weights.items():
        strong = index.strong.get(t, frozenset())
        for i in strong:
            coverage[i] = coverage.get(i, 0.0) + w
        for i in index.weak.get(t, frozenset()) - strong:
            coverage[i] = coverage.get(i, 0.0) + w * policy.weak_credit

    qnorm = math.sqrt(sum(w * w for w in weights.values()))
    dots: dict[int, float] = {}
    for t, w in weights.items():
        for p in index.phrasing_postings.get(t, ()):
            dots[p] = dots.get(p, 0.0) + w * w
    closest: dict[int, float] = {}
    for p, dot in dots.items():
        sim = dot / (qnorm * index.phrasing_norm[p])
        e = index.phrasing_entry[p]
        if sim > closest.get(e, 0.0):
            closest[e] = sim

    pairs = term_pairs(terms)
    paired: dict[int, int] = {}
    for bg in pairs:
        for i in index.bigrams.get(bg, frozenset()):
            paired[i] = paired.get(i, 0) + 1

    return {
        i: policy.coverage_weight * cov / total
        + policy.phrasing_weight * closest.get(i, 0.0)
        + policy.bigram_weight * (paired.get(i, 0) / len(pairs) if pairs else 0.0)
        for i, cov in coverage.items()
    }
