"""The life of a hotline request: open, acknowledge, resolve, notes, replies and follow-ups.

Every change is made in the caller's transaction together with its timeline event and the
outbound messages it causes, so a crash never leaves a change without its notifications.
Concurrent changes to one request are caught by its version column (optimistic locking): the
loser's UPDATE matches no row and raises StaleDataError, which callers turn into "already done".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.core import texts
from bot.core.types import Button, Reply
from bot.delivery.outbox import enqueue
from bot.escalation.email_pings import cancel_ping_emails, member_by_email, pinged_so_far
from bot.escalation.policy import (
    EscalationConfig,
    Step,
    copy_to_staff_chat,
    escalate,
    notify_people,
)
from bot.escalation.requests import new_request
from bot.escalation.rota_store import current_rota
from bot.privacy.access import restricted, withheld
from bot.store.models import (
    HotlineRequest,
    OutboundMessage,
    OutboxStatus,
    Person,
    RequestEvent,
    RequestKind,
    RequestStatus,
    School,
    utcnow,
)
from bot.store.timeline import add_event

REFERENCE = re.compile(r"^HL-(\d{4})-(\d{4,})$", re.IGNORECASE)


@dataclass(frozen=True)
class Opened:
    request: HotlineRequest
    created: bool  # False when the message was added to a request opened moments ago
    step: Step | None = None


def parse_reference(raw: str) -> str | None:
    match = REFERENCE.match(raw.strip())
    return f"HL-{match[1]}-{match[2]}" if match else None


async def by_reference(session: AsyncSession, raw: str) -> HotlineRequest | None:
    reference = parse_reference(raw)
    if reference is None:
        return None
    return await session.scalar(
        select(HotlineRequest)
        .where(HotlineRequest.reference == reference)
        .options(
            selectinload(HotlineRequest.person),
            selectinload(HotlineRequest.school),
            selectinload(HotlineRequest.acknowledged_by),
        )
    )


async def open_requests_of(session: AsyncSession, person: Person) -> list[HotlineRequest]:
    """The person's unresolved requests, emergencies first, newest first."""
    # Explicit, not by the kind's text: "support" sorts after "emergency".
    emergency_first = case((HotlineRequest.kind == RequestKind.EMERGENCY, 0), else_=1)
    rows = await session.scalars(
        select(HotlineRequest)
        .where(
            HotlineRequest.person_id == person.id, HotlineRequest.status != RequestStatus.RESOLVED
        )
        .order_by(emergency_first, HotlineRequest.created_at.desc(), HotlineRequest.id.desc())
    )
    return list(rows)


async def request_sent_as(
    session: AsyncSession, channel: str, sent_ref: str
) -> HotlineRequest | None:
    """The request an outbound message (a ping, a staff reply) that the platform accepted as
    `sent_ref` belongs to, or the request whose thread that is."""
    request_id = await session.scalar(
        select(OutboundMessage.request_id)
        .where(
            OutboundMessage.channel == channel,
            OutboundMessage.sent_ref == sent_ref,
            OutboundMessage.request_id.is_not(None),
        )
        .limit(1)
    )
    if request_id is not None:
        return await session.get(HotlineRequest, request_id)
    return await session.scalar(
        select(HotlineRequest)
        .where(HotlineRequest.channel == channel, HotlineRequest.thread_ref == sent_ref)
        .order_by(HotlineRequest.id.desc())
        .limit(1)
    )


async def open_emergency(
    session: AsyncSession,
    person: Person,
    channel: str,
    chat_id: str,
    text: str,
    category: str,
    now: datetime,
    config: EscalationConfig,
    *,
    join_recent: bool = True,
    thread_ref: str | None = None,
    question_id: int | None = None,
) -> Opened:
    """A new emergency and its first step. With `join_recent`, a second message about the same
    thing moments later (same category, within the duplicate window) joins the first, unless
    its category is one that wakes someone at once: those are never merged by guesswork."""
    recent = (
        await _recent_duplicate(session, person, category, now, config) if join_recent else None
    )
    if recent is not None:
        event = add_event(session, recent.id, "message_added", text, person.id, now)
        await _relay_follow_up(session, recent, person, text, event, now, config)
        return Opened(recent, created=False)
    request = await new_request(
        session,
        RequestKind.EMERGENCY,
        person,
        channel,
        chat_id,
        text,
        now,
        category=category,
        question_id=question_id,
    )
    request.thread_ref = thread_ref
    add_event(session, request.id, "opened", f"{category}: {text}", person.id, now)
    step = await escalate(session, request, now, config)
    return Opened(request, created=True, step=step)


async def _recent_duplicate(
    session: AsyncSession, person: Person, category: str, now: datetime, config: EscalationConfig
) -> HotlineRequest | None:
    rota = await current_rota(session)
    if rota is None or rota.wakes(category):
        return None
    return await session.scalar(
        select(HotlineRequest)
        .where(
            HotlineRequest.person_id == person.id,
            HotlineRequest.kind == RequestKind.EMERGENCY,
            HotlineRequest.category == category,
            HotlineRequest.status != RequestStatus.RESOLVED,
            HotlineRequest.created_at >= now - config.duplicate_window,
        )
        .order_by(HotlineRequest.created_at.desc())
        .limit(1)
    )


async def wake_held(
    session: AsyncSession,
    request: HotlineRequest,
    member: Person,
    now: datetime,
    config: EscalationConfig,
) -> bool:
    """The member pressed "It can't wait" on a request held out of hours: ping the fallback now.
    False when the request is no longer held (someone has it, or it was pinged already)."""
    if request.status is not RequestStatus.OPEN or request.level > 0:
        return False
    add_event(
        session, request.id, "member_cant_wait", "the member asked for someone now", member.id, now
    )
    await escalate(session, request, now, config, wake=True)
    return True


async def post_support_request(
    session: AsyncSession,
    request: HotlineRequest,
    now: datetime,
    config: EscalationConfig,
    extra_buttons: Sequence[Button] = (),
) -> None:
    """A non-urgent request goes to the staff chat for anyone to claim; no timers.
    `extra_buttons` follow the claim button (the dispatcher's "Teach: ..." choices)."""
    member = await session.get(Person, request.person_id)
    post = (
        await _withheld(session, request)
        if restricted(request)
        else texts.SUPPORT_POST.format(
            reference=request.reference, member=member.name if member else "?", text=request.text
        )
    )
    reply = Reply(post, (texts.claim_button(request.id), *extra_buttons))
    add_event(session, request.id, "opened", request.text, request.person_id, now)
    await copy_to_staff_chat(session, config, request, now, reply, f"support:{request.id}")


async def tell_member(
    session: AsyncSession, request: HotlineRequest, key: str, reply: Reply, now: datetime
) -> None:
    """A message to the member in the chat the request came from."""
    await enqueue(
        session,
        key=key,
        channel=request.channel,
        chat_id=request.chat_id,
        reply=reply,
        person_id=request.person_id,
        request_id=request.id,
        now=now,
    )


async def pinged_people(session: AsyncSession, request: HotlineRequest) -> list[int]:
    rows = await session.scalars(
        select(OutboundMessage.person_id)
        .where(OutboundMessage.request_id == request.id, OutboundMessage.dedupe_key.like("ping:%"))
        .distinct()
    )
    return [r for r in rows if r is not None]


async def readers_of(session: AsyncSession, request: HotlineRequest) -> list[int]:
    """Everyone pinged for the request, in chat or by email: they may read a restricted
    request in full (bot/privacy/access.py `may_read`)."""
    return sorted(await pinged_so_far(session, request))


async def _withheld(session: AsyncSession, request: HotlineRequest) -> str:
    """A restricted request's summary line for the staff chat."""
    school = await session.get(School, request.school_id) if request.school_id else None
    return withheld(request, school.name if school else None)


async def pings_of_step(session: AsyncSession, request: HotlineRequest) -> int:
    """How many ping rows the request's latest step wrote (one per reachable chat account)."""
    count = await session.scalar(
        select(func.count())
        .select_from(OutboundMessage)
        .where(
            OutboundMessage.request_id == request.id,
            OutboundMessage.dedupe_key.like(f"ping:{request.id}:{request.steps}:%"),
        )
    )
    return int(count or 0)


def _take_ownership(request: HotlineRequest, staff: Person, now: datetime) -> None:
    """Whoever first acts on a request owns it, and its escalation stops."""
    if request.acknowledged_by_id is None:
        request.acknowledged_by_id, request.acknowledged_at = staff.id, now
    request.next_escalation_at = None


async def acknowledge(
    session: AsyncSession,
    request: HotlineRequest,
    staff: Person,
    now: datetime,
    config: EscalationConfig,
    *,
    own_pings: bool = False,
) -> str:
    """Take ownership; returns the reply for the staff member. A race's loser is told who won.
    `own_pings`: edit the staff member's own pings too (acknowledged from the console, not by
    pressing the button on one of them, which the chat edits in place)."""
    if request.status is RequestStatus.RESOLVED:
        return texts.ALREADY_RESOLVED.format(reference=request.reference)
    if request.status is RequestStatus.ACKNOWLEDGED:
        owner = (
            await session.get(Person, request.acknowledged_by_id)
            if request.acknowledged_by_id
            else None
        )
        return texts.ALREADY_ACKNOWLEDGED.format(
            reference=request.reference, name=owner.name if owner else "someone"
        )
    request.status = RequestStatus.ACKNOWLEDGED
    _take_ownership(request, staff, now)
    request.remind_at = now + config.reminder_after
    await session.flush()  # the version check: a concurrent acknowledge loses here
    add_event(session, request.id, "acknowledged", "", staff.id, now)
    await cancel_ping_emails(session, request)
    await tell_member(
        session,
        request,
        f"member-ack:{request.id}",
        Reply(texts.MEMBER_ACKNOWLEDGED.format(name=staff.name, reference=request.reference)),
        now,
    )
    status = acknowledged_line(request, staff, config)
    edited = await edit_pings(session, request, staff, status, now, own_pings=own_pings)
    others = [p for p in await pinged_people(session, request) if p not in edited | {staff.id}]
    note = Reply(f"{request.reference}: {status}")
    await notify_people(session, request, others, note, f"acked:{request.id}", now)
    return texts.YOU_ACKNOWLEDGED.format(reference=request.reference)


def acknowledged_line(request: HotlineRequest, staff: Person, config: EscalationConfig) -> str:
    at = request.acknowledged_at or utcnow()
    return texts.ACKNOWLEDGED_BY.format(
        name=staff.name, time=at.astimezone(config.timezone).strftime("%H:%M")
    )


async def edit_pings(
    session: AsyncSession,
    request: HotlineRequest,
    staff: Person,
    status: str,
    now: datetime,
    *,
    own_pings: bool = False,
) -> set[int]:
    """Replace the buttons on every ping already delivered (to others and to the staff chat;
    with `own_pings`, the staff member's own too) with the status line; returns the people
    whose pings were edited."""
    pings = await session.scalars(
        select(OutboundMessage).where(
            OutboundMessage.request_id == request.id,
            or_(
                OutboundMessage.dedupe_key.like("ping:%"),
                OutboundMessage.dedupe_key.like("staffcopy:%"),
            ),
            OutboundMessage.status == OutboxStatus.SENT,
            OutboundMessage.sent_ref.is_not(None),
            OutboundMessage.edit_ref.is_(None),
        )
    )
    edited: set[int] = set()
    for ping in pings:
        if ping.person_id == staff.id and not own_pings:
            continue  # their own ping is edited where they pressed the button
        await enqueue(
            session,
            key=f"edit:{ping.id}:{request.status.value}",
            channel=ping.channel,
            chat_id=ping.chat_id,
            reply=Reply(f"{ping.text}\n\n{status}"),
            person_id=ping.person_id,
            identity_id=ping.identity_id,
            request_id=request.id,
            now=now,
            edit_ref=ping.sent_ref,
        )
        if ping.person_id is not None:
            edited.add(ping.person_id)
    return edited


async def resolve(
    session: AsyncSession, request: HotlineRequest, staff: Person, note: str, now: datetime
) -> str:
    if request.status is RequestStatus.RESOLVED:
        return texts.ALREADY_RESOLVED.format(reference=request.reference)
    _take_ownership(request, staff, now)
    request.status = RequestStatus.RESOLVED
    request.resolved_by_id, request.resolved_at, request.resolution_note = staff.id, now, note
    request.remind_at = None
    await session.flush()
    add_event(session, request.id, "resolved", note, staff.id, now)
    await cancel_ping_emails(session, request)
    await tell_member(
        session,
        request,
        f"member-resolved:{request.id}",
        Reply(texts.MEMBER_RESOLVED.format(reference=request.reference, name=staff.name)),
        now,
    )
    return texts.YOU_RESOLVED.format(reference=request.reference)


async def add_note(
    session: AsyncSession, request: HotlineRequest, staff: Person, note: str, now: datetime
) -> str:
    add_event(session, request.id, "note", note, staff.id, now)
    return texts.NOTE_ADDED.format(reference=request.reference)


async def staff_reply(
    session: AsyncSession,
    request: HotlineRequest,
    staff: Person,
    text: str,
    now: datetime,
    config: EscalationConfig | None = None,
) -> str:
    """Relay a staff member's reply to the member through the bot, and log it. A member with
    no reachable chat account gets it by email (with `config.email`); the staff member is told
    which. Without an email to send, the reply goes to the chat it came from, as before."""
    if request.status is RequestStatus.RESOLVED:
        return texts.ALREADY_RESOLVED.format(reference=request.reference)
    if request.status is RequestStatus.OPEN:
        request.status = RequestStatus.ACKNOWLEDGED
        _take_ownership(request, staff, now)
        await cancel_ping_emails(session, request)
    event = add_event(session, request.id, "reply", text, staff.id, now)
    await session.flush()  # the version check, and the event id for the dedupe key
    if config is not None:
        by_email = await member_by_email(
            session, request, staff, text, f"reply:{event.id}", now, config.email, config.timezone
        )
        if by_email:
            return texts.REPLY_SENT_BY_EMAIL.format(reference=request.reference)
    await tell_member(
        session,
        request,
        f"reply:{event.id}",
        Reply(texts.STAFF_REPLY.format(name=staff.name, reference=request.reference, text=text)),
        now,
    )
    return texts.REPLY_SENT.format(reference=request.reference)


async def member_follow_up(
    session: AsyncSession,
    request: HotlineRequest,
    member: Person,
    text: str,
    now: datetime,
    config: EscalationConfig,
) -> None:
    event = add_event(session, request.id, "member_message", text, member.id, now)
    await _relay_follow_up(session, request, member, text, event, now, config)


async def _relay_follow_up(
    session: AsyncSession,
    request: HotlineRequest,
    member: Person,
    text: str,
    event: RequestEvent,
    now: datetime,
    config: EscalationConfig,
) -> None:
    """To whoever owns the request, else to everyone pinged so far and the staff chat."""
    await session.flush()  # gives the event its id, which keys the messages
    reply = Reply(
        texts.FOLLOW_UP.format(reference=request.reference, member=member.name, text=text)
    )
    key = f"followup:{event.id}"
    shared = Reply(await _withheld(session, request)) if restricted(request) else reply
    owners = (
        [request.acknowledged_by_id]
        if request.acknowledged_by_id
        else await pinged_people(session, request)
    )
    await notify_people(session, request, owners, reply, key, now)
    await copy_to_staff_chat(session, config, request, now, shared, f"{key}:staff")


async def remind(
    session: AsyncSession, request: HotlineRequest, now: datetime, config: EscalationConfig
) -> None:
    """Acknowledged but not resolved for a while: nudge the owner, then wait again."""
    if request.acknowledged_by_id is None:
        request.remind_at = None
        return
    request.remind_at = now + config.reminder_after
    add_event(session, request.id, "reminder", "", request.acknowledged_by_id, now)
    reply = Reply(
        texts.REMINDER.format(reference=request.reference), (texts.resolve_button(request.id),)
    )
    await notify_people(
        session,
        request,
        [request.acknowledged_by_id],
        reply,
        f"remind:{request.id}:{now:%Y%m%d%H%M}",
        now,
    )
