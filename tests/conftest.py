"""Shared fixtures: real databases (SQLite file and PostgreSQL), the real knowledge base, factories.

The `db` fixture is parametrised over both databases. PostgreSQL tests skip with a reason when no
server answers, unless HOTLINE_REQUIRE_POSTGRES=1 (as in CI), when they fail instead.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.conversation.context import Deps
from bot.escalation.policy import EscalationConfig
from bot.escalation.urgency import UrgencyDetector, load_detector
from bot.knowledge import KnowledgeBase, load_knowledge_base
from bot.knowledge.embedding import Embedder, load_embedder
from bot.knowledge.language import load_lexicon
from bot.store import Database, upgrade
from bot.store.models import Base, utcnow
from tests.factories import reset_postgres

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
PHONE = "020 7946 0000"
# Phrasing vectors are computed once (tens of seconds on a small machine) and reused by every
# test and every `hotline` subprocess of every run, as a deployment reuses its cache.
EMBEDDING_CACHE = ROOT / ".cache" / "hotline"
os.environ.setdefault("EMBEDDING_CACHE_DIR", str(EMBEDDING_CACHE))
POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def _postgres_answers(url: str) -> bool:
    u = make_url(url)
    try:
        with socket.create_connection((u.host or "127.0.0.1", u.port or 5432), timeout=1):
            return True
    except OSError:
        return False


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
    """A database of this test session's own, so concurrent runs never reset each other's."""
    if not _postgres_answers(POSTGRES_URL):
        reason = f"PostgreSQL not reachable at {make_url(POSTGRES_URL).render_as_string()}"
        if os.environ.get("HOTLINE_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason + " (HOTLINE_REQUIRE_POSTGRES=1)")
        pytest.skip(reason)
    name = f"hotline_test_{os.getpid()}"
    asyncio.run(
        _admin(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
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
        tables = ", ".join(t.name for t in reversed(Base.metadata.sorted_tables))
        async with database.engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
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


@pytest.fixture
def example_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A SQLite file with the example directory, for the command-line tests (`main([...])`)."""
    from bot.cli import main

    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'h.db'}")
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
