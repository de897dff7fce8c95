"""Migrations and the database file: created when missing, a clear error when read-only."""

import asyncio
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from bot.cli import main
from bot.core.errors import StoreUnavailableError
from bot.store import Database, is_current, is_sqlite, upgrade
from bot.store.db import check_sqlite_file, sqlite_path
from bot.store.migrate import alembic_config
from bot.store.models import Base
from tests.factories import reset_postgres


async def test_migrations_create_every_table(db: Database) -> None:
    assert await is_current(db.engine)
    async with db.engine.connect() as conn:
        tables = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    assert set(Base.metadata.tables) <= tables


def test_a_missing_database_file_and_folder_are_created(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "hotline.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    assert path.is_file()


@pytest.fixture
def immutable() -> Iterator[Callable[[Path], None]]:
    """Mark files immutable with chattr, which stops even root from writing them."""
    marked: list[Path] = []

    def mark(path: Path) -> None:
        if shutil.which("chattr") is None:
            pytest.skip("chattr is not installed, so no file can be made unwritable for root")
        if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
            path.chmod(stat.S_IRUSR)  # not root, or no support: plain permissions suffice
        marked.append(path)

    yield mark
    for path in marked:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)


def test_a_read_only_database_file_is_a_clear_error(
    tmp_path: Path,
    immutable: Callable[[Path], None],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "hotline.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    immutable(path)
    with pytest.raises(StoreUnavailableError, match="read-only"):
        check_sqlite_file(url)
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["db", "upgrade"]) == 2
    expected = f"database error: the database file {path} is read-only (check its permissions)"
    assert capsys.readouterr().err.strip() == expected


def test_db_upgrade_says_whether_it_created_migrated_or_upgraded(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()

    def fresh() -> str:
        if is_sqlite(db_url):
            path = tmp_path / f"new-{len(list(tmp_path.iterdir()))}" / "hotline.db"
            return f"sqlite+aiosqlite:///{path}"
        asyncio.run(reset_postgres(db_url))
        return db_url

    def db_upgrade(url: str) -> str:
        monkeypatch.setenv("DATABASE_URL", url)
        assert main(["db", "upgrade"]) == 0
        return capsys.readouterr().out.strip()

    url = fresh()
    path = sqlite_path(url)
    where = str(path) if path else make_url(url).render_as_string(hide_password=True)
    if path is not None:
        expected = f"created the database {path} and applied migrations up to {head}"
    else:
        expected = f"migrated a new (empty) database {where} up to {head}"
    assert db_upgrade(url) == expected
    assert db_upgrade(url) == f"database already up to date at {head} ({where})"

    url = fresh()
    upgrade(url, "0001")
    where = str(sqlite_path(url) or where)
    assert db_upgrade(url) == f"upgraded the database {where} from 0001 to {head}"

    if is_sqlite(db_url):  # an empty file is a new database too
        empty = tmp_path / "empty.db"
        empty.touch()
        expected = f"migrated a new (empty) database {empty} up to {head}"
        assert db_upgrade(f"sqlite+aiosqlite:///{empty}") == expected
