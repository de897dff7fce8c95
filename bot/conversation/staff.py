"""Staff commands and buttons: /oncall, /open [REF], /ack, /resolve, /note, /reply, /teach,
/console; Acknowledge, Resolve and the teach buttons (bot/conversation/teach.py). The commands
are declared in STAFF (bot/conversation/commands.py collects them; the dispatcher refuses
members). A bad or unknown reference gets a clear message, a missing one the command's usage
and the references it could take."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from bot.conversation.chat_command import FOR_STAFF, Command, Run
from bot.conversation.context import Context, Deps
from bot.conversation.teach import (
    TEACH_ANYWAY_VERB,
    TEACH_COMMAND,
    TEACH_VERB,
    teach_anyway_button,
    teach_button,
    teach_cmd,
)
from bot.core import texts
from bot.core.errors import UserFacingError
from bot.core.types import IncomingMessage, Reply
from bot.directory.audit import Actor, record
from bot.directory.console_access import LINK_TTL, create_link, signin_url
from bot.escalation.hotline import (
    acknowledge,
    acknowledged_line,
    add_note,
    by_reference,
    readers_of,
    resolve,
    staff_reply,
)
from bot.escalation.rota_store import duty_now
from bot.privacy.access import VIEW_RESTRICTED, may_read, restricted, withheld_facts
from bot.privacy.redaction import TEXT_EVENTS
from bot.store.models import HotlineRequest, Person, RequestStatus
from bot.store.timeline import events_of

USAGE_REFERENCES = 5  # open references listed when a command is missing its reference
OPEN_EVENTS = 10  # the latest messages, notes and replies `/open REF` shows
# What was written after the request's first message (its timeline's texts)
LATER_TEXTS = tuple(kind for kind in TEXT_EVENTS if kind != "opened")


def _age(since: datetime, now: datetime) -> str:
    minutes = int((now - since).total_seconds() // 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h"


async def _request(ctx: Context, raw: str) -> HotlineRequest:
    if not raw:
        raise UserFacingError(texts.BAD_REFERENCE.format(reference=raw))
    request = await by_reference(ctx.session, raw)
    if request is None:
        raise UserFacingError(texts.BAD_REFERENCE.format(reference=raw[:30]))
    return request


async def _request_by_id(ctx: Context, raw: str) -> HotlineRequest:
    request = await ctx.session.get(HotlineRequest, int(raw)) if raw.isdigit() else None
    if request is None:
        raise UserFacingError(texts.STALE_BUTTON)
    return request


async def oncall(deps: Deps, ctx: Context, _rest: str) -> list[Reply]:
    duty = await duty_now(ctx.session, ctx.now)
    if duty is None:
        return [Reply(texts.NO_ROTA)]
    names = await _names(ctx, [duty.primary, duty.backup, duty.fallback])
    if not duty.in_hours and duty.primary is None:
        return [Reply(texts.NOBODY_ON_DUTY.format(fallback=names[duty.fallback]))]
    return [
        Reply(
            texts.ON_DUTY.format(
                primary=names.get(duty.primary, "nobody"),
                backup=names.get(duty.backup, "nobody"),
                fallback=names[duty.fallback],
            )
        )
    ]


async def _names(ctx: Context, emails: list[str | None]) -> dict[str | None, str]:
    wanted = [e for e in emails if e]
    people = await ctx.session.scalars(select(Person).where(Person.email.in_(wanted)))
    found = {p.email: p.name for p in people}
    return {e: found.get(e, e) for e in wanted} | {None: "nobody"}


def _in_shared_chat(message: IncomingMessage) -> bool:
    """Whether a reply would be read by others: a group or channel, not the person's own chat
    with the bot (Slack's direct messages have ids starting with D)."""
    if message.private_chat_id is None or message.chat_id == message.private_chat_id:
        return False
    return not (message.channel == "slack" and message.chat_id.startswith("D"))


async def open_one(deps: Deps, ctx: Context, request: HotlineRequest) -> Reply:
    """`/open REF`: the request and its messages. A restricted one (bot/privacy/access.py) is
    shown in full only to those who may read it, only in their own chat with the bot, and each
    such view is in the audit log; others get its reference, school, status and times."""
    school = request.school.name if request.school else None
    tz = deps.timezone
    if restricted(request):
        if not may_read(ctx.person, request, await readers_of(ctx.session, request)):
            return Reply(withheld_facts(request, school, tz))
        if _in_shared_chat(ctx.message):
            return Reply(
                texts.OPEN_IN_PRIVATE.format(reference=request.reference, category=request.category)
            )
        record(
            ctx.session,
            Actor(ctx.person.id, None, "chat"),
            VIEW_RESTRICTED,
            request.reference or f"#{request.id}",
            about=request.person_id,
            at=ctx.now,
        )
    member = await ctx.session.get(Person, request.person_id)
    owner = await ctx.session.get(Person, request.acknowledged_by_id or 0)
    lines = [
        texts.OPEN_DETAIL.format(
            reference=request.reference,
            kind=request.kind.value,
            category=request.category or "no category",
            status=request.status.value,
            school=school or "no school",
            member=member.name if member else "unknown",
            opened=f"{request.created_at.astimezone(tz):%d %b %H:%M}",
            owner=f", with {owner.name}" if owner else "",
            text=request.text,
        )
    ]
    events = [e for e in await events_of(ctx.session, request.id) if e.kind in LATER_TEXTS]
    lines += [
        f"{e.at.astimezone(tz):%d %b %H:%M} {e.kind.replace('_', ' ')}: {e.detail}"
        for e in events[-OPEN_EVENTS:]
    ]
    return Reply("\n".join(lines))


async def open_list(deps: Deps, ctx: Context, rest: str) -> list[Reply]:
    raw = rest.split(" ", 1)[0]
    if raw:
        return [await open_one(deps, ctx, await _request(ctx, raw))]
    rows = list(
        await ctx.session.scalars(
            select(HotlineRequest)
            .where(HotlineRequest.status != RequestStatus.RESOLVED)
            .options(
                selectinload(HotlineRequest.school), selectinload(HotlineRequest.acknowledged_by)
            )
            .order_by(HotlineRequest.created_at)
            .limit(30)
        )
    )
    if not rows:
        return [Reply(texts.NO_OPEN_REQUESTS)]
    lines = []
    for r in rows:
        owner = f", with {r.acknowledged_by.name}" if r.acknowledged_by else f", level {r.level}"
        school = r.school.name if r.school else "no school"
        lines.append(
            f"{r.reference} {r.kind.value} {r.category or ''} ({school}), "
            f"{_age(r.created_at, ctx.now)} old, {r.status.value}{owner}"
        )
    return [Reply("\n".join(lines))]


async def _usage(ctx: Context, name: str) -> list[Reply]:
    """A command sent without its reference: how to use it, and the references it could take
    (for /ack the requests nobody has yet, for the others the caller's own)."""
    usage = texts.REFERENCE_USAGE.format(usage=next(c.usage for c in STAFF if c.name == name))
    if name == "/ack":
        which = [HotlineRequest.status == RequestStatus.OPEN]
        listed = texts.WAITING_REFERENCES
    else:
        which = [
            HotlineRequest.status == RequestStatus.ACKNOWLEDGED,
            HotlineRequest.acknowledged_by_id == ctx.person.id,
        ]
        listed = texts.YOUR_REFERENCES
    references = await ctx.session.scalars(
        select(HotlineRequest.reference)
        .where(*which, HotlineRequest.reference.is_not(None))
        .order_by(HotlineRequest.created_at)
        .limit(USAGE_REFERENCES + 1)
    )
    found = [r for r in references if r]
    if not found:
        return [Reply(f"{usage} {texts.SEE_OPEN}")]
    shown = ", ".join(found[:USAGE_REFERENCES])
    if len(found) > USAGE_REFERENCES:
        shown += texts.AND_MORE
    return [Reply(f"{usage} {listed.format(references=shown)}")]


async def ack(deps: Deps, ctx: Context, rest: str) -> list[Reply]:
    raw = rest.split(" ", 1)[0]
    if not raw:
        return await _usage(ctx, "/ack")
    return [Reply(await _acknowledge(deps, ctx, await _request(ctx, raw)))]


async def _acknowledge(deps: Deps, ctx: Context, request: HotlineRequest) -> str:
    try:
        async with ctx.session.begin_nested():
            outcome = await acknowledge(ctx.session, request, ctx.person, ctx.now, deps.escalation)
    except StaleDataError:
        # Someone else acknowledged in the same moment: their change is committed; show it.
        await ctx.session.refresh(request)
        return await acknowledge(ctx.session, request, ctx.person, ctx.now, deps.escalation)
    return outcome


async def resolve_cmd(deps: Deps, ctx: Context, rest: str) -> list[Reply]:
    raw, _, note = rest.partition(" ")
    if not raw:
        return await _usage(ctx, "/resolve")
    request = await _request(ctx, raw)
    if not note.strip():
        return [Reply(texts.RESOLVE_NEEDS_NOTE.format(reference=request.reference))]
    outcome = await resolve(ctx.session, request, ctx.person, note.strip(), ctx.now)
    return [Reply(outcome)]


async def note_cmd(deps: Deps, ctx: Context, rest: str) -> list[Reply]:
    raw, _, note = rest.partition(" ")
    if not raw:
        return await _usage(ctx, "/note")
    request = await _request(ctx, raw)
    if not note.strip():
        return [Reply(texts.USAGE.format(usage="/note HL-2026-0042 what you did or found"))]
    return [Reply(await add_note(ctx.session, request, ctx.person, note.strip(), ctx.now))]


async def reply_cmd(deps: Deps, ctx: Context, rest: str) -> list[Reply]:
    raw, _, text = rest.partition(" ")
    if not raw:
        return await _usage(ctx, "/reply")
    request = await _request(ctx, raw)
    if not text.strip():
        return [Reply(texts.USAGE.format(usage="/reply HL-2026-0042 your answer to the member"))]
    outcome = await staff_reply(
        ctx.session, request, ctx.person, text.strip(), ctx.now, deps.escalation
    )
    return [Reply(outcome)]


async def _status_line(deps: Deps, ctx: Context, request: HotlineRequest) -> Reply:
    """The line that replaces a ping's buttons once someone owns the request."""
    owner = (
        await ctx.session.get(Person, request.acknowledged_by_id)
        if request.acknowledged_by_id
        else None
    )
    line = acknowledged_line(request, owner or ctx.person, deps.escalation)
    if request.status is RequestStatus.RESOLVED:
        line = texts.RESOLVED_LINE.format(line=line)
    return Reply(line, edit=True)


async def ack_button(deps: Deps, ctx: Context, raw_id: str) -> list[Reply]:
    request = await _request_by_id(ctx, raw_id)
    outcome = await _acknowledge(deps, ctx, request)
    return [await _status_line(deps, ctx, request), Reply(outcome)]


async def resolve_button(deps: Deps, ctx: Context, raw_id: str) -> list[Reply]:
    request = await _request_by_id(ctx, raw_id)
    if request.status is RequestStatus.RESOLVED:
        return [
            await _status_line(deps, ctx, request),
            Reply(texts.ALREADY_RESOLVED.format(reference=request.reference)),
        ]
    return [Reply(texts.RESOLVE_NEEDS_NOTE.format(reference=request.reference))]


async def console_cmd(deps: Deps, ctx: Context, _rest: str) -> list[Reply]:
    """A one-time sign-in link to the staff console (bot/directory/console_access.py)."""
    token = await create_link(ctx.session, ctx.person, ctx.now)
    minutes = int(LINK_TTL.total_seconds() // 60)
    url = signin_url(deps.public_url, token)
    return [Reply(texts.CONSOLE_LINK.format(url=url, minutes=minutes))]


STAFF: tuple[Command, ...] = (
    Command("/oncall", FOR_STAFF, oncall, "who is on duty now"),
    Command(
        "/open",
        FOR_STAFF,
        open_list,
        "the requests not resolved yet (/open REF: one request and its messages)",
    ),
    Command("/ack", FOR_STAFF, ack, "take a request; the member is told you have it", "REF"),
    Command(
        "/resolve",
        FOR_STAFF,
        resolve_cmd,
        "close a request with a note of what was done",
        "REF NOTE",
    ),
    Command("/note", FOR_STAFF, note_cmd, "add a note to a request's timeline", "REF TEXT"),
    Command("/reply", FOR_STAFF, reply_cmd, "send the member an answer", "REF TEXT"),
    Command(
        TEACH_COMMAND,
        FOR_STAFF,
        teach_cmd,
        "teach the FAQ a passed-on question as a phrasing of an entry (without ENTRY-ID: choose "
        "from buttons; or reply to the request with /teach ENTRY-ID)",
        "REF [ENTRY-ID]",
    ),
    Command(
        "/console",
        FOR_STAFF,
        console_cmd,
        "a one-time link (15 minutes) that signs you in to the staff console in a browser",
    ),
)
BUTTONS: dict[str, Run] = {
    "ack": ack_button,
    "res": resolve_button,
    TEACH_VERB: teach_button,
    TEACH_ANYWAY_VERB: teach_anyway_button,
}
# what a member pressing a staff button is told is for staff only
BUTTON_NAMES: dict[str, str] = {
    "ack": texts.ACKNOWLEDGE,
    "res": texts.RESOLVE,
    TEACH_VERB: TEACH_COMMAND,
    TEACH_ANYWAY_VERB: TEACH_COMMAND,
}
