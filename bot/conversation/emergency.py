"""Member flows around hotline requests: /emergency, "this sounds urgent" and open requests.

The reference is only shown after the request row is committed; if the commit fails the member
is told to phone, never that the request was logged.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from bot.conversation import texts
from bot.conversation.context import Context, Deps
from bot.conversation.types import Button, Reply
from bot.errors import StoreUnavailableError
from bot.escalation.hotline import open_emergency, open_request_of
from bot.escalation.policy import Step
from bot.store.models import HotlineRequest, Person, QuestionLog, RequestKind, Role

log = logging.getLogger(__name__)

FALLBACK_CATEGORY = "other-urgent"


def is_member(person: Person) -> bool:
    return person.role is Role.MEMBER


def urgent_prompt(question: QuestionLog) -> Reply:
    return Reply(
        texts.SOUNDS_URGENT,
        (
            Button(texts.ALERT_NOW, f"urg:{question.id}:y"),
            Button(texts.JUST_ANSWER, f"urg:{question.id}:n"),
        ),
    )


async def raise_emergency(deps: Deps, ctx: Context, text: str) -> list[Reply]:
    detected = deps.urgency.detect(text)
    category = detected.category or FALLBACK_CATEGORY
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
        )
        request = opened.request
        await ctx.session.commit()
    except (SQLAlchemyError, StoreUnavailableError, OSError):
        log.exception(
            "emergency not logged channel=%s chat=%s", ctx.message.channel, ctx.message.chat_id
        )
        return [Reply(texts.STORE_DOWN_EMERGENCY.format(phone=deps.hotline_phone))]
    # The pings are queued in this session: the dispatcher wakes the sender once it closes.
    log.info(
        "emergency request=%s created=%s category=%s", request.id, opened.created, request.category
    )
    if not opened.created:
        return [Reply(texts.EMERGENCY_ADDED.format(reference=request.reference))]
    return [Reply(_logged_text(deps, request, held=opened.step is Step.HELD))]


def _logged_text(deps: Deps, request: HotlineRequest, held: bool) -> str:
    parts: list[str] = []
    category = deps.urgency.categories.get(request.category or "")
    if category is not None and category.danger_first:
        parts.append(texts.DANGER_FIRST)
    if held and request.next_escalation_at is not None:
        opens = request.next_escalation_at.astimezone(deps.timezone).strftime("%A %d %B at %H:%M")
        parts.append(
            texts.EMERGENCY_OUT_OF_HOURS.format(
                reference=request.reference, opens=opens, phone=deps.hotline_phone
            )
        )
    else:
        parts.append(
            texts.EMERGENCY_LOGGED.format(reference=request.reference, phone=deps.hotline_phone)
        )
    entry = deps.kb.entry(category.guidance) if category is not None else None
    if entry is not None:
        parts.append(f"{texts.GUIDANCE_HEADER} {entry.answer}")
    return "\n\n".join(parts)


async def open_request_note(deps: Deps, ctx: Context) -> tuple[HotlineRequest | None, str]:
    if not ctx.may_have_open_request:
        return None, ""
    request = await open_request_of(ctx.session, ctx.person)
    if request is None:
        return None, ""
    owner = texts.THE_TEAM
    if request.acknowledged_by_id is not None:
        who = await ctx.session.get(Person, request.acknowledged_by_id)
        owner = who.name if who else owner
    return request, owner


def is_emergency(request: HotlineRequest) -> bool:
    return request.kind is RequestKind.EMERGENCY
