"""The throttle under many concurrent senders, on a virtual clock: every sleep is counted and
time moves only when every sender is blocked, so nothing here depends on how fast the machine is.

The spacing figures are exact because the clock is virtual; no real duration is timed.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Callable, Iterable

import pytest

from bot.handlers.throttle import Throttle

SETTLE_STEPS = 50  # loop turns that let every woken sender run until it blocks again


class VirtualTime:
    """A clock and a sleep for the throttle: sleepers wake in time order, those due at the same
    moment together (as the event loop wakes every timer that is due), and the clock jumps
    straight to the next wake."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps = 0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._order), woken))
        await woken

    async def _settle(self) -> None:
        for _ in range(SETTLE_STEPS):
            await asyncio.sleep(0)

    async def run(self, senders: Iterable[Awaitable[None]]) -> None:
        """Run the senders to the end, moving the clock whenever all of them are asleep."""
        tasks = [asyncio.ensure_future(s) for s in senders]
        await self._settle()
        while not all(t.done() for t in tasks):
            assert self._sleepers, "senders blocked with nobody asleep"
            self.now = max(self.now, self._sleepers[0][0])
            while self._sleepers and self._sleepers[0][0] <= self.now:
                _, _, woken = heapq.heappop(self._sleepers)
                if not woken.done():
                    woken.set_result(None)
            await self._settle()
        for t in tasks:
            t.result()


def sender(
    throttle: Throttle, chat: str, label: str, log: list[tuple[str, str, float]], clock: VirtualTime
) -> Callable[[], Awaitable[None]]:
    async def send() -> None:
        await throttle.wait(chat)
        log.append((label, chat, clock.now))

    return send


def busiest_second(times: list[float]) -> int:
    """The most sends in any one-second window (a window [t, t + 1) starting at a send)."""
    ordered = sorted(times)
    return max(sum(1 for u in ordered if t <= u < t + 1.0 - 1e-9) for t in ordered)


async def test_many_waiters_wake_once_per_slot_in_arrival_order() -> None:
    t = VirtualTime()
    throttle = Throttle(per_second=10, chat_interval_s=1.0, clock=t.clock, sleep=t.sleep)
    log: list[tuple[str, str, float]] = []
    chats = [f"chat-{n}" for n in range(60)]
    await t.run(sender(throttle, c, c, log, t)() for c in chats)

    assert [label for label, _, _ in log] == chats  # first come, first served
    times = [at for _, _, at in log]
    assert times == pytest.approx([100.0 + n / 10 for n in range(60)])  # each slot once, when due
    assert busiest_second(times) == 10
    # One sleep per slot after the first: only the sender at the head of the queue waits for it
    # (every waiter waking at every slot would be 59 + 58 + ... + 1 = 1,770 sleeps).
    assert t.sleeps == 59


async def test_a_chats_messages_keep_their_order_among_other_chats() -> None:
    t = VirtualTime()
    throttle = Throttle(per_second=5, chat_interval_s=1.0, clock=t.clock, sleep=t.sleep)
    log: list[tuple[str, str, float]] = []
    senders = []
    for n in range(12):  # "a" queues a message every third arrival, the others one each
        chat = "a" if n % 3 == 0 else f"other-{n}"
        senders.append(sender(throttle, chat, f"#{n}", log, t)())
    await t.run(senders)

    to_a = [(label, at) for label, chat, at in log if chat == "a"]
    assert [label for label, _ in to_a] == ["#0", "#3", "#6", "#9"]
    assert all(b - a >= 1.0 - 1e-9 for (_, a), (_, b) in itertools.pairwise(to_a))
    times = sorted(at for _, _, at in log)
    assert all(b - a >= 0.2 - 1e-9 for a, b in itertools.pairwise(times))  # never two in a slot
    assert busiest_second(times) <= 5
    # The others, ready at once, go in the order they arrived.
    others = [label for label, chat, _ in log if chat != "a"]
    assert others == sorted(others, key=lambda label: int(label[1:]))
    # At most one sleep per overall slot after the first, plus one for each of "a"'s waits for
    # its own interval (every waiter waking at every slot made it 44 here).
    assert t.sleeps <= (len(log) - 1) + 3


async def test_a_cancelled_waiter_does_not_hold_up_the_queue() -> None:
    t = VirtualTime()
    throttle = Throttle(per_second=2, chat_interval_s=0.0, clock=t.clock, sleep=t.sleep)
    log: list[tuple[str, str, float]] = []
    await throttle.wait("first")  # the next slot is due at 100.5
    head = asyncio.ensure_future(throttle.wait("cancelled"))
    await asyncio.sleep(0)
    assert t.sleeps == 1  # asleep at the head of the queue, holding it
    head.cancel()
    await t.run([sender(throttle, "next", "next", log, t)()])

    assert head.cancelled()
    assert [(label, at) for label, _, at in log] == [("next", 100.5)]


async def test_no_overall_limit_sends_to_different_chats_without_waiting() -> None:
    t = VirtualTime()
    throttle = Throttle(per_second=None, chat_interval_s=1.0, clock=t.clock, sleep=t.sleep)
    log: list[tuple[str, str, float]] = []
    await t.run(sender(throttle, c, c, log, t)() for c in ("x", "y", "z", "x"))

    assert [label for label, _, _ in log] == ["x", "y", "z", "x"]
    # Only the per-chat interval applies: the second message to "x" a second after the first.
    assert [at for _, _, at in log] == [100.0, 100.0, 100.0, 101.0]
    assert t.sleeps == 1


class LateTime(VirtualTime):
    """A busy event loop: every sleep wakes `late` seconds after it was due."""

    def __init__(self, late: float) -> None:
        super().__init__()
        self.late = late

    async def sleep(self, seconds: float) -> None:
        await super().sleep(seconds + self.late)


@pytest.mark.parametrize("late", [0.004, 0.02, 0.3], ids=["a little", "a spacing", "a lot"])
async def test_a_loop_that_wakes_late_still_sends_at_the_limit_and_never_above(
    late: float,
) -> None:
    """Senders that wake late for their slot keep the rate when the lateness is under half a
    spacing (the next slot counts from when this one was due), and no one-second window ever
    holds more than the limit, however late they wake."""
    t = LateTime(late)
    per_second = 50
    throttle = Throttle(per_second=per_second, chat_interval_s=0.0, clock=t.clock, sleep=t.sleep)
    log: list[tuple[str, str, float]] = []
    await t.run(sender(throttle, "server", f"#{n}", log, t)() for n in range(500))

    times = [at for _, _, at in log]
    assert busiest_second(times) <= per_second
    rate = (len(times) - 1) / (times[-1] - times[0])
    if late < 0.5 / per_second:
        assert rate == pytest.approx(per_second, rel=0.01)
    else:  # the credit is half a spacing at most: later than that is lost, not made up in bursts
        assert rate < per_second
