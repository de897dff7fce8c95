"""What a flow needs to handle one message: its transaction, the sender, and shared services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.types import IncomingMessage
from bot.escalation.policy import EscalationConfig
from bot.escalation.urgency import UrgencyReader
from bot.knowledge.embedding import Embedder
from bot.knowledge.source import KnowledgeSource
from bot.store.models import Person, utcnow


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class Deps:
    # a KnowledgeBase, or the live holder that keeps learned phrasings current (bot.teaching)
    kb: KnowledgeSource
    urgency: UrgencyReader  # the cue detector, or the learned one stacked on it
    escalation: EscalationConfig
    hotline_phone: str
    timezone: ZoneInfo
    out_of_hours_phone: str = ""  # answered when the hotline is closed (never the hotline)
    max_message_chars: int = 4000  # also the longest phrasing /teach stores
    support_reply_days: int = 1  # the reply target promised when a question is passed on
    # PUBLIC_URL: staff console sign-in links (/console) are built on it (as the setting's default)
    public_url: str = "http://localhost:8080"
    # the sentence-embedding model shared by the matcher and the urgency detector, if any
    embedder: Embedder | None = None
    clock: Callable[[], datetime] = utcnow
    # called after a commit that queued outbound messages, to send them without waiting a tick
    on_queued: Callable[[], None] = field(default=_nothing)

    @property
    def reply_target(self) -> str:
        days = self.support_reply_days
        return "one working day" if days == 1 else f"{days} working days"


@dataclass(frozen=True)
class Context:
    session: AsyncSession
    person: Person
    message: IncomingMessage
    now: datetime
    # False when the sender is known to have no unresolved request (saves a query per message)
    may_have_open_request: bool = True
