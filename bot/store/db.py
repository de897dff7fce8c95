"""Engine and session factory. SQLite gets WAL and a busy timeout; PostgreSQL is used as is."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot.core.errors import StoreUnavailableError
from bot.store.checkpoint import Checkpointer
from bot.store.sqlite_inline import inline_url

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 5000
# Execution options the SQLite begin hook reads (see _on_sqlite_begin).
READ_ONLY = "hotline_read_only"
NO_WAIT = "hotline_no_wait"
# While another process writes, BEGIN IMMEDIATE is tried again after these pauses (doubling).
FIRST_PAUSE_S = 0.001
LONGEST_PAUSE_S = 0.05

T = TypeVar("T")


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
    # Checkpoints run in a thread (bot/store/checkpoint.py), not in a commit on the event loop.
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


def _on_sqlite_begin(connection: Connection) -> None:
    # A deferred transaction that reads and then writes fails at once ("database is locked")
    # when another connection committed in between; IMMEDIATE takes the write lock up front, so
    # concurrent writers queue and then see each other's work. Readers (READ_ONLY) take a
    # deferred BEGIN: in WAL mode they never wait and never hold up a writer. With NO_WAIT the
    # BEGIN does not wait for another process's write lock: it fails at once, and
    # Database.session waits by sleeping, not by blocking the event loop (bot.store.sqlite_inline).
    options = connection.get_execution_options()
    raw = connection.connection.dbapi_connection
    assert raw is not None
    if options.get(READ_ONLY):
        raw.execute("BEGIN")
        return
    if not options.get(NO_WAIT):
        raw.execute("BEGIN IMMEDIATE")
        return
    raw.execute("PRAGMA busy_timeout=0")
    try:
        raw.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc
    finally:
        raw.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")


def _is_locked(exc: OperationalError) -> bool:
    return isinstance(exc.orig, sqlite3.OperationalError) and "locked" in str(exc.orig)


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
    # A failed statement's error (logged with its traceback) leaves out the values it carried:
    # they can be a member's message (docs/data-protection.md, logs).
    kwargs.setdefault("hide_parameters", True)
    u = make_url(url)
    if is_sqlite(u):
        check_sqlite_file(u)
        engine = create_async_engine(inline_url(u), **kwargs)
        event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
        event.listen(engine.sync_engine, "begin", _on_sqlite_begin)
        return engine
    # No pool_pre_ping: it costs three round trips (BEGIN, a ping, ROLLBACK) per checkout. A
    # connection the server dropped fails its first statement instead, which invalidates the
    # pool; Database.transaction runs such work once more.
    return create_async_engine(u, **kwargs)


class Database:
    """The engine and its session factories: `session()` is a transaction that commits on
    success and rolls back on error, `reading()` a session for reads only, `transaction(work)`
    a transaction run once more when the connection turns out to be dead."""

    def __init__(self, url: URL | str, **engine_kwargs: Any) -> None:
        self.url = make_url(url)
        self.engine = make_engine(self.url, **engine_kwargs)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._readers = async_sessionmaker(
            self.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False
        )
        # SQLite has one writer at a time. Within a process, transactions queue here in order
        # (with the inline driver a transaction does not yield while it runs its SQL, so the turn
        # is held no longer than that); between processes, BEGIN IMMEDIATE waits by sleeping.
        self._sqlite_turn = asyncio.Lock() if self.is_sqlite else None
        path = sqlite_path(self.url)
        self.checkpointer = Checkpointer(path) if path is not None else None

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.url)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        if self._sqlite_turn is None:
            async with self._committed(self.sessions()) as session:
                yield session
            return
        async with self._sqlite_turn, self._committed(await self._begin_writing()) as session:
            yield session
        if self.checkpointer is not None:
            self.checkpointer.wrote()

    @staticmethod
    @asynccontextmanager
    async def _committed(session: AsyncSession) -> AsyncIterator[AsyncSession]:
        """Commit what the work left in its transaction (work may commit part-way); roll back
        on error. A transaction that a failed flush ended (work that caught the error and
        answered for it) is not committed: it is rolled back as the session closes."""
        try:
            yield session
            transaction = session.get_transaction()
            if transaction is not None and transaction.is_active:
                await session.commit()
        except BaseException:
            await session.rollback()
            raise
        finally:
            await session.close()

    async def _begin_writing(self) -> AsyncSession:
        """A SQLite session in a write transaction; while another process holds the write lock,
        asked again after a pause, up to the busy timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SQLITE_BUSY_TIMEOUT_MS / 1000
        pause = FIRST_PAUSE_S
        while True:
            session = self.sessions()
            try:
                # BEGIN IMMEDIATE without waiting; the option holds for this first BEGIN only (a
                # transaction that commits part-way begins its next part the ordinary way).
                await session.connection(execution_options={NO_WAIT: True})
                return session
            except OperationalError as exc:
                await session.close()
                if not _is_locked(exc) or loop.time() + pause > deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE_S)

    async def transaction(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """`work` in one transaction, committed. On PostgreSQL, when its connection turns out to
        be dead before the commit (the server restarted; there is no pre-ping), it runs once
        more on a fresh connection: `work` must have no effect outside its session. A failure
        at the commit itself is never retried, as the commit may have landed."""
        retried = False
        while True:
            in_work = False
            try:
                async with self.session() as session:
                    try:
                        return await work(session)
                    except DBAPIError:
                        in_work = True
                        raise
            except DBAPIError as exc:
                if retried or not in_work or not exc.connection_invalidated:
                    raise
                retried = True
                log.warning("database connection lost; running the transaction again")

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A session for reads only: it takes neither this process's write turn nor SQLite's
        write lock, so a read that a slow call follows holds up no writer."""
        async with self._readers() as session:
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
        if self.checkpointer is not None:
            await self.checkpointer.close()
        await self.engine.dispose()
