"""A member's reply to a message about their request (Telegram's Reply, a Slack thread) joins that
request; the same words typed afresh are not guessed into it. Real SDK stacks, fake APIs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.core import texts
from bot.store.models import HotlineRequest, OutboundMessage
from bot.store.timeline import events_of
from tests.factories import make_person
from tests.handlers.conftest import Stack
from tests.handlers.payloads import slack_dm_event, slack_event_body, tg_text_update

MEMBER = 1001
NEWS = "/emergency a reporter from the local paper is at the gate"


async def the_request(s: Stack) -> HotlineRequest:
    async with s.db.session() as session:
        return (await session.scalars(select(HotlineRequest))).one()


async def follow_ups(s: Stack, request: HotlineRequest) -> list[str]:
    async with s.db.session() as session:
        events = await events_of(session, request.id)
    return [e.detail for e in events if e.kind == "member_message"]


def telegram_reply(update_id: int, text: str, earlier: dict[str, Any], earlier_id: int) -> Any:
    update = tg_text_update(update_id, MEMBER, text)
    update["message"]["reply_to_message"] = {
        "message_id": earlier_id,
        "date": update["message"]["date"],
        "chat": update["message"]["chat"],
        "from": {"id": 42, "is_bot": True, "first_name": "Hotline"},
        "text": earlier["text"],
    }
    return update


async def test_telegram_reply_to_the_logged_message_joins_the_request(s: Stack) -> None:
    await s.telegram(tg_text_update(1, MEMBER, NEWS))
    (logged,) = s.tg.sent_to(MEMBER)
    request = await the_request(s)

    await s.telegram(tg_text_update(2, MEMBER, "he has gone round to the back gate"))
    asked = s.tg.sent_to(MEMBER)[-1]
    assert asked["text"].startswith("Add this to")
    assert await follow_ups(s, request) == []

    await s.telegram(telegram_reply(3, "he has gone round to the back gate", logged, 1))
    joined = s.tg.sent_to(MEMBER)[-1]
    assert joined["text"].startswith(f"I've added this to your request {request.reference}")
    assert await follow_ups(s, request) == ["he has gone round to the back gate"]


async def test_slack_reply_in_the_requests_thread_or_a_staff_replys_joins_it(s: Stack) -> None:
    member = await make_person(s.db, name="Nia Newcomer", channel="slack", external_id="UMEM")
    s.sl.add_user("UMEM", email=member.email, name="Nia")
    opened = slack_dm_event("UMEM", NEWS, ts="1700000000.000100")
    await s.slack(slack_event_body(opened, event_id="Ev1"))
    await s.sl.wait_for_messages("DUMEM", 1)
    request = await the_request(s)
    assert request.thread_ref == "DUMEM/1700000000.000100"

    in_thread = slack_dm_event("UMEM", "he has gone round to the back gate", ts="1700000001.0001")
    in_thread["thread_ts"] = "1700000000.000100"
    await s.slack(slack_event_body(in_thread, event_id="Ev2"))
    await s.sl.wait_for_messages("DUMEM", 2)
    assert await follow_ups(s, request) == ["he has gone round to the back gate"]

    await s.telegram(tg_text_update(9, 2001, f"/reply {request.reference} On my way, 10 minutes"))
    await s.deliver()
    staff_reply = next(m for m in s.sl.posted_to("DUMEM") if "On my way" in str(m.get("text", "")))
    assert staff_reply.get("thread_ts") is None  # a new message in the DM
    async with s.db.session() as session:
        sent_ref = await session.scalar(
            select(OutboundMessage.sent_ref).where(OutboundMessage.dedupe_key.like("reply:%"))
        )
    assert sent_ref is not None and sent_ref.startswith("DUMEM/")
    thanks = slack_dm_event("UMEM", "thank you", ts="1700000002.0001")
    thanks["thread_ts"] = sent_ref.split("/", 1)[1]
    await s.slack(slack_event_body(thanks, event_id="Ev3"))
    await s.sl.wait_for_messages("DUMEM", 4)
    assert await follow_ups(s, request) == ["he has gone round to the back gate", "thank you"]
    assert texts.SOMETHING_NEW not in str(s.sl.posted_to("DUMEM")[-1])
