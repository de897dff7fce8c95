"""The Telegram channel (python-telegram-bot 22): updates in, replies and outbound messages out.

A thin translator: an update becomes an `IncomingMessage` for the dispatcher, and
each `Reply` becomes HTML messages with inline keyboards. Telegram's exceptions are turned into
the sender port's outcomes here and nowhere else. Updates arrive by long polling
(`hotline run`) or by webhook (`/telegram/webhook` in the web app, which checks the secret token
before handing the body to `process_webhook`).
"""

from __future__ import annotations

import datetime as dtm
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

from telegram import BotCommand, CallbackQuery, Message, Update
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application, ContextTypes, TypeHandler

from bot.conversation.dispatcher import Dispatcher
from bot.core.errors import ConfigError
from bot.core.ports import RetryLater, SendResult, Sent, Unreachable
from bot.core.types import IncomingMessage, MenuCommand, Reply
from bot.handlers import telegram_render as render
from bot.handlers.telegram_http import AiohttpRequest
from bot.handlers.throttle import Throttle

log = logging.getLogger(__name__)

CHANNEL = "telegram"
EDITED = (
    "I only read new messages, so I haven't acted on that edit. Please send it again as a new "
    "message."
)

# Reply failures the channel cannot repair in place are handed back to be queued and retried.
QueueReply = Callable[[str, Reply, str], Awaitable[None]]


def bot_commands(menu: Iterable[MenuCommand]) -> list[BotCommand]:
    """The command menu (setMyCommands) of the declared commands offered on Telegram, staff
    ones marked as such: every user sees one menu."""
    return [BotCommand(command.name, command.summary) for command in menu]


def _seconds(value: float | dtm.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def outcome_of(exc: TelegramError) -> SendResult:
    """Telegram's exception as a sender outcome (the one place that knows its error types)."""
    if isinstance(exc, RetryAfter):
        return RetryLater("telegram 429", _seconds(exc.retry_after))
    if isinstance(exc, Forbidden):
        return Unreachable(f"telegram 403: {exc.message}"[:200])
    if isinstance(exc, ChatMigrated):
        return Unreachable("telegram: chat migrated to a supergroup")
    if isinstance(exc, BadRequest):
        if "chat not found" in exc.message.lower():
            return Unreachable("telegram 400: chat not found")
        return RetryLater(f"telegram 400: {exc.message}"[:200])
    if isinstance(exc, NetworkError):  # includes TimedOut and 5xx answers
        return RetryLater(f"telegram {type(exc).__name__}: {exc.message}"[:200])
    return RetryLater(f"telegram {type(exc).__name__}")


class TelegramSender:
    """The sender port over a Bot, throttled (one process, shared by replies and the outbox)."""

    channel = CHANNEL

    def __init__(self, application: Application[Any, Any, Any, Any, Any, Any], throttle: Throttle):
        self.application = application
        self.throttle = throttle

    async def send(self, chat_id: str, reply: Reply) -> SendResult:
        sent: Message | None = None
        try:
            for html_text, markup in render.messages(reply):
                await self.throttle.wait(chat_id)
                sent = await self.application.bot.send_message(
                    chat_id,
                    html_text,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup,
                    link_preview_options=None,
                )
        except TelegramError as exc:
            return outcome_of(exc)
        return Sent(str(sent.message_id) if sent else None)

    async def edit(self, chat_id: str, ref: str, reply: Reply) -> SendResult:
        """Replace an earlier message; if Telegram no longer has it, send the text anew."""
        html_text, markup = render.messages(reply)[-1]
        try:
            await self.throttle.wait(chat_id)
            await self.application.bot.edit_message_text(
                html_text,
                chat_id=chat_id,
                message_id=int(ref),
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
            )
        except BadRequest as exc:
            message = exc.message.lower()
            if "not modified" in message:
                return Sent(ref)
            if "not found" in message or "can't be edited" in message:
                return await self.send(chat_id, reply)
            return outcome_of(exc)
        except TelegramError as exc:
            return outcome_of(exc)
        return Sent(ref)


class TelegramChannel:
    """Inbound updates: one handler for every update, so nothing is silently dropped."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        dispatcher: Dispatcher,
        sender: TelegramSender,
        queue_reply: QueueReply,
    ) -> None:
        self.application = application
        self.dispatcher = dispatcher
        self.sender = sender
        self.queue_reply = queue_reply
        application.add_handler(TypeHandler(Update, self._on_update))
        application.add_error_handler(self._on_error)

    async def register_commands(self) -> None:
        try:
            await self.application.bot.set_my_commands(bot_commands(self.dispatcher.menu(CHANNEL)))
        except TelegramError as exc:  # the bot still works; the menu just lacks entries
            log.warning("setMyCommands failed: %s", type(exc).__name__)

    @asynccontextmanager
    async def polling(self) -> AsyncIterator[None]:
        """Long polling, for development (`hotline run`); it removes any webhook first."""
        updater = self.application.updater
        assert updater is not None, "built without an updater (webhook mode)"
        await self.register_commands()
        await self.application.start()
        await updater.start_polling(allowed_updates=Update.ALL_TYPES)
        try:
            yield
        finally:
            await updater.stop()
            await self.application.stop()

    async def set_webhook(self, url: str, secret: str) -> None:
        await self.register_commands()
        try:
            await self.application.bot.set_webhook(
                url, secret_token=secret, allowed_updates=Update.ALL_TYPES
            )
        except TelegramError as exc:
            raise ConfigError(
                f"TELEGRAM_WEBHOOK_URL: Telegram refused the webhook ({exc.message})"
            ) from None

    async def process_webhook(self, data: dict[str, Any]) -> None:
        update = Update.de_json(data, self.application.bot)
        await self.application.process_update(update)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        update_id = update.update_id if isinstance(update, Update) else None
        log.error("telegram update failed update=%s", update_id, exc_info=context.error)

    async def _on_update(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.callback_query is not None:
            await self._on_button(update, update.callback_query)
        elif update.message is not None and update.message.text is not None:
            await self._on_text(update, update.message)
        elif update.edited_message is not None:
            await self._reply(str(update.edited_message.chat.id), Reply(EDITED), update)
        else:
            # Stickers, photos, membership changes...: nothing the hotline reads.
            log.debug("telegram update ignored update=%s", update.update_id)

    async def _on_text(self, update: Update, message: Message) -> None:
        user = message.from_user
        if user is None or user.is_bot:
            return
        text = message.text or ""
        if message.chat.type != "private" and not text.startswith("/"):
            return  # in groups (the staff chat) only commands and buttons are for the bot
        incoming = IncomingMessage(
            CHANNEL,
            str(message.chat.id),
            str(user.id),
            text=text,
            message_id=str(message.message_id),
            private_chat_id=str(user.id),
            update_id=str(update.update_id),
            **_reply_fields(message),
        )
        for reply in await self.dispatcher.handle(incoming):
            await self._reply(incoming.chat_id, reply, update)

    async def _on_button(self, update: Update, query: CallbackQuery) -> None:
        try:
            await query.answer()  # first, so the button stops spinning
        except TelegramError as exc:
            log.info("answerCallbackQuery failed: %s", type(exc).__name__)
        message = query.message
        chat_id = str(message.chat.id) if message is not None else str(query.from_user.id)
        incoming = IncomingMessage(
            CHANNEL,
            chat_id,
            str(query.from_user.id),
            action=query.data or "",
            message_id=str(message.message_id) if message is not None else None,
            private_chat_id=str(query.from_user.id),
            update_id=str(update.update_id),
        )
        for reply in await self.dispatcher.handle(incoming):
            if reply.edit and isinstance(message, Message) and await self._edit(message, reply):
                continue
            await self._reply(chat_id, reply, update)

    async def _edit(self, message: Message, reply: Reply) -> bool:
        """Append the status line to the pressed message and swap its buttons."""
        new_text = render.with_status(message.text_html or "", message.text or "", reply.text)
        try:
            await self.sender.throttle.wait(str(message.chat.id))
            await message.edit_text(
                new_text, parse_mode=ParseMode.HTML, reply_markup=render.keyboard(reply.buttons)
            )
        except BadRequest as exc:
            if "not modified" in exc.message.lower():
                return True
            # Telegram's reason without its detail, which can quote the message it refused.
            log.info("edit failed, sending instead: %s", exc.message.split(":")[0][:80])
            return False
        except TelegramError as exc:
            log.info("edit failed, sending instead: %s", type(exc).__name__)
            return False
        return True

    async def _reply(self, chat_id: str, reply: Reply, update: Update) -> None:
        result = await self.sender.send(chat_id, reply)
        if isinstance(result, RetryLater):
            # Not lost: the outbox retries it (429, 5xx, timeouts).
            await self.queue_reply(chat_id, reply, f"reply:{CHANNEL}:{update.update_id}")
        elif isinstance(result, Unreachable):
            log.info("reply undeliverable update=%s: %s", update.update_id, result.error)


def build_application(
    token: str, base_url: str | None, timeout_s: float, polling: bool
) -> Application[Any, Any, Any, Any, Any, Any]:
    # Opt in to PTB's future behaviour (time periods as timedelta) rather than its warning.
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    builder = Application.builder().token(token).request(AiohttpRequest(timeout_s, pool_size=16))
    if base_url:
        builder = builder.base_url(base_url)
    if polling:  # a long poll holds its connection open for up to 30 s
        builder = builder.get_updates_request(AiohttpRequest(timeout_s + 30, pool_size=1))
    else:
        builder = builder.updater(None)
    return builder.build()


async def open_transport(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """The bot's HTTP connections (our own AiohttpRequest), and no call to Telegram: PTB's Bot
    sends without having asked getMe, so a restarted process delivers the pings already due
    while `initialize` waits for Telegram's answer."""
    await application.bot.request.initialize()


async def close(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Shut the application down (when `initialize` ran) and close the connections (whether it
    ran or not: the process may stop before getMe answers)."""
    await application.shutdown()
    await application.bot.request.shutdown()


async def initialize(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """getMe: a wrong token or an unreachable API stops the process here, with one clear line."""
    try:
        await application.initialize()
    except InvalidToken:
        raise ConfigError("TELEGRAM_TOKEN: Telegram does not accept this token") from None
    except TelegramError as exc:
        raise ConfigError(
            f"TELEGRAM_TOKEN: could not reach Telegram ({type(exc).__name__})"
        ) from None


def _reply_fields(message: Message) -> dict[str, str | None]:
    """What a message answers, when the person used Telegram's Reply on an earlier message."""
    earlier = message.reply_to_message
    if earlier is None:
        return {}
    return {"reply_to": str(earlier.message_id), "reply_to_text": earlier.text or earlier.caption}
