"""Every configured platform, opened and closed together: the senders (for the outbox, the
digest and replies), the profile look-ups the dispatcher may use, and the inbound channels that
`connect` builds once there is a dispatcher.

`open_platforms(settings, polling=...)` opens each platform's client and then makes the set-up
calls (Telegram's getMe; Slack authenticates on first use). With `set_up=False` the senders can
send at once and the caller makes those calls later (`Platforms.set_up`): a restarted process
delivers the pings already due while Telegram answers its getMe (bot/app.py). The console
sender is always there: JSON lines by default, or the caller's own (the terminal chat's, which
numbers buttons). So is the email sender: SMTP when SMTP_HOST is set, else .eml files under
EMAIL_OUTBOX_DIR (the folder is logged at start).
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
from bot.core.ports import ProfileLookup, Sender
from bot.core.types import Reply
from bot.delivery.outbox import queue_reply
from bot.handlers.console import CHANNEL as CONSOLE
from bot.handlers.console import ConsoleSender
from bot.handlers.throttle import Throttle
from bot.store.db import Database

if TYPE_CHECKING:
    from bot.handlers.email import EmailSender
    from bot.handlers.slack import SlackChannel, SlackSender
    from bot.handlers.telegram import TelegramChannel, TelegramSender

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Platforms:
    """The platforms' outbound side: a sender per channel, and the clients behind them."""

    settings: Settings
    senders: dict[str, Sender]
    telegram_sender: TelegramSender | None = None
    slack_sender: SlackSender | None = None

    async def set_up(self) -> None:
        """The platforms' set-up calls: Telegram's getMe, which refuses a wrong token
        (ConfigError)."""
        if self.telegram_sender is not None:
            from bot.handlers.telegram import initialize

            await initialize(self.telegram_sender.application)

    def profiles(self) -> dict[str, ProfileLookup]:
        """Platforms that vouch for their users' emails (Slack's users.info)."""
        if self.slack_sender is None:
            return {}
        from bot.handlers.slack import CHANNEL as SLACK
        from bot.handlers.slack import SlackProfiles

        return {SLACK: SlackProfiles(self.slack_sender.client)}


@dataclass(frozen=True)
class Inbound:
    """The platforms' inbound side: updates and events become messages for one dispatcher."""

    telegram: TelegramChannel | None = None
    slack: SlackChannel | None = None


def connect(platforms: Platforms, dispatcher: Dispatcher, db: Database) -> Inbound:
    telegram = slack = None
    if platforms.telegram_sender is not None:
        from bot.handlers.telegram import CHANNEL as TELEGRAM
        from bot.handlers.telegram import TelegramChannel

        telegram = TelegramChannel(
            platforms.telegram_sender.application,
            dispatcher,
            platforms.telegram_sender,
            partial(_queue, db, TELEGRAM),
        )
    if platforms.slack_sender is not None:
        from bot.handlers.slack import CHANNEL as SLACK
        from bot.handlers.slack import SlackChannel, build_app

        s = platforms.settings
        assert s.slack_bot_token is not None
        app = build_app(
            s.slack_bot_token,
            s.slack_signing_secret,
            s.slack_api_base_url,
            s.platform_timeout_s,
            client=platforms.slack_sender.client,
        )
        slack = SlackChannel(app, dispatcher, platforms.slack_sender, partial(_queue, db, SLACK))
    return Inbound(telegram, slack)


async def _queue(db: Database, channel: str, chat_id: str, reply: Reply, key: str) -> None:
    await queue_reply(db, channel, chat_id, reply, key)


@asynccontextmanager
async def open_platforms(
    settings: Settings,
    polling: bool = False,
    console_out: TextIO = sys.stdout,
    console: Sender | None = None,
    set_up: bool = True,
) -> AsyncIterator[Platforms]:
    senders: dict[str, Sender] = {CONSOLE: console or ConsoleSender(console_out, as_json=True)}
    async with AsyncExitStack() as stack:
        telegram = slack = None
        if settings.telegram_token:
            telegram = await stack.enter_async_context(_telegram(settings, polling))
            senders[telegram.channel] = telegram
        if settings.slack_bot_token:
            slack = await stack.enter_async_context(_slack(settings))
            senders[slack.channel] = slack
        email = await stack.enter_async_context(_email(settings))
        senders[email.channel] = email
        platforms = Platforms(settings, senders, telegram, slack)
        if set_up:
            await platforms.set_up()
        yield platforms


@asynccontextmanager
async def _telegram(settings: Settings, polling: bool) -> AsyncIterator[TelegramSender]:
    from bot.handlers.telegram import TelegramSender, build_application, close, open_transport

    assert settings.telegram_token is not None
    application = build_application(
        settings.telegram_token,
        settings.telegram_api_base_url,
        settings.platform_timeout_s,
        polling=polling,
    )
    await open_transport(application)
    throttle = Throttle(settings.telegram_max_per_second, settings.telegram_chat_interval_s)
    try:
        yield TelegramSender(application, throttle)
    finally:
        await close(application)


@asynccontextmanager
async def _slack(settings: Settings) -> AsyncIterator[SlackSender]:
    from bot.handlers.slack import SlackSender, web_client

    assert settings.slack_bot_token is not None
    client = web_client(
        settings.slack_bot_token, settings.slack_api_base_url, settings.platform_timeout_s
    )
    yield SlackSender(client, Throttle(None, settings.slack_chat_interval_s))


@asynccontextmanager
async def _email(settings: Settings) -> AsyncIterator[EmailSender]:
    """SMTP when SMTP_HOST is set (connections closed with the platforms), else .eml files."""
    from bot.handlers.email import EmailSender, SmtpServer

    if settings.smtp_host is None:
        folder = settings.email_outbox_dir.resolve()
        log.info("no SMTP_HOST: emails are written to %s", folder)
        yield EmailSender(settings.email_from, outbox_dir=folder)
        return
    server = SmtpServer(
        host=settings.smtp_host,
        port=settings.smtp_port,
        tls=settings.smtp_tls,
        username=settings.smtp_username,
        password=settings.smtp_password,
        timeout_s=settings.smtp_timeout_s,
        messages_per_connection=settings.smtp_messages_per_connection,
    )
    sender = EmailSender(
        settings.email_from, smtp=server, throttle=Throttle(settings.smtp_max_per_second, 0.0)
    )
    try:
        yield sender
    finally:
        await sender.aclose()


@asynccontextmanager
async def open_senders(
    settings: Settings, console_out: TextIO = sys.stdout
) -> AsyncIterator[dict[str, Sender]]:
    """Senders for the console (JSON lines on `console_out`) and each configured platform."""
    async with open_platforms(settings, console_out=console_out) as platforms:
        yield platforms.senders
