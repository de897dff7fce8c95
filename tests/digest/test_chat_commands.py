"""/subscribe, /unsubscribe, /news and /event as the dispatcher will call them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from bot.conversation.context import Context, Deps
from bot.conversation.digest_commands import STAFF, SUBSCRIPTION
from bot.core.types import IncomingMessage, Reply
from bot.store.models import ContentItem, ContentKind, Person, Role
from tests.digest.conftest import LONDON, Digests, member


async def say(d: Digests, deps: Deps, person: Person, command: str, rest: str = "") -> str:
    handler = {c.name: c.run for c in (*SUBSCRIPTION, *STAFF)}[command]
    async with d.db.session() as session:
        row = await session.get(Person, person.id)
        assert row is not None
        message = IncomingMessage("console", person.email, person.email, text=f"{command} {rest}")
        replies: list[Reply] = await handler(deps, Context(session, row, message, d.clock()), rest)
    assert len(replies) == 1
    return replies[0].text


async def subscribed(d: Digests, person: Person) -> bool:
    async with d.db.session() as session:
        row = await session.get(Person, person.id)
        assert row is not None
        return row.digest_subscribed


async def test_subscribe_and_unsubscribe_change_it_at_once_and_confirm(
    d: Digests, deps: Deps
) -> None:
    head = await member(d.db, subscribed=False)
    assert (await say(d, deps, head, "/subscribe")).startswith("You're subscribed")
    assert await subscribed(d, head)
    assert (await say(d, deps, head, "/subscribe")).startswith("You're already subscribed")
    assert (await say(d, deps, head, "/unsubscribe")).startswith("Done: you won't get")
    assert not await subscribed(d, head)
    assert (await say(d, deps, head, "/unsubscribe")).startswith("You're not subscribed")


async def test_staff_add_news_and_events_from_chat(d: Digests, deps: Deps) -> None:
    staff = await member(d.db, role=Role.STAFF)
    d.clock.now = datetime(2026, 11, 30, 10, 0, tzinfo=LONDON)
    reply = await say(
        d, deps, staff, "/news", "Snow closures | Check [the map](https://example.org/snow)"
    )
    assert reply.startswith("News added: 'Snow closures'")
    reply = await say(d, deps, staff, "/event", "2026-12-09 16:00 | Maths leads | Room 2")
    assert reply.startswith("Event added: 'Maths leads' on Wed 9 Dec 16:00")
    again = await say(d, deps, staff, "/news", "Snow closures | A second note")
    assert again.startswith("News added")
    async with d.db.session() as session:
        slugs = set(
            await session.scalars(
                select(ContentItem.slug).where(ContentItem.source == "console chat")
            )
        )
        news = await session.scalar(
            select(ContentItem).where(ContentItem.slug == "2026-11-30-snow-closures")
        )
    assert slugs == {
        "2026-11-30-snow-closures",
        "2026-11-30-snow-closures-2",
        "2026-11-30-maths-leads",
    }
    assert news is not None and news.kind is ContentKind.NEWS and news.created_by_id == staff.id


async def test_bad_chat_input_gets_usage_not_an_error(d: Digests, deps: Deps) -> None:
    staff = await member(d.db, role=Role.STAFF)
    assert (await say(d, deps, staff, "/news", "only a title")).startswith(
        "Usage: /news TITLE | TEXT"
    )
    bad_date = await say(d, deps, staff, "/event", "next week | Network | Room 1")
    assert "date: 'next week' is not a date" in bad_date and "Usage: /event DATE" in bad_date
    past = await say(d, deps, staff, "/event", "2020-01-01 | Old | x")
    assert past.startswith("2020-01-01 has already passed.")
    bad_link = await say(d, deps, staff, "/news", "T | see [x](javascript:alert(1))")
    assert bad_link.startswith("News added")  # text is text; only the adapters render links
