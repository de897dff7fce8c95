"""One query on a SQLite database file through the standard library's `sqlite3` alone, for a
one-shot command that reads a row or two (`hotline ask` reads the learned phrasings): SQLAlchemy
and its engine take longer to import than such a command takes to run. The file must be at this
code's revision, as `require_current` checks for the engine.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from bot.core.errors import StoreUnavailableError
from bot.store.revisions import revision_problem

TIMEOUT_S = 5.0


def read_rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    """The rows of `sql` in the database file at `path` (opened for reading and writing as the
    bot opens it, never created). StoreUnavailableError, one line, when the file cannot be
    read or is not at this code's revision."""
    where = f"the database file {path}"
    try:
        connection = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=TIMEOUT_S
        )
    except sqlite3.Error as exc:
        raise StoreUnavailableError(f"{where} cannot be opened: {exc}") from None
    with closing(connection):
        try:
            try:
                found = connection.execute("SELECT version_num FROM alembic_version").fetchall()
            except sqlite3.OperationalError as exc:
                if "no such table" not in str(exc):
                    raise
                found = []
            if len(found) > 1:
                several = ", ".join(sorted(str(row[0]) for row in found))
                raise StoreUnavailableError(f"{where} is at several revisions ({several})")
            problem = revision_problem(str(found[0][0]) if found else None, where)
            if problem is not None:
                raise StoreUnavailableError(problem)
            return connection.execute(sql).fetchall()
        except sqlite3.Error as exc:
            raise StoreUnavailableError(f"{where} cannot be read: {exc}") from None
