"""The urgency training set (`data/urgency/training.yaml`): member messages, each labelled with
the urgency category it is an emergency of, or `not-urgent`. The file documents its format.

Every problem is reported at once, one line each naming the file and line, so a typo in the
data stops the start with the place to fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.core.errors import DataError
from bot.escalation.categories import CATEGORIES
from bot.knowledge.loader import BUNDLED_DATA_DIR

TRAINING_FILE = "training.yaml"
NOT_URGENT = "not-urgent"
LABELS: tuple[str, ...] = (*CATEGORIES, NOT_URGENT)
MIN_PER_LABEL = 3
MAX_TEXT_CHARS = 1000
_STRING = "tag:yaml.org,2002:str"
# libyaml when PyYAML was built with it: composing is then about ten times faster.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class TrainingSet:
    texts: tuple[str, ...]
    labels: tuple[str, ...]  # one of LABELS per text


def training_path(data_dir: Path) -> Path:
    """`data_dir/urgency/training.yaml`, or the bundled one for a DATA_DIR without it."""
    own = data_dir / "urgency" / TRAINING_FILE
    return own if own.is_file() else BUNDLED_DATA_DIR / "urgency" / TRAINING_FILE


def parse_training_set(text: str, name: str = TRAINING_FILE) -> TrainingSet:
    """Validate the file's text; raises DataError with one `name:line: problem` per fault."""
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{name}:{mark.line + 1}" if mark else name
        raise DataError([f"{where}: bad YAML: {exc.problem or exc}"]) from None
    except yaml.YAMLError as exc:
        raise DataError([f"{name}: bad YAML: {exc}"]) from None
    if not isinstance(root, yaml.MappingNode):
        line = root.start_mark.line + 1 if root is not None else 1
        raise DataError(
            [f"{name}:{line}: expected a mapping from labels ({NOT_URGENT} or a category slug)"]
        )
    problems: list[str] = []
    texts: list[str] = []
    labels: list[str] = []
    counts = dict.fromkeys(LABELS, 0)
    label_lines: dict[str, int] = {}
    seen: dict[str, int] = {}
    for key_node, value_node in root.value:
        at = f"{name}:{key_node.start_mark.line + 1}"
        label = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
        if label not in counts:
            problems.append(f"{at}: {label}: not {NOT_URGENT} nor one of {', '.join(CATEGORIES)}")
            continue
        if label in label_lines:
            problems.append(f"{at}: {label}: listed twice (also line {label_lines[label]})")
            continue
        label_lines[label] = key_node.start_mark.line + 1
        if not isinstance(value_node, yaml.SequenceNode):
            problems.append(f"{at}: {label}: expected a list of messages")
            continue
        for item in value_node.value:
            line = item.start_mark.line + 1
            where = f"{name}:{line}: {label}"
            if not isinstance(item, yaml.ScalarNode) or item.tag != _STRING:
                problems.append(f"{where}: expected a message as a string (quote it)")
                continue
            message = str(item.value).strip()
            if not message:
                problems.append(f"{where}: empty message")
                continue
            if len(message) > MAX_TEXT_CHARS:
                problems.append(f"{where}: {len(message)} characters (at most {MAX_TEXT_CHARS})")
                continue
            same = " ".join(message.lower().split())
            if same in seen:
                problems.append(f"{where}: the same message as line {seen[same]}")
                continue
            seen[same] = line
            texts.append(message)
            labels.append(label)
            counts[label] += 1
    for label, count in counts.items():
        if count < MIN_PER_LABEL:
            problems.append(
                f"{name}: {label}: too few messages ({count}; at least {MIN_PER_LABEL})"
            )
    if problems:
        raise DataError(problems)
    return TrainingSet(tuple(texts), tuple(labels))


def load_training_set(path: Path) -> TrainingSet:
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError([f"{path.name}: unreadable: {exc}"]) from None
    return parse_training_set(text, path.name)
