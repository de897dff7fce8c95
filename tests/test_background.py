"""The background runner starts, delivers, and always stops, even while being woken constantly."""

import asyncio
import contextlib
from dataclasses import dataclass, field

from bot.background import Background
from bot.core.ports import SendResult
from bot.core.types import Reply
from bot.delivery.outbox import enqueue
from bot.escalation.policy import EscalationConfig
from bot.store import Database
from tests.fakes import RecordingSender

# Only turns a loop that never delivers into a failure; nothing is asserted about time.
DELIVERY_DEADLINE_S = 30.0


@dataclass
class SignallingSender(RecordingSender):
    """The recording channel, which also says when a message has arrived."""

    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, chat_id: str, reply: Reply) -> SendResult:
        result = await super().send(chat_id, reply)
        self.arrived.set()
        return result


async def test_queued_messages_are_delivered_and_stop_never_hangs(db: Database) -> None:
    channel = SignallingSender()
    background = Background(
        db, EscalationConfig(), {"console": channel}, sweep_interval_s=0.05, deliver_interval_s=0.01
    )
    everything = sorted(f"hello {n}" for n in range(20))
    for round_ in range(20):
        background.start()
        async with db.session() as s:
            await enqueue(
                s,
                key=f"k{round_}",
                channel="console",
                chat_id="someone",
                reply=Reply(f"hello {round_}"),
            )
        for _ in range(20):
            background.kick()
            await asyncio.sleep(0)
        # A hang here was a real bug (a swallowed cancellation); the bound only turns it into a failure.
        await asyncio.wait_for(background.stop(), 10)
    # What the stops cut short is left to the loop, started once more: the test delivers nothing
    # itself, so every message counted below went out through the background loop.
    background.start()
    try:
        with contextlib.suppress(TimeoutError):  # the assertion below says what is missing
            async with asyncio.timeout(DELIVERY_DEADLINE_S):
                while len(channel.sent) < len(everything):
                    await channel.arrived.wait()
                    channel.arrived.clear()
    finally:
        await asyncio.wait_for(background.stop(), 10)
    assert sorted(r.text for _, r in channel.sent) == everything
