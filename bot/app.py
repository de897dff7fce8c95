"""The composition root: settings -> database, knowledge base, urgency detector, platforms,
background work, dispatcher; one builder (`open_bot`) shared by every entry point and the tests."""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TextIO

from bot.background import Background
from bot.channels import Inbound, Platforms, connect, open_platforms
from bot.config import Settings
from bot.conversation.context import Deps
from bot.conversation.dispatcher import Dispatcher, DispatcherConfig
from bot.core.ports import Sender
from bot.digest.email_message import email_setup
from bot.digest.faq_changes import sync_knowledge_base
from bot.digest.runs import DigestConfig
from bot.digest.schedule import trigger
from bot.knowledge import KnowledgeBase
from bot.loading import embedder_for, escalation_config, load_kb, load_urgency_for
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


def digest_config(settings: Settings) -> DigestConfig:
    """What the digest needs of the settings (by email too, when links can be signed)."""
    return DigestConfig(
        tz=settings.tz,
        hotline_phone=settings.hotline_phone,
        cron=trigger(settings.digest_cron, settings.tz),
        grace=timedelta(seconds=settings.digest_misfire_grace_s),
        events_days=settings.digest_events_days,
        send_empty=settings.digest_send_empty,
        email=email_setup(settings),  # None: nobody gets the digest by email (no signing key)
    )


def build_deps(settings: Settings, kb: KnowledgeBase | None = None) -> Deps:
    """Load the knowledge base and urgency cues (refusing invalid ones). The knowledge base is
    the live holder, which adds the learned phrasings once it has read them."""
    kb = kb or load_kb(settings)
    # The learned classifier stacked on the cues when the model is installed, else the cues
    # alone, compiled with the matcher's own lexicon.
    embedder = embedder_for(settings)
    urgency = load_urgency_for(settings, kb.index.lexicon, embedder)
    return Deps(
        kb=LiveKnowledge(kb, refresh_s=settings.learned_refresh_s),
        urgency=urgency,
        escalation=escalation_config(settings),
        hotline_phone=settings.hotline_phone,
        timezone=settings.tz,
        out_of_hours_phone=settings.out_of_hours_phone,
        max_message_chars=settings.max_message_chars,
        support_reply_days=settings.support_reply_days,
        public_url=settings.public_url,
        embedder=embedder,
    )


def settle_heap(freeze: bool = True) -> None:
    """Once a long-running process has started: collect, then move everything alive to the
    permanent generation, so that full collections no longer walk the start-up heap (the
    knowledge base, the model, the libraries) and block the event loop for tens of ms.
    `freeze=False` (the setting GC_FREEZE=0) leaves the heap as it is, for comparison."""
    if not freeze:
        return
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
    (answering and migrated), the platforms' clients, the background loops (sweeper, weekly
    digest, sender), the platforms' set-up calls, the knowledge base with the learned
    phrasings, the dispatcher, and the platforms' inbound side. Every entry point (chat, run,
    serve, worker) and the test stack open the bot here; nothing is set on the parts after they
    are built.

    The escalation steps due are taken, and the sender loop started, before the set-up calls
    (Telegram's getMe can take seconds, or time out): a restarted process pings whoever is due
    while those are out. `console`: the console channel's sender (the terminal chat's);
    `chat_ids`: the only chats this process delivers to (the terminal's); `background=False`
    leaves the loops stopped."""
    deps = deps or build_deps(settings)
    live = live_of(deps.kb)
    db = Database(settings.db_url)
    try:
        await db.ping()
        await require_current(db.engine)
        async with open_platforms(
            settings, polling=polling, console_out=console_out, console=console, set_up=False
        ) as platforms:
            loops = Background(
                db,
                deps.escalation,
                platforms.senders,
                settings.sweep_interval_s,
                chat_ids=chat_ids,
                weekly=(lambda: live.base, digest_config(settings)),  # as the FAQ files change
                retention=(settings.data_dir, settings.tz),
            )
            try:
                if background:
                    await loops.sweep_now()
                # FAQ entries added or changed since the last start, for the digest's "new
                # guidance" (the weekly job may run as soon as the loops start).
                await sync_knowledge_base(db, live.base)
                if background:
                    loops.start()
                await platforms.set_up()
                await live.refresh(db, force=True)  # the learned phrasings from the first message
                deps = replace(deps, kb=live, on_queued=loops.kick)
                dispatcher = Dispatcher(
                    db, deps, dispatcher_config(settings), profiles=platforms.profiles()
                )
                inbound = connect(platforms, dispatcher, db)
                yield Bot(settings, db, deps, dispatcher, loops, platforms, inbound)
            finally:
                await loops.stop()
    finally:
        await db.dispose()
