"""A fake Slack Web API server: the real slack_sdk AsyncWebClient talks to it over HTTP.

    async with FakeSlack(bot_token="xoxb-test", bot_user_id="UBOT", team_id="T1") as sl:
        client = AsyncWebClient(sl.bot_token, base_url=sl.base_url)
        sl.add_user("U1", email="amara@school.example.org", name="Amara Okafor")
        sl.fail("chat.postMessage", Fault.too_many(retry_after=1))  # the next post gets a 429
        await sl.wait_for_messages("C1", 1)
        sl.posted_to("C1")[0]["blocks"]                           # decoded list
        sl.responses["r1"]                                         # what went to response_url("r1")

API (besides `FakeServer`'s `calls`, `calls_to`, `wait_for`, `fail`, `fail_for_chat` (alias
`fail_for_channel`), `block`, `random_faults`, `start`, `stop`): `base_url`, `add_user(...)`,
`posted_to(channel)`, `accepted` (chat.postMessage calls answered ok), `wait_for_messages(channel,
n)`, `message(channel, ts)` (as last posted or updated), `response_url(name)`, `responses`,
`views` (the last view published per user).

Requests arrive at /api/<method>. `Authorization: Bearer <bot_token>` (or a `token` parameter)
is required: none answers `not_authed`, a wrong one `invalid_auth`. Methods: auth.test,
users.info, users.lookupByEmail, conversations.open, chat.postMessage, chat.update,
chat.postEphemeral, chat.delete, views.publish; others answer `unknown_method`. Posting to a
user id ("U1") lands in that user's DM, "D" + user id, which is also what conversations.open
returns. Updating a message the fake never posted succeeds (tests build actions for any ts).

What slack_sdk 3.47's AsyncWebClient sends (slack_sdk/web/async_client.py, internal_utils.py):
methods with blocks or views (chat.postMessage, chat.update, chat.postEphemeral,
views.publish) send a JSON body; most others (auth.test, conversations.open) POST with the
parameters in the query string and an empty body; users.info is a GET with a query string.
The fake merges query, form and JSON, and decodes `blocks`, `attachments`, `metadata` and `view`
when they come as JSON text.

Errors as Slack gives them: API errors are HTTP 200 `{"ok": false, "error": "..."}`; the rate
limit is HTTP 429 with a `Retry-After: N` header and `{"ok": false, "error": "ratelimited"}`;
`Fault.server_error()` is HTTP 500 with `{"ok": false, "error": "internal_error"}`;
`Fault.forbidden()` and `block()` answer `channel_not_found`. AsyncSlackResponse.validate() raises
SlackApiError for any status other than 200 or `ok` false: `e.response.status_code`,
`e.response["error"]`, and `e.response.headers`, aiohttp's case-insensitive CIMultiDictProxy,
so `e.response.headers["retry-after"] == "1"` (a string; the name's case does not matter).

Retries by default (slack_sdk/http_retry/builtin_async_handlers.py, async_default_handlers):
AsyncWebClient retries once on ServerConnectionError / ServerDisconnectedError / ClientOSError,
after 0.5 s plus up to 1 s of random jitter, so one `Fault.disconnect()` goes unnoticed (two
calls recorded) and only a second one raises (aiohttp's ServerDisconnectedError, not a
SlackApiError). A timeout (`AsyncWebClient(timeout=...)`, 30 s by default) is not retried and
raises TimeoutError. 429 is *not* retried unless AsyncRateLimitErrorRetryHandler is added to
`client.retry_handlers`.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from aiohttp import web

from tests.handlers.faults import Call, FakeServer, Fault

__all__ = ["Call", "FakeSlack", "Fault"]

Params = dict[str, Any]

_JSON_PARAMS = ("blocks", "attachments", "metadata", "view")
_BLOCKED_ERROR = "channel_not_found"
_SCOPES = "app_mentions:read,chat:write,commands,im:history,im:write,users:read,users:read.email"


class _ApiError(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def _answer(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(body, status=status, headers=headers)


def _decode(params: Params) -> Params:
    for key in _JSON_PARAMS:
        if isinstance(params.get(key), str) and params[key]:
            params[key] = json.loads(params[key])
    return params


class FakeSlack(FakeServer):
    random_fault_methods = frozenset({"chat.postMessage", "chat.update", "chat.postEphemeral"})

    def __init__(
        self, bot_token: str = "xoxb-test", bot_user_id: str = "UBOT", team_id: str = "T1"
    ) -> None:
        super().__init__()
        self.bot_token = bot_token
        self.bot_user_id = bot_user_id
        self.bot_id = "B" + bot_user_id.removeprefix("U")
        self.team_id = team_id
        self.users: dict[str, dict[str, Any]] = {}
        self.responses: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        self.views: dict[str, dict[str, Any]] = {}
        self._posted: list[tuple[str, Params]] = []
        self._messages: dict[tuple[str, str], dict[str, Any]] = {}
        self._ts = 0
        self._methods: dict[str, Callable[[Params], Awaitable[dict[str, Any]]]] = {
            "auth.test": self._auth_test,
            "users.info": self._users_info,
            "users.lookupByEmail": self._users_lookup_by_email,
            "conversations.open": self._conversations_open,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.delete": self._delete,
            "views.publish": self._views_publish,
        }

    # what tests use

    @property
    def base_url(self) -> str:
        """For `AsyncWebClient(base_url=...)`; the trailing slash matters."""
        return f"{self.url}/api/"

    def add_user(
        self,
        user_id: str,
        email: str | None = None,
        name: str | None = None,
        is_bot: bool = False,
        deleted: bool = False,
    ) -> dict[str, Any]:
        real_name = name or user_id
        handle = real_name.lower().replace(" ", ".")
        profile: dict[str, Any] = {
            "real_name": real_name,
            "display_name": real_name.split()[0] if real_name.split() else real_name,
            "real_name_normalized": real_name,
            "display_name_normalized": real_name.split()[0] if real_name.split() else real_name,
            "team": self.team_id,
        }
        if email is not None:  # Slack leaves it out without the users:read.email scope
            profile["email"] = email
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": handle,
            "real_name": real_name,
            "deleted": deleted,
            "is_bot": is_bot,
            "tz": "Europe/London",
            "profile": profile,
        }
        self.users[user_id] = user
        return user

    def response_url(self, name: str) -> str:
        """A response_url on the fake; what is POSTed there lands in `responses[name]`."""
        return f"{self.url}/response/{name}"

    def posted_to(self, channel: str) -> list[Params]:
        """The chat.postMessage parameters answered ok for `channel` (as asked, or the DM a
        user id resolved to), oldest first."""
        return [p for landed, p in self._posted if channel in (landed, p.get("channel"))]

    @property
    def accepted(self) -> int:
        return len(self._posted)

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        return self._messages.get((channel, ts))

    def messages_in(self, channel: str) -> list[dict[str, Any]]:
        """The messages now in a channel (as edited since), oldest first, each with its ts."""
        return [m for (landed, _), m in self._messages.items() if landed == channel]

    async def wait_for_messages(
        self,
        channel: str,
        n: int,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline for the condition, not for I/O
    ) -> None:
        await self.wait_for(
            lambda: len(self.posted_to(channel)) >= n,
            timeout,
            f"{n} message(s) in {channel} (have {len(self.posted_to(channel))})",
        )

    def fail_for_channel(self, channel: Hashable, *faults: Fault) -> None:
        self.fail_for_chat(channel, *faults)

    @staticmethod
    def _chat_key(chat: Any) -> Hashable:
        """A user id and the DM with that user are one chat: block("U1") stops posts to "DU1"."""
        if isinstance(chat, str) and chat[:1] in ("U", "W"):
            return "D" + chat
        return chat  # type: ignore[no-any-return]

    # HTTP

    def _routes(self) -> list[web.RouteDef]:
        return [
            web.route("*", "/api/{method}", self._handle),
            web.post("/response/{name}", self._handle_response),
        ]

    def _auth_error(self, request: web.Request, params: Params) -> str | None:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else None
        token = token or params.pop("token", None)
        if not token:
            return "not_authed"
        return None if token == self.bot_token else "invalid_auth"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params = _decode(await self._read_params(request))
        call = Call(method, params, time.monotonic())
        self.calls.append(call)
        if error := self._auth_error(request, params):
            call.outcome = f"error:{error}"
            return _answer({"ok": False, "error": error})
        handler = self._methods.get(method)
        if handler is None:
            call.outcome = "error:unknown_method"
            return _answer({"ok": False, "error": "unknown_method"})
        fault = self._next_fault(method, params.get("channel"))
        if fault is not None and fault.kind != "hang":
            return self._fault_answer(fault, call, request)
        if fault is not None and not await self._hang(call, fault.seconds):
            return web.Response(status=503)
        try:
            body = await handler(params)
        except _ApiError as exc:
            call.outcome = f"error:{exc.error}"
            return _answer({"ok": False, "error": exc.error})
        call.outcome = "ok"
        headers = {"X-OAuth-Scopes": _SCOPES} if method == "auth.test" else None
        return _answer({"ok": True, **body}, headers=headers)

    def _fault_answer(self, fault: Fault, call: Call, request: web.Request) -> web.Response:
        if fault.kind == "too_many":
            call.outcome = "429"
            retry_after = {"Retry-After": str(fault.retry_after)}
            return _answer({"ok": False, "error": "ratelimited"}, 429, retry_after)
        if fault.kind in ("forbidden", "error"):
            error = fault.detail if fault.kind == "error" else _BLOCKED_ERROR
            call.outcome = f"error:{error}"
            return _answer({"ok": False, "error": error})
        if fault.kind == "disconnect":
            call.outcome = "disconnect"
            return self._disconnect(request)
        call.outcome = "500"
        return _answer({"ok": False, "error": "internal_error"}, 500)

    async def _handle_response(self, request: web.Request) -> web.Response:
        if request.content_type == "application/json":
            body = await request.json()
        else:
            body = dict(await request.post())
            if isinstance(body.get("payload"), str):
                body = json.loads(body["payload"])
        self.responses[request.match_info["name"]].append(body)
        return web.Response(text="ok")

    # methods

    def _next_ts(self) -> str:
        self._ts += 1
        micros = 1_700_000_000_000_000 + self._ts * 100
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _channel(self, params: Params) -> str:
        channel = params.get("channel")
        if not isinstance(channel, str) or not channel:
            raise _ApiError("channel_not_found")
        # Posting to a user id posts in the DM with that user.
        return str(self._chat_key(channel))

    def _user(self, user_id: Any) -> dict[str, Any]:
        if not isinstance(user_id, str) or user_id not in self.users:
            raise _ApiError("user_not_found")
        return self.users[user_id]

    def _message_body(self, params: Params, ts: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "team": self.team_id,
            "ts": ts,
            "text": params.get("text", ""),
        }
        if params.get("blocks"):
            message["blocks"] = params["blocks"]
        if params.get("thread_ts"):
            message["thread_ts"] = params["thread_ts"]
        return message

    async def _auth_test(self, params: Params) -> dict[str, Any]:
        return {
            "url": "https://hotline-test.slack.com/",
            "team": "Hotline Test",
            "user": "hotline",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    async def _users_info(self, params: Params) -> dict[str, Any]:
        return {"user": self._user(params.get("user"))}

    async def _users_lookup_by_email(self, params: Params) -> dict[str, Any]:
        for user in self.users.values():
            if user["profile"].get("email") == params.get("email"):
                return {"user": user}
        raise _ApiError("users_not_found")

    async def _conversations_open(self, params: Params) -> dict[str, Any]:
        users = [u for u in str(params.get("users") or "").split(",") if u]
        if params.get("channel"):
            return {"channel": {"id": params["channel"]}}
        if not users:
            raise _ApiError("users_list_not_supplied")
        if len(users) == 1:
            return {"channel": {"id": "D" + users[0]}}
        return {"channel": {"id": "G" + "".join(u.removeprefix("U") for u in users)}}

    async def _post_message(self, params: Params) -> dict[str, Any]:
        channel = self._channel(params)
        if not params.get("text") and not params.get("blocks"):
            raise _ApiError("no_text")
        ts = self._next_ts()
        message = self._message_body(params, ts)
        self._messages[(channel, ts)] = message
        self._posted.append((channel, params))
        return {"channel": channel, "ts": ts, "message": message}

    async def _update(self, params: Params) -> dict[str, Any]:
        channel = self._channel(params)
        ts = params.get("ts")
        if not isinstance(ts, str) or not ts:
            raise _ApiError("message_not_found")
        message = self._message_body(params, ts)
        self._messages[(channel, ts)] = message
        return {"channel": channel, "ts": ts, "text": message["text"], "message": message}

    async def _post_ephemeral(self, params: Params) -> dict[str, Any]:
        self._channel(params)
        if not params.get("user"):
            raise _ApiError("user_not_found")
        return {"message_ts": self._next_ts()}

    async def _delete(self, params: Params) -> dict[str, Any]:
        channel = self._channel(params)
        self._messages.pop((channel, str(params.get("ts"))), None)
        return {"channel": channel, "ts": params.get("ts")}

    async def _views_publish(self, params: Params) -> dict[str, Any]:
        user_id = params.get("user_id")
        view = params.get("view")
        if not isinstance(user_id, str) or not isinstance(view, dict):
            raise _ApiError("invalid_arguments")
        published = {"id": f"V{len(self.views) + 1:04d}", "team_id": self.team_id, **view}
        self.views[user_id] = published
        return {"view": published}
