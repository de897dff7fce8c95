"""Reading the urgency cues (`data/urgency/cues.yaml`, which documents its format) into the
detector of bot/escalation/urgency.py.

The phrases are compiled with the FAQ matcher's own text analysis, so synonyms, abbreviations
and stems mean the same thing here as there. Every problem is reported at once, one line each
naming the category and field, and the line when the cues come from the file. The compiled
detector is kept in the cache folder under a key of the cue file, the lexicon, the policy and
the code that compiles them (bot/core/compiled.py): an unchanged start reads it back.
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

from bot.core import compiled, datafile
from bot.core.datafile import BadYaml, NodePath, PathProblems, parse_yaml, read_text
from bot.core.errors import DataError
from bot.escalation import categories as categories_module
from bot.escalation import urgency as urgency_module
from bot.escalation.categories import CATEGORIES
from bot.escalation.urgency import (
    CALM,
    DEFAULT_POLICY,
    MIN_TYPO_LEN,
    PRESSING,
    Phrase,
    UrgencyCategory,
    UrgencyDetector,
    UrgencyPolicy,
    casual,
)
from bot.knowledge import language
from bot.knowledge.language import MAX_PHRASE_WORDS, Lexicon, analyse, words
from bot.knowledge.loader import BUNDLED_DATA_DIR

CUES_FILE = "cues.yaml"
LITERAL_MARK = "="
ALTERNATIVE = "/"  # "teacher/ta hit/pushed" is four phrases
MAX_VARIANTS = 300
_CATEGORY_FIELDS = frozenset(("guidance", "danger_first", "cues", "context"))
_TOP_FIELDS = frozenset(("categories", "pressing", "calm", "asking", "not_typos"))
DETECTOR_KIND = "urgency-cues"


def cues_path(data_dir: Path) -> Path:
    own = data_dir / "urgency" / CUES_FILE
    return own if own.is_file() else BUNDLED_DATA_DIR / "urgency" / CUES_FILE


def load_detector(
    data_dir: Path,
    lexicon: Lexicon,
    policy: UrgencyPolicy = DEFAULT_POLICY,
    cache_dir: Path | None = None,
) -> UrgencyDetector:
    """Read `data_dir/urgency/cues.yaml`, or the bundled one for a DATA_DIR with only an FAQ;
    with `cache_dir`, the detector compiled from exactly these inputs before, when there is one."""
    path = cues_path(data_dir)
    if cache_dir is None:
        return compile_detector(path, lexicon, policy)
    kept: compiled.Compiled[UrgencyDetector] = compiled.Compiled(
        cache_dir,
        DETECTOR_KIND,
        (UrgencyDetector, UrgencyCategory, UrgencyPolicy, Phrase, Lexicon),
    )
    return kept.get(
        detector_key(path, lexicon, policy), lambda: compile_detector(path, lexicon, policy)
    )


def detector_key(path: Path, lexicon: Lexicon, policy: UrgencyPolicy) -> str:
    """The key of the detector compiled from this cue file, lexicon and policy by this code."""
    code = (
        compiled,
        datafile,
        sys.modules[__name__],
        urgency_module,
        categories_module,
        language,
        *language.stemmer_modules(),
    )
    key = compiled.Key(DETECTOR_KIND).code(code).file(path)
    return key.text(lexicon.digest()).text(repr(policy)).hexdigest()


def compile_detector(path: Path, lexicon: Lexicon, policy: UrgencyPolicy) -> UrgencyDetector:
    try:
        document = parse_yaml(read_text(path), CUES_FILE)
    except BadYaml as exc:
        raise DataError([f"{CUES_FILE}: bad YAML: {exc.detail}"]) from None
    raw = document.data
    if not isinstance(raw, Mapping):
        raise DataError([f"{CUES_FILE}: expected a mapping with categories, pressing and calm"])
    return build_detector(raw, lexicon, policy, document.lines)


def build_detector(
    raw: Mapping[str, object],
    lexicon: Lexicon,
    policy: UrgencyPolicy = DEFAULT_POLICY,
    lines: Mapping[NodePath, int] | None = None,
) -> UrgencyDetector:
    """Validate the cue data, reporting every problem at once, one line each; `lines` are the
    lines of the file's nodes (bot/core/datafile.py), when it comes from one."""
    problems = PathProblems(CUES_FILE, lines or {})
    # Stopwords stay in the message so that "what do i do" can match and windows keep their
    # length; a cue simply does not name them.
    plain = dataclasses.replace(lexicon, stopwords=frozenset())
    for key in sorted(set(raw) - _TOP_FIELDS):
        problems.at((key,), f"{key}: unknown field")
    phrases = [
        *_phrases(raw.get(PRESSING), PRESSING, (PRESSING,), plain, 0.0, problems, set()),
        *_phrases(raw.get(CALM), CALM, (CALM,), plain, 0.0, problems, set()),
    ]
    not_typos = _strings(raw.get("not_typos", []), ("not_typos",), problems)
    asking = _strings(raw.get("asking", []), ("asking",), problems)
    categories: dict[str, UrgencyCategory] = {}
    section = raw.get("categories")
    if not isinstance(section, Mapping):
        problems.at(("categories",), "categories: expected a mapping of category slugs")
        section = {}
    for slug in sorted(set(section) - set(CATEGORIES), key=str):
        problems.at(("categories", slug), f"category {slug}: not one of {', '.join(CATEGORIES)}")
    for slug in CATEGORIES:
        built = _category(slug, section.get(slug), plain, policy, problems)
        if built is not None:
            categories[slug] = built[0]
            phrases.extend(built[1])
    owners: dict[str, str] = {}
    for slug, category in categories.items():
        for entry_id in category.guidance:
            if owners.setdefault(entry_id, slug) != slug:
                problems.at(
                    ("categories", slug, "guidance"),
                    f"category {slug}: guidance: {entry_id} is already the guidance "
                    f"of {owners[entry_id]} (an entry is written for one category)",
                )
    problems.raise_any()
    index: dict[tuple[bool, str], list[Phrase]] = defaultdict(list)
    for phrase in phrases:
        index[(phrase.literal, phrase.anchor)].append(phrase)
    cue_words = {w for text in _all_texts(raw, ()) for w in words(_plain(text))}
    known = set(cue_words) | lexicon.surface_words | lexicon.stopwords
    for text in _all_texts(raw, (PRESSING, CALM)):
        known.update(words(_plain(text)))
    # Typos are mended into cue words and the synonym list's words ("ransomware" is a cue only
    # through "cyber"): that is where a miss costs. Every extra target is another ordinary word
    # that could be bent into something it is not, which is what not_typos is for.
    targets: dict[tuple[str, int], list[str]] = defaultdict(list)
    for w in sorted(cue_words | lexicon.surface_words):
        if len(w) >= MIN_TYPO_LEN - 1 and w.isalpha() and w not in lexicon.stopwords:
            targets[(w[0], len(w))].append(w)
    return UrgencyDetector(
        categories=categories,
        lexicon=plain,
        policy=policy,
        _index={k: tuple(v) for k, v in index.items()},
        _vocabulary=frozenset(known),
        _known=frozenset(known | {w.lower() for w in not_typos}),
        _asking=frozenset(w for text in asking for w in words(text)),
        _targets={k: tuple(v) for k, v in targets.items()},
    )


def _plain(text: str) -> str:
    return text.removeprefix(LITERAL_MARK).replace(ALTERNATIVE, " ")


def _all_texts(raw: Mapping[str, object], top: tuple[str, ...]) -> list[str]:
    """Phrases as written, duplicates too ("policies" must stay a known word after it
    collapses into "policy"): every cue and context phrase, plus the top-level lists in `top`."""
    lists = [raw.get(key) for key in top]
    section = raw.get("categories")
    if isinstance(section, Mapping):
        for category in section.values():
            if isinstance(category, Mapping):
                lists += [category.get("cues"), category.get("context")]
    return [str(x) for lst in lists if isinstance(lst, list) for x in lst]


def _category(
    slug: str, raw: object, lexicon: Lexicon, policy: UrgencyPolicy, problems: PathProblems
) -> tuple[UrgencyCategory, list[Phrase]] | None:
    where = f"category {slug}"
    path: NodePath = ("categories", slug)
    if not isinstance(raw, Mapping):
        problems.at(path, f"{where}: missing (expected guidance, danger_first, cues)")
        return None
    before = len(problems)
    for key in sorted(set(raw) - _CATEGORY_FIELDS, key=str):
        problems.at((*path, key), f"{where}: {key}: unknown field")
    raw_guidance = raw.get("guidance")
    guidance = [raw_guidance] if isinstance(raw_guidance, str) else raw_guidance
    if (
        not isinstance(guidance, list)
        or not guidance
        or not all(isinstance(g, str) and g.strip() for g in guidance)
    ):
        problems.at(
            (*path, "guidance"), f"{where}: guidance: expected an FAQ entry id or a list of them"
        )
        guidance = []
    danger_first = raw.get("danger_first", False)
    if not isinstance(danger_first, bool):
        problems.at((*path, "danger_first"), f"{where}: danger_first: expected true or false")
    seen: set[tuple[bool, tuple[str, ...]]] = set()
    cues = _phrases(raw.get("cues"), slug, (*path, "cues"), lexicon, policy.cue, problems, seen)
    if not cues and len(problems) == before:
        problems.at((*path, "cues"), f"{where}: cues: expected at least one phrase")
    context = _phrases(
        raw.get("context", []), slug, (*path, "context"), lexicon, policy.context, problems, seen
    )
    if len(problems) > before:
        return None
    category = UrgencyCategory(
        slug=slug,
        guidance=tuple(str(g).strip() for g in guidance),
        danger_first=danger_first is True,
        cues=tuple(dict.fromkeys(ph.text for ph in cues)),
        context=tuple(dict.fromkeys(ph.text for ph in context)),
    )
    # A longer cue is more specific: "teacher hit" outranks plain "hit" in another category.
    for i, ph in enumerate(cues):
        cues[i] = dataclasses.replace(
            ph, weight=ph.weight + policy.per_extra_word * (len(ph.terms) - 1)
        )
    return category, cues + context


def _where(path: NodePath) -> str:
    """How a problem names a list: "pressing", or "category media: cues"."""
    if path[0] == "categories":
        return f"category {path[1]}: {path[2]}"
    return str(path[0])


def _strings(raw: object, path: NodePath, problems: PathProblems) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(x, str | int) for x in raw):
        problems.at(path, f"{_where(path)}: expected a list of phrases")
        return []
    return [str(x) for x in raw]


def _phrases(
    raw: object,
    kind: str,
    path: NodePath,
    lexicon: Lexicon,
    weight: float,
    problems: PathProblems,
    seen: set[tuple[bool, tuple[str, ...]]],
) -> list[Phrase]:
    """Compile phrases to terms; one that reads the same as an earlier one is dropped."""
    out: list[Phrase] = []
    where = _where(path)
    for n, text in enumerate(_strings(raw, path, problems)):
        literal = text.startswith(LITERAL_MARK)
        slots = text.removeprefix(LITERAL_MARK).split()
        if len(slots) > MAX_PHRASE_WORDS:
            problems.at(
                (*path, n),
                f"{where}: {text!r} has {len(slots)} words (at most {MAX_PHRASE_WORDS})",
            )
            continue
        variants = list(itertools.product(*(slot.split(ALTERNATIVE) for slot in slots)))
        if len(variants) > MAX_VARIANTS:
            problems.at(
                (*path, n),
                f"{where}: {text!r} spells {len(variants)} phrases (at most {MAX_VARIANTS})",
            )
            continue
        for variant in variants:
            raw_words = casual(words(" ".join(variant)))
            terms = tuple(raw_words) if literal else tuple(analyse(raw_words, lexicon))
            if not terms:
                problems.at((*path, n), f"{where}: {text!r} has no words to match")
                break
            if (literal, terms) in seen:
                continue
            seen.add((literal, terms))
            out.append(Phrase(kind, text, tuple(dict.fromkeys(terms)), literal, weight))
    return out
