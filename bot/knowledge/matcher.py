"""Match a question against the FAQ index: a typed result with a band and scores.

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
from collections.abc import Sequence
from dataclasses import dataclass, replace

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from bot.core.types import Band
from bot.knowledge.index import FaqIndex, term_pairs
from bot.knowledge.language import analyse, stem, words

MAX_QUERY_WORDS = 60
MAX_SUGGESTIONS = 3


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

    coverage_weight: float = 0.3
    phrasing_weight: float = 0.5
    bigram_weight: float = 0.2
    weak_credit: float = 0.2
    answer_at: float = 0.24
    answer_margin: float = 0.02
    suggest_at: float = 0.2
    suggestion_floor: float = 0.1
    idf_power: float = 0.4  # below 1 flattens term weights, above 1 sharpens them
    unseen_factor: float = 0.8  # weight of a never-seen word, as a share of the rarest known one
    # rapidfuzz ratio that a question made only of stopwords needs against a phrasing
    verbatim_cutoff: float = 75.0
    # a one-word question is answered only when at most this many entries have the word
    one_word_spread: int = 3


DEFAULT_POLICY = MatchPolicy()


@dataclass(frozen=True, slots=True)
class CombinedPolicy:
    """Weights and thresholds of the decision over words and embeddings together
    (bot/knowledge/semantic.py), tuned with bench/tune_matcher.py."""

    lexical_weight: float = 0.6
    answer_at: float = 0.36
    answer_margin: float = 0.01
    suggest_at: float = 0.25
    suggestion_floor: float = 0.2
    # The lexical matcher's own answer stands without the model when it is this sure.
    decisive_at: float = 0.6
    decisive_margin: float = 0.2

    def thresholds(self, policy: MatchPolicy) -> MatchPolicy:
        return replace(
            policy,
            answer_at=self.answer_at,
            answer_margin=self.answer_margin,
            suggest_at=self.suggest_at,
            suggestion_floor=self.suggestion_floor,
        )


DEFAULT_COMBINED = CombinedPolicy()


def query_terms(text: str, index: FaqIndex) -> list[str]:
    """The analysed terms of a question, with unknown words corrected to known ones when close."""
    raw = words(text)[:MAX_QUERY_WORDS]
    corrected = [_correct(w, index) for w in raw]
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


def _correct(word: str, index: FaqIndex) -> str:
    """The closest known word when `word` is unknown and looks like a typo of it.

    A typo keeps the first letter and costs one edit (a transposition counts as one) in a short
    word, two in a long one. Anything looser turns out-of-scope words into in-scope ones
    ("uniforms" into "informs"), which costs more than the typos it catches.
    """
    if len(word) < 4 or not word.isalpha() or word in index.lexicon.stopwords:
        return word
    if stem(word) in index.known_stems:
        return word
    budget = 1 if len(word) < 8 else 2
    lengths = (len(word),) if len(word) < 6 else range(len(word) - budget, len(word) + budget + 1)
    candidates = [w for n in lengths for w in index.vocabulary.get((word[0], n), ())]
    best = process.extractOne(word, candidates, scorer=OSA.distance, score_cutoff=budget)
    return best[0] if best else word


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the entries share with one question: per entry index, each signal in [0, 1]."""

    strong: dict[
        int, float
    ]  # share of the question's weight in the entry's phrasings, keywords, tags
    weak: dict[int, float]  # share found only in the entry's answer
    closest: dict[int, float]  # weighted cosine with the entry's closest phrasing
    pairs: dict[int, float]  # share of the question's adjacent term pairs the entry also has

    def scores(self, policy: MatchPolicy) -> dict[int, float]:
        cw, wc = policy.coverage_weight, policy.coverage_weight * policy.weak_credit
        pw, bw = policy.phrasing_weight, policy.bigram_weight
        strong, weak, closest, pairs = self.strong, self.weak, self.closest, self.pairs
        return {
            i: cw * strong.get(i, 0.0)
            + wc * weak.get(i, 0.0)
            + pw * closest.get(i, 0.0)
            + bw * pairs.get(i, 0.0)
            for i in strong.keys() | weak.keys()
        }


NO_EVIDENCE = Evidence({}, {}, {}, {})


@dataclass(frozen=True, slots=True)
class Lexical:
    """The lexical evidence for one question: its terms and a score per entry id."""

    query: str
    terms: tuple[str, ...]
    scores: dict[str, float]


def lexical(text: str, index: FaqIndex, policy: MatchPolicy = DEFAULT_POLICY) -> Lexical:
    query = text.strip()
    terms = query_terms(query, index)
    if not terms:
        return Lexical(query, (), _function_word_scores(query, index, policy))
    scores = evidence(terms, index, policy).scores(policy)
    return Lexical(query, tuple(terms), {index.entries[i].id: s for i, s in scores.items()})


def match(text: str, index: FaqIndex, policy: MatchPolicy = DEFAULT_POLICY) -> MatchResult:
    found = lexical(text, index, policy)
    return guard_one_word(
        decide(found.query, found.scores, policy), found.terms, index, policy.one_word_spread
    )


def guard_one_word(
    result: MatchResult, terms: Sequence[str], index: FaqIndex, spread: int
) -> MatchResult:
    """One word that several entries share ("coaching", "support") cannot say which is meant."""
    if result.band is Band.ANSWER and len(terms) == 1 and _entries_with(terms[0], index) > spread:
        return replace(result, band=Band.SUGGEST, answer_id=None)
    return result


def best_of(
    text: str, index: FaqIndex, candidates: Sequence[str], policy: MatchPolicy = DEFAULT_POLICY
) -> str | None:
    """The candidate entry the text matches best (the same scores as `match`), or None when it
    shares nothing with any of them."""
    scores = evidence(query_terms(text.strip(), index), index, policy).scores(policy)
    by_id = {index.entries[i].id: score for i, score in scores.items()}
    scored = [(by_id.get(c, 0.0), -n, c) for n, c in enumerate(candidates)]
    best = max(scored, default=None)
    return best[2] if best is not None and best[0] > 0 else None


def _entries_with(term: str, index: FaqIndex) -> int:
    return len(index.strong.get(term, frozenset()) | index.weak.get(term, frozenset()))


def _function_word_scores(query: str, index: FaqIndex, policy: MatchPolicy) -> dict[str, float]:
    """For a question made only of stopwords ("what is this"): whole-phrase similarity.

    Only a near-verbatim phrasing counts; the score is scaled so that it clears the answer
    threshold only when the phrasing is almost exactly what was typed.
    """
    text = " ".join(words(query)[:MAX_QUERY_WORDS])
    if len(text.split()) < 2:
        return {}
    choices = [t for t, _ in index.phrasing_texts]
    scores: dict[str, float] = {}
    for _, score, pos in process.extract(
        text, choices, scorer=fuzz.ratio, limit=MAX_SUGGESTIONS, score_cutoff=policy.verbatim_cutoff
    ):
        entry_id = index.entries[index.phrasing_texts[pos][1]].id
        scores.setdefault(
            entry_id, (score - policy.verbatim_cutoff) / (100 - policy.verbatim_cutoff)
        )
    return scores


def decide(query: str, scores: dict[str, float], policy: MatchPolicy) -> MatchResult:
    """The band from the ranked scores: an answer needs a high score and a lead."""
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    suggestions = tuple(
        Scored(entry_id, s)
        for entry_id, s in ranked[:MAX_SUGGESTIONS]
        if s >= policy.suggestion_floor
    )
    top = ranked[0][1] if ranked else 0.0
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    if top >= policy.answer_at and top - second >= policy.answer_margin:
        return MatchResult(query, Band.ANSWER, ranked[0][0], top, suggestions)
    band = Band.SUGGEST if top >= policy.suggest_at and suggestions else Band.UNKNOWN
    return MatchResult(query, band, None, top, suggestions)


def evidence(terms: list[str], index: FaqIndex, policy: MatchPolicy = DEFAULT_POLICY) -> Evidence:
    """The signals of every entry sharing at least one term with the question."""
    if not terms:
        return NO_EVIDENCE
    unseen = index.unseen_idf * policy.unseen_factor
    weights = {t: index.idf.get(t, unseen) ** policy.idf_power for t in terms}
    total = sum(weights.values())
    strong: dict[int, float] = {}
    weak: dict[int, float] = {}
    for t, w in weights.items():
        share = w / total
        in_strong = index.strong.get(t, frozenset())
        for i in in_strong:
            strong[i] = strong.get(i, 0.0) + share
        for i in index.weak.get(t, frozenset()) - in_strong:
            weak[i] = weak.get(i, 0.0) + share

    qnorm = math.sqrt(sum(w * w for w in weights.values()))
    dots: dict[int, float] = {}
    for t, w in weights.items():
        for p in index.phrasing_postings.get(t, ()):
            dots[p] = dots.get(p, 0.0) + w * w
    closest: dict[int, float] = {}
    norms, owners = index.phrasing_norm, index.phrasing_entry
    for p, dot in dots.items():
        sim = dot / (qnorm * norms[p])
        e = owners[p]
        if sim > closest.get(e, 0.0):
            closest[e] = sim

    pairs = term_pairs(terms)
    paired: dict[int, float] = {}
    if pairs:
        step = 1.0 / len(pairs)
        for bg in pairs:
            for i in index.bigrams.get(bg, frozenset()):
                paired[i] = paired.get(i, 0.0) + step
    return Evidence(strong, weak, closest, paired)
