"""The background runner starts, delivers, and always stops, even while being woken constantly."""

import asyncio

from bot.background import Background
from bot.core.types import Reply
from bot.delivery.outbox import enqueue
from bot.escalation.policy import EscalationConfig
from bot.store import Database
from tests.fakes import RecordingSender


async def test_queued_messages_are_delivered_and_stop_never_hangs(db: Database) -> None:
    channel = RecordingSender()
    background = Background(
        db, EscalationConfig(), {"console": channel}, sweep_interval_s=0.05, deliver_interval_s=0.01
    )
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
    await background.deliver_now()
    assert sorted(r.text for _, r in channel.sent) == sorted(f"hello {n}" for n in range(20))
