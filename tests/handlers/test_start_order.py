"""A restarted process pings the escalations already due before the platforms' set-up calls
answer: with Telegram's getMe held unanswered by the fake server, the sweep's ping reaches the
duty officer's chat, and the bot is still waiting to open. Nothing here times anything: the test
waits (under a deadline that only turns a hang into a failure) for what the fake receives."""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy import select

from bot.app import open_bot
from bot.config import load_settings
from bot.conversation.dispatcher import Dispatcher, DispatcherConfig
from bot.core.types import IncomingMessage
from bot.escalation.urgency import UrgencyDetector
from bot.knowledge import KnowledgeBase
from bot.store import Database
from bot.store.models import HotlineRequest, Role
from tests.conftest import DATA, make_deps
from tests.factories import make_escalations_due, make_person, make_rota, rota_yaml
from tests.handlers.fake_telegram import FakeTelegram, Fault

MEMBER, PRIMARY, BACKUP = 1001, 2001, 2002
DEADLINE_S = 60.0
HELD_S = 600.0  # longer than any test: the getMe is answered only when the fake stops


async def _due_emergency(db: Database, kb: KnowledgeBase, urgency: UrgencyDetector) -> str:
    """An emergency whose primary was pinged long ago and whose next step (the backup) is due,
    as a process finds it when it comes back after being down; its reference."""
    await make_person(db, name="Mo Member", channel="telegram", external_id=str(MEMBER))
    primary = await make_person(
        db, role=Role.STAFF, name="Pat Primary", channel="telegram", external_id=str(PRIMARY)
    )
    backup = await make_person(
        db, role=Role.STAFF, name="Bea Backup", channel="telegram", external_id=str(BACKUP)
    )
    fallback = await make_person(db, role=Role.ADMIN, name="Fay Fallback")
    await make_rota(db, rota_yaml(primary.email, backup.email, fallback.email))
    dispatcher = Dispatcher(db, make_deps(kb, urgency), DispatcherConfig())
    replies = await dispatcher.handle(
        IncomingMessage("telegram", str(MEMBER), str(MEMBER), text="/emergency flood in the hall")
    )
    assert "HL-" in replies[0].text, replies
    async with db.session() as session:
        request = await session.scalar(select(HotlineRequest))
        assert request is not None and request.reference is not None
        reference = str(request.reference)
        await make_escalations_due(session, request.id)
    return reference


async def test_due_escalations_are_pinged_while_telegram_set_up_is_held(
    db: Database, db_url: str, kb: KnowledgeBase, urgency: UrgencyDetector
) -> None:
    reference = await _due_emergency(db, kb, urgency)
    async with FakeTelegram() as tg:
        tg.fail("getMe", Fault.hang(seconds=HELD_S))
        settings = load_settings(
            database_url=db_url,
            data_dir=DATA,
            telegram_token=tg.token,
            telegram_api_base_url=tg.base_url,
            platform_timeout_s=HELD_S * 2,  # PTB waits for the held getMe, as for a slow one
            telegram_chat_interval_s=0,
        )
        deps = make_deps(kb, urgency)
        opened = asyncio.Event()

        async def run() -> None:
            async with open_bot(settings, deps=deps):
                opened.set()
                await asyncio.Event().wait()

        bot = asyncio.create_task(run())
        try:
            await tg.wait_for(
                lambda: any(reference in m["text"] for m in tg.sent_to(BACKUP)),
                timeout=DEADLINE_S,
                what="the backup's ping",
            )
            # The set-up call was made and is still unanswered: the bot has not opened.
            assert [c.outcome for c in tg.calls_to("getMe")] == ["hang"]
            assert not opened.is_set() and not bot.done()
        finally:
            bot.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await bot
