"""The Slack channel (slack-bolt `AsyncApp`): events, slash command and buttons in, Block Kit out.

A thin translator. Bolt verifies request signatures before any listener runs (a
bad or stale signature is answered 401). Slash commands and buttons call `ack()` first: Slack
wants an answer within 3 seconds and retries events it thinks were not acknowledged, so every
event carries its `event_id` to the dispatcher, which drops redeliveries. What people type goes
through `slack_text.decode` (Slack's entities and markup as plain text). Slack's exceptions are
turned into the sender port's outcomes here and nowhere else.
"""

from __future__ import annotations

import logging
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.conversation.dispatcher import Dispatcher
from bot.core.ports import RetryLater, SendResult, Sent, Unreachable
from bot.core.types import IncomingMessage, MenuCommand, Reply
from bot.handlers import slack_render as render
from bot.handlers import slack_text
from bot.handlers.throttle import Throttle

log = logging.getLogger(__name__)

CHANNEL = "slack"
SLASH_COMMAND = "/hotline"
EDITED = (
    "I only read new messages, so I haven't acted on that edit. Please send it again as a new "
    "message."
)
ANSWERED_IN_DM = "I've answered in our direct messages, so you can find it there later."
# Errors after which sending to this chat again cannot work (Slack Web API, Nov 2026).
FINAL_ERRORS = frozenset(
    {
        "channel_not_found",
        "is_archived",
        "account_inactive",
        "user_not_found",
        "user_disabled",
        "not_in_channel",
        "cannot_dm_bot",
        "messages_tab_disabled",
    }
)
PROFILE_CACHE = 1024
SIGNATURE_MAX_AGE_S = 5 * 60  # what Bolt accepts

QueueReply = Callable[[str, Reply, str], Awaitable[None]]


def usage_hint(menu: Iterable[MenuCommand]) -> str:
    """The usage hint of the /hotline slash command (set in the app's configuration; the
    README's Slack steps quote it): the declared commands offered on Slack that members may
    use, as typed after /hotline. Staff find theirs with /hotline help."""
    return " | ".join(f"{c.name} {c.args}".strip() for c in menu if c.for_members)


def outcome_of(exc: Exception) -> SendResult:
    """Slack's exception as a sender outcome (the one place that knows its error types)."""
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        error = str(exc.response.get("error", "")) if isinstance(exc.response.data, dict) else ""
        if status == 429 or error == "ratelimited":
            after = exc.response.headers.get("Retry-After") or exc.response.headers.get(
                "retry-after"
            )
            return RetryLater("slack 429", float(after) if after else None)
        if error in FINAL_ERRORS:
            return Unreachable(f"slack: {error}")
        return RetryLater(f"slack {status}: {error or 'error'}"[:200])
    return RetryLater(f"slack {type(exc).__name__}")


class SlackSender:
    """The sender port over the Web API, throttled per channel. A message's ref is
    "channel/ts", since a DM posted to a user id comes back with its D... channel."""

    channel = CHANNEL

    def __init__(self, client: AsyncWebClient, throttle: Throttle) -> None:
        self.client = client
        self.throttle = throttle

    async def post(self, chat_id: str, reply: Reply, thread_ts: str | None = None) -> SendResult:
        try:
            await self.throttle.wait(chat_id)
            response = await self.client.chat_postMessage(
                channel=chat_id,
                text=render.fallback(reply),
                blocks=render.blocks(reply),
                thread_ts=thread_ts,
                unfurl_links=False,
            )
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            return outcome_of(exc)
        return Sent(f"{response.get('channel', chat_id)}/{response.get('ts', '')}")

    async def send(self, chat_id: str, reply: Reply) -> SendResult:
        return await self.post(chat_id, reply)

    async def edit(self, chat_id: str, ref: str, reply: Reply) -> SendResult:
        channel, _, ts = ref.partition("/")
        try:
            await self.throttle.wait(channel)
            await self.client.chat_update(
                channel=channel, ts=ts, text=render.fallback(reply), blocks=render.blocks(reply)
            )
        except SlackApiError as exc:
            if str(exc.response.get("error", "")) in ("message_not_found", "cant_update_message"):
                return await self.send(chat_id, reply)
            return outcome_of(exc)
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            return outcome_of(exc)
        return Sent(ref)


class SlackProfiles:
    """Slack vouches for the email on a workspace member's profile (users.info, with the
    users:read.email scope), so a directory member is linked on first message."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self._cache: OrderedDict[str, str | None] = OrderedDict()

    async def email_of(self, sender_ref: str) -> str | None:
        if sender_ref in self._cache:
            return self._cache[sender_ref]
        try:
            response = await self.client.users_info(user=sender_ref)
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            log.info("users.info failed: %s", type(exc).__name__)
            return None  # not cached: a passing failure should not lock the person out
        user = response.get("user") or {}
        email = None if user.get("is_bot") else (user.get("profile") or {}).get("email")
        self._cache[sender_ref] = email
        if len(self._cache) > PROFILE_CACHE:
            self._cache.popitem(last=False)
        return email


class SlackChannel:
    def __init__(
        self,
        app: AsyncApp,
        dispatcher: Dispatcher,
        sender: SlackSender,
        queue_reply: QueueReply,
    ) -> None:
        self.app = app
        self.dispatcher = dispatcher
        self.sender = sender
        self.queue_reply = queue_reply
        app.event("message")(self._on_message)
        app.event("app_mention")(self._on_mention)
        app.command(SLASH_COMMAND)(self._on_command)
        app.action(re.compile(rf"^{render.ACTION_PREFIX}\d+$"))(self._on_button)
        app.error(self._on_error)

    @asynccontextmanager
    async def socket_mode(self, app_token: str) -> AsyncIterator[None]:
        """Socket Mode, for development without a public URL (`hotline run`)."""
        handler = AsyncSocketModeHandler(self.app, app_token)
        await handler.client.connect()  # type: ignore[no-untyped-call]  # unannotated in slack_sdk
        try:
            yield
        finally:
            await handler.client.close()  # type: ignore[no-untyped-call]

    async def _on_error(self, error: Exception, body: dict[str, Any]) -> None:
        log.error("slack request failed event=%s", body.get("event_id"), exc_info=error)

    async def _on_message(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        if event.get("channel_type") != "im" or event.get("bot_id"):
            return  # channel messages reach us as app_mention; our own messages are not input
        subtype = event.get("subtype")
        if subtype == "message_changed":
            key = _reply_key(body.get("event_id"), event["channel"], event.get("ts"))
            await self._reply(event["channel"], Reply(EDITED), key, _thread_of(event))
            return
        if subtype is not None or "user" not in event:
            return  # joins, deletions, file shares...: nothing the hotline reads
        await self._dispatch(body, event, slack_text.decode(event.get("text", "")))

    async def _on_mention(
        self, body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        if event.get("bot_id") or "user" not in event:
            return
        text = slack_text.without_mention_of(event.get("text", ""), context.bot_user_id)
        await self._dispatch(body, event, slack_text.decode(text))

    async def _dispatch(self, body: dict[str, Any], event: dict[str, Any], text: str) -> None:
        incoming = IncomingMessage(
            CHANNEL,
            event["channel"],
            event["user"],
            text=text,
            message_id=event.get("ts"),
            private_chat_id=event["user"],  # posting to a user id lands in their DM with us
            update_id=body.get("event_id"),
            reply_to=_ref(event["channel"], event.get("thread_ts")),
            thread_ref=_ref(event["channel"], _thread_of(event)),
        )
        thread = _thread_of(event)
        key = _reply_key(incoming.update_id, incoming.chat_id, incoming.message_id)
        for n, reply in enumerate(await self.dispatcher.handle(incoming)):
            await self._reply(incoming.chat_id, reply, f"{key}:{n}", thread)

    async def _on_command(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """`/hotline X` is the command `/X`. Its answers go to the person's DM with the app as
        ordinary messages (posting to a user id lands there), not as ephemeral responses, so a
        reference stays in their history; typed elsewhere, the acknowledgement says so. Only a
        DM that cannot be delivered at all falls back to an ephemeral response."""
        user = body["user_id"]
        if body.get("channel_name") == "directmessage":
            await ack()
        else:
            await ack(text=ANSWERED_IN_DM)
        words = slack_text.decode(body.get("text") or "").strip()
        text = f"/{words}" if words else "/help"
        incoming = IncomingMessage(
            CHANNEL,
            body.get("channel_id", user),
            user,
            text=text,
            private_chat_id=user,
            update_id=body.get("trigger_id"),
        )
        for n, reply in enumerate(await self.dispatcher.handle(incoming)):
            key = _reply_key(incoming.update_id, user, None)
            if isinstance(await self._reply(user, reply, f"{key}:{n}"), Unreachable):
                try:
                    await respond(text=render.fallback(reply), blocks=render.blocks(reply))
                except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
                    log.info("slash command response failed: %s", type(exc).__name__)

    async def _on_button(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        action = (body.get("actions") or [{}])[0]
        user = body["user"]["id"]
        channel = (body.get("channel") or {}).get("id") or user
        message = body.get("message") or {}
        incoming = IncomingMessage(
            CHANNEL,
            channel,
            user,
            action=str(action.get("value", "")),
            message_id=message.get("ts"),
            private_chat_id=user,
            update_id=f"action:{user}:{action.get('action_ts')}",
            thread_ref=_ref(channel, message.get("thread_ts") or message.get("ts")),
        )
        thread = message.get("thread_ts")
        key = _reply_key(incoming.update_id, channel, incoming.message_id)
        for n, reply in enumerate(await self.dispatcher.handle(incoming)):
            if reply.edit and message.get("ts") and await self._edit(channel, message, reply):
                continue
            await self._reply(channel, reply, f"{key}:{n}", thread)

    async def _edit(self, channel: str, message: dict[str, Any], status: Reply) -> bool:
        original = message.get("blocks") or [render.section(message.get("text", ""))]
        try:
            await self.sender.throttle.wait(channel)
            await self.sender.client.chat_update(
                channel=channel,
                ts=message["ts"],
                text=message.get("text") or render.fallback(status),
                blocks=render.with_status(original, status),
            )
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            log.info("chat.update failed, sending instead: %s", type(exc).__name__)
            return False
        return True

    async def _reply(
        self, chat_id: str, reply: Reply, key: str, thread: str | None = None
    ) -> SendResult:
        """Straight back through the sender; refused for now, queued in the outbox (`key`
        keeps a redelivered request from queueing it twice)."""
        result = await self.sender.post(chat_id, reply, thread_ts=thread)
        if isinstance(result, RetryLater):
            log.info("reply queued channel=%s reason=%s", CHANNEL, result.error)
            await self.queue_reply(chat_id, reply, key)
        elif isinstance(result, Unreachable):
            log.info("reply undeliverable: %s", result.error)
        return result


def _reply_key(delivery: str | None, chat_id: str, ts: str | None) -> str:
    """The outbox key of a queued reply: the platform's delivery id (event, trigger or
    button press), else the message answered."""
    return f"reply:{CHANNEL}:{delivery or f'{chat_id}:{ts}'}"


def _thread_of(event: dict[str, Any]) -> str | None:
    """Answer in the thread of the message (a new thread under it when it had none)."""
    thread = event.get("thread_ts") or event.get("ts")
    if thread is None and isinstance(event.get("message"), dict):
        thread = event["message"].get("ts")
    return str(thread) if thread else None


def _ref(channel: str, ts: str | None) -> str | None:
    """A message's ref as the sender port records it ("channel/ts")."""
    return f"{channel}/{ts}" if ts else None


def web_client(token: str, base_url: str | None, timeout_s: float) -> AsyncWebClient:
    return AsyncWebClient(
        token=token, base_url=base_url or AsyncWebClient.BASE_URL, timeout=int(max(timeout_s, 1))
    )


def build_app(
    token: str,
    signing_secret: str | None,
    base_url: str | None,
    timeout_s: float,
    client: AsyncWebClient | None = None,
) -> AsyncApp:
    client = client or web_client(token, base_url, timeout_s)
    return AsyncApp(  # the token comes with the client (Bolt warns when given both)
        client=client,
        signing_secret=signing_secret,
        # Socket Mode has no signatures; HTTP mode always has a secret (checked in settings).
        request_verification_enabled=signing_secret is not None,
    )


async def handle_http(channel: SlackChannel, request: Request) -> Response:
    """An HTTP request from Slack (events, interactivity, slash command) through Bolt, which
    checks the signature before any listener runs. Bolt parses the body as it builds its
    request, so a body that is not JSON or form data is refused here, before anything else."""
    try:
        response = await AsyncSlackRequestHandler(channel.app).handle(request)
    except ValueError:  # json.JSONDecodeError and friends
        log.info("slack request with a malformed body refused")
        return JSONResponse({"ok": False, "error": "malformed body"}, status_code=400)
    if response.status_code == 401:  # Bolt's answer to a failed signature check
        log.info("webhook refused channel=%s status=401 reason=%s", CHANNEL, _why_refused(request))
    return response


def _why_refused(request: Request) -> str:
    """Why a request's signature failed, from its headers alone (never the body)."""
    stamp = request.headers.get("X-Slack-Request-Timestamp", "")
    if not request.headers.get("X-Slack-Signature") or not stamp:
        return "unsigned"
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > SIGNATURE_MAX_AGE_S:
        return "stale timestamp"
    return "bad signature"
