"""Text analysis shared by the FAQ index and incoming questions: pure functions, no I/O.

normalise -> words -> stems -> synonym phrases replaced by their canonical stems -> stopwords
dropped. The lexicon (stopwords, synonym groups) is data, loaded once by `load_lexicon`.
"""

from __future__ import annotations

import hashlib
import re
import sys
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import ModuleType

import snowballstemmer
import yaml

from bot.core.errors import DataError

MAX_PHRASE_WORDS = 4

_CONTRACTIONS = (
    (re.compile(r"n't\b"), " not"),
    (re.compile(r"'(ve)\b"), " have"),
    (re.compile(r"'(re)\b"), " are"),
    (re.compile(r"'(ll)\b"), " will"),
    (re.compile(r"'(m)\b"), " am"),
    (re.compile(r"'(d)\b"), " would"),
    (re.compile(r"'s\b"), ""),
)
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'"})
_WORD = re.compile(r"[a-z0-9]+")
_STEMMER = snowballstemmer.stemmer("english")


def stemmer_modules() -> tuple[ModuleType, ...]:
    """The stemmer's own code (the English algorithm and its engine): what `stem` returns
    depends on it as much as on this module, so keys of analysed text include it."""
    names = (type(_STEMMER).__module__, "snowballstemmer.basestemmer")
    return tuple(sys.modules[name] for name in names if name in sys.modules)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    result: str = _STEMMER.stemWord(word)
    return result


def normalise(text: str) -> str:
    """Lower-case ASCII text with accents folded, contractions expanded, control characters gone."""
    folded = unicodedata.normalize("NFKD", text).translate(_APOSTROPHES)
    ascii_text = "".join(ch for ch in folded if not unicodedata.combining(ch)).lower()
    for pattern, replacement in _CONTRACTIONS:
        ascii_text = pattern.sub(replacement, ascii_text)
    return ascii_text


def words(text: str) -> list[str]:
    return _WORD.findall(normalise(text))


@dataclass(frozen=True)
class Lexicon:
    """Stopwords and synonym phrases, both keyed by stems."""

    stopwords: frozenset[str] = frozenset()
    # stem sequence of a variant -> stem sequence of its canonical term
    phrases: Mapping[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)
    # every surface word the lexicon knows, for typo correction
    surface_words: frozenset[str] = frozenset()

    @property
    def known_stems(self) -> frozenset[str]:
        stems = {s for variant in self.phrases for s in variant}
        stems.update(s for canonical in self.phrases.values() for s in canonical)
        return frozenset(stems)

    def digest(self) -> str:
        """A hash of the content, the same in every process (sets hash their strings in another
        order in each one): for keys of what is compiled with this lexicon."""
        parts = (
            sorted(self.stopwords),
            sorted(f"{' '.join(v)}={' '.join(c)}" for v, c in self.phrases.items()),
            sorted(self.surface_words),
        )
        return hashlib.sha256("\1".join("\0".join(part) for part in parts).encode()).hexdigest()


def build_lexicon(stopwords: Iterable[str], groups: Sequence[Sequence[str]]) -> Lexicon:
    stop = frozenset(w for word in stopwords for w in words(word))
    phrases: dict[tuple[str, ...], tuple[str, ...]] = {}
    surface: set[str] = set()
    for group in groups:
        head = words(group[0])
        if not head:
            continue
        # A group whose canonical term is a stopword ("pls" -> "please") drops its variants too.
        canonical = () if all(w in stop for w in head) else tuple(stem(w) for w in head)
        for term in group:
            term_words = words(term)
            surface.update(term_words)
            variant = tuple(stem(w) for w in term_words)
            if variant and variant != canonical and len(variant) <= MAX_PHRASE_WORDS:
                phrases.setdefault(variant, canonical)
    return Lexicon(stopwords=stop, phrases=phrases, surface_words=frozenset(surface))


def load_lexicon(language_dir: Path) -> Lexicon:
    """Read `stopwords.txt` and `synonyms.yaml` from `language_dir`; missing files mean none."""
    stop_file = language_dir / "stopwords.txt"
    syn_file = language_dir / "synonyms.yaml"
    stopwords: list[str] = []
    if stop_file.is_file():
        for line in stop_file.read_text("utf-8").splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                stopwords.append(line)
    groups: list[list[str]] = []
    if syn_file.is_file():
        text = syn_file.read_text("utf-8")
        try:
            # libyaml where PyYAML has it (several times faster); a file it refuses goes through
            # the pure-Python loader, whose message is the one this has always shown.
            safe: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            raw = yaml.load(text, Loader=safe) or {}  # noqa: S506 - a safe loader either way
        except yaml.YAMLError:
            try:
                raw = yaml.safe_load(text) or {}
            except yaml.YAMLError as exc:
                raise DataError([f"{syn_file.name}: bad YAML: {exc}"]) from None
        problems: list[str] = []
        raw_groups = raw.get("groups", []) if isinstance(raw, dict) else None
        if not isinstance(raw_groups, list):
            raise DataError([f"{syn_file.name}: groups: expected a list of lists"])
        for n, group in enumerate(raw_groups, start=1):
            if not isinstance(group, list) or not group:
                problems.append(f"{syn_file.name}: group {n}: expected a non-empty list")
                continue
            groups.append([str(term) for term in group])
        if problems:
            raise DataError(problems)
    return build_lexicon(stopwords, groups)


def analyse(word_list: Sequence[str], lexicon: Lexicon) -> list[str]:
    """Stems of the content words, with synonym phrases replaced by their canonical stems."""
    stems = [stem(w) for w in word_list]
    out: list[str] = []
    i = 0
    n = len(stems)
    phrases = lexicon.phrases
    while i < n:
        for size in range(min(MAX_PHRASE_WORDS, n - i), 0, -1):
            canonical = phrases.get(tuple(stems[i : i + size]))
            if canonical is not None:
                out.extend(canonical)
                i += size
                break
        else:
            if word_list[i] not in lexicon.stopwords:
                out.append(stems[i])
            i += 1
    return out
