"""Alembic, driven from code: `hotline db upgrade`, the run and test commands, and test fixtures.

Checking that a database is at this code's revision (every start) does not load Alembic, which
takes a fifth of a second: this code's revisions are read from the migration files
(bot/store/revisions.py), and the database's from its `alembic_version` table.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.errors import StoreUnavailableError
from bot.store.db import describe, make_engine
from bot.store.revisions import MIGRATIONS, known_revisions, revision_problem

if TYPE_CHECKING:
    from alembic.config import Config

VERSION_TABLE = "alembic_version"


@dataclass(frozen=True)
class Migrated:
    """What an upgrade did: the revision before (None: a database never migrated) and after."""

    before: str | None
    after: str | None


def alembic_config(url: URL | str | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        rendered = url.render_as_string(hide_password=False) if isinstance(url, URL) else url
        cfg.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return cfg


def _upgrade_on(connection: Connection, revision: str) -> None:
    from alembic import command

    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


def _current_on(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def _version_on(connection: Connection) -> str | None:
    """The database's revision as Alembic records it (None: never migrated), read plainly."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(rows) > 1:
        return _current_on(connection)  # several heads: Alembic says what that means
    return str(rows[0]) if rows else None


async def upgrade_engine(engine: AsyncEngine, revision: str = "head") -> Migrated:
    async with engine.begin() as conn:
        before = await conn.run_sync(_current_on)
        await conn.run_sync(_upgrade_on, revision)
        return Migrated(before, await conn.run_sync(_current_on))


async def is_current(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        return await conn.run_sync(_version_on) == known_revisions().head


async def require_current(engine: AsyncEngine) -> None:
    """Refuse, in one line saying what to do, a database that is not at this code's revision."""
    async with engine.connect() as conn:
        current = await conn.run_sync(_version_on)
    problem = revision_problem(current, describe(engine.url))
    if problem is not None:
        raise StoreUnavailableError(problem)


def upgrade(url: URL | str, revision: str = "head") -> Migrated:
    async def run() -> Migrated:
        engine = make_engine(url)
        try:
            return await upgrade_engine(engine, revision)
        finally:
            await engine.dispose()

    return asyncio.run(run())
