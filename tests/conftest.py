"""Shared fixtures: real databases (SQLite file and PostgreSQL), the real knowledge base, factories.

The `db` fixture is parametrised over both databases. PostgreSQL tests skip with a reason when no
server can be used (a connection that runs `SELECT 1`, not just an open port), unless
HOTLINE_REQUIRE_POSTGRES=1 (as in CI), when they fail instead. Each session works in a database
of its own, `hotline_test_<pid>`, and drops those a killed run left behind.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.conversation.context import Deps
from bot.escalation.cues_file import load_detector
from bot.escalation.policy import EscalationConfig
from bot.escalation.urgency import UrgencyDetector
from bot.knowledge import KnowledgeBase, load_knowledge_base
from bot.knowledge.embedding import Embedder, load_embedder
from bot.knowledge.language import load_lexicon
from bot.store import Database, is_sqlite, upgrade
from bot.store.db import unavailable
from bot.store.models import Base, utcnow
from tests.factories import reset_postgres

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
PHONE = "020 7946 0000"
# Phrasing vectors are computed once (tens of seconds on a small machine) and reused by every
# test and every `hotline` subprocess of every run, as a deployment reuses its cache.
EMBEDDING_CACHE = ROOT / ".cache" / "hotline"
os.environ.setdefault("EMBEDDING_CACHE_DIR", str(EMBEDDING_CACHE))
# Emails written as files (no SMTP_HOST) go to a folder of this run's own, never the checkout's
# (every test process and `hotline` subprocess inherits it).
os.environ.setdefault("EMAIL_OUTBOX_DIR", tempfile.mkdtemp(prefix="hotline-test-email-"))
POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
# The session's own database; a run killed before its teardown leaves one behind.
TEST_DATABASE = re.compile(r"hotline_test_(\d+)")
PROBE_TIMEOUT_S = 10.0


async def _select_one(url: str) -> None:
    db = Database(url)
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S), db.engine.connect() as conn:
            answer = await conn.scalar(text("SELECT 1"))
    finally:
        await db.dispose()
    if answer != 1:
        raise RuntimeError(f"SELECT 1 answered {answer!r}")


def postgres_problem(url: str) -> str | None:
    """Why PostgreSQL at `url` cannot be used, or None when a connection runs `SELECT 1`. An open
    port is not enough: something else may listen there, or the server may refuse the user or
    not have the database."""
    try:
        asyncio.run(_select_one(url))
    except Exception as exc:  # any failure means "not usable", said with its reason
        known = unavailable(exc, url, connecting=True)
        return str(known) if known else f"{type(exc).__name__}: {exc}".removesuffix(": ")
    return None


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such process (or no such pid at all)
        return False
    except PermissionError:  # a process of another user
        return True
    return True


def stale_test_databases(
    names: Iterable[str], running: Callable[[int], bool] = _running
) -> list[str]:
    """The databases named exactly `hotline_test_<pid>` whose pid is no running process: left by
    a test run killed before its teardown. Any other name is never touched."""
    stale = []
    for name in names:
        found = TEST_DATABASE.fullmatch(name)
        if found and not running(int(found.group(1))):
            stale.append(name)
    return sorted(stale)


async def _database_names(server_url: str) -> list[str]:
    db = Database(server_url)
    try:
        async with db.engine.connect() as conn:
            return list(await conn.scalars(text("SELECT datname FROM pg_database")))
    finally:
        await db.dispose()


async def truncate(database: Database) -> None:
    """Empty every table of a PostgreSQL test database (shared by the session's tests)."""
    tables = ", ".join(t.name for t in reversed(Base.metadata.sorted_tables))
    async with database.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


async def truncate_url(url: str) -> None:
    """`truncate` for a URL, from code with no Database of its own (`asyncio.run` it)."""
    database = Database(url)
    try:
        await truncate(database)
    finally:
        await database.dispose()


async def rebuild_postgres(url: str) -> None:
    """For a test that damages the schema on purpose: start again from empty and migrate."""
    await reset_postgres(url)
    await asyncio.to_thread(upgrade, url)


async def _admin(server_url: str, *statements: str) -> None:
    """Run statements that cannot run inside a transaction (CREATE / DROP DATABASE)."""
    db = Database(server_url)
    try:
        async with db.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await db.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of this test session's own, so concurrent runs never reset each other's; the
    ones killed runs left behind (their pid is no running process) are dropped first."""
    problem = postgres_problem(POSTGRES_URL)
    if problem is not None:
        reason = f"PostgreSQL not usable at {make_url(POSTGRES_URL).render_as_string()}: {problem}"
        if os.environ.get("HOTLINE_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason + " (HOTLINE_REQUIRE_POSTGRES=1)")
        pytest.skip(reason)
    name = f"hotline_test_{os.getpid()}"
    stale = stale_test_databases(asyncio.run(_database_names(POSTGRES_URL)))
    asyncio.run(
        _admin(
            POSTGRES_URL,
            *(f'DROP DATABASE IF EXISTS "{old}" WITH (FORCE)' for old in stale),
            f'DROP DATABASE IF EXISTS "{name}"',
            f'CREATE DATABASE "{name}"',
        )
    )
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    asyncio.run(_admin(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        sqlite_url = f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"
        upgrade(sqlite_url)
        return sqlite_url
    postgres: str = request.getfixturevalue("postgres_url")
    return postgres


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    if not database.is_sqlite:
        await truncate(database)
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
def embedder() -> Embedder | None:
    """The real model when installed (as `make test` installs it), else None: the lexical
    matcher alone, as a deployment without the model runs."""
    return load_embedder(None)


@pytest.fixture(scope="session", autouse=True)
def warm_caches(embedder: Embedder | None) -> None:
    """The first run on a fresh machine embeds the FAQ's phrasings and trains the urgency model
    into EMBEDDING_CACHE (tens of seconds, once); done first, so no `hotline` subprocess test
    pays it under its own timeout."""
    if embedder is None:
        return
    from bot.escalation.learned import load_urgency

    load_knowledge_base(DATA, embedder, EMBEDDING_CACHE)
    load_urgency(DATA, load_lexicon(DATA / "language"), embedder, EMBEDDING_CACHE)


@pytest.fixture(scope="session")
def kb(embedder: Embedder | None) -> KnowledgeBase:
    """The knowledge base as the bot runs it: the combined matcher when the model is there."""
    return load_knowledge_base(DATA, embedder, EMBEDDING_CACHE)


@pytest.fixture(scope="session")
def urgency() -> UrgencyDetector:
    return load_detector(DATA, load_lexicon(DATA / "language"))


def make_deps(
    kb: KnowledgeBase,
    urgency: UrgencyDetector,
    clock: Callable[[], datetime] = utcnow,
    **escalation: Any,
) -> Deps:
    return Deps(
        kb=kb,
        urgency=urgency,
        escalation=EscalationConfig(hotline_phone=PHONE, **escalation),
        hotline_phone=PHONE,
        timezone=ZoneInfo("Europe/London"),
        clock=clock,
    )


@pytest.fixture
def deps(kb: KnowledgeBase, urgency: UrgencyDetector) -> Deps:
    return make_deps(kb, urgency)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def unmigrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database nobody migrated, on both databases like `db_url`: a SQLite file not yet
    created, or this session's PostgreSQL database emptied (and migrated again afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'never.db'}"
        return
    url: str = request.getfixturevalue("postgres_url")
    asyncio.run(reset_postgres(url))
    try:
        yield url
    finally:
        asyncio.run(rebuild_postgres(url))


@pytest.fixture
def example_db(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example directory in an otherwise empty database, SQLite or PostgreSQL (as `db_url`),
    for the command-line tests: `main([...])` and `hotline` processes find it in DATABASE_URL.
    Returns a scratch folder."""
    from bot.cli import main

    if not is_sqlite(db_url):
        asyncio.run(truncate_url(db_url))
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("DATA_DIR", str(DATA))
    assert main(["db", "upgrade"]) == 0
    assert main(["directory", "import", str(DATA / "example" / "directory.yaml")]) == 0
    return tmp_path


def run_hotline(
    *args: str,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """`hotline ARGS` in a fresh interpreter, run from the repository on the real data unless
    `env` says otherwise."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env={**os.environ, "DATA_DIR": str(DATA), **(env or {})},
        cwd=ROOT,
        timeout=timeout,
    )
