"""Migrations and the database file: created when missing, a clear error when read-only."""

import shutil
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect

from bot.cli import main
from bot.errors import StoreUnavailableError
from bot.store import Database, is_current, upgrade
from bot.store.db import check_sqlite_file
from bot.store.models import Base


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
    assert main(["db", "upgrade"]) == 1
    expected = f"database error: the database file {path} is read-only (check its permissions)"
    assert capsys.readouterr().err.strip() == expected
