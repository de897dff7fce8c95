"""What the conversation and the commands need of a knowledge base: a KnowledgeBase, or a holder
that delegates to the current one (bot/teaching/live.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.knowledge.index import FaqIndex
from bot.knowledge.matcher import MatchResult
from bot.knowledge.schema import FaqEntry


class KnowledgeSource(Protocol):
    @property
    def index(self) -> FaqIndex: ...

    def match(self, text: str) -> MatchResult: ...

    def best_of(self, text: str, candidates: Sequence[str]) -> str | None: ...

    def entry(self, entry_id: str) -> FaqEntry | None: ...
