"""What a chat command is: one declaration of its name, who may use it, its handler, a line of
help and its arguments. The declarations sit beside their handlers; bot/conversation/commands.py
collects them into the one table that routing, /help and the platforms' menus read."""

from __future__ import annotations

import enum
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.conversation.context import Context, Deps
from bot.core import texts
from bot.core.types import Reply
from bot.store.models import Person

# A command's (or a staff button's) handler: the shared services, the message's context and the
# text after the command's name.
Run = Callable[[Deps, Context, str], Awaitable[list[Reply]]]

NAME = re.compile(r"^/[a-z0-9_]+$")  # the dispatcher matches the typed name in lower case


class Audience(enum.Enum):
    """Who may use a command; each person is in one audience (`audience_of`). Admin-only
    commands need an ADMIN member here, `audience_of` returning it for Role.ADMIN, its refusal
    in REFUSALS, its /help text and menu label in bot/conversation/commands.py, and ADMIN added
    to FOR_STAFF and FOR_EVERYONE so that admins keep the staff's commands."""

    MEMBER = "member"  # people of member schools
    STAFF = "staff"  # Partnership staff, admins included


FOR_MEMBERS = frozenset({Audience.MEMBER})
FOR_STAFF = frozenset({Audience.STAFF})
FOR_EVERYONE = frozenset(Audience)

# What someone a command is not for is told: the refusal of the audience it is for (the first in
# the order of Audience, when it is for several).
REFUSALS = {Audience.MEMBER: texts.MEMBERS_ONLY, Audience.STAFF: texts.STAFF_ONLY}

# The channels whose platform offers a menu of commands: Telegram's command list (setMyCommands)
# and the usage hint of Slack's /hotline.
MENUS = frozenset({"telegram", "slack"})


def audience_of(person: Person) -> Audience:
    return Audience.STAFF if person.is_staff else Audience.MEMBER


@dataclass(frozen=True)
class Command:
    """A chat command, declared once."""

    name: str  # what is typed: "/ack" (on Slack, /hotline ack)
    who: frozenset[Audience]  # who may use it
    run: Run
    help: str  # one line on what it does, for /help and the command menus
    args: str = ""  # what follows the name, e.g. "REF NOTE"; empty when it takes nothing
    in_help: bool = True  # listed by /help (/start and /link only matter before linking)
    menus: frozenset[str] = MENUS  # the channels whose command menu offers it

    def __post_init__(self) -> None:
        problems = [
            *([] if NAME.match(self.name) else ["a name is / and lower-case letters, digits, _"]),
            *([] if self.who else ["nobody may use it"]),
            *([] if self.help.strip() and "\n" not in self.help else ["help is one line"]),
            *([] if self.menus <= MENUS else [f"menus are among {sorted(MENUS)}"]),
        ]
        if problems:
            raise ValueError(f"command {self.name!r}: {'; '.join(problems)}")

    @property
    def usage(self) -> str:
        """How to type it: "/resolve REF NOTE"."""
        return f"{self.name} {self.args}" if self.args else self.name

    def allows(self, person: Person) -> bool:
        return audience_of(person) in self.who

    def refusal(self) -> str:
        audience = next(a for a in Audience if a in self.who)
        return REFUSALS[audience].format(command=self.name)
