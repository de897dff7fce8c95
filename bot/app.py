"""Wiring: settings -> database, knowledge base, urgency detector, dispatcher and background work,
shared by every entry point."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import timedelta

from bot.background import Background
from bot.config import Settings
from bot.conversation.context import Deps
from bot.conversation.dispatcher import Dispatcher, DispatcherConfig
from bot.conversation.ports import Sender
from bot.digest.faq_changes import sync_knowledge_base
from bot.digest.runs import DigestConfig
from bot.digest.weekly import make_weekly_job
from bot.escalation.policy import EscalationConfig
from bot.escalation.urgency import load_detector
from bot.knowledge import KnowledgeBase, load_knowledge_base
from bot.knowledge.language import load_lexicon
from bot.knowledge.loader import language_dir
from bot.store import Database, require_current


@dataclass
class Runtime:
    settings: Settings
    db: Database
    deps: Deps
    dispatcher: Dispatcher
    background: Background


def dispatcher_config(settings: Settings) -> DispatcherConfig:
    return DispatcherConfig(
        hotline_phone=settings.hotline_phone,
        max_message_chars=settings.max_message_chars,
        support_reply_days=settings.support_reply_days,
    )


def escalation_config(settings: Settings) -> EscalationConfig:
    return EscalationConfig(
        ack_timeout=timedelta(seconds=settings.escalation_timeout_s),
        reminder_after=timedelta(hours=settings.reminder_hours),
        duplicate_window=timedelta(seconds=settings.duplicate_window_s),
        staff_chats=settings.staff_chat_targets,
        hotline_phone=settings.hotline_phone,
        timezone=settings.tz,
    )


def build_deps(settings: Settings, kb: KnowledgeBase | None = None) -> Deps:
    """Load the knowledge base and urgency cues (refusing invalid ones)."""
    kb = kb or load_knowledge_base(settings.data_dir)
    detector = load_detector(settings.data_dir, load_lexicon(language_dir(settings.data_dir)))
    return Deps(
        kb=kb,
        urgency=detector,
        escalation=escalation_config(settings),
        hotline_phone=settings.hotline_phone,
        timezone=settings.tz,
        out_of_hours_phone=settings.out_of_hours_phone,
    )


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    senders: Mapping[str, Sender] | None = None,
    chat_ids: Collection[str] | None = None,
    deps: Deps | None = None,
    start_background: bool = True,
) -> AsyncIterator[Runtime]:
    """A migrated database, the dispatcher, and (unless told not to) the sweeper and sender loop."""
    deps = deps or build_deps(settings)
    db = Database(settings.db_url)
    background = Background(
        db, deps.escalation, senders or {}, settings.sweep_interval_s, chat_ids=chat_ids
    )
    background.weekly = (
        make_weekly_job(
            db, deps.kb, DigestConfig.from_settings(settings), after_queued=background.kick
        ),
        settings,
    )
    deps = replace(deps, on_queued=background.kick)
    try:
        await db.ping()
        await require_current(db.engine)
        # FAQ entries added or changed since the last start, for the digest's "new guidance".
        await sync_knowledge_base(db, deps.kb)
        if start_background:
            background.start()
        yield Runtime(
            settings, db, deps, Dispatcher(db, deps, dispatcher_config(settings)), background
        )
    finally:
        await background.stop()
        await db.dispose()
