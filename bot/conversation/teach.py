"""/teach for staff: turn a passed-on question into a phrasing of the FAQ entry that answers it.

`/teach REF ENTRY-ID`, or `/teach ENTRY-ID` as a reply to the support request's post (Telegram
gives the replied-to text, which carries the reference; a Slack thread is traced through the
post's outbound row). Without an entry id, and on the support post itself, the matcher's
suggestions for the question are offered as "Teach: ..." buttons (`tch:<request id>:<entry>`);
a phrasing that would change other answers is held with a "Teach anyway" button
(`tcf:<request id>:<entry>`).
"""

from __future__ import annotations

from sqlalchemy import select

from bot.conversation.context import Context, Deps
from bot.conversation.open_requests import REFERENCE_IN_TEXT
from bot.core import texts
from bot.core.errors import UserFacingError
from bot.core.types import MAX_ACTION_BYTES, Button, Reply
from bot.escalation.hotline import by_reference, parse_reference, request_sent_as
from bot.knowledge.source import KnowledgeSource
from bot.store.models import HotlineRequest, QuestionLog, RequestKind
from bot.teaching.live import live_of
from bot.teaching.teach import Status, teach

TEACH_COMMAND = "/teach"
TEACH_VERB = "tch"
TEACH_ANYWAY_VERB = "tcf"
LABEL_CHARS = 60
MAX_BUTTONS = 3


def _label(question: str) -> str:
    label = texts.TEACH_BUTTON.format(question=" ".join(question.split()))
    if len(label) <= LABEL_CHARS:
        return label
    return label[: LABEL_CHARS - 1].rsplit(" ", 1)[0] + "…"


def _action(verb: str, request_id: int, entry_id: str) -> str | None:
    action = f"{verb}:{request_id}:{entry_id}"
    return action if len(action.encode()) <= MAX_ACTION_BYTES else None


def teach_buttons(kb: KnowledgeSource, request_id: int, question: str) -> tuple[Button, ...]:
    """A "Teach: <entry question>" button for each entry the matcher finds closest to the
    question (its answer first), at most three."""
    if question == texts.HUMAN_NO_TEXT:
        return ()
    result = kb.match(question)
    ids = dict.fromkeys(
        [*([result.answer_id] if result.answer_id else []), *(s.id for s in result.suggestions)]
    )
    buttons = []
    for entry_id in list(ids)[:MAX_BUTTONS]:
        entry = kb.entry(entry_id)
        action = _action(TEACH_VERB, request_id, entry_id)
        if entry is not None and action is not None:
            buttons.append(Button(_label(entry.question), action))
    return tuple(buttons)


async def _question_of(ctx: Context, request: HotlineRequest) -> str:
    """The words the member used: the logged question, or the text they passed on."""
    if request.kind is not RequestKind.SUPPORT:
        raise UserFacingError(texts.TEACH_NOT_SUPPORT.format(reference=request.reference))
    if request.question_id is not None:
        logged = await ctx.session.scalar(
            select(QuestionLog.text).where(QuestionLog.id == request.question_id)
        )
        if logged:
            return logged
    if request.text == texts.HUMAN_NO_TEXT:
        raise UserFacingError(texts.TEACH_NO_QUESTION.format(reference=request.reference))
    return request.text


async def _replied_request(ctx: Context) -> HotlineRequest | None:
    message = ctx.message
    if message.reply_to_text:
        named = {r.upper() for r in REFERENCE_IN_TEXT.findall(message.reply_to_text)}
        if len(named) == 1:
            return await by_reference(ctx.session, named.pop())
    if message.reply_to:
        return await request_sent_as(ctx.session, message.channel, message.reply_to)
    return None


async def teach_cmd(deps: Deps, ctx: Context, rest: str) -> list[Reply]:
    words = rest.split()
    if len(words) > 2:
        return [Reply(texts.TEACH_USAGE)]
    reference = parse_reference(words[0]) if words else None
    if reference is None and words and words[0].upper().startswith("HL-"):
        return [Reply(texts.BAD_REFERENCE.format(reference=words[0][:30]))]
    if reference is not None:
        request = await by_reference(ctx.session, reference)
        if request is None:
            return [Reply(texts.BAD_REFERENCE.format(reference=reference))]
        entry_id = words[1] if len(words) == 2 else None
    else:
        if len(words) == 2:
            return [Reply(texts.TEACH_USAGE)]
        replied = ctx.message.reply_to or ctx.message.reply_to_text
        request = await _replied_request(ctx) if replied else None
        if request is None:
            return [Reply(texts.TEACH_NO_REQUEST if replied else texts.TEACH_USAGE)]
        entry_id = words[0] if words else None
    question = await _question_of(ctx, request)
    if entry_id is None:
        return [_choices(deps, request, question)]
    return await _teach(deps, ctx, request, question, entry_id, force=False)


def _choices(deps: Deps, request: HotlineRequest, question: str) -> Reply:
    buttons = teach_buttons(deps.kb, request.id, question)
    shown = " ".join(question.split())
    if not buttons:
        return Reply(texts.TEACH_NO_SUGGESTIONS.format(reference=request.reference, text=shown))
    return Reply(texts.TEACH_CHOOSE.format(reference=request.reference, text=shown), buttons)


async def _teach(
    deps: Deps,
    ctx: Context,
    request: HotlineRequest,
    question: str,
    entry_id: str,
    *,
    force: bool,
) -> list[Reply]:
    live = live_of(deps.kb)
    taught = await teach(
        ctx.session,
        live,
        entry_id,
        question,
        max_chars=deps.max_message_chars,
        taught_by=ctx.person.id,
        question_id=request.question_id,
        force=force,
    )
    if taught.status is Status.HELD:
        anyway = _action(TEACH_ANYWAY_VERB, request.id, taught.entry.id)
        buttons = (Button(texts.TEACH_ANYWAY, anyway),) if anyway else ()
        return [Reply("\n".join(taught.lines(held_hint=texts.TEACH_HELD_CHAT)), buttons)]
    if taught.status is Status.TAUGHT and taught.kb is not None and taught.version is not None:
        await ctx.session.commit()  # durable first; then every message here uses it
        live.install(taught.kb, taught.version)
    return [Reply("\n".join(taught.lines(held_hint="")))]


async def _pressed(deps: Deps, ctx: Context, args: str, *, force: bool) -> list[Reply]:
    raw_id, _, entry_id = args.partition(":")
    request = await ctx.session.get(HotlineRequest, int(raw_id)) if raw_id.isdigit() else None
    if request is None or deps.kb.entry(entry_id) is None:
        return [Reply(texts.TEACH_STALE)]
    question = await _question_of(ctx, request)
    return await _teach(deps, ctx, request, question, entry_id, force=force)


async def teach_button(deps: Deps, ctx: Context, args: str) -> list[Reply]:
    return await _pressed(deps, ctx, args, force=False)


async def teach_anyway_button(deps: Deps, ctx: Context, args: str) -> list[Reply]:
    return await _pressed(deps, ctx, args, force=True)
