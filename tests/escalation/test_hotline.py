"""Emergencies end to end through the dispatcher, the outbox and the sweeper, on both databases."""

import asyncio
import re

from sqlalchemy import func, select, text

from bot.core import texts
from bot.store.models import HotlineRequest, OutboundMessage, RequestKind, RequestStatus
from bot.store.timeline import events_of
from tests.escalation.conftest import TIMEOUT, Partnership
from tests.factories import make_person
from tests.fakes import RetryLater, Unreachable

REFERENCE = re.compile(r"HL-\d{4}-\d{4,}")


async def only_request(p: Partnership) -> HotlineRequest:
    async with p.db.session() as s:
        return (
            await s.scalars(
                select(HotlineRequest).where(HotlineRequest.kind == RequestKind.EMERGENCY)
            )
        ).one()


async def kinds(p: Partnership, request: HotlineRequest) -> list[str]:
    async with p.db.session() as s:
        return [e.kind for e in await events_of(s, request.id)]


async def test_emergency_is_committed_before_the_reference_is_shown_and_pings_the_primary(
    p: Partnership,
) -> None:
    reply = await p.say(
        p.member, "/emergency a child has disclosed abuse and is frightened to go home"
    )
    reference = REFERENCE.search(reply.text)
    assert reference is not None
    request = await only_request(p)
    assert request.reference == reference.group()
    assert (request.status, request.level, request.category) == (
        RequestStatus.OPEN,
        1,
        "safeguarding",
    )
    assert reply.text.startswith(texts.DANGER_FIRST)
    assert texts.GUIDANCE_HEADER in reply.text
    assert await p.deliver() >= 2
    ping = p.channel.to(p.primary.email)[0]
    assert request.reference in ping.text and "frightened to go home" in ping.text
    assert [b.action for b in ping.buttons] == [f"ack:{request.id}", f"res:{request.id}"]
    assert p.channel.to("#staff")  # the staff chat has a copy
    assert p.inbox(p.backup) == []


async def test_acknowledge_stops_escalation_and_tells_the_member_and_the_others(
    p: Partnership,
) -> None:
    await p.say(p.member, "/emergency ransomware note on every screen, servers encrypted")
    request = await only_request(p)
    p.clock.advance(minutes=11)
    await p.sweep()  # level 2: the backup is pinged too
    await p.deliver()
    ack = await p.say(p.backup, action=f"ack:{request.id}")
    assert ack.text == texts.YOU_ACKNOWLEDGED.format(reference=request.reference)
    status = p.last[0]
    assert status.edit and status.text.startswith("Acknowledged by Bea Backup at 10:11")
    await p.deliver()
    assert f"{p.backup.name} from the Partnership has your request" in p.inbox(p.member)[-1]
    # The primary's ping, already delivered, is edited in place: status line, no buttons.
    (primary_ping,) = p.inbox(p.primary)
    edits = [(chat, reply) for chat, _ref, reply in p.channel.edits]
    assert [chat for chat, _ in edits].count(p.primary.email) == 1
    edited = next(reply for chat, reply in edits if chat == p.primary.email)
    assert edited.text.startswith(primary_ping) and "Acknowledged by Bea Backup" in edited.text
    assert edited.buttons == ()
    # The staff chat's copies are edited too.
    assert any(chat == "#staff" for chat, _ in edits)
    p.clock.advance(hours=1)
    assert await p.sweep() == 0
    await p.deliver()
    assert p.inbox(p.fallback) == []
    second = await p.say(p.primary, f"/ack {request.reference}")
    assert second.text == texts.ALREADY_ACKNOWLEDGED.format(
        reference=request.reference, name="Bea Backup"
    )


async def test_unacknowledged_requests_climb_the_rota_and_repeat_the_last_level(
    p: Partnership,
) -> None:
    await p.say(p.member, "/emergency the press are at the gates asking about the incident")
    request = await only_request(p)
    await p.deliver()
    p.clock.advance(seconds=TIMEOUT.total_seconds() - 1)
    assert await p.sweep() == 0  # not due yet
    p.clock.advance(seconds=1)
    assert await p.sweep() == 1
    await p.deliver()
    assert len(p.channel.to(p.backup.email)) == 1
    p.clock.advance(minutes=10)
    await p.sweep()
    p.clock.advance(minutes=10)
    await p.sweep()
    await p.deliver()
    assert len(p.channel.to(p.fallback.email)) == 2  # level 3, then level 3 again
    assert (await only_request(p)).level == 3
    assert (await kinds(p, request)).count("level_pinged") == 4


async def test_a_level_with_nobody_reachable_is_skipped_at_once(p: Partnership) -> None:
    async with p.db.session() as s:
        await s.execute(
            text("UPDATE identities SET reachable = false WHERE person_id = :id"),
            {"id": p.primary.id},
        )
    await p.say(p.member, "/emergency burst pipe flooding the hall")
    request = await only_request(p)
    assert request.level == 2
    await p.deliver()
    assert len(p.channel.to(p.backup.email)) == 1
    assert "level_skipped" in await kinds(p, request)


async def test_out_of_hours_waits_for_opening_but_safeguarding_pings_the_fallback_now(
    p: Partnership,
) -> None:
    await p.office_hours_rota()
    p.clock.now = p.clock.now.replace(hour=21)  # Monday 21:00 London (UTC in November)
    held = await p.say(
        p.member, "/emergency a journalist keeps ringing about the head's suspension"
    )
    assert "Tuesday 24 November at 08:00" in held.text
    await p.deliver()
    assert p.inbox(p.primary) == [] and p.inbox(p.fallback) == []
    other = await make_person(p.db, name="Sam Second")
    urgent = await p.say(other, "/emergency a pupil has disclosed that she is being hurt at home")
    assert texts.DANGER_FIRST in urgent.text
    await p.deliver()
    assert len(p.inbox(p.fallback)) == 1
    p.clock.now = p.clock.now.replace(day=24, hour=8)
    await p.sweep()
    await p.deliver()
    assert any("journalist" in t for t in p.inbox(p.primary))


async def test_a_second_emergency_within_minutes_joins_the_first(p: Partnership) -> None:
    await p.say(p.member, "/emergency Ofsted just rang, inspection tomorrow")
    p.clock.advance(seconds=40)
    again = await p.say(p.member, "/emergency also the lead inspector wants the SCR first thing")
    request = await only_request(p)
    assert again.text == texts.EMERGENCY_ADDED.format(reference=request.reference)
    assert "message_added" in await kinds(p, request)


async def test_unknown_senders_and_members_cannot_use_staff_powers(p: Partnership) -> None:
    stranger = await make_person(p.db, linked=False)
    reply = await p.say(stranger, "/emergency fire in the kitchen")
    assert reply.text == texts.UNKNOWN_SENDER_EMERGENCY.format(phone="020 7946 0000")
    async with p.db.session() as s:
        assert await s.scalar(select(func.count()).select_from(HotlineRequest)) == 0
    for command in ("/open", "/oncall", "/ack HL-2026-0001", "/resolve HL-2026-0001 done"):
        assert (await p.say(p.member, command)).text == texts.STAFF_ONLY.format(
            command=command.split()[0]
        )
    assert (await p.say(p.member, action="ack:1")).text.startswith(
        "Sorry, Acknowledge is for Partnership staff"
    )


async def test_bad_references_get_a_clear_message(p: Partnership) -> None:
    for raw in ("HL-2026-9999", "hello", "HL-20x6-0001"):
        reply = await p.say(p.primary, f"/ack {raw}".strip())
        assert reply.text.startswith("I can't find a request")
    assert (await p.say(p.primary, action="ack:banana")).text == texts.STALE_BUTTON


async def test_two_staff_acknowledging_at_once_one_wins(p: Partnership) -> None:
    await p.say(p.member, "/emergency gas smell in the science block, evacuating")
    request = await only_request(p)
    first, second = await asyncio.gather(
        p.say(p.primary, action=f"ack:{request.id}"), p.say(p.backup, action=f"ack:{request.id}")
    )
    outcomes = sorted([first.text, second.text])
    assert (
        sum(t == texts.YOU_ACKNOWLEDGED.format(reference=request.reference) for t in outcomes) == 1
    )
    assert sum("was already acknowledged by" in t for t in outcomes) == 1
    assert (await kinds(p, request)).count("acknowledged") == 1
    await p.deliver()
    assert sum("has your request" in t for t in p.inbox(p.member)) == 1


async def test_a_failing_channel_is_retried_and_escalation_keeps_time(p: Partnership) -> None:
    p.channel.script = [
        RetryLater("HTTP 500"),
        RuntimeError("connection reset"),
        RetryLater("429", after_s=30),
    ]
    await p.say(p.member, "/emergency a year 9 boy has been stabbed outside the gates")
    request = await only_request(p)
    await p.deliver()  # the ping fails (500), the staff-chat copy fails (exception)
    assert p.inbox(p.primary) == []
    p.clock.advance(seconds=31)
    await p.deliver()  # the ping is told to wait 30 s (429); the copy goes
    assert p.inbox(p.primary) == []
    assert len(p.channel.to("#staff")) == 1
    p.clock.advance(seconds=29)
    await p.deliver()
    assert p.inbox(p.primary) == []  # retry_after honoured
    p.clock.advance(seconds=2)
    await p.deliver()
    assert len(p.inbox(p.primary)) == 1
    assert "send_failed" in await kinds(p, request)
    p.clock.advance(minutes=10)
    assert await p.sweep() == 1  # level 2 on time regardless
    await p.deliver()
    assert len(p.inbox(p.backup)) == 1


async def test_a_blocked_staff_account_is_not_retried_and_counts_as_unreachable(
    p: Partnership,
) -> None:
    p.channel.script = [Unreachable("403 blocked")]
    await p.say(p.member, "/emergency fire alarm and smoke in the kitchen")
    request = await only_request(p)
    await p.deliver()
    p.clock.advance(minutes=1)
    await p.deliver()
    async with p.db.session() as s:
        statuses = [
            m.status.value
            for m in await s.scalars(select(OutboundMessage).order_by(OutboundMessage.id))
        ]
    assert statuses[0] == "unreachable"
    assert "send_unreachable" in await kinds(p, request)


async def test_resolve_needs_a_note_and_tells_the_member(p: Partnership) -> None:
    await p.say(p.member, "/emergency parent posting our pupils' data on facebook")
    request = await only_request(p)
    assert (
        await p.say(p.primary, action=f"res:{request.id}")
    ).text == texts.RESOLVE_NEEDS_NOTE.format(reference=request.reference)
    assert (
        await p.say(p.primary, f"/note {request.reference} called the head, ICO advice given")
    ).text == texts.NOTE_ADDED.format(reference=request.reference)
    done = await p.say(p.primary, f"/resolve {request.reference} advice given, breach logged")
    assert done.text == texts.YOU_RESOLVED.format(reference=request.reference)
    await p.deliver()
    assert "has been closed by Pat Primary" in p.inbox(p.member)[-1]
    resolved = await only_request(p)
    assert (resolved.status, resolved.resolution_note) == (
        RequestStatus.RESOLVED,
        "advice given, breach logged",
    )
    p.clock.advance(hours=5)
    assert await p.sweep() == 0


async def test_acknowledged_but_unresolved_requests_remind_the_owner(p: Partnership) -> None:
    await p.say(p.member, "/emergency staff walkout this morning, no cover")
    request = await only_request(p)
    await p.say(p.primary, f"/ack {request.reference}")
    p.clock.advance(hours=4, minutes=1)
    assert await p.sweep() == 1
    await p.deliver()
    assert any(t.startswith("Reminder:") for t in p.inbox(p.primary))


async def test_an_urgent_message_asks_before_alerting(p: Partnership) -> None:
    reply = await p.say(
        p.member, "help, the lead inspector just phoned, they are coming in tomorrow"
    )
    assert reply.text == texts.SOUNDS_URGENT
    yes, no = reply.buttons
    assert no.label == texts.JUST_ANSWER
    answered = await p.say(p.member, action=no.action)
    assert "Was this helpful?" in answered.text
    logged = await p.say(p.member, action=yes.action)
    assert REFERENCE.search(logged.text)
    assert (await only_request(p)).category == "ofsted-notification"


async def test_a_database_failure_never_claims_the_request_was_logged(p: Partnership) -> None:
    async with p.db.engine.begin() as conn:
        await conn.execute(text("DROP TABLE request_events"))
    try:
        reply = await p.say(p.member, "/emergency flood in the hall")
        assert reply.text == texts.STORE_DOWN_EMERGENCY.format(phone="020 7946 0000")
        assert REFERENCE.search(reply.text) is None
    finally:
        if not p.db.is_sqlite:
            from tests.conftest import rebuild_postgres

            await p.db.dispose()
            await rebuild_postgres(p.db.url.render_as_string(hide_password=False))


async def test_with_a_support_request_and_an_emergency_open_follow_ups_join_the_emergency(
    p: Partnership,
) -> None:
    await p.say(p.member, "/human a question about our invoice")
    await p.say(p.member, "/emergency water pouring through the roof of the hall")
    request = await only_request(p)
    follow = await p.say(p.member, "the caretaker has turned the water off at the mains")
    assert request.reference is not None
    assert request.reference in follow.text
