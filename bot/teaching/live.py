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

The FAQ files are watched the same way: at the same look, a few stat calls tell whether the data
folder the files' knowledge base was loaded from changed (a file added, replaced or edited, such
as an entry drafted in the staff console); if so the files are read again (in a worker thread)
and the learned phrasings added to them. Files that fail their checks are logged once and left
out: the knowledge base already loaded stands until they are fixed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from bot.core.errors import DataError
from bot.knowledge.index import FaqIndex
from bot.knowledge.loader import KnowledgeBase, Stamp, files_changed, reload_knowledge_base
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
        self._refused: Stamp | None = None  # FAQ files seen failing their checks
        self._reloading = asyncio.Lock()  # one reading of the files at a time

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
        """Rebuild if the learned phrasings or the FAQ files changed since the last look
        (looking at most once every `refresh_s` unless forced). True when a new knowledge base
        was installed."""
        if not force and not self.due():
            return False
        self._checked_at = self._clock()  # concurrent messages do not look again meanwhile
        if await self._new_files():
            return await self.reload_files(db)
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

    async def _new_files(self) -> bool:
        """The FAQ files changed since they were loaded (and not into files already refused)."""
        if self.base.files is None:
            return False
        stamp = await asyncio.to_thread(files_changed, self.base)
        return stamp is not None and stamp != self._refused

    async def reload_files(self, db: Database) -> bool:
        """Read the FAQ files again and install them with the learned phrasings; False (logged,
        the current knowledge base kept) when they fail their checks, or did not change."""
        async with self._reloading:  # a second caller meanwhile finds them loaded
            stamp = await asyncio.to_thread(files_changed, self.base)
            if stamp is None:
                return False
            try:
                base = await asyncio.to_thread(reload_knowledge_base, self.base)
            except DataError as exc:
                self._refused = stamp
                log.error(
                    "FAQ files changed but not loaded (%d problems; `hotline faq check` lists "
                    "them)",
                    len(exc.problems),
                )
                return False
            async with db.session() as session:
                rows = await read_learned(session)
            kb = await asyncio.to_thread(
                lambda: base.with_phrasings(by_entry(rows)) if rows else base
            )
            self.base = base
            self.install(kb, version_of(rows))
        log.info("FAQ files loaded entries=%s learned=%s", len(base.index.entries), len(rows))
        return True


def live_of(source: KnowledgeSource) -> LiveKnowledge:
    """The live holder itself, or a new one around a plain knowledge base."""
    if isinstance(source, LiveKnowledge):
        return source
    if isinstance(source, KnowledgeBase):
        return LiveKnowledge(source)
    raise TypeError(f"not a knowledge base: {type(source).__name__}")
