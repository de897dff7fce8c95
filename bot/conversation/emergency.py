"""Member flows around emergencies: /emergency, "this sounds urgent", "It can't wait".

The reference is only shown after the request row is committed; if the commit fails the member
is told to phone, never that the request was logged. What the member is told about who was
alerted is read back from the rows the step committed (the step's timeline event and its ping
rows), so it can never claim more than was done.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.exc import SQLAlchemyError

from bot.conversation.context import Context, Deps
from bot.core import texts
from bot.core.errors import StoreUnavailableError
from bot.core.types import Button, Reply
from bot.escalation.categories import FALLBACK
from bot.escalation.chains import Chain
from bot.escalation.hotline import open_emergency, pings_of_step, wake_held
from bot.escalation.rota_store import rota_and_duty
from bot.store.models import HotlineRequest, Person, QuestionLog, RequestStatus, Role
from bot.store.timeline import last_step

log = logging.getLogger(__name__)

STORE_ERRORS = (SQLAlchemyError, StoreUnavailableError, OSError)


def is_member(person: Person) -> bool:
    return person.role is Role.MEMBER


def references(requests: Sequence[HotlineRequest]) -> str:
    refs = [r.reference or "?" for r in requests]
    return refs[0] if len(refs) == 1 else ", ".join(refs[:-1]) + " and " + refs[-1]


def urgent_prompt(question: QuestionLog, open_requests: Sequence[HotlineRequest] = ()) -> Reply:
    """The confirm question. With requests open, it also offers to add the message to one of
    them, so the member decides; nothing urgent is attached by guesswork."""
    add = tuple(
        Button(texts.ADD_TO.format(reference=r.reference), f"add:{question.id}:{r.id}")
        for r in open_requests
    )
    text = (
        texts.SOUNDS_URGENT_OPEN.format(references=references(open_requests))
        if open_requests
        else texts.SOUNDS_URGENT
    )
    return Reply(
        text,
        (
            Button(texts.ALERT_NOW, f"urg:{question.id}:y"),
            *add,
            Button(texts.JUST_ANSWER, f"urg:{question.id}:n"),
        ),
    )


async def raise_emergency(
    deps: Deps,
    ctx: Context,
    text: str,
    *,
    join_recent: bool = True,
    question_id: int | None = None,
) -> list[Reply]:
    detected = deps.urgency.detect(text)
    category = detected.category or FALLBACK
    try:
        opened = await open_emergency(
            ctx.session,
            ctx.person,
            ctx.message.channel,
            ctx.message.reach_id,
            text,
            category,
            ctx.now,
            deps.escalation,
            join_recent=join_recent,
            thread_ref=ctx.message.thread_ref,
            question_id=question_id,
        )
        request = opened.request
        # Read back from the rows the step wrote, and shown only once they are committed.
        in_hours = await _in_hours(ctx) if opened.created else True
        told = await outcome(deps, ctx, request, in_hours) if opened.created else None
        await ctx.session.commit()
    except STORE_ERRORS:
        log.exception(
            "emergency not logged channel=%s chat=%s", ctx.message.channel, ctx.message.chat_id
        )
        return [Reply(texts.STORE_DOWN_EMERGENCY.format(phone=deps.hotline_phone))]
    # The pings are queued in this session: the dispatcher wakes the sender once it closes.
    log.info(
        "emergency request=%s created=%s category=%s", request.id, opened.created, request.category
    )
    if told is None:
        return [Reply(texts.EMERGENCY_ADDED.format(reference=request.reference))]
    parts: list[str] = []
    urgency_category = deps.urgency.categories.get(request.category or "")
    if urgency_category is not None and urgency_category.danger_first:
        parts.append(texts.DANGER_FIRST)
    parts.append(told.text)
    guidance = guidance_for(deps, text, request.category)
    if guidance is not None:
        parts.append(f"{texts.GUIDANCE_HEADER} {guidance}")
        if not in_hours:  # the guidance may point to the hotline, which is closed now
            parts.append(texts.OUT_OF_HOURS_LINE.format(out_of_hours=_out_of_hours(deps)))
    return [Reply("\n\n".join(parts), told.buttons)]


def guidance_for(deps: Deps, text: str, category: str | None) -> str | None:
    """The answer of the category's guidance entry that the message matches best (by the FAQ
    matcher), or its first; never an entry written for another category."""
    found = deps.urgency.categories.get(category or "")
    if found is None or not found.guidance:
        return None
    best = deps.kb.best_of(text, found.guidance) or found.guidance[0]
    entry = deps.kb.entry(best)
    return entry.answer if entry is not None else None


async def cant_wait(deps: Deps, ctx: Context, request: HotlineRequest) -> list[Reply]:
    """The member of a request held out of hours asks for someone now. Pressed again, or after
    the hotline opened, it says where the request stands instead."""
    await wake_held(ctx.session, request, ctx.person, ctx.now, deps.escalation)
    told = await outcome(deps, ctx, request, await _in_hours(ctx))
    await ctx.session.commit()
    return [Reply(texts.CHOSE_CANT_WAIT, edit=True), told]


async def outcome(deps: Deps, ctx: Context, request: HotlineRequest, in_hours: bool) -> Reply:
    """What the member is told: read from the committed step, not from what was intended."""
    session = ctx.session
    step = await last_step(session, request.id)
    if request.status is not RequestStatus.OPEN:
        owner = await session.get(Person, request.acknowledged_by_id or 0)
        name = owner.name if owner else texts.THE_TEAM
        said = (
            texts.MEMBER_RESOLVED
            if request.status is RequestStatus.RESOLVED
            else texts.MEMBER_ACKNOWLEDGED
        )
        return Reply(said.format(name=name, reference=request.reference))
    if step is not None and step.kind == "out_of_hours" and request.level == 0:
        opens = request.next_escalation_at
        when = opens.astimezone(deps.timezone).strftime("%A %d %B at %H:%M") if opens else "soon"
        return Reply(
            texts.EMERGENCY_HELD.format(
                reference=request.reference, opens=when, out_of_hours=_out_of_hours(deps)
            ),
            (Button(texts.CANT_WAIT, f"wake:{request.id}"),),
        )
    if step is not None and step.kind == "level_pinged" and await pings_of_step(session, request):
        phone_line = (
            texts.HOTLINE_LINE.format(phone=deps.hotline_phone)
            if in_hours
            else texts.OUT_OF_HOURS_LINE.format(out_of_hours=_out_of_hours(deps))
        )
        return Reply(
            texts.EMERGENCY_ALERTING.format(
                reference=request.reference,
                who=_who(request),
                phone_line=phone_line,
            )
        )
    return Reply(
        texts.EMERGENCY_NOBODY.format(
            reference=request.reference, phone=_phone_now(deps, in_hours=in_hours)
        )
    )


def _who(request: HotlineRequest) -> str:
    """Who the last step alerted, as the member is told it, from the chain on the request."""
    if not request.chain:
        return texts.MEMBER_LEVELS["primary"]
    return Chain.from_snapshot(request.chain).step(request.level).member_label


async def _in_hours(ctx: Context) -> bool:
    found = await rota_and_duty(ctx.session, ctx.now)
    return found[1].in_hours if found is not None else True


def _out_of_hours(deps: Deps) -> str:
    if deps.out_of_hours_phone:
        return texts.OUT_OF_HOURS_NUMBER.format(phone=deps.out_of_hours_phone)
    return texts.OUT_OF_HOURS_UNKNOWN


def _phone_now(deps: Deps, *, in_hours: bool) -> str:
    """A number that is answered now: never the hotline when it is closed."""
    return f"the hotline on {deps.hotline_phone}" if in_hours else _out_of_hours(deps)
