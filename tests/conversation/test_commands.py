"""The table of chat commands (bot/conversation/commands.py): the dispatcher reaches every declared
handler and refuses those a sender may not use, and the README lists exactly the declared
commands."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from bot.conversation.chat_command import FOR_EVERYONE, FOR_MEMBERS, FOR_STAFF, Audience
from bot.conversation.commands import COMMANDS, help_lines, lookup
from bot.conversation.privacy_command import YOUR_RIGHTS
from bot.core import texts
from bot.store.models import HotlineRequest, RequestKind
from tests.escalation.conftest import Partnership
from tests.escalation.conftest import partnership as partnership  # the fixture "p"

README = Path(__file__).parents[2] / "README.md"
WHO = {"members": FOR_MEMBERS, "staff": FOR_STAFF, "everyone": FOR_EVERYONE}


def usage_reply(usage: str) -> Callable[[str], bool]:
    return lambda text: text.startswith(texts.REFERENCE_USAGE.format(usage=usage))


# What each command's own handler answers when sent bare by someone it is for: a reply no other
# handler gives, so a command routed to the wrong handler (or to none) fails.
BARE_REPLIES: dict[str, Callable[[str], bool]] = {
    "/start": lambda text: text.startswith("Hello Mo! " + texts.HELP.split("\n")[0]),
    "/emergency": lambda text: "emergency (reference HL-" in text,
    "/human": lambda text: text.startswith(texts.PASSED_ON.split("(")[0]),
    "/subscribe": lambda text: text in (texts.SUBSCRIBED, texts.ALREADY_SUBSCRIBED),
    "/unsubscribe": lambda text: text in (texts.UNSUBSCRIBED, texts.ALREADY_UNSUBSCRIBED),
    "/digest": lambda text: text.startswith("You ") and "/digest" in text,
    "/link": lambda text: text == texts.ALREADY_LINKED,
    "/help": lambda text: text.startswith(texts.HELP.split("\n")[0]),
    "/privacy": lambda text: text.endswith(YOUR_RIGHTS),
    "/oncall": lambda text: text.startswith(texts.ON_DUTY.split("{")[0]),
    "/open": lambda text: text == texts.NO_OPEN_REQUESTS,
    "/ack": usage_reply("/ack REF"),
    "/resolve": usage_reply("/resolve REF NOTE"),
    "/note": usage_reply("/note REF TEXT"),
    "/reply": usage_reply("/reply REF TEXT"),
    "/teach": lambda text: text == texts.TEACH_USAGE,
    "/console": lambda text: (
        text.startswith(texts.CONSOLE_LINK.split("{")[0]) and "/console/signin/" in text
    ),
    "/news": lambda text: text == texts.USAGE.format(usage=texts.NEWS_USAGE),
    "/event": lambda text: text == texts.USAGE.format(usage=texts.EVENT_USAGE),
}


def test_every_declared_command_has_a_routing_check() -> None:
    assert set(BARE_REPLIES) == {c.name for c in COMMANDS}, "a command without its BARE_REPLIES"


async def test_routing_reaches_every_declared_handler(p: Partnership) -> None:
    # The staff's own commands first, so /open finds no request yet; then the member's.
    for command in sorted(COMMANDS, key=lambda c: Audience.MEMBER in c.who):
        sender = p.member if Audience.MEMBER in command.who else p.primary
        reply = (await p.say(sender, command.name)).text
        assert BARE_REPLIES[command.name](reply), (command.name, reply)
    async with p.db.session() as s:
        kinds = list(await s.scalars(select(HotlineRequest.kind).order_by(HotlineRequest.id)))
    assert kinds == [RequestKind.EMERGENCY, RequestKind.SUPPORT]  # /emergency, then /human


async def test_a_command_is_found_in_any_case_and_addressed_to_the_bot(p: Partnership) -> None:
    staff_help = (await p.say(p.primary, "/HELP@hotline_test_bot")).text
    assert staff_help == (await p.say(p.primary, "/help")).text
    assert staff_help.startswith(texts.STAFF_HELP.split("\n")[0])


async def test_a_member_is_refused_every_staff_command_and_nothing_happens(
    p: Partnership,
) -> None:
    staff_only = [c for c in COMMANDS if Audience.MEMBER not in c.who]
    assert {c.name for c in staff_only} >= {"/oncall", "/open", "/ack", "/news", "/teach"}
    for command in staff_only:
        reply = (await p.say(p.member, f"{command.name} HL-2026-0001 a note")).text
        assert reply == texts.STAFF_ONLY.format(command=command.name)
    async with p.db.session() as s:
        assert (await s.scalars(select(HotlineRequest))).all() == []


async def test_staff_are_refused_the_members_emergency_command(p: Partnership) -> None:
    reply = (await p.say(p.primary, "/emergency the boiler is on fire")).text
    assert reply == texts.MEMBERS_ONLY.format(command="/emergency")
    async with p.db.session() as s:
        assert (await s.scalars(select(HotlineRequest))).all() == []


async def test_an_unknown_command_gets_the_members_help(p: Partnership) -> None:
    reply = (await p.say(p.primary, "/frobnicate now")).text
    assert reply.startswith("I don't know the command /frobnicate. ")
    assert help_lines(Audience.MEMBER) in reply
    assert lookup("/frobnicate") is None


def test_help_lines_come_from_the_declarations() -> None:
    member_lines = help_lines(Audience.MEMBER).splitlines()
    staff_lines = help_lines(Audience.STAFF).splitlines()
    for command in COMMANDS:
        line = f"{command.usage}: {command.help}"
        for audience, lines in ((Audience.MEMBER, member_lines), (Audience.STAFF, staff_lines)):
            assert (line in lines) == (command.in_help and audience in command.who), line
    # an audience's own commands first, then the shared ones
    assert staff_lines[0] == "/oncall: who is on duty now"
    assert member_lines[0] == "/emergency WHAT HAPPENED: alert the duty officer now"
    assert staff_lines[-1] == member_lines[-1] == "/help: what I can do"


def readme_commands() -> dict[str, tuple[str, str]]:
    """The README's list of chat commands: usage line -> (who, what it does)."""
    section = README.read_text(encoding="utf-8").split("\n## Chat commands\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    rows: dict[str, tuple[str, str]] = {}
    for line in section.splitlines():
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) == 3 and cells[0].startswith("`/"):
            usage, who, does = cells
            rows[usage.strip("`")] = (who, does)
    return rows


def test_the_readme_lists_exactly_the_declared_commands() -> None:
    documented = readme_commands()
    names = {usage.split()[0] for usage in documented}
    declared = {c.name for c in COMMANDS}
    assert declared - names == set(), "declared but not in the README's list of chat commands"
    assert names - declared == set(), "in the README's list of chat commands but not declared"
    assert len(documented) == len(COMMANDS)
    for command in COMMANDS:
        who, does = documented[command.usage]  # the usage line as declared
        assert WHO[who] == command.who, command.name
        assert does, command.name
