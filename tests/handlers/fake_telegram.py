"""A fake Telegram Bot API server: the real python-telegram-bot talks to it over HTTP.

    async with FakeTelegram(token="123:TEST", username="hotline_test_bot") as tg:
        bot = telegram.Bot(tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url)
        tg.push_update(tg_text_update(1, user_id=42, text="/start"))  # served by getUpdates
        tg.fail("sendMessage", Fault.too_many(retry_after=1))       # the next send gets a 429
        await tg.wait_for_messages(42, 1)
        tg.sent_to(42)[0]["text"], tg.sent_to(42)[0]["reply_markup"]  # decoded dicts

API (besides `FakeServer`'s `calls`, `calls_to`, `wait_for`, `fail`, `fail_for_chat`, `block`,
`random_faults`, `start`, `stop`): `base_url`, `base_file_url`, `push_update(update)`,
`sent_to(chat_id)`, `accepted` (sendMessage calls answered ok), `wait_for_messages(chat_id, n)`,
`sends_per_chat()`, `max_rate(window_s)`, `message(chat_id, message_id)` (as last sent or
edited), `webhook` (the setWebhook parameters, {} when none), `commands`. With
`FakeTelegram(send_delay_s=(low, high))` each sendMessage is answered after a delay drawn
uniformly from that range (a slow platform: sends stay in flight), and takes effect at the end
of it even if the client has gone by then; `answered_at()` gives when each chat's sends were
answered ok.

Requests arrive at /bot<token>/<method>; a wrong token answers 401, an unknown method 404,
both with Telegram's JSON error shape. Methods: getMe, sendMessage, editMessageText,
editMessageReplyMarkup, deleteMessage, answerCallbackQuery, setMyCommands, getMyCommands,
deleteMyCommands, setWebhook, deleteWebhook, getWebhookInfo, getUpdates.

What python-telegram-bot 22 sends (telegram/request/_httpxrequest.py, _requestparameter.py):
every call is a POST whose body is application/x-www-form-urlencoded (multipart/form-data only
when uploading files). Every value is text: strings as they are, anything else JSON-encoded
(chat_id "42", reply_markup '{"inline_keyboard": ...}', disable_notification "true"). The fake
also takes JSON bodies and query strings, and decodes every value except free text
(`_TEXT_PARAMS`), so `params["chat_id"] == 42` and `params["reply_markup"]` is a dict.

Like Telegram, and worth a test in the adapter: editing a message to the same text and markup
answers 400 "Bad Request: message is not modified: ..."; getUpdates answers 409 while a webhook
is set; sendMessage with empty text answers 400 "Bad Request: message text is empty";
setMyCommands with a command Telegram does not accept (1-32 lower-case letters, digits or
underscores; a description of 1-256 characters; at most 100 commands) answers 400 "Bad Request:
BOT_COMMAND_INVALID" and keeps the menu it had. Messages
the fake never sent may be edited freely (tests build callback updates for arbitrary ids).

How PTB 22.8 maps the answers (telegram/request/_baserequest.py): 429 -> RetryAfter (from
`parameters.retry_after`); 403 -> Forbidden; 400 -> BadRequest; 401/404 -> InvalidToken;
409 -> Conflict; 500 and anything else -> NetworkError; a read timeout -> TimedOut (a
NetworkError subclass); a closed connection -> NetworkError. PTB retries nothing by itself
(the Updater's polling loop retries getUpdates; AIORateLimiter is opt-in). Since PTB 22.2 merely
*constructing* RetryAfter reads its deprecated int `retry_after`, which warns
(PTBDeprecationWarning) unless the environment has PTB_TIMEDELTA=1; under
`filterwarnings = error` the warning replaces the RetryAfter. With PTB_TIMEDELTA=1,
`RetryAfter.retry_after` is a `datetime.timedelta`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from aiohttp import web

from tests.handlers.faults import Call, FakeServer, Fault

__all__ = ["Call", "FakeTelegram", "Fault"]

Params = dict[str, Any]

# Parameters that are free text: never JSON-decoded, so a message "123" stays a string.
_TEXT_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "inline_message_id",
        "url",
        "secret_token",
        "ip_address",
        "description",
        "short_description",
        "name",
        "title",
        "language_code",
        "business_connection_id",
        "message_effect_id",
        "query",
    }
)
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
_WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
_POLL_CAP_S = 2.0  # long polls wait at most this long, whatever `timeout` asks for
# setMyCommands: what Telegram accepts of a BotCommand, and how many of them
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_MAX_DESCRIPTION = 256
_MAX_COMMANDS = 100


class _ApiError(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def _answer(code: int, body: dict[str, Any]) -> web.Response:
    return web.json_response(body, status=code)


def _error(code: int, description: str, **parameters: Any) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return _answer(code, body)


def _decode(params: Params) -> Params:
    decoded: Params = {}
    for key, value in params.items():
        if isinstance(value, str) and key not in _TEXT_PARAMS:
            with contextlib.suppress(ValueError):  # "@channelname" and the like stay text
                value = json.loads(value)
        decoded[key] = value
    return decoded


def _chat(chat_id: Any) -> dict[str, Any]:
    if isinstance(chat_id, int) and chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": "Member"}
    if isinstance(chat_id, int):
        return {"id": chat_id, "type": "supergroup", "title": "Hotline group"}
    name = str(chat_id).lstrip("@")
    return {"id": -1000000000001, "type": "channel", "title": name, "username": name}


class FakeTelegram(FakeServer):
    random_fault_methods = frozenset({"sendMessage", "editMessageText", "editMessageReplyMarkup"})

    def __init__(
        self,
        token: str = "123:TEST",
        username: str = "hotline_test_bot",
        send_delay_s: tuple[float, float] = (0.0, 0.0),
        seed: int = 1,
    ) -> None:
        super().__init__()
        self.send_delay_s = send_delay_s
        self._delays = random.Random(seed)
        self._answered_at: dict[Hashable, list[float]] = {}
        self.token = token
        self.username = username
        self.bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 1
        self.me: dict[str, Any] = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Hotline",
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.webhook: Params = {}
        self.commands: list[dict[str, Any]] = []
        self._sent: list[tuple[Hashable, Params, float]] = []
        self._messages: dict[tuple[Hashable, int], dict[str, Any]] = {}
        self._last_message_id: Counter[Hashable] = Counter()
        self._updates: list[dict[str, Any]] = []
        self._wake = asyncio.Event()
        self._methods: dict[str, Callable[[Params], Awaitable[Any]]] = {
            name.lower(): handler
            for name, handler in {
                "getMe": self._get_me,
                "sendMessage": self._send_message,
                "editMessageText": self._edit_message_text,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "deleteMessage": self._true,
                "answerCallbackQuery": self._true,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "getUpdates": self._get_updates,
            }.items()
        }

    # what tests use

    @property
    def base_url(self) -> str:
        """For `telegram.Bot(base_url=...)`: PTB appends the token and then /<method>."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    def push_update(self, update: dict[str, Any]) -> None:
        """Queue an update (a dict as from the payload builders) for getUpdates."""
        if "update_id" not in update:
            last = self._updates[-1]["update_id"] if self._updates else 0
            update = {**update, "update_id": last + 1}
        self._updates.append(update)
        self._wake_pollers()

    def sent_to(self, chat_id: Hashable) -> list[Params]:
        """The sendMessage parameters answered ok for `chat_id`, oldest first."""
        key = self._chat_key(chat_id)
        return [params for chat, params, _ in self._sent if chat == key]

    @property
    def accepted(self) -> int:
        return len(self._sent)

    def message(self, chat_id: Hashable, message_id: int) -> dict[str, Any] | None:
        return self._messages.get((self._chat_key(chat_id), message_id))

    async def wait_for_messages(
        self,
        chat_id: Hashable,
        n: int,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline for the condition, not for I/O
    ) -> None:
        await self.wait_for(
            lambda: len(self.sent_to(chat_id)) >= n,
            timeout,
            f"{n} message(s) to chat {chat_id} (have {len(self.sent_to(chat_id))})",
        )

    def answered_at(self) -> dict[Hashable, list[float]]:
        """For each chat, the `time.monotonic()` times its sendMessage calls were answered ok,
        oldest first (with `send_delay_s`, a delay after the calls' `at`)."""
        return self._answered_at

    def sends_per_chat(self) -> dict[Hashable, int]:
        return dict(Counter(chat for chat, _, _ in self._sent))

    def max_rate(self, window_s: float = 1.0) -> int:
        """The most sendMessage calls answered ok within any `window_s` sliding window."""
        times = sorted(at for _, _, at in self._sent)
        best, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= window_s:
                start += 1
            best = max(best, end - start + 1)
        return best

    async def stop(self) -> None:
        self._stopping.set()
        self._wake_pollers()
        await super().stop()

    # HTTP

    def _routes(self) -> list[web.RouteDef]:
        return [web.route("*", "/bot{token}/{method}", self._handle)]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        call = Call(method, _decode(await self._read_params(request)), time.monotonic())
        self.calls.append(call)
        if request.match_info["token"] != self.token:
            call.outcome = "401"
            return _error(401, "Unauthorized")
        handler = self._methods.get(method.lower())
        if handler is None:
            call.outcome = "404"
            return _error(404, "Not Found")
        fault = self._next_fault(method, call.params.get("chat_id"))
        if fault is not None and fault.kind != "hang":
            return self._fault_answer(fault, call, request)
        if fault is not None and not await self._hang(call, fault.seconds):
            return web.Response(status=503)
        if method == "sendMessage" and self.send_delay_s[1] > 0:
            await asyncio.sleep(self._delays.uniform(*self.send_delay_s))
        try:
            result = await handler(call.params)
        except _ApiError as exc:
            call.outcome = f"error:{exc.description}" if exc.code == 400 else str(exc.code)
            return _error(exc.code, exc.description)
        call.outcome = "ok"
        if method == "sendMessage":
            chat = self._chat_key(call.params["chat_id"])
            self._sent.append((chat, call.params, call.at))
            self._answered_at.setdefault(chat, []).append(time.monotonic())
        return _answer(200, {"ok": True, "result": result})

    def _fault_answer(self, fault: Fault, call: Call, request: web.Request) -> web.Response:
        if fault.kind == "too_many":
            call.outcome = "429"
            return _error(
                429,
                f"Too Many Requests: retry after {fault.retry_after}",
                retry_after=fault.retry_after,
            )
        if fault.kind == "forbidden":
            call.outcome = "403"
            return _error(403, "Forbidden: bot was blocked by the user")
        if fault.kind == "error":
            call.outcome = f"error:{fault.detail}"
            return _error(400, fault.detail)
        if fault.kind == "disconnect":
            call.outcome = "disconnect"
            return self._disconnect(request)
        call.outcome = "500"
        return _error(500, "Internal Server Error")

    # methods

    async def _true(self, params: Params) -> bool:
        return True

    async def _get_me(self, params: Params) -> dict[str, Any]:
        return self.me

    async def _send_message(self, params: Params) -> dict[str, Any]:
        if params.get("chat_id") in (None, ""):
            raise _ApiError(400, "Bad Request: chat_id is empty")
        text = params.get("text") or ""
        if not text.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise _ApiError(400, "Bad Request: message is too long")
        chat = self._chat_key(params["chat_id"])
        self._last_message_id[chat] += 1
        message: dict[str, Any] = {
            "message_id": self._last_message_id[chat],
            "date": int(time.time()),
            "chat": _chat(chat),
            "from": self.me,
            "text": text,
        }
        self._set_markup(message, params)
        self._messages[(chat, message["message_id"])] = message
        return message

    async def _edit_message_text(self, params: Params) -> dict[str, Any] | bool:
        text = params.get("text") or ""
        if not text.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        return self._edit(params, {"text": text})

    async def _edit_message_reply_markup(self, params: Params) -> dict[str, Any] | bool:
        return self._edit(params, {})

    def _edit(self, params: Params, changes: dict[str, Any]) -> dict[str, Any] | bool:
        if "inline_message_id" in params:
            return True
        chat, message_id = self._chat_key(params.get("chat_id")), params.get("message_id")
        if not isinstance(message_id, int):
            raise _ApiError(400, "Bad Request: message identifier is not specified")
        old = self._messages.get((chat, message_id)) or {
            "message_id": message_id,
            "date": int(time.time()) - 60,
            "chat": _chat(chat),
            "from": self.me,
            "text": "(a message the fake did not send)",
        }
        new = {k: v for k, v in old.items() if k not in ("reply_markup", "edit_date")}
        new.update(changes)
        self._set_markup(new, params)
        if new.get("text") == old.get("text") and new.get("reply_markup") == old.get(
            "reply_markup"
        ):
            raise _ApiError(400, _NOT_MODIFIED)
        new["edit_date"] = int(time.time())
        self._messages[(chat, message_id)] = new
        return new

    @staticmethod
    def _set_markup(message: dict[str, Any], params: Params) -> None:
        markup = params.get("reply_markup")
        # Telegram echoes inline keyboards only; reply keyboards are not part of the Message.
        if isinstance(markup, dict) and markup.get("inline_keyboard"):
            message["reply_markup"] = markup

    async def _set_my_commands(self, params: Params) -> bool:
        commands = list(params.get("commands") or [])
        valid = len(commands) <= _MAX_COMMANDS and all(
            isinstance(c, dict)
            and _COMMAND.fullmatch(str(c.get("command", "")))
            and 1 <= len(str(c.get("description", ""))) <= _MAX_DESCRIPTION
            for c in commands
        )
        if not valid:
            raise _ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        self.commands = commands
        return True

    async def _get_my_commands(self, params: Params) -> list[dict[str, Any]]:
        return self.commands

    async def _delete_my_commands(self, params: Params) -> bool:
        self.commands = []
        return True

    async def _set_webhook(self, params: Params) -> bool:
        if not params.get("url"):
            return await self._delete_webhook(params)
        self.webhook = dict(params)
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _delete_webhook(self, params: Params) -> bool:
        self.webhook = {}
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _get_webhook_info(self, params: Params) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if "allowed_updates" in self.webhook:
            info["allowed_updates"] = self.webhook["allowed_updates"]
        return info

    async def _get_updates(self, params: Params) -> list[dict[str, Any]]:
        if self.webhook.get("url"):
            raise _ApiError(409, _WEBHOOK_CONFLICT)
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), _POLL_CAP_S)
        if offset > 0:  # confirms every update before it
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        while True:
            batch = self._updates[offset:] if offset < 0 else self._updates[:limit]
            remaining = deadline - time.monotonic()
            if batch or remaining <= 0 or self._stopping.is_set():
                return batch
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), remaining)

    def _wake_pollers(self) -> None:
        # Each waiter holds the event it started with; a fresh one serves the next waits.
        self._wake.set()
        self._wake = asyncio.Event()
