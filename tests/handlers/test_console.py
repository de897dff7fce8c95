"""The console channel: a thin adapter that shows buttons as numbered choices."""

import io
import re

from sqlalchemy import select

from bot.conversation.context import Deps
from bot.conversation.dispatcher import Dispatcher, DispatcherConfig
from bot.core import texts
from bot.core.types import Button, Reply
from bot.delivery.outbox import deliver_due
from bot.handlers.console import ConsoleChat, ConsoleSender, render
from bot.store import Database
from bot.store.models import HotlineRequest, RequestStatus, Role
from tests.factories import make_person, make_rota, rota_yaml


async def test_numbers_press_the_buttons_of_the_last_reply(db: Database, deps: Deps) -> None:
    member = await make_person(db)
    out = io.StringIO()
    chat = ConsoleChat(Dispatcher(db, deps, DispatcherConfig()), member.email, out=out)
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
        Dispatcher(db, deps, DispatcherConfig()),
        member.email,
        out=out,
        read_line=lambda: next(lines),
    )
    await chat.run()
    assert "/human" in out.getvalue()


async def test_two_pending_pings_are_numbered_apart_and_press_the_right_request(
    db: Database, deps: Deps
) -> None:
    first_member, second_member = await make_person(db), await make_person(db)
    staff = await make_person(db, role=Role.STAFF, name="Sam Adeyemi")
    fallback = await make_person(db, role=Role.ADMIN)
    await make_rota(db, rota_yaml(staff.email, None, fallback.email))
    dispatcher = Dispatcher(db, deps, DispatcherConfig())
    out = io.StringIO()
    chat = ConsoleChat(dispatcher, staff.email, out=out)
    sender = ConsoleSender(out, choices=chat.choices)
    members = ConsoleChat(dispatcher, first_member.email, out=io.StringIO())
    await members.send("/emergency burst pipe flooding the hall")
    members = ConsoleChat(dispatcher, second_member.email, out=io.StringIO())
    await members.send("/emergency a journalist is at the gates")
    assert await deliver_due(db, {"console": sender}, chat_ids={staff.email}) == 2
    async with db.session() as s:
        first, second = (await s.scalars(select(HotlineRequest).order_by(HotlineRequest.id))).all()
    shown = dict(re.findall(r"\[(\d+)\] (\w+ HL-\d{4}-\d{4})", out.getvalue()))
    assert sorted(shown.values()) == sorted(
        f"{label} {r.reference}" for r in (first, second) for label in ("Acknowledge", "Resolve")
    )
    number = {label: n for n, label in shown.items()}

    replies = await chat.send(number[f"Acknowledge {second.reference}"])
    assert replies[-1].text == texts.YOU_ACKNOWLEDGED.format(reference=second.reference)
    async with db.session() as s:
        statuses = [r.status for r in await s.scalars(select(HotlineRequest).order_by("id"))]
    assert statuses == [RequestStatus.OPEN, RequestStatus.ACKNOWLEDGED]

    # One shot: that ping's numbers are gone; the other ping's still press the first request.
    assert chat.choices.press(int(number[f"Resolve {second.reference}"])) is None
    replies = await chat.send(number[f"Acknowledge {first.reference}"])
    assert replies[-1].text == texts.YOU_ACKNOWLEDGED.format(reference=first.reference)


def test_buttons_that_name_their_requests_are_not_given_another() -> None:
    asked = Reply(
        "Add this to HL-2026-0001 and HL-2026-0002, or is it something new?",
        (
            Button("Add to HL-2026-0001", "add:1:1"),
            Button("Add to HL-2026-0002", "add:1:2"),
            Button("Something new", "new:1"),
        ),
    )
    assert render(asked).splitlines()[-3:] == [
        "  [1] Add to HL-2026-0001",
        "  [2] Add to HL-2026-0002",
        "  [3] Something new",
    ]
    ping = Reply("HOTLINE HL-2026-0003 (primary duty officer)", (Button("Acknowledge", "ack:3"),))
    assert render(ping).splitlines()[-1] == "  [1] Acknowledge HL-2026-0003"
