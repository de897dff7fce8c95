"""The whole bot, web app included, wired to fake Telegram and Slack servers on 127.0.0.1.

The real python-telegram-bot and slack-bolt stacks run; only the platforms' servers are fakes.
Requests reach the web app in process (httpx's ASGI transport); the outbox is delivered by
calling `deliver` so each step is explicit, with a clock the test can move past a retry_after.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.app import Bot, open_bot
from bot.channels import Platforms
from bot.config import load_settings
from bot.delivery.outbox import deliver_due
from bot.escalation.urgency import UrgencyDetector
from bot.knowledge import KnowledgeBase
from bot.store import Database
from bot.store.models import Person, QuestionLog, Role, utcnow
from bot.web import SECRET_HEADER, build_web_app
from tests.conftest import DATA, make_deps
from tests.factories import make_person, make_rota, rota_yaml
from tests.handlers.fake_slack import FakeSlack
from tests.handlers.fake_telegram import FakeTelegram
from tests.handlers.payloads import slack_signed_headers

TG_SECRET = "webhook-secret-0123456789"
SLACK_SECRET = "slack-signing-secret"
STAFF_GROUP = -1001234
STAFF_CHANNEL = "CSTAFF"
BODY_LIMIT = 1_000_000


@dataclass
class Stack:
    db: Database
    rt: Bot
    platforms: Platforms
    http: httpx.AsyncClient
    tg: FakeTelegram
    sl: FakeSlack
    member: Person  # linked on Telegram as user 1001
    primary: Person  # on duty; Telegram user 2001
    backup: Person  # Telegram user 2002
    fallback: Person  # Slack user USTAFF

    async def deliver(self, at: datetime | None = None) -> int:
        moment = at or utcnow()
        return await deliver_due(self.rt.db, self.platforms.senders, lambda: moment)

    async def later(self, seconds: float) -> int:
        return await self.deliver(utcnow() + timedelta(seconds=seconds))

    async def telegram(
        self, update: dict[str, Any] | bytes, secret: str | None = TG_SECRET
    ) -> httpx.Response:
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        if isinstance(update, bytes):
            return await self.http.post("/telegram/webhook", content=update, headers=headers)
        return await self.http.post("/telegram/webhook", json=update, headers=headers)

    async def slack(
        self, body: bytes, secret: str = SLACK_SECRET, timestamp: int | None = None
    ) -> httpx.Response:
        headers = slack_signed_headers(secret, body, timestamp)
        return await self.http.post("/slack/events", content=body, headers=headers)

    async def questions(self) -> int:
        async with self.db.session() as session:
            return await session.scalar(select(func.count()).select_from(QuestionLog)) or 0


@pytest.fixture(name="s")
async def stack(
    db: Database, db_url: str, kb: KnowledgeBase, urgency: UrgencyDetector
) -> AsyncIterator[Stack]:
    member = await make_person(db, name="Amara Okafor", channel="telegram", external_id="1001")
    primary = await make_person(
        db, role=Role.STAFF, name="Sam Adeyemi", channel="telegram", external_id="2001"
    )
    backup = await make_person(
        db, role=Role.STAFF, name="Bea Backup", channel="telegram", external_id="2002"
    )
    fallback = await make_person(
        db, role=Role.ADMIN, name="Fay Fallback", channel="slack", external_id="USTAFF"
    )
    await make_rota(db, rota_yaml(primary.email, backup.email, fallback.email))
    settings = load_settings(
        database_url=db_url,
        data_dir=DATA,
        telegram_token="123:TEST",
        telegram_webhook_secret=TG_SECRET,
        slack_bot_token="xoxb-test",
        slack_signing_secret=SLACK_SECRET,
        platform_timeout_s=0.5,
        telegram_chat_interval_s=0,
        slack_chat_interval_s=0,
        max_body_bytes=BODY_LIMIT,
        staff_chat=f"telegram:{STAFF_GROUP},slack:{STAFF_CHANNEL}",
    )
    deps = make_deps(kb, urgency, staff_chats=settings.staff_chat_targets)
    async with FakeTelegram() as tg, FakeSlack() as sl:
        sl.add_user("USTAFF", email=fallback.email, name=fallback.name)
        settings = settings.model_copy(
            update={"telegram_api_base_url": tg.base_url, "slack_api_base_url": sl.base_url}
        )
        async with open_bot(settings, deps=deps, background=False) as bot:
            app = build_web_app(BODY_LIMIT, bot=bot)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://hotline") as http:
                yield Stack(db, bot, bot.platforms, http, tg, sl, member, primary, backup, fallback)
