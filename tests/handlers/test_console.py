"""The console channel: a thin adapter that shows buttons as numbered choices."""

import io

from bot.conversation import texts
from bot.conversation.context import Deps
from bot.conversation.dispatcher import Dispatcher, DispatcherConfig
from bot.handlers.console import ConsoleChat
from bot.store import Database
from tests.factories import make_person


async def test_numbers_press_the_buttons_of_the_last_reply(db: Database, deps: Deps) -> None:
    member = await make_person(db)
    out = io.StringIO()
    chat = ConsoleChat(
        Dispatcher(db, deps, DispatcherConfig(hotline_phone="1")), member.email, out=out
    )
    await chat.send("How much does membership cost?")
    assert "  [1] " + texts.HELPFUL in out.getvalue()
    replies = await chat.send("1")
    assert replies[0].text == texts.THANKS_HELPFUL
    replies = await chat.send("7")  # no such choice: treated as a question
    assert replies[0].text != texts.THANKS_HELPFUL


async def test_the_loop_ends_on_end_of_input(db: Database, deps: Deps) -> None:
    member = await make_person(db)
    lines = iter(["/help\n", ""])
    out = io.StringIO()
    chat = ConsoleChat(
        Dispatcher(db, deps, DispatcherConfig(hotline_phone="1")),
        member.email,
        out=out,
        read_line=lambda: next(lines),
    )
    await chat.run()
    assert "/human" in out.getvalue()
