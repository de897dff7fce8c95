"""FAQ entries: the schema, loading from YAML files and validation.

Loading reports every problem at once, one line each naming file, entry id and field, so that
`hotline faq check` and start-up say the same thing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.core.datafile import BadYaml, Problems, Unreadable, parse_yaml, read_text
from bot.core.errors import DataError

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,49}$")  # fits in a 64-byte button payload
CATEGORIES_FILE = "categories.txt"
REQUIRED_TEXT_FIELDS = ("id", "question", "answer", "category")
LIST_FIELDS = ("alternatives", "tags", "keywords")
KNOWN_FIELDS = frozenset((*REQUIRED_TEXT_FIELDS, *LIST_FIELDS))
MAX_ANSWER_CHARS = 3500


@dataclass(frozen=True, slots=True)
class FaqEntry:
    id: str
    question: str
    answer: str
    category: str
    alternatives: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    source: str = ""


def load_faq_dir(faq_dir: Path) -> tuple[FaqEntry, ...]:
    """Load and validate every `*.yaml` file in `faq_dir`; raise DataError listing all problems."""
    entries, problems = check_faq_dir(faq_dir)
    if problems:
        raise DataError(problems)
    return entries


def check_faq_dir(faq_dir: Path) -> tuple[tuple[FaqEntry, ...], list[str]]:
    if not faq_dir.is_dir():
        return (), [f"{faq_dir}: not a folder"]
    files = sorted(faq_dir.glob("*.yaml")) + sorted(faq_dir.glob("*.yml"))
    if not files:
        return (), [f"{faq_dir}: no *.yaml files"]
    categories = _load_categories(faq_dir / CATEGORIES_FILE)
    problems: list[str] = []
    entries: list[FaqEntry] = []
    seen: dict[str, str] = {}
    for path in files:
        for entry in _load_file(path, categories, problems):
            if entry.id in seen:
                problems.append(
                    f"{path.name}: entry {entry.id}: id: duplicate id (also in {seen[entry.id]})"
                )
                continue
            seen[entry.id] = path.name
            entries.append(entry)
    return tuple(entries), problems


def _load_categories(path: Path) -> frozenset[str] | None:
    """Allowed categories, one a line; without the file any slug is accepted."""
    if not path.is_file():
        return None
    lines = (line.split("#", 1)[0].strip() for line in path.read_text("utf-8").splitlines())
    return frozenset(line for line in lines if line)


def _load_file(
    path: Path, categories: frozenset[str] | None, problems: list[str]
) -> list[FaqEntry]:
    out = Problems(path.name)
    entries = _file_entries(path, categories, out)
    problems.extend(out.messages)
    return entries


def _file_entries(path: Path, categories: frozenset[str] | None, out: Problems) -> list[FaqEntry]:
    try:
        raw = parse_yaml(read_text(path), path.name).data
    except BadYaml as exc:
        if exc.line is None:  # not YAML at all (a control character, say)
            out.add(f"unreadable file: {exc.detail}")
        else:
            out.add(f"bad YAML at line {exc.line}, column {exc.column}: {exc.problem}")
        return []
    except Unreadable as exc:
        out.add(f"unreadable file: {exc.detail}")
        return []
    if raw is None:
        out.add("file is empty")
        return []
    if not isinstance(raw, list):
        out.add(f"expected a list of entries, found {type(raw).__name__}")
        return []
    entries: list[FaqEntry] = []
    for position, item in enumerate(raw, start=1):
        entry = _parse_entry(path.name, position, item, categories, out)
        if entry is not None:
            entries.append(entry)
    return entries


def _parse_entry(
    filename: str,
    position: int,
    item: Any,
    categories: frozenset[str] | None,
    out: Problems,
) -> FaqEntry | None:
    if not isinstance(item, dict):
        out.add(f"entry #{position}: expected a mapping with id, question, answer")
        return None
    raw_id = item.get("id")
    label = f"entry {raw_id}" if isinstance(raw_id, str) and raw_id else f"entry #{position}"
    before = len(out)

    def fault(field: str, message: str) -> None:
        out.add(message, field=f"{label}: {field}")

    texts: dict[str, str] = {}
    for field in REQUIRED_TEXT_FIELDS:
        value = item.get(field)
        if value is None:
            fault(field, "missing")
        elif not isinstance(value, str):
            fault(field, f"must be text, found {type(value).__name__}")
        elif not value.strip():
            fault(field, "empty")
        else:
            texts[field] = value.strip()
    if "id" in texts and not ID_PATTERN.match(texts["id"]):
        fault("id", "use 2 to 50 lower-case letters, digits and hyphens")
    if "answer" in texts and len(texts["answer"]) > MAX_ANSWER_CHARS:
        fault("answer", f"longer than {MAX_ANSWER_CHARS} characters")
    if "category" in texts and categories is not None and texts["category"] not in categories:
        fault("category", f"unknown category {texts['category']!r} (see {CATEGORIES_FILE})")
    lists: dict[str, tuple[str, ...]] = {}
    for field in LIST_FIELDS:
        lists[field] = _text_list(item.get(field), lambda message, f=field: fault(f, message))
    for field in sorted(set(item) - KNOWN_FIELDS, key=str):
        fault(str(field), "unknown field")
    if len(out) > before:
        return None
    return FaqEntry(
        id=texts["id"],
        question=texts["question"],
        answer=texts["answer"],
        category=texts["category"],
        alternatives=lists["alternatives"],
        tags=lists["tags"],
        keywords=lists["keywords"],
        source=filename,
    )


def _text_list(value: Any, fault: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        fault(f"must be a list, found {type(value).__name__}")
        return ()
    out: list[str] = []
    for n, item in enumerate(value, start=1):
        if isinstance(item, str | int | float) and not isinstance(item, bool) and str(item).strip():
            out.append(str(item).strip())
        else:
            fault(f"item {n} must be non-empty text")
    return tuple(out)


def entry_texts(entry: FaqEntry) -> Iterable[str]:
    yield entry.question
    yield from entry.alternatives
