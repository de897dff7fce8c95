"""A database that cannot be used (server down, never migrated, out of date, missing) stops every
command that needs it with one line saying what to do, and exit status 2, never a traceback."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.engine import make_url

from bot.cli import main
from bot.store import upgrade
from tests.conftest import run_hotline

CLOSED_PORT = "postgresql+asyncpg://postgres@127.0.0.1:1/x"
COMMANDS: list[tuple[str, ...]] = [
    ("requests", "list"),
    ("rota", "show"),
    ("digest", "status"),
    ("db", "upgrade"),
    ("chat", "--as", "amara.okafor@stmarys.example.org"),
    ("worker",),
]


def _named(url: str) -> str:
    """How the one line names a database: a SQLite file by path, PostgreSQL by name and server."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        return f"the database file {u.database}"
    return f"the database {u.database} on {u.host}:{u.port or 5432}"


def _one_line_failures(url: str, commands: list[tuple[str, ...]], hint: str) -> list[str]:
    def run(command: tuple[str, ...]) -> str | None:
        result = run_hotline(*command, env={"DATABASE_URL": url}, stdin="", timeout=30)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        if result.returncode == 2 and len(lines) == 1 and hint in lines[0]:
            return None
        return f"{' '.join(command)}: exit {result.returncode}, stderr {result.stderr!r}"

    with ThreadPoolExecutor(4) as pool:
        return [failure for failure in pool.map(run, commands) if failure]


def test_a_database_server_that_is_down_is_one_line() -> None:
    hint = (
        "database error: cannot reach the database server at 127.0.0.1:1 (connection refused): "
        "is it running? Check DATABASE_URL"
    )
    failures = _one_line_failures(CLOSED_PORT, COMMANDS, hint)
    assert not failures, "\n".join(failures)


def test_a_database_never_migrated_is_one_line(unmigrated_url: str) -> None:
    hint = f"database error: {_named(unmigrated_url)} is not migrated: run `hotline db upgrade`"
    commands = [command for command in COMMANDS if command != ("db", "upgrade")]
    failures = _one_line_failures(unmigrated_url, commands, hint)
    assert not failures, "\n".join(failures)


def test_a_database_behind_this_version_says_to_upgrade(
    unmigrated_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = unmigrated_url
    upgrade(url, "0001")
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["directory", "invite", "amara.okafor@stmarys.example.org"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(
        f"database error: {_named(url)} is at revision 0001, this version needs "
    )
    assert line.endswith(": run `hotline db upgrade`")
    assert main(["db", "upgrade"]) == 0
    capsys.readouterr()
    assert main(["requests", "list"]) == 0


@pytest.mark.postgres
def test_a_database_that_does_not_exist_is_named(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = make_url(postgres_url).set(database="hotline_no_such_database")
    monkeypatch.setenv("DATABASE_URL", missing.render_as_string(hide_password=False))
    assert main(["db", "upgrade"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"database error: the database hotline_no_such_database on {missing.host}:"
        f"{missing.port or 5432} does not exist: create it, or check DATABASE_URL"
    ]
