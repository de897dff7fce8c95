"""A per-platform send throttle: at most `per_second` messages overall and one message per
`chat_interval_s` to any one chat, shared by every sender of the process.

Slots are reserved without awaiting in between, so concurrent senders never take the same slot.
Published limits (as of Nov 2026): Telegram about 30 messages a second overall and one a second
per chat; Slack chat.postMessage about one a second per channel.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

MAX_TRACKED_CHATS = 50_000


class Throttle:
    def __init__(
        self,
        per_second: float | None,
        chat_interval_s: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.spacing = 1.0 / per_second if per_second else 0.0
        self.chat_interval_s = chat_interval_s
        self._clock = clock
        self._sleep = sleep
        self._next_any = 0.0
        self._next_chat: dict[str, float] = {}

    async def wait(self, chat_id: str) -> None:
        now = self._clock()
        chat_slot = max(now, self._next_chat.get(chat_id, 0.0))
        self._next_chat[chat_id] = chat_slot + self.chat_interval_s
        if len(self._next_chat) > MAX_TRACKED_CHATS:
            self._forget_idle(now)
        if chat_slot > now:
            await self._sleep(chat_slot - now)
            now = self._clock()
        slot = max(now, self._next_any)
        self._next_any = slot + self.spacing
        if slot > now:
            await self._sleep(slot - now)

    def _forget_idle(self, now: float) -> None:
        self._next_chat = {c: t for c, t in self._next_chat.items() if t > now}
