"""Wiring: settings -> database, knowledge base and dispatcher, shared by every entry point."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot.config import Settings
from bot.conversation import Dispatcher, DispatcherConfig
from bot.errors import StoreUnavailableError
from bot.knowledge import KnowledgeBase, load_knowledge_base
from bot.store import Database, is_current


@dataclass
class Runtime:
    settings: Settings
    db: Database
    kb: KnowledgeBase
    dispatcher: Dispatcher


def dispatcher_config(settings: Settings) -> DispatcherConfig:
    return DispatcherConfig(
        hotline_phone=settings.hotline_phone, max_message_chars=settings.max_message_chars
    )


@asynccontextmanager
async def open_runtime(
    settings: Settings, kb: KnowledgeBase | None = None
) -> AsyncIterator[Runtime]:
    """Load the knowledge base (refusing an invalid one) and open a migrated database."""
    kb = kb or load_knowledge_base(settings.data_dir)
    db = Database(settings.db_url)
    try:
        await db.ping()
        if not await is_current(db.engine):
            raise StoreUnavailableError(
                "the database is not migrated: run `hotline db upgrade` first"
            )
        yield Runtime(settings, db, kb, Dispatcher(db, kb, dispatcher_config(settings)))
    finally:
        await db.dispose()
