"""The urgency training set (`data/urgency/training.yaml`): member messages, each labelled with
the urgency category it is an emergency of, or `not-urgent`. The file documents its format.

Every problem is reported at once, one line each naming the file and line, so a typo in the
data stops the start with the place to fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.core.datafile import Problems, compose, node_line, read_text
from bot.core.errors import DataError
from bot.escalation.categories import CATEGORIES
from bot.knowledge.loader import BUNDLED_DATA_DIR

TRAINING_FILE = "training.yaml"
NOT_URGENT = "not-urgent"
LABELS: tuple[str, ...] = (*CATEGORIES, NOT_URGENT)
MIN_PER_LABEL = 3
MAX_TEXT_CHARS = 1000
_STRING = "tag:yaml.org,2002:str"


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
    # The nodes themselves: a label given twice must be seen, and a message must be a string
    # as written (42 or yes is a typo, '42' is a message).
    root = compose(text, name, fast=True)
    out = Problems(name)
    if not isinstance(root, yaml.MappingNode):
        out.add(
            f"expected a mapping from labels ({NOT_URGENT} or a category slug)",
            node_line(root) if root is not None else 1,
        )
        raise DataError(out.messages)
    texts: list[str] = []
    labels: list[str] = []
    counts = dict.fromkeys(LABELS, 0)
    label_lines: dict[str, int] = {}
    seen: dict[str, int] = {}
    for key_node, value_node in root.value:
        at = node_line(key_node)
        label = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
        if label not in counts:
            out.add(f"not {NOT_URGENT} nor one of {', '.join(CATEGORIES)}", at, label)
            continue
        if label in label_lines:
            out.add(f"listed twice (also line {label_lines[label]})", at, label)
            continue
        label_lines[label] = at
        if not isinstance(value_node, yaml.SequenceNode):
            out.add("expected a list of messages", at, label)
            continue
        for item in value_node.value:
            line = node_line(item)
            if not isinstance(item, yaml.ScalarNode) or item.tag != _STRING:
                out.add("expected a message as a string (quote it)", line, label)
                continue
            message = str(item.value).strip()
            if not message:
                out.add("empty message", line, label)
                continue
            if len(message) > MAX_TEXT_CHARS:
                out.add(f"{len(message)} characters (at most {MAX_TEXT_CHARS})", line, label)
                continue
            same = " ".join(message.lower().split())
            if same in seen:
                out.add(f"the same message as line {seen[same]}", line, label)
                continue
            seen[same] = line
            texts.append(message)
            labels.append(label)
            counts[label] += 1
    for label, count in counts.items():
        if count < MIN_PER_LABEL:
            out.add(f"too few messages ({count}; at least {MIN_PER_LABEL})", field=label)
    out.raise_any()
    return TrainingSet(tuple(texts), tuple(labels))


def load_training_set(path: Path) -> TrainingSet:
    return parse_training_set(read_text(path), path.name)
