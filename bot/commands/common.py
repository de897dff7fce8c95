"""Helpers shared by subcommands."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

from bot.config import Settings, load_settings
from bot.errors import UserFacingError
from bot.store import Database

T = TypeVar("T")


def settings() -> Settings:
    return load_settings()


def with_db(work: Callable[[Database], Awaitable[T]]) -> T:
    async def run() -> T:
        db = Database(settings().db_url)
        try:
            await db.ping()
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(run())


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
