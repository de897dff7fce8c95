"""Durable state: SQLAlchemy models, the session factory and Alembic migrations.

The names below are imported from their modules when first asked for, not with the package, so
that the modules that need neither SQLAlchemy nor Alembic (`revisions`, `sqlite_file`) can be
used by `hotline ask` without loading them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.store.db import Database, is_sqlite
    from bot.store.migrate import is_current, require_current, upgrade, upgrade_engine

__all__ = ["Database", "is_current", "is_sqlite", "require_current", "upgrade", "upgrade_engine"]
_HOME = {
    "Database": "bot.store.db",
    "is_sqlite": "bot.store.db",
    "is_current": "bot.store.migrate",
    "require_current": "bot.store.migrate",
    "upgrade": "bot.store.migrate",
    "upgrade_engine": "bot.store.migrate",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
