"""Telegram end to end: webhook updates into the web app, the real python-telegram-bot stack,
replies reaching the fake Bot API."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import select

from bot.channels import connect, open_platforms
from bot.conversation.chat_command import Audience
from bot.conversation.commands import COMMANDS
from bot.core import texts
from bot.directory import create_invite
from bot.handlers.telegram import EDITED
from bot.handlers.telegram_render import to_html
from bot.knowledge import KnowledgeBase
from bot.store.models import (
    HotlineRequest,
    Identity,
    InviteCode,
    OutboundMessage,
    OutboxStatus,
    utcnow,
)
from tests.factories import make_person
from tests.handlers.conftest import STAFF_GROUP, Stack
from tests.handlers.faults import Fault
from tests.handlers.payloads import (
    tg_callback_update,
    tg_edited_update,
    tg_other_update,
    tg_text_update,
)

MEMBER, PRIMARY, BACKUP, STRANGER = 1001, 2001, 2002, 9999


def buttons(params: dict[str, Any]) -> list[str]:
    markup = params.get("reply_markup") or {"inline_keyboard": []}
    return [b["callback_data"] for row in markup["inline_keyboard"] for b in row]


def ping_of(s: Stack, chat: int) -> tuple[int, dict[str, Any]]:
    """The hotline ping sent to a chat, with its message id (the fake numbers each chat's
    messages from 1)."""
    (ping,) = [
        (n, m)
        for n, m in enumerate(s.tg.sent_to(chat), start=1)
        if any(b.startswith("ack:") for b in buttons(m))
    ]
    return ping


async def test_a_linked_member_asks_and_gets_the_answer_with_feedback_buttons(
    s: Stack, kb: KnowledgeBase
) -> None:
    entry = kb.entry("cpd-book")  # the knowledge base the stack answers from
    assert entry is not None
    response = await s.telegram(tg_text_update(1, MEMBER, entry.question))
    assert response.status_code == 200
    (answer,) = s.tg.sent_to(MEMBER)
    assert answer["parse_mode"] == "HTML"
    assert answer["text"] == to_html(f"{entry.answer}\n\n{texts.ANSWER_FOOTER}")
    assert [b.split(":")[0] for b in buttons(answer)] == ["fb", "fb"]
    assert await s.questions() == 1


async def test_an_emergency_pings_the_duty_officer_who_acknowledges_in_place(s: Stack) -> None:
    await s.telegram(tg_text_update(1, MEMBER, "/emergency Ofsted just rang for tomorrow"))
    (logged,) = s.tg.sent_to(MEMBER)
    assert "HL-" in logged["text"]
    await s.deliver()
    ping_id, ping = ping_of(s, PRIMARY)
    ack = next(b for b in buttons(ping) if b.startswith("ack:"))
    copy_id, _ = ping_of(s, STAFF_GROUP)  # the staff group gets a copy with buttons
    assert s.sl.posted_to("CSTAFF"), "the Slack staff channel gets a copy too"

    sent = s.tg.message(PRIMARY, ping_id)
    assert sent is not None
    await s.telegram(
        tg_callback_update(
            2,
            PRIMARY,
            ack,
            ping_id,
            message_text=sent["text"],
            reply_markup=sent.get("reply_markup"),
            first_name="Sam",
        )
    )
    assert s.tg.calls_to("answerCallbackQuery")
    edited = s.tg.message(PRIMARY, ping_id)
    assert edited is not None and "Acknowledged by Sam Adeyemi at" in edited["text"]
    assert not (edited.get("reply_markup") or {}).get("inline_keyboard")
    await s.deliver()
    assert any(
        "Sam Adeyemi" in m["text"] and "has your request" in m["text"] for m in s.tg.sent_to(MEMBER)
    )
    # The staff group's copy loses its buttons too, edited in place by the outbox.
    group_copy = s.tg.message(STAFF_GROUP, copy_id)
    assert group_copy is not None and "Acknowledged by Sam Adeyemi" in group_copy["text"]
    assert not (group_copy.get("reply_markup") or {}).get("inline_keyboard")


async def test_an_unlinked_user_is_turned_away_until_they_use_an_invitation(s: Stack) -> None:
    await s.telegram(tg_text_update(1, STRANGER, "When is the next heads' network?"))
    (turned_away,) = s.tg.sent_to(STRANGER)
    assert "invitation code" in turned_away["text"]
    assert await s.questions() == 0

    newcomer = await make_person(s.db, name="Nia Newcomer", linked=False)
    async with s.db.session() as session:
        person = await session.get(type(newcomer), newcomer.id)
        assert person is not None
        code = await create_invite(session, person, utcnow())
    async with s.db.session() as session:
        stored = (await session.scalars(select(InviteCode.code_hash))).all()
    assert code not in stored and all(len(h) == 64 for h in stored)  # only hashes are kept

    await s.telegram(tg_text_update(2, STRANGER, f"/start {code.lower()}"))
    assert "Thanks Nia" in s.tg.sent_to(STRANGER)[-1]["text"]
    async with s.db.session() as session:
        identity = await session.scalar(select(Identity).where(Identity.external_id == "9999"))
        assert identity is not None and identity.person_id == newcomer.id
        subscribed = await session.get(type(newcomer), newcomer.id)
        assert subscribed is not None and subscribed.digest_subscribed

    # Single use: someone else with the same code gets nowhere.
    await s.telegram(tg_text_update(3, 7777, f"/start {code}"))
    assert "didn't work" in s.tg.sent_to(7777)[-1]["text"]


async def test_the_webhook_secret_is_checked_before_anything_happens(s: Stack) -> None:
    update = tg_text_update(1, MEMBER, "How do I book a place on a network?")
    for secret in (None, "wrong", ""):
        response = await s.telegram(update, secret=secret)
        assert response.status_code == 403
    assert s.tg.sent_to(MEMBER) == [] and await s.questions() == 0
    assert (await s.telegram(update)).status_code == 200


async def test_a_redelivered_update_is_handled_once(s: Stack) -> None:
    update = tg_text_update(5, MEMBER, "/emergency flood in the hall")
    assert (await s.telegram(update)).status_code == 200
    assert (await s.telegram(update)).status_code == 200
    assert len(s.tg.sent_to(MEMBER)) == 1
    async with s.db.session() as session:
        assert len((await session.scalars(select(HotlineRequest))).all()) == 1


async def test_bad_input_gets_a_clear_answer_and_nothing_crashes(s: Stack) -> None:
    assert (await s.telegram(b"{not json")).status_code == 400
    assert (await s.telegram(b"[1, 2]")).status_code == 400
    assert (await s.telegram({"no": "update id"})).status_code == 400
    # Shaped like an update, but its message is not an object: python-telegram-bot cannot read it.
    for broken in ({"update_id": 5, "message": 3}, {"update_id": 6, "callback_query": "x"}):
        response = await s.telegram(broken)
        assert (response.status_code, response.json()["error"]) == (400, "not a Telegram update")
    assert (await s.telegram(tg_other_update(10))).status_code == 200
    assert (await s.telegram(tg_other_update(11, kind="poll"))).status_code == 200
    assert s.tg.calls_to("sendMessage") == []

    assert (
        await s.telegram(tg_edited_update(12, MEMBER, "edited", message_id=3))
    ).status_code == 200
    assert s.tg.sent_to(MEMBER)[-1]["text"] == EDITED

    # A button for a request that no longer exists.
    await s.telegram(tg_callback_update(13, PRIMARY, "ack:424242", message_id=77))
    assert s.tg.sent_to(PRIMARY)[-1]["text"] == texts.STALE_BUTTON

    big = json.dumps(tg_text_update(14, MEMBER, "x" * 5_000_000)).encode()
    assert (await s.telegram(big)).status_code == 413

    hostile = ("<b>bold</b> & <a href='http://x'>link</a> *mrkdwn* <!channel> " * 60)[:4000]
    assert (await s.telegram(tg_text_update(15, MEMBER, hostile))).status_code == 200
    reply = s.tg.sent_to(MEMBER)[-1]
    assert reply["parse_mode"] == "HTML" and "<b>bold" not in reply["text"]


async def test_long_answers_are_split_under_the_limit(s: Stack) -> None:
    from bot.core.types import Reply

    text = ("A paragraph of guidance with a [link](https://example.org/a). " * 40 + "\n\n") * 4
    result = await s.platforms.senders["telegram"].send(str(MEMBER), Reply(text))
    assert result.__class__.__name__ == "Sent"
    chunks = s.tg.sent_to(MEMBER)
    assert len(chunks) >= 3 and all(len(c["text"]) <= 4096 for c in chunks)
    assert all(c["text"].count("<a href") == c["text"].count("</a>") for c in chunks)


async def test_429_500_and_hangs_are_retried_and_nothing_is_lost(s: Stack) -> None:
    await s.telegram(tg_text_update(1, MEMBER, "/emergency serious incident on the playground"))
    s.tg.fail_for_chat(PRIMARY, Fault.too_many(retry_after=3), Fault.server_error(), Fault.hang(2))

    def attempts() -> int:
        return sum(1 for c in s.tg.calls_to("sendMessage") if c.params.get("chat_id") == PRIMARY)

    await s.deliver()
    assert attempts() == 1 and s.tg.sent_to(PRIMARY) == []  # 429, retry after 3 s
    await s.later(1)
    assert attempts() == 1  # retry_after is honoured
    await s.later(4)
    assert attempts() == 2  # 500: retried with backoff
    await s.later(30)
    assert attempts() == 3  # hang: the client times out and gives it back
    await s.later(120)
    assert attempts() == 4
    async with s.db.session() as session:
        rows = (
            await session.scalars(
                select(OutboundMessage).where(OutboundMessage.chat_id == str(PRIMARY))
            )
        ).all()
    assert [r.status for r in rows] == [OutboxStatus.SENT]
    # The hung send was accepted late by the fake (as a real server may): at least once.
    assert 1 <= len(s.tg.sent_to(PRIMARY)) <= 2


async def test_a_user_who_blocked_the_bot_is_skipped_and_escalation_moves_on(s: Stack) -> None:
    s.tg.block(PRIMARY)
    await s.telegram(tg_text_update(1, MEMBER, "/emergency flood in the kitchen"))
    await s.deliver()
    async with s.db.session() as session:
        identity = await session.scalar(
            select(Identity).where(Identity.external_id == str(PRIMARY))
        )
        assert identity is not None and identity.reachable is False
    from bot.escalation.sweeper import sweep

    await sweep(
        s.rt.db, s.rt.deps.escalation, lambda: utcnow() + s.rt.deps.escalation.ack_timeout * 1.1
    )
    await s.later(700)
    assert s.tg.sent_to(BACKUP), "the backup is pinged once the primary cannot be reached"


async def test_long_polling_answers_and_registers_the_commands(s: Stack) -> None:
    settings = s.platforms.settings
    async with open_platforms(settings, polling=True) as platforms:
        inbound = connect(platforms, s.rt.dispatcher, s.rt.db)
        assert inbound.telegram is not None
        async with inbound.telegram.polling():
            s.tg.push_update(tg_text_update(50, MEMBER, "/help"))
            await s.tg.wait_for_messages(MEMBER, 1)
    assert "/emergency" in s.tg.sent_to(MEMBER)[0]["text"]
    (commands,) = s.tg.calls_to("setMyCommands")
    names = {c["command"] for c in commands.params["commands"]}
    assert {
        "start",
        "help",
        "emergency",
        "human",
        "subscribe",
        "unsubscribe",
        "oncall",
        "ack",
    } <= names


async def test_the_command_menu_is_every_command_declared_for_telegram(s: Stack) -> None:
    assert s.rt.inbound.telegram is not None
    await s.rt.inbound.telegram.register_commands()
    (call,) = s.tg.calls_to("setMyCommands")
    assert call.outcome == "ok"  # the fake refuses names and descriptions Telegram would
    menu = [(c["command"], c["description"]) for c in call.params["commands"]]
    declared = [c for c in COMMANDS if "telegram" in c.menus]
    assert [name for name, _ in menu] == [c.name.removeprefix("/") for c in declared]
    for (name, description), command in zip(menu, declared, strict=True):
        if Audience.MEMBER in command.who:
            assert description == command.help[0].upper() + command.help[1:], name
        else:
            assert description == f"Staff: {command.help}", name
        assert re.fullmatch(r"[a-z0-9_]{1,32}", name) and 1 <= len(description) <= 256
    assert {"start", "help", "reply", "teach", "news", "event"} <= {name for name, _ in menu}
    assert "link" not in {name for name, _ in menu}  # Telegram's invitation links send /start
    assert s.tg.commands == call.params["commands"]


async def test_delivery_ids_are_forgotten_after_a_day(s: Stack) -> None:
    from datetime import timedelta

    from bot.privacy.policy import DEFAULTS
    from bot.privacy.retention import forget_processed_updates

    await s.telegram(tg_text_update(60, MEMBER, "/help"))
    async with s.db.session() as session:
        assert await forget_processed_updates(session, DEFAULTS, utcnow()) == 0
        later = utcnow() + timedelta(days=1, minutes=1)
        assert await forget_processed_updates(session, DEFAULTS, later) == 1
