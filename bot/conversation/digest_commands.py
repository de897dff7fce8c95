"""Chat commands for the weekly digest: /subscribe, /unsubscribe and /digest email|chat|off for
everyone linked, /news and /event for staff, declared in SUBSCRIPTION and STAFF
(bot/conversation/commands.py collects them; the dispatcher checks who may use them)."""

from __future__ import annotations

from datetime import timedelta

from bot.conversation.chat_command import FOR_EVERYONE, FOR_STAFF, Command
from bot.conversation.context import Context, Deps
from bot.core import texts
from bot.core.errors import DataError
from bot.core.types import Reply
from bot.digest.channels import CHAT, CHOICES, EMAIL, choice_of, set_channel
from bot.digest.compose import event_when
from bot.digest.content import parse_when
from bot.digest.content_store import add_from_chat
from bot.digest.subscriptions import OFF, subscribe, unsubscribe
from bot.store.models import ContentKind


async def subscribe_cmd(deps: Deps, ctx: Context, _rest: str) -> list[Reply]:
    changed = await subscribe(ctx.session, ctx.person)
    return [Reply(texts.SUBSCRIBED if changed else texts.ALREADY_SUBSCRIBED)]


async def unsubscribe_cmd(deps: Deps, ctx: Context, _rest: str) -> list[Reply]:
    changed = await unsubscribe(ctx.session, ctx.person)
    return [Reply(texts.UNSUBSCRIBED if changed else texts.ALREADY_UNSUBSCRIBED)]


async def digest_cmd(deps: Deps, ctx: Context, rest: str) -> list[Reply]:
    """/digest shows how the digest reaches them; /digest email|chat|off changes it."""
    person = ctx.person
    wanted = rest.strip().lower()
    usage = texts.DIGEST_CHANNEL_USAGE
    if not wanted:
        shown = {
            OFF: texts.DIGEST_SHOW_OFF,
            EMAIL: texts.DIGEST_SHOW_EMAIL,
            CHAT: texts.DIGEST_SHOW_CHAT,
        }.get(choice_of(person), texts.DIGEST_SHOW_DEFAULT)
        return [Reply(shown.format(email=person.email, usage=usage))]
    if wanted not in CHOICES:
        return [Reply(texts.USAGE.format(usage=usage))]
    await set_channel(ctx.session, person, wanted)
    done = {EMAIL: texts.DIGEST_NOW_EMAIL, CHAT: texts.DIGEST_NOW_CHAT, OFF: texts.DIGEST_NOW_OFF}
    return [Reply(done[wanted].format(email=person.email))]


def _parts(rest: str, count: int) -> list[str] | None:
    parts = [p.strip() for p in rest.split("|", count - 1)]
    return parts if len(parts) == count and all(parts) else None


def _problems(exc: DataError) -> str:
    # "field: problem" lines from the item validator, shown as they are: they name what to fix.
    return "\n".join(p.lstrip(": ") for p in exc.problems)


async def _add(
    deps: Deps, ctx: Context, kind: ContentKind, raw: dict[str, object], usage: str
) -> Reply:
    try:
        record = await add_from_chat(
            ctx.session,
            kind,
            raw,
            deps.timezone,
            ctx.now,
            ctx.person.id,
            f"{ctx.message.channel} chat",
        )
    except DataError as exc:
        return Reply(f"{_problems(exc)}\n{texts.USAGE.format(usage=usage)}")
    if kind is ContentKind.NEWS:
        return Reply(texts.NEWS_ADDED.format(title=record.title))
    when = event_when(record, deps.timezone)
    return Reply(texts.EVENT_ADDED.format(title=record.title, when=when))


async def news_cmd(deps: Deps, ctx: Context, rest: str) -> list[Reply]:
    parts = _parts(rest, 2)
    if parts is None:
        return [Reply(texts.USAGE.format(usage=texts.NEWS_USAGE))]
    title, text = parts
    raw: dict[str, object] = {"title": title, "text": text, "date": ctx.now}
    return [await _add(deps, ctx, ContentKind.NEWS, raw, texts.NEWS_USAGE)]


async def event_cmd(deps: Deps, ctx: Context, rest: str) -> list[Reply]:
    parts = _parts(rest, 3)
    if parts is None:
        two = _parts(rest, 2)  # the text is optional for an event
        if two is None:
            return [Reply(texts.USAGE.format(usage=texts.EVENT_USAGE))]
        parts = [*two, ""]
    when, title, text = parts
    starts = parse_when(when, deps.timezone)
    if starts is not None and starts[0] < ctx.now - timedelta(days=1):
        return [Reply(texts.EVENT_IN_PAST.format(when=when))]
    raw: dict[str, object] = {"title": title, "text": text, "date": when, "publish_from": ctx.now}
    return [await _add(deps, ctx, ContentKind.EVENT, raw, texts.EVENT_USAGE)]


SUBSCRIPTION: tuple[Command, ...] = (
    Command(
        "/subscribe", FOR_EVERYONE, subscribe_cmd, "get the weekly digest every Monday morning"
    ),
    Command("/unsubscribe", FOR_EVERYONE, unsubscribe_cmd, "stop the weekly digest"),
    Command(
        "/digest",
        FOR_EVERYONE,
        digest_cmd,
        "how you get the weekly digest: by email, here in chat, or off",
        "[email|chat|off]",
    ),
)
STAFF: tuple[Command, ...] = (
    Command("/news", FOR_STAFF, news_cmd, "news for the next weekly digest", "TITLE | TEXT"),
    Command(
        "/event",
        FOR_STAFF,
        event_cmd,
        "an event for the coming weekly digests",
        "DATE | TITLE | TEXT",
    ),
)
