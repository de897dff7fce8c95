"""Slack end to end: signed requests into the web app, the real slack-bolt stack, replies
reaching the fake Web API."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.conversation.chat_command import Audience
from bot.conversation.commands import COMMANDS, menu
from bot.handlers.slack import ANSWERED_IN_DM, CHANNEL, usage_hint
from bot.store.models import HotlineRequest, Identity, OutboundMessage, OutboxStatus, QuestionLog
from tests.factories import make_person
from tests.handlers.conftest import STAFF_CHANNEL, Stack
from tests.handlers.faults import Fault
from tests.handlers.payloads import (
    NOWHERE,
    slack_block_action_body,
    slack_command_body,
    slack_dm_event,
    slack_event_body,
    slack_mention_event,
    tg_text_update,
)

HOSTILE = "<!channel> <b>help</b> & <https://evil.example|click> *now*"


def test_the_usage_hint_the_readme_gives_is_the_declared_members_commands() -> None:
    hint = usage_hint(menu(CHANNEL))
    declared = [c for c in COMMANDS if "slack" in c.menus and Audience.MEMBER in c.who]
    assert hint.split(" | ") == [c.usage.removeprefix("/") for c in declared]
    assert "link CODE" in hint.split(" | ") and "oncall" not in hint
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    found = re.search(r"usage hint\s+`([^`]+)`", readme)
    assert found is not None and found.group(1) == hint


def escaped(typed: str) -> str:
    """Text as Slack sends what a person typed."""
    return typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


async def queued_replies(s: Stack) -> list[OutboundMessage]:
    async with s.db.session() as session:
        found = await session.scalars(
            select(OutboundMessage).where(OutboundMessage.dedupe_key.like("reply:slack:%"))
        )
        return list(found)


def action_values(message: dict[str, Any]) -> list[str]:
    return [
        e["value"]
        for block in message.get("blocks") or []
        if block.get("type") == "actions"
        for e in block["elements"]
    ]


async def test_a_member_linked_by_their_slack_email_gets_an_answer_in_thread(s: Stack) -> None:
    newcomer = await make_person(s.db, name="Nia Newcomer", linked=False)
    s.sl.add_user("UNEW", email=newcomer.email.upper(), name="Nia")
    event = slack_dm_event("UNEW", "How do I book a place on a network?", ts="1700000000.000100")
    response = await s.slack(slack_event_body(event, event_id="EvA"))
    assert response.status_code == 200
    await s.sl.wait_for_messages("DUNEW", 1)
    (answer,) = s.sl.posted_to("DUNEW")
    assert answer["thread_ts"] == "1700000000.000100"
    assert [b["type"] for b in answer["blocks"]][-1] == "actions"
    async with s.db.session() as session:
        identity = await session.scalar(select(Identity).where(Identity.external_id == "UNEW"))
        assert identity is not None and identity.person_id == newcomer.id
        assert identity.chat_id == "UNEW"  # pings go to their DM, wherever they first wrote


async def test_bad_or_stale_signatures_are_refused_and_nothing_is_processed(s: Stack) -> None:
    body = slack_event_body(slack_dm_event("USTAFF", "/oncall"), event_id="EvB")
    assert (await s.slack(body, secret="not-the-secret")).status_code == 401
    stale = int(time.time()) - 10 * 60
    assert (await s.slack(body, timestamp=stale)).status_code == 401
    unsigned = await s.http.post("/slack/events", content=body)
    assert unsigned.status_code == 401
    assert s.sl.calls_to("chat.postMessage") == [] and await s.questions() == 0


async def test_a_redelivered_event_is_handled_once(s: Stack) -> None:
    body = slack_event_body(slack_dm_event("USTAFF", "/oncall"), event_id="EvC")
    assert (await s.slack(body)).status_code == 200
    await s.sl.wait_for_messages("DUSTAFF", 1)
    assert (await s.slack(body)).status_code == 200  # Slack's retry of the same event
    await s.sl.wait_for(lambda: len(s.sl.calls_to("chat.postMessage")) >= 1)
    # Give a (wrong) second answer every chance to arrive before counting.
    second = slack_event_body(slack_dm_event("USTAFF", "/help"), event_id="EvD")
    await s.slack(second)
    await s.sl.wait_for_messages("DUSTAFF", 2)
    assert len(s.sl.posted_to("DUSTAFF")) == 2


async def test_typed_markup_never_pings_a_channel_or_forges_formatting(s: Stack) -> None:
    member = await make_person(s.db, name="Mo Member", channel="slack", external_id="UMEM")
    assert member.id
    command = slack_command_body(
        "UMEM", text=f"emergency {escaped(HOSTILE)}", response_url=s.sl.response_url("em")
    )
    assert (await s.slack(command)).status_code == 200
    await s.sl.wait_for_messages("DUMEM", 1)
    assert "HL-" in s.sl.posted_to("DUMEM")[0]["text"]
    await s.deliver()
    (copy,) = s.sl.posted_to(STAFF_CHANNEL)
    rendered = json.dumps(copy["blocks"]) + copy["text"]
    assert "<!channel>" not in rendered and "&lt;!channel&gt;" in rendered
    assert "<https://evil" not in rendered and "&amp;" in rendered
    assert "&amp;amp;" not in rendered and "&amp;lt;" not in rendered  # escaped exactly once


async def test_a_mention_in_a_channel_is_answered_in_its_thread(s: Stack) -> None:
    event = slack_mention_event("USTAFF", "<@UBOT> who is on call?", channel="CGEN")
    await s.slack(slack_event_body(event, event_id="EvE"))
    await s.sl.wait_for_messages("CGEN", 1)
    (reply,) = s.sl.posted_to("CGEN")
    assert reply["thread_ts"] == event["ts"]


async def test_the_slash_command_answers_in_the_dm_and_says_so_elsewhere(s: Stack) -> None:
    body = slack_command_body("USTAFF", text="oncall", response_url=s.sl.response_url("oc"))
    response = await s.slack(body)
    assert response.status_code == 200 and response.text == ANSWERED_IN_DM
    await s.sl.wait_for_messages("DUSTAFF", 1)
    assert s.primary.name in s.sl.posted_to("DUSTAFF")[0]["text"]
    assert s.sl.responses["oc"] == []


async def test_an_emergency_by_slash_command_leaves_its_reference_in_the_dm(s: Stack) -> None:
    await make_person(s.db, name="Mo Member", channel="slack", external_id="UMEM")
    body = slack_command_body(
        "UMEM", text="emergency the boiler is leaking", channel="DUMEM", response_url=NOWHERE
    )
    response = await s.slack(body)
    assert response.status_code == 200 and response.text == ""  # typed in the DM: no note
    await s.sl.wait_for_messages("DUMEM", 1)
    (post,) = [c for c in s.sl.calls_to("chat.postMessage") if c.params["channel"] == "UMEM"]
    assert post.outcome == "ok" and re.search(r"HL-\d{4}-\d{4}", post.params["text"])
    assert re.search(r"HL-\d{4}-\d{4}", json.dumps(post.params["blocks"]))
    assert s.sl.posted_to("DUMEM")[0].get("thread_ts") is None
    assert s.sl.responses == {}


async def test_a_slash_command_reply_slack_refuses_for_now_is_queued(s: Stack) -> None:
    await make_person(s.db, name="Mo Member", channel="slack", external_id="UMEM")
    s.sl.fail_for_channel("UMEM", Fault.server_error())
    body = slack_command_body("UMEM", text="emergency the boiler is leaking", channel="DUMEM")
    assert (await s.slack(body)).status_code == 200
    await s.sl.wait_for(lambda: bool(s.sl.calls_to("chat.postMessage")))
    for _ in range(100):
        if await queued_replies(s):
            break
        await asyncio.sleep(0.05)
    (queued,) = await queued_replies(s)
    assert queued.chat_id == "UMEM" and queued.status is OutboxStatus.PENDING
    await s.deliver()
    assert any(re.search(r"HL-\d{4}-\d{4}", m["text"]) for m in s.sl.posted_to("DUMEM"))


async def test_acknowledge_button_updates_the_ping_in_place(s: Stack) -> None:
    member = await make_person(s.db, name="Mo Member", channel="slack", external_id="UMEM")
    assert member.id
    await s.slack(slack_event_body(slack_dm_event("UMEM", "/emergency flood"), event_id="EvF"))
    await s.sl.wait_for_messages("DUMEM", 1)
    await s.deliver()
    (ping,) = s.sl.messages_in(STAFF_CHANNEL)
    ack = next(v for v in action_values(ping) if v.startswith("ack:"))
    body = slack_block_action_body(
        "USTAFF",
        "hl:0",
        ack,
        STAFF_CHANNEL,
        ping["ts"],
        message_text=ping["text"],
        blocks=ping["blocks"],
        response_url=s.sl.response_url("ack"),
    )
    assert (await s.slack(body)).status_code == 200
    await s.sl.wait_for(lambda: bool(s.sl.calls_to("chat.update")))
    updated = s.sl.message(STAFF_CHANNEL, ping["ts"])
    assert updated is not None and action_values(updated) == []
    assert "Acknowledged by Fay Fallback" in json.dumps(updated["blocks"])
    async with s.db.session() as session:
        request = await session.scalar(select(HotlineRequest))
        assert request is not None and request.acknowledged_by_id == s.fallback.id


async def test_slack_429_waits_for_retry_after_and_a_deleted_channel_is_final(s: Stack) -> None:
    from bot.core.types import Reply
    from bot.delivery.outbox import enqueue

    async with s.db.session() as session:
        await enqueue(session, key="t1", channel="slack", chat_id="UA", reply=Reply("one"))
        await enqueue(session, key="t2", channel="slack", chat_id="CGONE", reply=Reply("two"))
    s.sl.fail_for_channel("UA", Fault.too_many(retry_after=5))
    s.sl.fail_for_channel("CGONE", Fault.error("channel_not_found"))
    await s.deliver()
    await s.later(2)
    assert s.sl.posted_to("UA") == []  # Retry-After: 5 not yet over
    await s.later(6)
    assert len(s.sl.posted_to("UA")) == 1
    async with s.db.session() as session:
        rows = {r.dedupe_key: r for r in await session.scalars(select(OutboundMessage))}
    assert rows["t1"].status is OutboxStatus.SENT
    assert rows["t2"].status is OutboxStatus.UNREACHABLE and rows["t2"].attempts == 1


async def test_hotline_link_with_an_invitation_code(s: Stack) -> None:
    from bot.directory import create_invite
    from bot.store.models import Person, utcnow

    newcomer = await make_person(s.db, name="Nia Newcomer", linked=False)
    async with s.db.session() as session:
        person = await session.get(Person, newcomer.id)
        assert person is not None
        code = await create_invite(session, person, utcnow())
    # No email on this Slack profile, so only the code can link the account.
    s.sl.add_user("UNOMAIL", email=None, name="Nia")
    body = slack_command_body("UNOMAIL", text=f"link {code}")
    assert (await s.slack(body)).status_code == 200
    await s.sl.wait_for_messages("DUNOMAIL", 1)
    assert "Thanks Nia" in s.sl.posted_to("DUNOMAIL")[0]["text"]
    async with s.db.session() as session:
        identity = await session.scalar(select(Identity).where(Identity.external_id == "UNOMAIL"))
        assert identity is not None and identity.person_id == newcomer.id


async def test_an_edited_dm_gets_asked_to_send_it_again(s: Stack) -> None:
    original = slack_dm_event("USTAFF", "/oncall", ts="1700000000.000300")
    edited = {
        "type": "message",
        "subtype": "message_changed",
        "channel": "DUSTAFF",
        "channel_type": "im",
        "ts": "1700000001.000100",
        "message": {**original, "text": "/open", "edited": {"user": "USTAFF"}},
        "previous_message": original,
    }
    assert (await s.slack(slack_event_body(edited, event_id="EvG"))).status_code == 200
    await s.sl.wait_for_messages("DUSTAFF", 1)
    (reply,) = s.sl.posted_to("DUSTAFF")
    assert "new message" in reply["text"]
    assert await s.questions() == 0


async def test_slack_500_is_retried_with_backoff(s: Stack) -> None:
    from bot.core.types import Reply
    from bot.delivery.outbox import enqueue

    async with s.db.session() as session:
        await enqueue(session, key="t5", channel="slack", chat_id="UB", reply=Reply("five"))
    s.sl.fail_for_channel("UB", Fault.server_error())
    await s.deliver()
    assert s.sl.posted_to("UB") == []
    await s.later(5)
    assert len(s.sl.posted_to("UB")) == 1


async def test_what_a_member_typed_reaches_the_matcher_decoded(s: Stack) -> None:
    s.sl.add_user("UMEM", email=None)
    await make_person(s.db, name="Mo Member", channel="slack", external_id="UMEM")
    event = slack_dm_event("UMEM", escaped("Where is the Q&A <tag> for governors?"))
    await s.slack(slack_event_body(event, event_id="EvQ"))
    await s.sl.wait_for_messages("DUMEM", 1)
    async with s.db.session() as session:
        asked = await session.scalar(select(QuestionLog.text))
    assert asked == "Where is the Q&A <tag> for governors?"


async def test_staff_see_typed_text_escaped_once_and_real_mentions_as_mentions(s: Stack) -> None:
    await make_person(s.db, name="Mo Member", channel="slack", external_id="UMEM")
    typed = (
        escaped("/emergency Q&A <tag> flooded, ")
        + "ask <@UHEAD123> <!here> "
        + escaped("<!channel>")
    )
    opened = slack_dm_event("UMEM", typed, ts="1700000000.000100")
    await s.slack(slack_event_body(opened, event_id="EvH"))
    await s.sl.wait_for_messages("DUMEM", 1)
    async with s.db.session() as session:
        request = await session.scalar(select(HotlineRequest))
    assert request is not None
    await s.deliver()
    (ping,) = s.sl.posted_to(STAFF_CHANNEL)
    shown = json.dumps(ping["blocks"]) + ping["text"]
    assert "Q&amp;A &lt;tag&gt; flooded, ask <@UHEAD123> @here &lt;!channel&gt;" in ping["text"]
    assert "<!here>" not in shown and "<!channel>" not in shown and "&amp;amp;" not in shown

    follow_up = escaped("Q&A <tag> is ") + "with <@UHEAD123|Head> " + escaped("<b>now</b>")
    in_thread = slack_dm_event("UMEM", follow_up, ts="1700000001.000100")
    in_thread["thread_ts"] = opened["ts"]  # a reply in the request's thread joins it
    await s.slack(slack_event_body(in_thread, event_id="EvI"))
    await s.sl.wait_for_messages("DUMEM", 2)
    await s.deliver()
    relayed = s.sl.posted_to(STAFF_CHANNEL)[-1]
    assert "Q&amp;A &lt;tag&gt; is with <@UHEAD123|Head> &lt;b&gt;now&lt;/b&gt;" in relayed["text"]
    assert "&amp;amp;" not in json.dumps(relayed["blocks"])


async def test_a_mention_keeps_the_people_it_names_but_not_the_app(s: Stack) -> None:
    event = slack_mention_event("USTAFF", "is <@UHEAD123> on call? Q&amp;A", channel="CGEN")
    await s.slack(slack_event_body(event, event_id="EvJ"))
    await s.sl.wait_for_messages("CGEN", 1)
    async with s.db.session() as session:
        asked = await session.scalar(select(QuestionLog.text))
    assert asked == "is <@UHEAD123> on call? Q&A"


async def test_refusals_redeliveries_and_retries_are_logged_without_message_text(
    s: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    await make_person(s.db, name="Mo Member", channel="slack", external_id="UMEM")
    secret = "periwinkle-gazebo"
    body = slack_event_body(slack_dm_event("UMEM", f"/emergency {secret}"), event_id="EvL")
    assert (await s.slack(body, secret="not-the-secret")).status_code == 401
    refused = await s.telegram(tg_text_update(9, 1001, secret), secret="wrong")
    assert refused.status_code == 403
    assert (await s.slack(body)).status_code == 200
    await s.sl.wait_for_messages("DUMEM", 1)
    assert (await s.slack(body)).status_code == 200  # Slack's retry of the same event
    s.sl.fail_for_channel(STAFF_CHANNEL, Fault.server_error())
    await s.deliver()
    for _ in range(100):
        if "redelivery dropped" in caplog.text:
            break
        await asyncio.sleep(0.05)
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("bot.")]
    assert any(
        "webhook refused channel=slack status=401 reason=bad signature" in m for m in ours
    ), ours
    assert any(
        "webhook refused channel=telegram status=403 reason=bad secret token" in m for m in ours
    )
    assert any("redelivery dropped channel=slack update=EvL" in m for m in ours), ours
    retried = r"send retried later message=\d+ channel=slack attempt=1 reason=slack 500.* delay="
    assert any(re.search(retried, m) for m in ours), ours
    assert secret not in caplog.text  # nor the body of the refused requests
