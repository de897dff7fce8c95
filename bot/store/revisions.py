"""This code's migrations, read from their files without loading Alembic (which takes a fifth of
a second, on every start that checks the database's revision): the head and every revision known,
from each file's `revision` and `down_revision` lines, and what to say about a database at
another one. tests/store/test_revisions.py holds the reading to Alembic's own.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_REVISION = re.compile(r"""^revision(?:\s*:\s*str)?\s*=\s*["']([^"']+)["']\s*$""", re.M)
_DOWN = re.compile(r"""^down_revision(?:\s*:[^=]+)?\s*=\s*(?:None|["']([^"']+)["'])\s*$""", re.M)


@dataclass(frozen=True)
class Revisions:
    """This code's migrations: the newest (head) and every one it knows."""

    head: str
    known: frozenset[str]


@functools.cache
def known_revisions() -> Revisions:
    """Read from the migration files when they form one chain, each naming its `revision` and
    `down_revision` plainly; otherwise (a merge, a branch, a file written another way) from
    Alembic."""
    down_of: dict[str, str | None] = {}
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        if path.name == "__init__.py":
            continue
        source = path.read_text("utf-8")
        revision, down = _REVISION.findall(source), _DOWN.findall(source)
        if len(revision) != 1 or len(down) != 1 or revision[0] in down_of:
            return _alembic_revisions()
        down_of[revision[0]] = down[0] or None
    heads = set(down_of) - {d for d in down_of.values() if d is not None}
    roots = [r for r, d in down_of.items() if d is None]
    if len(heads) != 1 or len(roots) != 1 or not set(down_of.values()) - {None} <= set(down_of):
        return _alembic_revisions()
    return Revisions(heads.pop(), frozenset(down_of))


def _alembic_revisions() -> Revisions:
    from alembic.script import ScriptDirectory

    from bot.store.migrate import alembic_config

    scripts = ScriptDirectory.from_config(alembic_config())
    head = scripts.get_current_head()
    assert head is not None, "no migrations"
    return Revisions(head, frozenset(script.revision for script in scripts.walk_revisions()))


def revision_problem(current: str | None, where: str) -> str | None:
    """What is wrong with a database (`where`, for the message) at revision `current`, in one
    line saying what to do; None when it is at this code's revision."""
    revisions = known_revisions()
    if current == revisions.head:
        return None
    if current is None:
        return f"{where} is not migrated: run `hotline db upgrade`"
    if current in revisions.known:
        return (
            f"{where} is at revision {current}, this version needs {revisions.head}: "
            "run `hotline db upgrade`"
        )
    return (
        f"{where} is at revision {current}, which this version does not know "
        "(a newer version migrated it): update the bot, or check DATABASE_URL"
    )
