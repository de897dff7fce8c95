"""Alembic, driven from code: `hotline db upgrade`, the run and test commands, and test fixtures."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.errors import StoreUnavailableError
from bot.store.db import describe, make_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


@dataclass(frozen=True)
class Migrated:
    """What an upgrade did: the revision before (None: a database never migrated) and after."""

    before: str | None
    after: str | None


def alembic_config(url: URL | str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        rendered = url.render_as_string(hide_password=False) if isinstance(url, URL) else url
        cfg.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return cfg


def _upgrade_on(connection: Connection, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


def _current_on(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade_engine(engine: AsyncEngine, revision: str = "head") -> Migrated:
    async with engine.begin() as conn:
        before = await conn.run_sync(_current_on)
        await conn.run_sync(_upgrade_on, revision)
        return Migrated(before, await conn.run_sync(_current_on))


async def is_current(engine: AsyncEngine) -> bool:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    async with engine.connect() as conn:
        return await conn.run_sync(_current_on) == head


async def require_current(engine: AsyncEngine) -> None:
    """Refuse, in one line saying what to do, a database that is not at this code's revision."""
    scripts = ScriptDirectory.from_config(alembic_config())
    head = scripts.get_current_head()
    async with engine.connect() as conn:
        current = await conn.run_sync(_current_on)
    if current == head:
        return
    where = describe(engine.url)
    if current is None:
        raise StoreUnavailableError(f"{where} is not migrated: run `hotline db upgrade`")
    if current in {script.revision for script in scripts.walk_revisions()}:
        raise StoreUnavailableError(
            f"{where} is at revision {current}, this version needs {head}: run `hotline db upgrade`"
        )
    raise StoreUnavailableError(
        f"{where} is at revision {current}, which this version does not know "
        "(a newer version migrated it): update the bot, or check DATABASE_URL"
    )


def upgrade(url: URL | str, revision: str = "head") -> Migrated:
    async def run() -> Migrated:
        engine = make_engine(url)
        try:
            return await upgrade_engine(engine, revision)
        finally:
            await engine.dispose()

    return asyncio.run(run())
