"""A new FAQ entry drafted by staff (the console's Knowledge page): checked with the whole FAQ
folder exactly as `hotline faq check` checks it, then written as one YAML file under
`DATA_DIR/faq/` (a temporary file renamed into place, so no reader ever sees half a file).

Nothing is written unless the folder with the new file passes: the check runs on a copy of the
folder's files with the new one beside them. The running processes load the new file through
`LiveKnowledge` (bot/teaching/live.py), which notices a changed FAQ folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.core.errors import DataError
from bot.knowledge.language import load_lexicon
from bot.knowledge.loader import language_dir
from bot.knowledge.schema import CATEGORIES_FILE, check_faq_dir

PREFIX = "console-"
# The form's fields, as the FAQ schema names them.
FIELDS = ("id", "question", "answer", "category", "alternatives")


@dataclass(frozen=True)
class Draft:
    id: str
    question: str
    answer: str
    category: str
    alternatives: tuple[str, ...] = ()

    @property
    def filename(self) -> str:
        return f"{PREFIX}{self.id}.yaml"

    def yaml_text(self, note: str) -> str:
        """The file: a comment (`note`, one line) and a list of one entry in the schema's
        fields."""
        item: dict[str, object] = {"id": self.id, "question": self.question}
        if self.alternatives:
            item["alternatives"] = list(self.alternatives)
        item["answer"] = self.answer
        item["category"] = self.category
        body = yaml.safe_dump([item], sort_keys=False, allow_unicode=True, width=100)
        return f"# {' '.join(note.split())}\n{body}"


@dataclass(frozen=True)
class DraftCheck:
    """What `hotline faq check` says of the folder with the draft in it: each problem with the
    draft's field it concerns (`fields`), or about the folder's other files (`other`)."""

    fields: dict[str, str]
    other: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.fields and not self.other


def _field_of(line: str, draft: Draft) -> tuple[str, str] | None:
    """The draft's field and the message of a problem line `file: entry ID: field: message`
    about the draft (in its file, or a duplicate of its id in another)."""
    if f"(also in {draft.filename})" in line:
        other = line.split(":", 1)[0]
        return "id", f"The id {draft.id} is already used (in {other})."
    prefix = f"{draft.filename}: "
    if not line.startswith(prefix):
        return None
    rest = line[len(prefix) :]
    if rest.startswith("entry "):
        parts = rest.split(": ", 2)
        if len(parts) == 3 and parts[1] in FIELDS:
            return parts[1], parts[2]
    return "id", rest


def folder_problems(data_dir: Path, draft: Draft, note: str) -> list[str]:
    """The problems `hotline faq check` finds in `data_dir`'s FAQ folder with the draft added,
    checked on a copy of the folder (nothing is written to `data_dir`)."""
    faq_dir = data_dir / "faq"
    problems: list[str] = []
    if (faq_dir / draft.filename).exists():
        problems.append(f"{draft.filename}: entry {draft.id}: id: a file with this name is there")
    with tempfile.TemporaryDirectory(prefix="hotline-draft-") as scratch:
        copy = Path(scratch) / "faq"
        copy.mkdir()
        if faq_dir.is_dir():
            for path in sorted(faq_dir.iterdir()):
                if path.is_file() and (
                    path.suffix in (".yaml", ".yml") or path.name == CATEGORIES_FILE
                ):
                    shutil.copyfile(path, copy / path.name)
        (copy / draft.filename).write_text(draft.yaml_text(note), encoding="utf-8")
        _, found = check_faq_dir(copy)
        problems.extend(found)
    try:
        load_lexicon(language_dir(data_dir))
    except DataError as exc:
        problems.extend(exc.problems)
    return problems


def check_draft(data_dir: Path, draft: Draft, note: str) -> DraftCheck:
    fields: dict[str, str] = {}
    other: list[str] = []
    for line in folder_problems(data_dir, draft, note):
        found = _field_of(line, draft)
        if found is None:
            other.append(line)
        else:
            field, text = found
            fields.setdefault(field, text[:1].upper() + text[1:])
    return DraftCheck(fields, tuple(other))


def save_draft(data_dir: Path, draft: Draft, note: str) -> Path:
    """Write the draft's file into `data_dir/faq` atomically (a temporary file in the same
    folder, flushed, then renamed over the name); raises OSError."""
    faq_dir = data_dir / "faq"
    target = faq_dir / draft.filename
    handle, temporary = tempfile.mkstemp(prefix=f".{draft.filename}.", suffix=".tmp", dir=faq_dir)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(draft.yaml_text(note))
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def categories_of(data_dir: Path, used: set[str]) -> list[str]:
    """The categories an entry may have: the FAQ folder's categories.txt, or (without one) the
    categories its entries use."""
    path = data_dir / "faq" / CATEGORIES_FILE
    try:
        lines = path.read_text("utf-8").splitlines()
    except OSError:
        return sorted(used)
    return [c for c in (line.split("#", 1)[0].strip() for line in lines) if c]
