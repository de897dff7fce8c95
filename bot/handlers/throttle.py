"""A per-platform send throttle: at most `per_second` messages overall and one message per
`chat_interval_s` to any one chat, shared by every sender of the process.

A chat's senders take turns; a slot is taken only when it is due, without awaiting in between,
so concurrent senders never share one and a busy event loop never bunches them. Senders whose
chat is ready queue for the overall slot in arrival order (asyncio.Lock wakes its waiters first
come, first served): only the one at the head sleeps until the slot is due, so each slot wakes
one sender, not every sender waiting (when all of them woke at every slot, the wake-ups alone
kept sending well below the limit).
Published limits (as of Nov 2026): Telegram about 30 messages a second overall and one a second
per chat; Slack chat.postMessage about one a second per channel.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
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
        # The hard limit: at most `_capacity` slots in any `_window` seconds (per_second of them in
        # a second, or one per spacing below one a second), whatever the catching up below does.
        self._capacity = max(1, math.floor(per_second)) if per_second else 1
        self._window = self._capacity * self.spacing
        self._recent: deque[float] = deque(maxlen=self._capacity)
        self.chat_interval_s = chat_interval_s
        self._clock = clock
        self._sleep = sleep
        self._next_any = 0.0
        self._next_chat: dict[str, float] = {}
        self._turns: dict[str, asyncio.Lock] = {}
        self._overall = asyncio.Lock()  # the queue for the overall slot (FIFO)

    async def wait(self, chat_id: str) -> None:
        """Return when a message to this chat may be sent."""
        turn = self._turns.get(chat_id)
        if turn is None:
            turn = self._turns[chat_id] = asyncio.Lock()
        async with turn:  # one waiter per chat at a time, in order
            while (ready := self._next_chat.get(chat_id, 0.0)) > (now := self._clock()):
                await self._sleep(ready - now)
            if self.spacing:
                async with self._overall:  # only the head of the queue waits for the slot
                    now, credit = await self._due()
                    self._next_any = now - credit + self.spacing
                    self._recent.append(now)
            else:
                now = self._clock()
            self._next_chat[chat_id] = now + self.chat_interval_s
        if len(self._next_chat) > MAX_TRACKED_CHATS:
            self._forget_idle(self._clock())

    async def _due(self) -> tuple[float, float]:
        """Sleep until the overall slot is due; the time it is taken at, and the credit the next
        slot gets for this one's lateness. The slot is taken only when it is due (checked again
        after every wake): a slot reserved ahead would fire late beside others when the loop is
        busy, and bunch sends above the limit.

        A sender that slept for its slot and woke late (a busy event loop) loses that time for
        good unless the next slot is measured from when this one was due: up to half a spacing
        of oversleep is credited, so a busy loop still sends at the limit, and the window
        (`_recent`) keeps any second at the limit or under. A sender that came after its slot
        was free (an idle spell) gets no credit: nothing was lost."""
        slept, slot = False, 0.0
        while (slot := self._next_slot()) > (now := self._clock()):
            slept = True
            await self._sleep(slot - now)
        credit = min(now - slot, self.spacing / 2) if slept else 0.0
        return now, credit

    def _next_slot(self) -> float:
        slot = self._next_any
        if len(self._recent) == self._capacity:
            slot = max(slot, self._recent[0] + self._window)
        return slot

    def _forget_idle(self, now: float) -> None:
        idle = [
            c
            for c, t in self._next_chat.items()
            if t <= now and not (c in self._turns and self._turns[c].locked())
        ]
        for chat in idle:
            self._next_chat.pop(chat, None)
            self._turns.pop(chat, None)
