"""Engine and session factory. SQLite gets WAL and a busy timeout; PostgreSQL is used as is."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
from collections.abc import AsyncIterator, Iterator
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

from bot.core.errors import StoreUnavailableError

SQLITE_BUSY_TIMEOUT_MS = 5000


def is_sqlite(url: URL | str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: URL | str) -> Path | None:
    u = make_url(url)
    if not is_sqlite(u) or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def describe(url: URL | str) -> str:
    """Which database, for messages: a SQLite file, or a PostgreSQL database and its server."""
    u = make_url(url)
    if is_sqlite(u):
        path = sqlite_path(u)
        return f"the database file {path}" if path else "the in-memory database"
    return f"the database {u.database} on {server_address(u)}"


def server_address(url: URL | str) -> str:
    u = make_url(url)
    return f"{u.host or 'localhost'}:{u.port or 5432}"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception, the driver's error SQLAlchemy wrapped, and what that was raised from."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        current = (
            orig if isinstance(orig, BaseException) else current.__cause__ or current.__context__
        )


def _connect_failure(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return "unknown host"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return exc.strerror or type(exc).__name__


def _is_connect_failure(exc: OSError) -> bool:
    # asyncio reports several addresses that all failed as a plain OSError
    return isinstance(exc, ConnectionError | socket.gaierror | TimeoutError) or (
        "Connect call failed" in str(exc)
    )


def unavailable(
    exc: BaseException, url: URL | str, *, connecting: bool = False
) -> StoreUnavailableError | None:
    """The one line for a driver error that means the database cannot be used as configured
    (server down, unknown database or user, file that cannot be opened, schema not migrated);
    None for anything else, which is a fault to report as it is. While `connecting`, any OSError
    is the server's."""
    u = make_url(url)
    for cause in _causes(exc):
        state = getattr(cause, "sqlstate", None)
        message = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
        if state == "42P01" or message.startswith("no such table"):
            return StoreUnavailableError(f"{describe(u)} is not migrated: run `hotline db upgrade`")
        if state == "42703" or message.startswith("no such column"):
            return StoreUnavailableError(
                f"{describe(u)} is not up to date: run `hotline db upgrade`"
            )
        if state == "3D000":
            return StoreUnavailableError(
                f"{describe(u)} does not exist: create it, or check DATABASE_URL"
            )
        if state in ("28000", "28P01"):
            return StoreUnavailableError(
                f"the database server at {server_address(u)} refused the connection "
                f"({message}): check the user and password in DATABASE_URL"
            )
        if state in ("57P01", "57P02", "57P03", "53300"):
            return StoreUnavailableError(
                f"the database server at {server_address(u)} is not accepting connections "
                f"({message}): try again shortly"
            )
        if isinstance(cause, sqlite3.OperationalError) and "unable to open" in message:
            return StoreUnavailableError(f"cannot open {describe(u)}: check DATABASE_URL")
        if (
            isinstance(cause, OSError)
            and not is_sqlite(u)
            and (connecting or _is_connect_failure(cause))
        ):
            return StoreUnavailableError(
                f"cannot reach the database server at {server_address(u)} "
                f"({_connect_failure(cause)}): is it running? Check DATABASE_URL"
            )
    return None


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

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A session for reads only: it never takes SQLite's write turn, so a read that a slow
        call follows does not hold up other processes' writes."""
        async with self.sessions() as session:
            yield session  # closed without a commit: rolled back

    async def ping(self) -> None:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError) as exc:
            raise unavailable(exc, self.url, connecting=True) or StoreUnavailableError(
                f"cannot use {describe(self.url)} ({type(exc).__name__}): check DATABASE_URL"
            ) from None

    async def dispose(self) -> None:
        await self.engine.dispose()
