"""Urgency detection: does a member's message read as an emergency for the duty officer, and which.

Pure. The cue phrases are data (`data/urgency/cues.yaml`, read by cues_file.py) compiled with
the FAQ matcher's own text analysis, so synonyms, abbreviations and stems mean the same thing
here as there. A missed emergency costs far more than a false alarm, so one clear cue is enough
and even a topic word counts on its own; what holds false alarms down is language that marks a
general question (planning, policy, training: "calm" phrases, or a question with nothing
pressing), negation right before a cue, and word order for cues where it decides who did what.
Each category keeps its strongest phrase, with a little extra for further evidence and for
immediacy; the best category wins, and the catch-all only when no specific one has a real cue.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot.escalation.categories import CATEGORIES, FALLBACK
from bot.knowledge.language import Lexicon, analyse, stem, words

# A 10,000-character paste is still one message; the opening says what it is about.
MAX_CHARS = 3000
MAX_WORDS = 300
MIN_TYPO_LEN = 5
LONG_WORD = 10  # from here on two slips are forgiven
MAX_CACHED_FIXES = 4096
# "no one has been hurt", "not a 999 call", "police haven't arrived": the cue does not apply.
# The reach is short, so "not sure if this is a data breach" still is one.
_NEGATORS = frozenset(("no", "not", "nobody", "noone", "none", "never", "without"))
_NEGATOR_STEMS = frozenset(stem(w) for w in _NEGATORS)
# Phones drop apostrophes; "cant" and "can't" (normalised to "ca not") should read alike.
_CASUAL = {
    "cant": ("cannot",),
    "dont": ("do", "not"),
    "doesnt": ("does", "not"),
    "didnt": ("did", "not"),
    "isnt": ("is", "not"),
    "wasnt": ("was", "not"),
    "arent": ("are", "not"),
    "werent": ("were", "not"),
    "wont": ("will", "not"),
    "havent": ("have", "not"),
    "hasnt": ("has", "not"),
    "couldnt": ("could", "not"),
    "shouldnt": ("should", "not"),
    "wouldnt": ("would", "not"),
}


@dataclass(frozen=True, slots=True)
class Urgency:
    urgent: bool
    category: str | None
    score: float
    cue: str | None


class UrgencyReader(Protocol):
    """What the rest of the bot needs of urgency detection: the cue detector alone, or the
    learned classifier stacked on it (bot/escalation/learned.py)."""

    @property
    def categories(self) -> Mapping[str, UrgencyCategory]: ...

    def detect(self, text: str) -> Urgency: ...


@dataclass(frozen=True)
class UrgencyCategory:
    slug: str
    guidance: tuple[str, ...]  # the FAQ entries written for this category; the first by default
    danger_first: bool
    cues: tuple[str, ...]
    context: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class UrgencyPolicy:
    """Weights and the threshold, tuned with bench/urgency_quality.py."""

    threshold: float = 0.5
    cue: float = 0.7
    per_extra_word: float = 0.04  # a longer cue is more specific, so it wins a tie
    per_gap_word: float = 0.01  # ...and so does a cue whose words stand closer together
    context: float = 0.45  # below the threshold: a topic word alone needs something pressing
    support: float = 0.1  # each further cue of the same category
    support_context: float = 0.15  # each further context phrase
    support_cap: float = 0.2
    pressing: float = 0.15
    pressing_more: float = 0.05
    calm: float = 0.4
    calm_pressed: float = 0.3  # the calm penalty when the message also has a pressing phrase
    calm_more: float = 0.1
    asking: float = 0.1  # a message opening with a question word and nothing pressing
    slack: int = 6  # a two-word cue may spread over 2 + slack words of the message
    ordered_slack: int = 3  # a longer cue, whose words must come in order, over n + this
    negation_reach: int = 3  # "no one has been hurt": a negator this close before a cue
    mood_slack: int = 1  # pressing and calm phrases are idioms: their words stay together


DEFAULT_POLICY = UrgencyPolicy()


PRESSING = "pressing"
CALM = "calm"


@dataclass(frozen=True, slots=True)
class Phrase:
    """A cue, pressing or calm phrase compiled to the terms a message is searched for."""

    kind: str  # a category slug, PRESSING or CALM
    text: str
    terms: tuple[str, ...]
    literal: bool
    weight: float

    @property
    def anchor(self) -> str:
        """The term looked up first: the longest, which is usually the rarest."""
        return max(self.terms, key=len)


class _Score(NamedTuple):
    score: float
    slug: str
    cue: str
    cued: bool  # a real cue, not only context phrases


@dataclass
class UrgencyDetector:
    categories: Mapping[str, UrgencyCategory]
    lexicon: Lexicon  # the synonyms, with no stopwords: they count for windows and idioms
    policy: UrgencyPolicy
    # (literal?, anchor term) -> the phrases to check when a message has that term
    _index: Mapping[tuple[bool, str], tuple[Phrase, ...]]
    _vocabulary: frozenset[str]  # cue, synonym, pressing and calm words, and stopwords
    _known: frozenset[str]  # the vocabulary and not_typos: never mended
    _asking: frozenset[str]
    _targets: Mapping[tuple[str, int], tuple[str, ...]]
    _fixes: dict[str, str] = field(default_factory=dict)

    def detect(self, text: str) -> Urgency:
        raw = [self._fix(w) for w in casual(words(text[:MAX_CHARS])[:MAX_WORDS])]
        if not raw:
            return Urgency(urgent=False, category=None, score=0.0, cue=None)
        tokens = _Tokens(raw, analyse(raw, self.lexicon))
        p = self.policy
        hits: dict[str, list[tuple[float, Phrase]]] = defaultdict(list)
        for key in tokens.lookups():
            for phrase in self._index.get(key, ()):
                if phrase.kind in (PRESSING, CALM):
                    gap = tokens.find(phrase, p.mood_slack, p.mood_slack)
                else:
                    gap = tokens.find(phrase, p.slack, p.ordered_slack, p.negation_reach)
                if gap is not None:
                    # Words side by side say more than words a sentence apart: "a TA grabbed
                    # him" outweighs "mum says ... grabbed".
                    hits[phrase.kind].append((phrase.weight - p.per_gap_word * gap, phrase))
        pressing = len(hits.pop(PRESSING, ()))
        calm = len(hits.pop(CALM, ()))
        mood = 0.0
        if pressing:
            mood += p.pressing + p.pressing_more * (pressing - 1)
        if calm:
            # "Ofsted tomorrow, how should we prepare?" is still an emergency: immediacy wins.
            mood -= (p.calm_pressed if pressing else p.calm) + p.calm_more * (calm - 1)
        if not pressing and raw[0] in self._asking:
            # A message that opens as a question and names no event is usually a general one.
            mood -= p.asking
        scored: list[_Score] = []
        for slug in CATEGORIES:
            found = hits.get(slug)
            if found:
                weight, top = max(found, key=lambda hit: (hit[0], hit[1].text))
                # Only phrases that bring words of their own back the top one up: "ofsted" as
                # context says nothing more once "ofsted rang" has matched.
                more = sum(
                    p.support if ph.weight >= p.cue else p.support_context
                    for _, ph in found
                    if not set(ph.terms) <= set(top.terms)
                )
                support = min(p.support_cap, more)
                cued = top.weight >= p.cue
                scored.append(_Score(weight + support + mood, slug, top.text, cued))
        return self._decide(scored)

    def _decide(self, scored: Sequence[_Score]) -> Urgency:
        """The best specific category, unless only the catch-all has a real cue: "emergency,
        the boiler's gone" is premises, "urgent, please call me about a teacher" is not
        allegation on the strength of "teacher" alone."""
        threshold = self.policy.threshold
        best = max((s for s in scored if s.slug != FALLBACK), key=lambda s: s.score, default=None)
        fallback = next((s for s in scored if s.slug == FALLBACK), None)
        fallback_cue = fallback is not None and fallback.cued
        if best is not None and best.score >= threshold and (best.cued or not fallback_cue):
            return Urgency(True, best.slug, _clamp(best.score), best.cue)
        if fallback is not None and fallback.score >= threshold:
            chosen = best if best is not None and best.cued else fallback
            return Urgency(True, chosen.slug, _clamp(fallback.score), chosen.cue)
        top = max((s.score for s in scored), default=0.0)
        return Urgency(urgent=False, category=None, score=_clamp(top), cue=None)

    def typo_collisions(self, candidates: Iterable[str]) -> list[str]:
        """The real words that typo mending would bend into a cue word with another meaning,
        whether or not not_typos lists them already: the whole list, for maintaining it from a
        dictionary after the cues change."""
        out = set()
        for raw in candidates:
            word = raw.lower()
            if len(word) >= MIN_TYPO_LEN and word.isalpha() and word not in self._vocabulary:
                mended = self._mend(word)
                if stem(mended) != stem(word):
                    out.add(word)
        return sorted(out)

    def _fix(self, word: str) -> str:
        """Nearest cue word for a typo; words the data knows are never touched."""
        if len(word) < MIN_TYPO_LEN or word in self._known or not word.isalpha():
            return word
        cached = self._fixes.get(word)
        if cached is None:
            cached = self._mend(word)
            if len(self._fixes) > MAX_CACHED_FIXES:
                self._fixes.clear()
            self._fixes[word] = cached
        return cached

    def _mend(self, word: str) -> str:
        budget = 1 if len(word) < LONG_WORD else 2
        candidates = [
            c
            for size in range(len(word) - budget, len(word) + budget + 1)
            for c in self._targets.get((word[0], size), ())
        ]
        best = process.extractOne(word, candidates, scorer=OSA.distance, score_cutoff=budget)
        return word if best is None else best[0]


class _Tokens:
    """A message's words (for literal phrases) and analysed stems, each with their positions."""

    __slots__ = ("_analysed", "_literal", "_raw", "_stems")

    def __init__(self, raw: Sequence[str], stems: Sequence[str]) -> None:
        self._raw = raw
        self._analysed = stems
        self._literal = _positions(raw)
        self._stems = _positions(stems)

    def lookups(self) -> list[tuple[bool, str]]:
        return [(True, w) for w in self._literal] + [(False, t) for t in self._stems]

    def find(self, phrase: Phrase, slack: int, ordered_slack: int, negators: int = 0) -> int | None:
        """How many other words the phrase's closest match has between its own, or None when the
        phrase is not in the message (or, when `negators` is a reach, is negated)."""
        literal = phrase.literal
        where = self._literal if literal else self._stems
        lists = [where.get(t) for t in phrase.terms]
        present = [pos for pos in lists if pos]
        if len(present) < len(lists):
            return None
        if len(present) == 1:
            span, start, allowed = 1, present[0][0], 1
        elif len(present) == 2 and not literal:
            # Two words in either order ("ofsted rang", "a call from ofsted")...
            (span, start), allowed = _min_span(present), 2 + slack
        else:
            # ...longer phrases, and literal ones, in order, so that "hit a teacher" is not read
            # into "a teacher hit him".
            (span, start), allowed = _min_ordered_span(present), len(present) + ordered_slack
        if span > allowed:
            return None
        if negators:
            stream = self._raw if literal else self._analysed
            before = stream[max(0, start - negators) : start]
            if any(t in (_NEGATORS if literal else _NEGATOR_STEMS) for t in before):
                return None
        return span - len(present)


def _positions(tokens: Sequence[str]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    for i, t in enumerate(tokens):
        out[t].append(i)
    return out


def _min_span(lists: Sequence[Sequence[int]]) -> tuple[int, int]:
    """Smallest stretch of the message holding one position from each list, in any order:
    its length and where it starts."""
    events = sorted((pos, k) for k, positions in enumerate(lists) for pos in positions)
    need = len(lists)
    counts = [0] * need
    covered = 0
    best = (1 << 30, 0)
    left = 0
    for pos, k in events:
        if counts[k] == 0:
            covered += 1
        counts[k] += 1
        while covered == need:
            lpos, lk = events[left]
            best = min(best, (pos - lpos + 1, lpos))
            counts[lk] -= 1
            if counts[lk] == 0:
                covered -= 1
            left += 1
    return best


def _min_ordered_span(lists: Sequence[Sequence[int]]) -> tuple[int, int]:
    """Smallest stretch holding the lists' positions in order, and where it starts; taking the
    earliest next position each time is enough."""
    best = (1 << 30, 0)
    for start in lists[0]:
        pos = start
        for positions in lists[1:]:
            pos = next((p for p in positions if p > pos), -1)
            if pos < 0:
                return best
        best = min(best, (pos - start + 1, start))
    return best


def casual(raw: Iterable[str]) -> list[str]:
    """Words as a phone writes them spelled out: "cant" and "can't" read as "cannot"."""
    out: list[str] = []
    for w in raw:
        if w == "not" and out and out[-1] in ("ca", "can"):
            out[-1] = "cannot"
        else:
            out.extend(_CASUAL.get(w, (w,)))
    return out


def _clamp(score: float) -> float:
    return round(min(1.0, max(0.0, score)), 4)
