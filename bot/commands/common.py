"""Helpers shared by subcommands."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError

from bot.config import Settings, load_settings
from bot.core.errors import UserFacingError
from bot.store import Database, require_current
from bot.store.db import unavailable

T = TypeVar("T")


def settings() -> Settings:
    return load_settings()


def with_db(work: Callable[[Database], Awaitable[T]], *, migrated: bool = True) -> T:
    """Run `work` on the configured database once it answers and (unless `migrated` is False)
    is at this version's revision. A driver error meaning the database cannot be used (down,
    not migrated...) becomes a StoreUnavailableError with one line saying what to do."""

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

    return asyncio.run(run())


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
