"""Helpers shared by subcommands. The database's modules (SQLAlchemy) are imported by the
helpers that open it, not with this module: `hotline ask` on SQLite never loads them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

from bot.config import Settings, load_settings
from bot.core.errors import UserFacingError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.store import Database
    from bot.store.models import Person

T = TypeVar("T")


def settings() -> Settings:
    return load_settings()


async def person_named(session: AsyncSession, email: str) -> Person:
    """The active person with this email; if there is none, the one line that says so."""
    from bot.directory import person_by_email

    person = await person_by_email(session, email)
    if person is None:
        raise UserFacingError(
            f"{email}: nobody active in the directory has this email "
            "(import the directory first: hotline directory import FILE)"
        )
    return person


def run_fast(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` on uvloop where it is installed (a faster event loop, for the commands whose
    hot path is the loop: `serve`, `digest send`), on asyncio's own loop otherwise."""
    try:
        import uvloop
    except ImportError:
        import asyncio

        return asyncio.run(main)
    return uvloop.run(main)


def with_db(
    work: Callable[[Database], Awaitable[T]], *, migrated: bool = True, fast: bool = False
) -> T:
    """Run `work` on the configured database once it answers and (unless `migrated` is False)
    is at this version's revision; with `fast`, on uvloop where it is installed (`run_fast`).
    A driver error meaning the database cannot be used (down, not migrated...) becomes a
    StoreUnavailableError with one line saying what to do."""

    import asyncio

    from sqlalchemy.exc import SQLAlchemyError

    from bot.store import Database, require_current
    from bot.store.db import unavailable

    async def run() -> T:
        db = Database(settings().db_url)
        try:
            await db.ping()
            if migrated:
                await require_current(db.engine)
            return await work(db)
        except (SQLAlchemyError, OSError) as exc:
            problem = unavailable(exc, db.url)
            if problem is None:
                raise
            raise problem from None
        finally:
            await db.dispose()

    return run_fast(run()) if fast else asyncio.run(run())


def check_database() -> None:
    """Before a long-running process starts anything: the database answers and is migrated."""

    async def nothing(_db: Database) -> None:
        return None

    with_db(nothing)


def parse_time(raw: str, tz: ZoneInfo) -> datetime:
    """An ISO time; without an offset it is read in the partnership's timezone."""
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise UserFacingError(
            f"{raw!r} is not a time like 2026-11-23T14:30 or 2026-11-23"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC)
