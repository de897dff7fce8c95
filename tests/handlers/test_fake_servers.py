"""The platform fakes and payload builders, checked against the real python-telegram-bot,
slack_sdk and slack-bolt: if these pass, adapter tests built on them talk to faithful fakes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from tests.handlers.fake_slack import FakeSlack
from tests.handlers.fake_telegram import FakeTelegram
from tests.handlers.faults import Fault
from tests.handlers.payloads import (
    slack_block_action_body,
    slack_command_body,
    slack_dm_event,
    slack_event_body,
    slack_mention_event,
    slack_signed_headers,
    tg_callback_update,
    tg_edited_update,
    tg_other_update,
    tg_text_update,
)

SECRET = "signing-secret"
KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="helpful")]])


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token="123:TEST", username="hotline_test_bot") as fake:
        yield fake


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url) as b:
        yield b


@pytest.fixture
async def sl() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(bot_token="xoxb-test", bot_user_id="UBOT", team_id="T1") as fake:
        yield fake


@pytest.fixture
def client(sl: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(sl.bot_token, base_url=sl.base_url)


# Telegram


async def test_ptb_sends_through_the_fake(tg: FakeTelegram, bot: Bot) -> None:
    assert [c.method for c in tg.calls] == ["getMe"]  # `async with bot` initialises
    assert bot.username == "hotline_test_bot"

    first = await bot.send_message(42, "hi", reply_markup=KEYBOARD)
    second = await bot.send_message(42, "again")
    group = await bot.send_message(-100, "all")

    assert (first.message_id, second.message_id, group.message_id) == (1, 2, 1)
    assert (first.chat.type, group.chat.type) == ("private", "supergroup")
    assert first.reply_markup == KEYBOARD and first.from_user and first.from_user.is_bot
    assert tg.sent_to(42)[0] == {
        "chat_id": 42,
        "text": "hi",
        "reply_markup": {"inline_keyboard": [[{"text": "Yes", "callback_data": "helpful"}]]},
    }
    assert tg.sent_to("42") == tg.sent_to(42) and len(tg.sent_to(-100)) == 1
    assert tg.accepted == 3 and tg.sends_per_chat() == {42: 2, -100: 1}
    assert tg.max_rate(window_s=60) == 3


async def test_wrong_token_and_unknown_method(tg: FakeTelegram) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("999:WRONG", base_url=tg.base_url):
            pass
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{tg.base_url}999:WRONG/getMe") as r:
            assert (r.status, await r.json()) == (
                401,
                {"ok": False, "error_code": 401, "description": "Unauthorized"},
            )
        async with http.post(f"{tg.base_url}{tg.token}/noSuchMethod", json={"a": 1}) as r:
            assert (r.status, await r.json()) == (
                404,
                {"ok": False, "error_code": 404, "description": "Not Found"},
            )
    assert [c.outcome for c in tg.calls] == ["401", "401", "404"]
    assert tg.calls[-1].params == {"a": 1}


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault.forbidden(), Forbidden),
        (Fault.server_error(), NetworkError),
        (Fault.disconnect(), NetworkError),
        (Fault.error("Bad Request: chat not found"), BadRequest),
    ],
)
async def test_faults_become_ptb_errors(
    tg: FakeTelegram, bot: Bot, fault: Fault, error: type[Exception]
) -> None:
    tg.fail("sendMessage", fault)
    with pytest.raises(error) as raised:
        await bot.send_message(42, "hi")
    assert not isinstance(raised.value, TimedOut)
    await bot.send_message(42, "hi")  # the fault was used up
    assert [c.outcome for c in tg.calls_to("sendMessage")][1] == "ok"
    assert len(tg.calls_to("sendMessage")) == 2 and len(tg.sent_to(42)) == 1


async def test_bad_request_is_a_network_error_in_ptb(tg: FakeTelegram, bot: Bot) -> None:
    # Surprising, and it matters to adapters: retrying every NetworkError retries BadRequest.
    tg.fail("sendMessage", Fault.error("Bad Request: chat not found"))
    with pytest.raises(NetworkError) as raised:
        await bot.send_message(42, "hi")
    assert isinstance(raised.value, BadRequest)
    assert raised.value.message == "Chat not found"  # PTB drops "Bad Request: "


async def test_429_raises_retry_after(
    tg: FakeTelegram, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    tg.fail("sendMessage", Fault.too_many(retry_after=3))
    with pytest.raises(RetryAfter) as raised:
        await bot.send_message(42, "hi")
    assert raised.value.retry_after == timedelta(seconds=3)
    assert tg.calls[-1].outcome == "429" and tg.sent_to(42) == []


async def test_retry_after_warns_without_ptb_timedelta(
    tg: FakeTelegram, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PTB 22.2+ reads its deprecated int `retry_after` while building RetryAfter, so under
    # `filterwarnings = error` a 429 surfaces as PTBDeprecationWarning unless PTB_TIMEDELTA=1.
    monkeypatch.delenv("PTB_TIMEDELTA", raising=False)
    tg.fail("sendMessage", Fault.too_many(retry_after=1))
    with pytest.warns(PTBDeprecationWarning), pytest.raises(RetryAfter):
        await bot.send_message(42, "hi")


async def test_a_hang_times_out_but_the_message_still_lands(tg: FakeTelegram) -> None:
    tg.fail("sendMessage", Fault.hang(seconds=1))
    async with Bot(tg.token, base_url=tg.base_url, request=HTTPXRequest(read_timeout=0.3)) as b:
        with pytest.raises(TimedOut):
            await b.send_message(42, "hi")
    assert tg.calls[-1].outcome == "hang"
    await tg.wait_for_messages(42, 1, timeout=2)  # as on Telegram: retrying would duplicate it
    assert tg.calls[-1].outcome == "ok"


async def test_faults_for_one_chat_and_blocked_chats(tg: FakeTelegram, bot: Bot) -> None:
    tg.fail_for_chat(7, Fault.server_error())
    tg.block(8)
    tg.fail("sendMessage", Fault.forbidden(), Fault.server_error())
    with pytest.raises(NetworkError):
        await bot.send_message(7, "a")  # the chat's own queue comes first
    with pytest.raises(Forbidden, match="blocked by the user"):
        await bot.send_message(8, "b")  # blocked: the method's queue is untouched
    with pytest.raises(Forbidden):
        await bot.send_message(9, "c")
    with pytest.raises(NetworkError):
        await bot.send_message(7, "d")
    await bot.send_message(7, "e")
    with pytest.raises(Forbidden):
        await bot.send_message(8, "f")
    assert [p["text"] for p in tg.sent_to(7)] == ["e"] and tg.blocked == {8}


async def test_random_faults_are_seeded_and_403_sticks(tg: FakeTelegram) -> None:
    tg.random_faults(rate_429=0.1, rate_403=0.05, seed=3)
    answers: dict[int, list[int]] = {}
    async with aiohttp.ClientSession() as http:
        for _ in range(4):
            for chat in range(1, 51):
                url = f"{tg.base_url}{tg.token}/sendMessage"
                async with http.post(url, data={"chat_id": str(chat), "text": "x"}) as r:
                    answers.setdefault(chat, []).append(r.status)
                    if r.status == 429:
                        body = await r.json()
                        assert body["parameters"] == {"retry_after": 1}
                        assert body["description"] == "Too Many Requests: retry after 1"
    assert tg.blocked and any(429 in a for a in answers.values())
    for blocked in tg.blocked:
        assert isinstance(blocked, int)
        first = answers[blocked].index(403)
        assert answers[blocked][first:] == [403] * (4 - first)
    assert (
        sum(tg.sends_per_chat().values())
        == tg.accepted
        == sum(a.count(200) for a in answers.values())
    )
    assert 1 <= tg.max_rate(window_s=1.0) <= tg.accepted


async def test_edits_commands_webhook_and_more(tg: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(42, "Did that help?", reply_markup=KEYBOARD)
    edited = await bot.edit_message_text("Thanks!", chat_id=42, message_id=sent.message_id)
    assert not isinstance(edited, bool) and edited.text == "Thanks!" and edited.reply_markup is None
    with pytest.raises(BadRequest, match="not modified"):
        await bot.edit_message_text("Thanks!", chat_id=42, message_id=sent.message_id)
    await bot.edit_message_reply_markup(chat_id=42, message_id=77, reply_markup=KEYBOARD)
    assert tg.message(42, 77) is not None  # a message the fake never sent
    assert (tg.message(42, 1) or {})["text"] == "Thanks!"
    assert await bot.answer_callback_query("4000000000001", text="Noted")
    assert await bot.delete_message(42, sent.message_id)

    await bot.set_my_commands([("help", "What I can do"), ("human", "Ask a person")])
    assert [c.command for c in await bot.get_my_commands()] == ["help", "human"]
    for refused in (("Help", "Upper case"), ("x" * 33, "Too long a name"), ("ok", "d" * 257)):
        with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
            await bot.set_my_commands([("ok", "Fine"), refused])
    assert [c.command for c in await bot.get_my_commands()] == ["help", "human"]  # kept

    await bot.set_webhook("https://bot.example.org/telegram", secret_token="s3cret")
    assert tg.webhook["secret_token"] == "s3cret"
    assert (await bot.get_webhook_info()).url == "https://bot.example.org/telegram"
    with pytest.raises(Conflict):
        await bot.get_updates()
    await bot.delete_webhook()
    assert tg.webhook == {} and await bot.get_updates() == ()


async def test_get_updates_long_polls_and_honours_offset(tg: FakeTelegram, bot: Bot) -> None:
    asyncio.get_running_loop().call_later(0.1, tg.push_update, tg_text_update(5, 42, "hello"))
    first = await bot.get_updates(timeout=1)
    assert [u.update_id for u in first] == [5] and first[0].message
    assert first[0].message.text == "hello"
    tg.push_update(tg_text_update(6, 42, "more"))
    assert [u.update_id for u in await bot.get_updates(timeout=0)] == [5, 6]  # not confirmed
    assert [u.update_id for u in await bot.get_updates(offset=6, timeout=0)] == [6]
    assert await bot.get_updates(offset=7, timeout=0) == ()


async def test_an_application_polls_and_handles_every_kind_of_update(tg: FakeTelegram) -> None:
    seen: list[str] = []

    async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        seen.append("command")
        await context.bot.send_message(update.effective_chat.id, "welcome")

    async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        seen.append(f"text:{update.effective_message.text}")

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.callback_query is not None
        seen.append(f"button:{update.callback_query.data}")
        await update.callback_query.answer()

    app = Application.builder().token(tg.token).base_url(tg.base_url).build()
    app.add_handler(CommandHandler("start", on_start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text))
    app.add_handler(CallbackQueryHandler(on_button))
    async with app:
        assert app.updater is not None
        await app.updater.start_polling(timeout=timedelta(seconds=1))
        await app.start()
        tg.push_update(tg_text_update(1, 42, "/start"))
        tg.push_update(tg_other_update(2))  # no handler: ignored
        tg.push_update(tg_text_update(3, 42, "When is the deadline?"))
        tg.push_update(tg_callback_update(4, 42, "helpful", message_id=1))
        await tg.wait_for_messages(42, 1)
        await tg.wait_for(lambda: len(seen) == 3 and bool(tg.calls_to("answerCallbackQuery")))
        await app.updater.stop()
        await app.stop()
    assert seen == ["command", "text:When is the deadline?", "button:helpful"]
    assert tg.calls_to("deleteWebhook") and tg.calls_to("getUpdates")


async def test_telegram_builders_parse_as_ptb_objects(bot: Bot) -> None:
    command = Update.de_json(tg_text_update(1, 42, "/human call me back please"), bot)
    assert command.message and command.message.text == "/human call me back please"
    assert CommandHandler("human", on_nothing).check_update(command)
    assert filters.COMMAND.check_update(command)
    assert not filters.COMMAND.check_update(Update.de_json(tg_text_update(2, 42, "hi"), bot))

    group = Update.de_json(tg_text_update(3, 42, "hi", chat_id=-1001), bot)
    assert group.effective_chat and group.effective_chat.type == "supergroup"
    assert group.effective_user and group.effective_user.id == 42

    press = Update.de_json(tg_callback_update(4, 42, "ack:HL-7", message_id=9), bot)
    query = press.callback_query
    assert query and query.data == "ack:HL-7" and query.from_user.first_name == "Amara"
    assert isinstance(query.message, Message) and query.message.message_id == 9
    assert query.message.chat.id == 42 and query.message.from_user == bot.bot
    assert isinstance(query.message.reply_markup, InlineKeyboardMarkup)

    edited = Update.de_json(tg_edited_update(5, 42, "fixed typo", message_id=3), bot)
    assert edited.edited_message and edited.edited_message.edit_date
    member = Update.de_json(tg_other_update(6), bot)
    assert member.my_chat_member and member.my_chat_member.new_chat_member.status == "kicked"
    poll = Update.de_json(tg_other_update(7, kind="poll"), bot)
    assert poll.poll and poll.effective_message is None


async def on_nothing(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    return None


# Slack


async def test_slack_client_calls(sl: FakeSlack, client: AsyncWebClient) -> None:
    auth = await client.auth_test()
    assert (auth["user_id"], auth["team_id"], auth["bot_id"]) == ("UBOT", "T1", "BBOT")

    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Hello*"}}]
    first = await client.chat_postMessage(channel="C1", text="Hello", blocks=blocks)
    second = await client.chat_postMessage(channel="C1", text="Again")
    assert first["message"]["blocks"] == blocks and first["channel"] == "C1"
    assert float(first["ts"]) < float(second["ts"]) and first["ts"] == "1700000000.000100"
    assert sl.posted_to("C1")[0]["blocks"] == blocks and sl.accepted == 2

    sl.add_user("U1", email="amara@stmarys.example.org", name="Amara Okafor")
    profile = (await client.users_info(user="U1"))["user"]["profile"]
    assert (profile["email"], profile["real_name"], profile["display_name"]) == (
        "amara@stmarys.example.org",
        "Amara Okafor",
        "Amara",
    )
    with pytest.raises(SlackApiError) as missing:
        await client.users_info(user="U404")
    assert missing.value.response["error"] == "user_not_found"

    dm = await client.conversations_open(users="U1")
    assert dm["channel"]["id"] == "DU1"
    to_user = await client.chat_postMessage(channel="U1", text="Psst")
    assert to_user["channel"] == "DU1" and sl.posted_to("DU1") == sl.posted_to("U1")

    updated = await client.chat_update(channel="C1", ts=first["ts"], text="Edited", blocks=[])
    assert updated["ts"] == first["ts"] and sl.message("C1", first["ts"])
    assert (await client.chat_postEphemeral(channel="C1", user="U1", text="psst"))["message_ts"]
    view = {"type": "home", "blocks": blocks}
    assert (await client.views_publish(user_id="U1", view=view))["view"]["type"] == "home"
    with pytest.raises(SlackApiError) as unknown:
        await client.api_call("no.such.method")
    assert unknown.value.response["error"] == "unknown_method"
    await sl.wait_for_messages("C1", 2)


async def test_slack_wrong_token(sl: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as raised:
        await AsyncWebClient("xoxb-wrong", base_url=sl.base_url).auth_test()
    assert raised.value.response["error"] == "invalid_auth"


async def test_slack_faults(sl: FakeSlack, client: AsyncWebClient) -> None:
    sl.fail(
        "chat.postMessage",
        Fault.too_many(retry_after=2),
        Fault.error("channel_not_found"),
        Fault.server_error(),
    )
    with pytest.raises(SlackApiError) as limited:
        await client.chat_postMessage(channel="C1", text="x")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["retry-after"] == "2"  # case-insensitive, text
    assert limited.value.response["error"] == "ratelimited"
    with pytest.raises(SlackApiError) as not_found:
        await client.chat_postMessage(channel="C1", text="x")
    assert not_found.value.response.status_code == 200
    assert not_found.value.response["error"] == "channel_not_found"
    with pytest.raises(SlackApiError) as broken:
        await client.chat_postMessage(channel="C1", text="x")
    assert broken.value.response.status_code == 500
    assert sl.posted_to("C1") == []

    sl.block("C9")
    sl.fail_for_channel("U5", Fault.too_many())
    with pytest.raises(SlackApiError, match="channel_not_found"):
        await client.chat_postMessage(channel="C9", text="x")
    with pytest.raises(SlackApiError, match="ratelimited"):
        await client.chat_postMessage(channel="DU5", text="x")  # U5's DM is the same chat
    await client.chat_postMessage(channel="U5", text="x")
    assert sl.blocked == {"C9"} and len(sl.posted_to("DU5")) == 1


async def test_slack_sdk_retries_a_dropped_connection_once(
    sl: FakeSlack, client: AsyncWebClient
) -> None:
    # The retry waits 0.5 s plus up to 1 s of jitter; a single drop would go unnoticed.
    sl.fail("chat.postMessage", Fault.disconnect(), Fault.disconnect())
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await client.chat_postMessage(channel="C1", text="y")
    assert [c.outcome for c in sl.calls] == ["disconnect", "disconnect"]


async def test_response_urls_are_recorded(sl: FakeSlack) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(sl.response_url("r1"), json={"text": "done"}) as r,
    ):
        assert (r.status, await r.text()) == (200, "ok")
    assert sl.responses["r1"] == [{"text": "done"}] and sl.responses["other"] == []


def bolt_request(body: bytes, secret: str = SECRET) -> AsyncBoltRequest:
    headers: dict[str, str | Sequence[str]] = dict(slack_signed_headers(secret, body))
    return AsyncBoltRequest(body=body.decode(), headers=headers)


def bolt_app(client: AsyncWebClient) -> AsyncApp:
    # process_before_response: the listener has run when async_dispatch returns.
    return AsyncApp(signing_secret=SECRET, client=client, process_before_response=True)


async def test_bolt_routes_signed_events(sl: FakeSlack, client: AsyncWebClient) -> None:
    app = bolt_app(client)
    seen: list[dict[str, Any]] = []

    @app.event("message")
    async def on_message(event: dict[str, Any], context: dict[str, Any]) -> None:
        seen.append(event)
        await client.chat_postMessage(channel=event["channel"], text="got it")
        assert (context["user_id"], context["channel_id"], context["team_id"]) == (
            "U1",
            "DU1",
            "T1",
        )

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any]) -> None:
        seen.append(event)

    body = slack_event_body(slack_dm_event("U1", "When is the deadline?"))
    assert (await app.async_dispatch(bolt_request(body))).status == 200
    assert seen[0]["text"] == "When is the deadline?" and seen[0]["channel_type"] == "im"
    assert sl.posted_to("DU1")[0]["text"] == "got it" and sl.calls_to("auth.test")

    mention = slack_event_body(slack_mention_event("U1", "oncall?", channel="C7"), event_id="Ev2")
    assert (await app.async_dispatch(bolt_request(mention))).status == 200
    assert seen[1]["text"] == "<@UBOT> oncall?"

    forged = await app.async_dispatch(bolt_request(body, secret="not-the-secret"))
    assert forged.status == 401 and len(seen) == 2


async def test_bolt_routes_block_actions_and_commands(
    sl: FakeSlack, client: AsyncWebClient
) -> None:
    app = bolt_app(client)

    @app.action("ack")
    async def on_ack(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        assert body["container"]["message_ts"] == "1700000000.000100"
        assert body["message"]["blocks"][1]["elements"][0]["action_id"] == "ack"
        await respond(text=f"Acknowledged {body['actions'][0]['value']}")

    @app.command("/hotline")
    async def on_command(ack: AsyncAck, command: dict[str, Any]) -> None:
        await ack(text=f"{command['user_id']} asked for {command['text']}")

    press = slack_block_action_body(
        "U2",
        "ack",
        "HL-7",
        "C1",
        "1700000000.000100",
        "Emergency HL-7",
        sl.response_url("press"),
    )
    answer = await app.async_dispatch(bolt_request(press))
    assert answer.status == 200 and sl.responses["press"] == [{"text": "Acknowledged HL-7"}]

    command = slack_command_body("U2", "/hotline", "oncall", response_url=sl.response_url("cmd"))
    answer = await app.async_dispatch(bolt_request(command))
    assert (answer.status, answer.body) == (200, "U2 asked for oncall")  # ack(text) is plain
