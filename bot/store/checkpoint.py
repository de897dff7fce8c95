"""WAL checkpoints of a SQLite file, off the event loop.

SQLite copies its write-ahead log back into the database file (a checkpoint, with its fsyncs)
in whichever connection commits past 1,000 pages. With the inline driver
(bot/store/sqlite_inline.py) that commit runs on the event loop, which then stalls for the
checkpoint (4–6 ms measured under load, against 1 ms for an ordinary commit). So the engine's
connections have automatic checkpoints off, and this runs a PASSIVE checkpoint on a connection
of its own in a worker thread every CHECKPOINT_EVERY write transactions. PASSIVE never waits for
readers or writers; what it cannot copy yet is copied by the next one. A process that exits
checkpoints as its last connection closes, as SQLite always does.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)

CHECKPOINT_EVERY = 100  # write transactions: about a second's worth at 100 messages a second


class Checkpointer:
    def __init__(self, path: Path, every: int = CHECKPOINT_EVERY) -> None:
        self.path = path
        self.every = every
        self.runs = 0  # checkpoints completed (for tests and figures)
        self._writes = 0
        self._running: asyncio.Future[None] | None = None
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # the connection is used by one worker thread at a time

    def wrote(self) -> None:
        """A write transaction committed; every `every`, a checkpoint starts in a thread (unless
        the last one is still running)."""
        self._writes += 1
        if self._writes % self.every or (self._running is not None and not self._running.done()):
            return
        self._running = asyncio.ensure_future(asyncio.to_thread(self._checkpoint))

    def _checkpoint(self) -> None:
        with self._lock:
            try:
                if self._connection is None:
                    self._connection = sqlite3.connect(
                        self.path, isolation_level=None, check_same_thread=False, timeout=0
                    )
                self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                self.runs += 1
            except sqlite3.Error:
                log.warning("WAL checkpoint of %s failed; the next one tries again", self.path)

    async def close(self) -> None:
        if self._running is not None:
            await self._running
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
