"""The knowledge base members are answered from: the FAQ files plus the learned phrasings,
current in every process without a restart.

`KnowledgeBase` is immutable; `LiveKnowledge` holds the current one and delegates to it, so it
stands wherever a knowledge base is read (`match`, `best_of`, `entry`, `index`). It is rebuilt
from the files' knowledge base (`base`) and every learned phrasing through one function,
`KnowledgeBase.with_phrasings`.

When it changes: the process that teaches a phrasing installs the new knowledge base as soon as
its transaction commits; every other process checks the table's version (row count, highest id:
one small query) at most once every `refresh_s` seconds, on the message path, and rebuilds
before answering when it changed. So a phrasing taught anywhere answers members everywhere from
the first message handled `refresh_s` seconds after it was taught.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from bot.knowledge.index import FaqIndex
from bot.knowledge.loader import KnowledgeBase
from bot.knowledge.matcher import MatchResult
from bot.knowledge.schema import FaqEntry
from bot.knowledge.source import KnowledgeSource
from bot.store.db import Database
from bot.teaching.learned import (
    NO_LEARNED,
    Learned,
    Version,
    by_entry,
    read_learned,
    read_version,
    version_of,
)

log = logging.getLogger(__name__)

DEFAULT_REFRESH_S = 2.0


class LiveKnowledge:
    def __init__(
        self,
        base: KnowledgeBase,
        refresh_s: float = DEFAULT_REFRESH_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base = base
        self.refresh_s = refresh_s
        self._clock = clock
        self._current = base
        self._version: Version = NO_LEARNED
        self._checked_at: float | None = None
        self._installs = 0

    @property
    def current(self) -> KnowledgeBase:
        return self._current

    @property
    def version(self) -> Version:
        return self._version

    @property
    def index(self) -> FaqIndex:
        return self._current.index

    def match(self, text: str) -> MatchResult:
        return self._current.match(text)

    def best_of(self, text: str, candidates: Sequence[str]) -> str | None:
        return self._current.best_of(text, candidates)

    def entry(self, entry_id: str) -> FaqEntry | None:
        return self._current.entry(entry_id)

    def build(self, rows: Sequence[Learned]) -> KnowledgeBase:
        """The files' knowledge base with these learned phrasings added to their entries."""
        return self.base.with_phrasings(by_entry(rows)) if rows else self.base

    def install(self, kb: KnowledgeBase, version: Version) -> None:
        self._current, self._version = kb, version
        self._installs += 1
        self._checked_at = self._clock()

    def due(self) -> bool:
        checked = self._checked_at
        return checked is None or self._clock() - checked >= self.refresh_s

    async def refresh(self, db: Database, *, force: bool = False) -> bool:
        """Rebuild if the learned phrasings changed since the last look (looking at most once
        every `refresh_s` unless forced). True when a new knowledge base was installed."""
        if not force and not self.due():
            return False
        self._checked_at = self._clock()  # concurrent messages do not look again meanwhile
        installs = self._installs
        async with db.session() as session:
            if await read_version(session) == self._version:
                return False
            rows = await read_learned(session)
        kb = await asyncio.to_thread(self.build, rows)
        if self._installs != installs:
            return False  # this process taught something meanwhile: that one is newer
        self.install(kb, version_of(rows))
        log.info("learned phrasings loaded count=%s", len(rows))
        return True


def live_of(source: KnowledgeSource) -> LiveKnowledge:
    """The live holder itself, or a new one around a plain knowledge base."""
    if isinstance(source, LiveKnowledge):
        return source
    if isinstance(source, KnowledgeBase):
        return LiveKnowledge(source)
    raise TypeError(f"not a knowledge base: {type(source).__name__}")
