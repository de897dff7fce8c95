"""A question passed to the Partnership team (/human, and "Yes, pass it on"): a support request,
posted to the staff chats with Teach buttons, and the member told its reference once it is
committed."""

from __future__ import annotations

import logging

from bot.conversation.context import Context, Deps
from bot.conversation.teach import teach_buttons
from bot.core import texts
from bot.core.types import Reply
from bot.escalation import open_support_request
from bot.escalation.hotline import post_support_request
from bot.store.models import QuestionLog

log = logging.getLogger(__name__)


def passed_on(deps: Deps, reference: str | None) -> Reply:
    return Reply(
        texts.PASSED_ON.format(
            reference=reference, phone=deps.hotline_phone, days=deps.reply_target
        )
    )


async def pass_on(deps: Deps, ctx: Context, text: str, question: QuestionLog | None) -> Reply:
    request = await open_support_request(
        ctx.session,
        ctx.person,
        ctx.message.channel,
        ctx.message.reach_id,
        text,
        question_id=question.id if question else None,
        now=ctx.now,
    )
    if question is not None:
        question.passed_on = True
    await post_support_request(
        ctx.session,
        request,
        ctx.now,
        deps.escalation,
        teach_buttons(deps.kb, request.id, text),
    )
    await ctx.session.commit()  # the reference is only shown once it is durable
    log.info("support request opened id=%s", request.id)
    return passed_on(deps, request.reference)
