"""SQLite for the async engine, run on the event loop's own thread.

SQLAlchemy's aiosqlite driver sends every call (cursor, execute, fetch, close, commit) to a
thread of its own and awaits the answer: about 17 thread round trips for one question's
transaction, each costing more than the SQL it carries (a statement of the message path takes a
few microseconds in SQLite itself). This dialect calls the standard library's `sqlite3` directly
instead: a transaction runs from BEGIN to COMMIT without yielding to the event loop, so it holds
SQLite's write lock only for the time of its SQL.

What could block the loop is a lock another process holds. In WAL mode readers never wait for
writers; a writer waits only at BEGIN IMMEDIATE, and `bot.store.db.Database` makes that one
wait asynchronous (a busy timeout of zero for the BEGIN, retried after a sleep). The pool is the
asyncio one, so a task waiting for a pooled connection awaits instead of blocking the thread.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import pool
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.base import SQLiteExecutionContext
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL
from sqlalchemy.engine.interfaces import ConnectArgsType
from sqlalchemy.util.concurrency import await_only

DRIVER = "hotline_inline"


async def _done() -> None:
    return None


class _Cursor(sqlite3.Cursor):
    async def _async_soft_close(self) -> None:
        """The asyncio layer's hook to close an async driver's cursor early; rows here are
        fetched in place, so there is nothing to do."""


class _Connection(sqlite3.Connection):
    def cursor(self, factory: Any = _Cursor) -> Any:
        return super().cursor(factory)


class _InlineExecutionContext(SQLiteExecutionContext):
    def pre_exec(self) -> None:
        super().pre_exec()  # type: ignore[no-untyped-call]  # SQLAlchemy leaves it untyped
        # SQLAlchemy's AsyncConnection.execute insists that a statement awaited something (a
        # guard against sync drivers). A coroutine that finishes at once passes it: a switch to
        # the calling greenlet and back, without yielding to the event loop.
        await_only(_done())


class InlineSQLiteDialect(SQLiteDialect_pysqlite):
    """pysqlite, declared async: SQLAlchemy's asyncio layer runs its calls in place."""

    driver = DRIVER
    is_async = True
    supports_statement_cache = True
    execution_ctx_cls = _InlineExecutionContext

    def create_connect_args(self, url: URL) -> ConnectArgsType:
        args, params = super().create_connect_args(url)
        params.setdefault("factory", _Connection)
        return args, params

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        if cls._is_url_file_db(url):
            return pool.AsyncAdaptedQueuePool
        return pool.StaticPool


registry.register(f"sqlite.{DRIVER}", __name__, "InlineSQLiteDialect")


def inline_url(url: URL) -> URL:
    """The same SQLite database through this dialect (whatever driver the URL names)."""
    return url.set(drivername=f"sqlite+{DRIVER}")
