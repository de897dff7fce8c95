"""Engine and session factory. SQLite gets WAL and a busy timeout; PostgreSQL is used as is."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot.errors import StoreUnavailableError

SQLITE_BUSY_TIMEOUT_MS = 5000


def is_sqlite(url: URL | str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: URL | str) -> Path | None:
    u = make_url(url)
    if not is_sqlite(u) or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Stop the driver from issuing its own deferred BEGIN (see _on_sqlite_begin); this also
    # makes SAVEPOINT work, which the outbox's insert-unless-present relies on.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL still survives a crash of the process; only a power cut can lose the
    # last commits. It saves an fsync per commit, which is most of a message's cost here.
    # Production runs on PostgreSQL.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _on_sqlite_begin(connection: Any) -> None:
    # A deferred transaction that reads and then writes fails at once ("database is locked")
    # when another connection committed in between; IMMEDIATE takes the write lock up front, so
    # concurrent writers wait (busy timeout) and then see each other's work.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def check_sqlite_file(url: URL | str) -> None:
    """Create the folder of a SQLite file; refuse clearly if the file or folder is read-only."""
    path = sqlite_path(url)
    if path is None:
        return
    folder = path.parent if str(path.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreUnavailableError(
            f"cannot create the database folder {folder}: {exc.strerror}"
        ) from None
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise StoreUnavailableError(
            f"the database file {path} is read-only (check its permissions)"
        )
    if not os.access(folder, os.W_OK):
        raise StoreUnavailableError(
            f"the database folder {folder} is not writable (check its permissions)"
        )


def make_engine(url: URL | str, **kwargs: Any) -> AsyncEngine:
    u = make_url(url)
    if is_sqlite(u):
        check_sqlite_file(u)
        engine = create_async_engine(u, **kwargs)
        event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
        event.listen(engine.sync_engine, "begin", _on_sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(u, **kwargs)


class Database:
    """The engine and its session factory; `session()` commits on success, rolls back on error."""

    def __init__(self, url: URL | str, **engine_kwargs: Any) -> None:
        self.url = make_url(url)
        self.engine = make_engine(self.url, **engine_kwargs)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time. Within a process, transactions queue here in order
        # instead of each holding a pooled connection in a busy-wait (which, under load, ends
        # in "database is locked"); other processes still meet the busy timeout.
        self._sqlite_turn = asyncio.Lock() if self.is_sqlite else None

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.url)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        if self._sqlite_turn is None:
            async with self.sessions() as session, session.begin():
                yield session
            return
        async with self._sqlite_turn, self.sessions() as session, session.begin():
            yield session

    async def ping(self) -> None:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError) as exc:
            raise StoreUnavailableError(f"database unreachable: {type(exc).__name__}") from None

    async def dispose(self) -> None:
        await self.engine.dispose()
