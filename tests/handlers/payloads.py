"""Incoming platform payloads, shaped as Telegram and Slack send them.

Telegram: update dicts for `FakeTelegram.push_update` or `telegram.Update.de_json`.

    tg_text_update(update_id, user_id, text, chat_id=None, first_name="Amara", message_id=None)
    tg_callback_update(update_id, user_id, data, message_id, chat_id=None, message_text=...)
    tg_edited_update(update_id, user_id, text, message_id, chat_id=None)
    tg_other_update(update_id, kind="my_chat_member" | "poll")

A chat id defaults to the user's (a private chat); a negative one is a supergroup. Text that
starts with "/" carries a `bot_command` entity, which is what PTB's CommandHandler and
filters.COMMAND look at. The bot is FakeTelegram's default (id 123, @hotline_test_bot).

Slack: bodies (bytes, exactly what Slack POSTs) and the headers that sign them, for
`slack_bolt.async_app.AsyncApp` via `AsyncBoltRequest(body=body.decode(), headers=headers)`.

    slack_signed_headers(signing_secret, body, timestamp=None)
    slack_event_body(event, event_id="Ev1", team_id="T1")   # event_callback envelope (JSON)
    slack_dm_event(user, text, channel=None, ts=None)        # message, channel_type im, D+user
    slack_mention_event(user, text, channel="C1", ts=None)   # app_mention, "<@UBOT> text"
    slack_block_action_body(user, action_id, value, channel, message_ts, message_text,
                            response_url)                    # form: payload=<json>
    slack_command_body(user, command="/hotline", text="oncall", channel="C1", response_url=...)

Bolt finds the team in `team_id` / `team.id` / `authorizations[0].team_id`, the user in
`user` / `user.id` / `user_id` / `event.user`, the channel in `channel` / `channel.id` /
`channel_id` / `event.channel` (slack_bolt/request/internals.py); these builders fill all the
places a real payload does. The default response_url points at a closed local port, so a test
that forgets `FakeSlack.response_url(name)` fails fast instead of reaching Slack.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any, Literal
from urllib.parse import urlencode

BOT_ID = 123  # FakeTelegram(token="123:TEST")
BOT_USERNAME = "hotline_test_bot"
SLACK_BOT_USER_ID = "UBOT"
SLACK_TEAM_ID = "T1"
SLACK_APP_ID = "A1"
NOWHERE = "http://127.0.0.1:9/response/unset"  # the discard port: connection refused at once

_serial = itertools.count(1)

# Telegram


def _tg_user(user_id: int, first_name: str) -> dict[str, Any]:
    return {
        "id": user_id,
        "is_bot": False,
        "first_name": first_name,
        "username": f"{first_name.lower()}{user_id}",
        "language_code": "en",
    }


def _tg_bot() -> dict[str, Any]:
    return {"id": BOT_ID, "is_bot": True, "first_name": "Hotline", "username": BOT_USERNAME}


def _tg_chat(chat_id: int, first_name: str) -> dict[str, Any]:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": first_name}
    return {"id": chat_id, "type": "supergroup", "title": "Hotline group"}


def _tg_message(
    message_id: int, user_id: int, chat_id: int | None, text: str, first_name: str
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": _tg_chat(user_id if chat_id is None else chat_id, first_name),
        "from": _tg_user(user_id, first_name),
        "text": text,
    }
    if text.startswith("/"):
        command = text.split(maxsplit=1)[0]
        # Telegram measures offsets and lengths in UTF-16 code units.
        length = len(command.encode("utf-16-le")) // 2
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
    return message


def tg_text_update(
    update_id: int,
    user_id: int,
    text: str,
    chat_id: int | None = None,
    first_name: str = "Amara",
    message_id: int | None = None,
) -> dict[str, Any]:
    message_id = update_id if message_id is None else message_id
    return {
        "update_id": update_id,
        "message": _tg_message(message_id, user_id, chat_id, text, first_name),
    }


def tg_edited_update(
    update_id: int,
    user_id: int,
    text: str,
    message_id: int,
    chat_id: int | None = None,
    first_name: str = "Amara",
) -> dict[str, Any]:
    message = _tg_message(message_id, user_id, chat_id, text, first_name)
    message["date"] -= 60
    message["edit_date"] = int(time.time())
    return {"update_id": update_id, "edited_message": message}


def tg_callback_update(
    update_id: int,
    user_id: int,
    data: str,
    message_id: int,
    chat_id: int | None = None,
    message_text: str = "Did that answer your question?",
    reply_markup: dict[str, Any] | None = None,
    first_name: str = "Amara",
) -> dict[str, Any]:
    """A button press on a message the bot sent; the keyboard defaults to the one button."""
    chat = user_id if chat_id is None else chat_id
    markup = reply_markup or {"inline_keyboard": [[{"text": data, "callback_data": data}]]}
    return {
        "update_id": update_id,
        "callback_query": {
            "id": str(4_000_000_000_000 + update_id),
            "from": _tg_user(user_id, first_name),
            "chat_instance": str(-7_000_000_000 - abs(chat)),
            "data": data,
            "message": {
                "message_id": message_id,
                "date": int(time.time()) - 30,
                "chat": _tg_chat(chat, first_name),
                "from": _tg_bot(),
                "text": message_text,
                "reply_markup": markup,
            },
        },
    }


def tg_other_update(
    update_id: int, kind: Literal["my_chat_member", "poll"] = "my_chat_member", user_id: int = 42
) -> dict[str, Any]:
    """An update PTB parses but a chat bot has no handler for."""
    if kind == "poll":
        return {
            "update_id": update_id,
            "poll": {
                "id": str(5_000_000_000 + update_id),
                "question": "Which day suits?",
                "options": [
                    {"persistent_id": "o1", "text": "Monday", "voter_count": 1},
                    {"persistent_id": "o2", "text": "Tuesday", "voter_count": 0},
                ],
                "total_voter_count": 1,
                "is_closed": False,
                "is_anonymous": True,
                "type": "regular",
                "allows_multiple_answers": False,
                # Required by PTB 22.8 (Bot API 9.6 / 10.0).
                "allows_revoting": False,
                "members_only": False,
            },
        }
    return {  # the member stopped (blocked) the bot
        "update_id": update_id,
        "my_chat_member": {
            "chat": _tg_chat(user_id, "Amara"),
            "from": _tg_user(user_id, "Amara"),
            "date": int(time.time()),
            "old_chat_member": {"user": _tg_bot(), "status": "member"},
            "new_chat_member": {"user": _tg_bot(), "status": "kicked", "until_date": 0},
        },
    }


# Slack


def _slack_ts() -> str:
    return f"{int(time.time())}.{next(_serial):06d}"


def slack_signed_headers(
    signing_secret: str, body: bytes, timestamp: int | None = None
) -> dict[str, str]:
    """Slack's v0 request signature, plus the content type the body implies."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + ts.encode() + b":" + body
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    json_body = body.lstrip().startswith(b"{")
    return {
        "Content-Type": "application/json" if json_body else "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
    }


def slack_event_body(
    event: dict[str, Any],
    event_id: str = "Ev1",
    team_id: str = SLACK_TEAM_ID,
    bot_user_id: str = SLACK_BOT_USER_ID,
) -> bytes:
    """The Events API envelope around `event`."""
    envelope = {
        "token": "verification-token-unused",
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": None,
        "api_app_id": SLACK_APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{event_id}",
    }
    return json.dumps(envelope).encode()


def slack_dm_event(
    user: str, text: str, channel: str | None = None, ts: str | None = None
) -> dict[str, Any]:
    """A direct message to the bot; the channel defaults to FakeSlack's DM id, "D" + user."""
    ts = ts or _slack_ts()
    return {
        "type": "message",
        "channel": channel or "D" + user,
        "user": user,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "channel_type": "im",
        "client_msg_id": f"00000000-0000-4000-8000-{next(_serial):012d}",
        "team": SLACK_TEAM_ID,
    }


def slack_mention_event(
    user: str,
    text: str,
    channel: str = "C1",
    ts: str | None = None,
    bot_user_id: str = SLACK_BOT_USER_ID,
) -> dict[str, Any]:
    ts = ts or _slack_ts()
    return {
        "type": "app_mention",
        "user": user,
        "text": f"<@{bot_user_id}> {text}",
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        "client_msg_id": f"00000000-0000-4000-8000-{next(_serial):012d}",
        "team": SLACK_TEAM_ID,
    }


def _channel_name(channel: str) -> str:
    return "directmessage" if channel.startswith("D") else "hotline"


def slack_block_action_body(
    user: str,
    action_id: str,
    value: str,
    channel: str,
    message_ts: str,
    message_text: str = "Did that answer your question?",
    response_url: str = NOWHERE,
    block_id: str = "actions",
    blocks: list[dict[str, Any]] | None = None,
    team_id: str = SLACK_TEAM_ID,
) -> bytes:
    """A button press (interactivity: form-encoded `payload=<json>`, type block_actions)."""
    button = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": value, "emoji": True},
        "value": value,
    }
    message_blocks = blocks or [
        {"type": "section", "block_id": "text", "text": {"type": "mrkdwn", "text": message_text}},
        {"type": "actions", "block_id": block_id, "elements": [button]},
    ]
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team_id},
        "api_app_id": SLACK_APP_ID,
        "token": "verification-token-unused",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "trigger_id": f"{next(_serial)}.{int(time.time())}.trigger",
        "team": {"id": team_id, "domain": "hotline-test"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": _channel_name(channel)},
        "message": {
            "type": "message",
            "user": SLACK_BOT_USER_ID,
            "bot_id": "B" + SLACK_BOT_USER_ID.removeprefix("U"),
            "ts": message_ts,
            "text": message_text,
            "team": team_id,
            "blocks": message_blocks,
        },
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [{**button, "block_id": block_id, "action_ts": _slack_ts()}],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def slack_command_body(
    user: str,
    command: str = "/hotline",
    text: str = "oncall",
    channel: str = "C1",
    response_url: str = NOWHERE,
    team_id: str = SLACK_TEAM_ID,
) -> bytes:
    """A slash command (form-encoded fields)."""
    fields = {
        "token": "verification-token-unused",
        "team_id": team_id,
        "team_domain": "hotline-test",
        "channel_id": channel,
        "channel_name": _channel_name(channel),
        "user_id": user,
        "user_name": user.lower(),
        "command": command,
        "text": text,
        "api_app_id": SLACK_APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": f"{next(_serial)}.{int(time.time())}.trigger",
    }
    return urlencode(fields).encode()
