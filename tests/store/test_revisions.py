"""Revisions read without Alembic (bot/store/revisions.py) and a SQLite file read without
SQLAlchemy (bot/store/sqlite_file.py): the same answers as Alembic and the engine give."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from bot.core.errors import StoreUnavailableError
from bot.store import upgrade
from bot.store.migrate import alembic_config
from bot.store.revisions import known_revisions, revision_problem
from bot.store.sqlite_file import read_rows

SQL = "SELECT entry_id, text FROM learned_phrasings ORDER BY id"


def test_the_migration_files_read_as_alembic_reads_them() -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    revisions = known_revisions()
    assert revisions.head == scripts.get_current_head()
    assert revisions.known == {script.revision for script in scripts.walk_revisions()}


def test_what_is_said_of_each_revision() -> None:
    head = known_revisions().head
    assert revision_problem(head, "the database file x.db") is None
    assert revision_problem(None, "the database file x.db") == (
        "the database file x.db is not migrated: run `hotline db upgrade`"
    )
    assert revision_problem("0001", "it") == (
        f"it is at revision 0001, this version needs {head}: run `hotline db upgrade`"
    )
    assert "which this version does not know" in str(revision_problem("9999", "it"))


def migrated(tmp_path: Path, revision: str = "head") -> Path:
    path = tmp_path / "hotline.db"
    upgrade(f"sqlite+aiosqlite:///{path}", revision)
    return path


def test_rows_of_a_migrated_file(tmp_path: Path) -> None:
    path = migrated(tmp_path)
    with sqlite3.connect(path) as connection:
        connection.execute(
            "INSERT INTO learned_phrasings (entry_id, text, normalised, text_key, created_at)"
            " VALUES ('membership-cost', 'what do we pay', 'what do we pay', 'k', '2026-01-01')"
        )
    connection.close()
    assert read_rows(path, SQL) == [("membership-cost", "what do we pay")]


@pytest.mark.parametrize(
    ("revision", "said"),
    [(None, "is not migrated"), ("0001", "is at revision 0001, this version needs")],
)
def test_a_file_not_at_this_revision_is_refused_in_one_line(
    tmp_path: Path, revision: str | None, said: str
) -> None:
    path = tmp_path / "hotline.db"
    if revision is None:
        sqlite3.connect(path).close()
    else:
        migrated(tmp_path, revision)
    with pytest.raises(StoreUnavailableError, match=f"^the database file {path} {said}"):
        read_rows(path, SQL)


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hotline.db"
    path.write_bytes(b"not a database, just text" * 100)
    with pytest.raises(StoreUnavailableError, match="cannot be read"):
        read_rows(path, SQL)
