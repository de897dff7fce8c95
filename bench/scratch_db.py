"""A PostgreSQL database of the benchmark's own: created on the server it is pointed at, with a
name no one else uses (`hotline_bench_<pid>_<random>`), migrated, and dropped at the end. The
database in the URL it is given is only where it connects to create and drop its own; nothing in
it is touched, so a bench pointed at a real database never harms it.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.store import Database
from bot.store.migrate import upgrade

PREFIX = "hotline_bench_"


async def _admin(server_url: str, statement: str) -> None:
    db = Database(server_url)
    try:
        async with db.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(statement))
    finally:
        await db.dispose()


@asynccontextmanager
async def scratch_database(server_url: str) -> AsyncIterator[str]:
    """The URL of a new, migrated database on `server_url`'s server, dropped on the way out."""
    name = f"{PREFIX}{os.getpid()}_{secrets.token_hex(3)}"
    await _admin(server_url, f'CREATE DATABASE "{name}"')
    try:
        url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
        await asyncio.to_thread(upgrade, url)  # Alembic runs its own event loop
        yield url
    finally:
        await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def scratch_postgres(server_url: str) -> Iterator[str]:
    """`scratch_database` for code outside an event loop."""
    name = f"{PREFIX}{os.getpid()}_{secrets.token_hex(3)}"
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        yield url
    finally:
        asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
