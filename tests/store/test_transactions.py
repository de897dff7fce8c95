"""Transactions: SQLite's run in place on the event loop's thread and wait for another process's
write lock without blocking the loop; readers take no write lock; on PostgreSQL, work whose
connection the server dropped runs once more, and nothing else is run twice."""

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

import bot.store.db as store_db
from bot.store import Database, upgrade
from bot.store.db import sqlite_path
from bot.store.models import School
from tests.conftest import truncate


async def schools(db: Database) -> int:
    async with db.reading() as session:
        return await session.scalar(select(func.count()).select_from(School)) or 0


def raw_connection(db: Database) -> sqlite3.Connection:
    """Another process's view of the file: a connection of its own, outside the engine."""
    path = sqlite_path(db.url)
    assert path is not None
    return sqlite3.connect(path, isolation_level=None, timeout=0)


async def ticks_while(work: "asyncio.Future[None]") -> int:
    """How many times the event loop ran another task while `work` was pending."""
    ticks = 0
    while not work.done():
        await asyncio.sleep(0.005)
        ticks += 1
    return ticks


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"
    await asyncio.to_thread(upgrade, url)
    database = Database(url)
    yield database
    await database.dispose()


@pytest.fixture
async def postgres_db(postgres_url: str) -> AsyncIterator[Database]:
    database = Database(postgres_url)
    await truncate(database)
    yield database
    await database.dispose()


async def test_sqlite_statements_run_on_the_event_loop_thread(sqlite_db: Database) -> None:
    # SQLite calls a user function on the thread that runs the statement.
    event.listen(
        sqlite_db.engine.sync_engine,
        "connect",
        lambda raw, _record: raw.create_function("thread_id", 0, threading.get_ident),
    )
    async with sqlite_db.session() as session:
        session.add(School(code="a", name="A School", phase="primary"))
        await session.flush()
        ran_on = await session.scalar(text("SELECT thread_id()"))
    assert ran_on == threading.get_ident()


async def test_sqlite_waits_for_another_process_write_lock_without_blocking_the_loop(
    sqlite_db: Database,
) -> None:
    other = raw_connection(sqlite_db)
    other.execute("BEGIN IMMEDIATE")

    async def write() -> None:
        async with sqlite_db.session() as session:
            session.add(School(code="b", name="B School", phase="primary"))

    writing = asyncio.ensure_future(write())
    await asyncio.sleep(0.2)
    assert not writing.done()  # waiting for the lock
    other.execute("COMMIT")
    ticks = await ticks_while(writing)
    await writing
    other.close()
    assert await schools(sqlite_db) == 1
    assert ticks >= 1  # the loop kept running other tasks meanwhile


async def test_sqlite_gives_up_after_the_busy_timeout_with_the_database_error(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_db, "SQLITE_BUSY_TIMEOUT_MS", 150)
    other = raw_connection(sqlite_db)
    other.execute("BEGIN IMMEDIATE")
    waited = asyncio.ensure_future(asyncio.sleep(0.05))
    try:
        with pytest.raises(OperationalError, match="locked"):
            async with sqlite_db.session() as session:
                session.add(School(code="c", name="C School", phase="primary"))
        assert waited.done()  # the loop ran while the session waited
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert await schools(sqlite_db) == 0


async def test_sqlite_readers_take_no_write_lock(sqlite_db: Database) -> None:
    async with sqlite_db.reading() as session:
        assert await schools(sqlite_db) == 0
        await session.scalar(select(func.count()).select_from(School))  # in a transaction now
        other = raw_connection(sqlite_db)
        other.execute("BEGIN IMMEDIATE")  # timeout 0: fails at once if the reader held the lock
        other.execute(
            "INSERT INTO schools (code, name, phase, created_at) "
            "VALUES ('d', 'D', 'primary', '2026-11-29 10:00:00')"
        )
        other.execute("COMMIT")
        other.close()
    assert await schools(sqlite_db) == 1


async def test_a_part_way_commit_and_what_follows_are_both_kept(db: Database) -> None:
    async with db.session() as session:
        session.add(School(code="e", name="E School", phase="primary"))
        await session.commit()
        session.add(School(code="f", name="F School", phase="secondary"))
    assert await schools(db) == 2


async def test_work_that_fails_is_rolled_back_and_not_run_again(db: Database) -> None:
    runs = 0

    async def work(session: AsyncSession) -> None:
        nonlocal runs
        runs += 1
        session.add(School(code="g", name="G School", phase="primary"))
        session.add(School(code="g", name="G again", phase="primary"))
        await session.flush()

    with pytest.raises(IntegrityError):
        await db.transaction(work)
    assert (runs, await schools(db)) == (1, 0)


async def _backend_pid(session: AsyncSession) -> int:
    return int(await session.scalar(text("SELECT pg_backend_pid()")) or 0)


@pytest.mark.postgres
async def test_postgres_work_runs_again_on_a_connection_the_server_dropped(
    postgres_db: Database,
) -> None:
    db = postgres_db
    async with db.session() as session:
        pid = await _backend_pid(session)  # the pooled connection the next work will get
    admin = Database(db.url)
    try:
        async with admin.session() as session:
            await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await admin.dispose()
    attempts = 0
    pids: list[int] = []

    async def work(session: AsyncSession) -> None:
        nonlocal attempts
        attempts += 1
        pids.append(await _backend_pid(session))  # the first attempt fails here
        session.add(School(code="h", name="H School", phase="primary"))

    await db.transaction(work)
    assert attempts == 2 and len(pids) == 1 and pids[0] != pid
    assert await schools(db) == 1


async def test_sqlite_checkpoints_run_in_a_thread_every_so_many_writes(
    sqlite_db: Database, tmp_path: Path
) -> None:
    checkpointer = sqlite_db.checkpointer
    assert checkpointer is not None
    checkpointer.every = 5
    async with sqlite_db.reading() as session:  # no commit on the loop checkpoints by itself
        assert await session.scalar(text("PRAGMA wal_autocheckpoint")) == 0
    for n in range(5):
        async with sqlite_db.session() as session:
            session.add(School(code=f"s{n}", name=f"School {n}", phase="primary"))
    await checkpointer.close()  # waits for the one that started
    assert checkpointer.runs == 1
    # The checkpoint copied the log into the database file: the file alone has the rows.
    path = sqlite_path(sqlite_db.url)
    assert path is not None
    alone = tmp_path / "alone.db"
    alone.write_bytes(path.read_bytes())
    copy = sqlite3.connect(alone)
    try:
        assert copy.execute("SELECT count(*) FROM schools").fetchone() == (5,)
    finally:
        copy.close()
