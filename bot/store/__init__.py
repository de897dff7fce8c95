"""Durable state: SQLAlchemy models, the session factory and Alembic migrations."""

from bot.store.db import Database, is_sqlite
from bot.store.migrate import is_current, require_current, upgrade, upgrade_engine

__all__ = ["Database", "is_current", "is_sqlite", "require_current", "upgrade", "upgrade_engine"]
