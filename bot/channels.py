"""Every configured platform, opened and closed together: the senders (for the outbox, the
digest and replies) and, once a dispatcher is attached, the inbound channels.

`open_platforms(settings, polling=...)` initialises each platform's client (Telegram's getMe,
Slack's auth on first use); `Platforms.attach` adds the inbound side. The console sender is
always there, printing JSON lines, for development and tests.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, TextIO

from bot.config import Settings
from bot.conversation.dispatcher import Dispatcher
from bot.core.ports import Sender
from bot.core.types import Reply
from bot.delivery.outbox import queue_reply
from bot.handlers.console import CHANNEL as CONSOLE
from bot.handlers.console import ConsoleSender
from bot.handlers.throttle import Throttle
from bot.store.db import Database

if TYPE_CHECKING:
    from bot.handlers.slack import SlackChannel, SlackSender
    from bot.handlers.telegram import TelegramChannel, TelegramSender

log = logging.getLogger(__name__)


@dataclass
class Platforms:
    settings: Settings
    senders: dict[str, Sender]
    telegram_sender: TelegramSender | None = None
    slack_sender: SlackSender | None = None
    telegram: TelegramChannel | None = None
    slack: SlackChannel | None = None

    def attach(self, dispatcher: Dispatcher, db: Database) -> None:
        """The inbound side: updates and events become messages for this dispatcher."""
        if self.telegram_sender is not None:
            from bot.handlers.telegram import CHANNEL as TELEGRAM
            from bot.handlers.telegram import TelegramChannel

            self.telegram = TelegramChannel(
                self.telegram_sender.application,
                dispatcher,
                self.telegram_sender,
                partial(_queue, db, TELEGRAM),
            )
        if self.slack_sender is not None:
            from bot.handlers.slack import CHANNEL as SLACK
            from bot.handlers.slack import SlackChannel, SlackProfiles, build_app

            s = self.settings
            assert s.slack_bot_token is not None
            app = build_app(
                s.slack_bot_token,
                s.slack_signing_secret,
                s.slack_api_base_url,
                s.platform_timeout_s,
                client=self.slack_sender.client,
            )
            self.slack = SlackChannel(
                app, dispatcher, self.slack_sender, partial(_queue, db, SLACK)
            )
            dispatcher.profiles[SLACK] = SlackProfiles(self.slack_sender.client)


async def _queue(db: Database, channel: str, chat_id: str, reply: Reply, key: str) -> None:
    await queue_reply(db, channel, chat_id, reply, key)


@asynccontextmanager
async def open_platforms(
    settings: Settings, polling: bool = False, console_out: TextIO = sys.stdout
) -> AsyncIterator[Platforms]:
    platforms = Platforms(settings, {CONSOLE: ConsoleSender(console_out, as_json=True)})
    async with AsyncExitStack() as stack:
        if settings.telegram_token:
            platforms.telegram_sender = await stack.enter_async_context(
                _telegram(settings, polling)
            )
            platforms.senders[platforms.telegram_sender.channel] = platforms.telegram_sender
        if settings.slack_bot_token:
            platforms.slack_sender = await stack.enter_async_context(_slack(settings))
            platforms.senders[platforms.slack_sender.channel] = platforms.slack_sender
        yield platforms


@asynccontextmanager
async def _telegram(settings: Settings, polling: bool) -> AsyncIterator[TelegramSender]:
    from bot.handlers.telegram import TelegramSender, build_application, initialize

    assert settings.telegram_token is not None
    application = build_application(
        settings.telegram_token,
        settings.telegram_api_base_url,
        settings.platform_timeout_s,
        polling=polling,
    )
    await initialize(application)
    throttle = Throttle(settings.telegram_max_per_second, settings.telegram_chat_interval_s)
    try:
        yield TelegramSender(application, throttle)
    finally:
        await application.shutdown()


@asynccontextmanager
async def _slack(settings: Settings) -> AsyncIterator[SlackSender]:
    from bot.handlers.slack import SlackSender, web_client

    assert settings.slack_bot_token is not None
    client = web_client(
        settings.slack_bot_token, settings.slack_api_base_url, settings.platform_timeout_s
    )
    yield SlackSender(client, Throttle(None, settings.slack_chat_interval_s))


@asynccontextmanager
async def open_senders(
    settings: Settings, console_out: TextIO = sys.stdout
) -> AsyncIterator[dict[str, Sender]]:
    """Senders for the console (JSON lines on `console_out`) and each configured platform."""
    async with open_platforms(settings, console_out=console_out) as platforms:
        yield platforms.senders
