"""Every chat command, in one table: the dispatcher routes by it, /help lists it by audience, and
the platforms' command menus (Telegram's list, Slack's usage hint) and the README's list of chat
commands (tests/conversation/test_commands.py) follow it. The declarations sit beside their
handlers (bot/conversation/chat_command.py says what one holds); /start and /help, which
describe the table, are declared here."""

from __future__ import annotations

from bot.conversation import digest_commands, member_commands, privacy_command, staff
from bot.conversation.chat_command import FOR_EVERYONE, Audience, Command, audience_of
from bot.conversation.context import Context, Deps
from bot.core import texts
from bot.core.types import MenuCommand, Reply

# /help's text for each audience, around the lines of the commands it may use.
HELP_TEXTS = {Audience.MEMBER: texts.HELP, Audience.STAFF: texts.STAFF_HELP}
# How a menu marks a command only some may use, by the audience it is for (members' unmarked).
MENU_LABELS = {Audience.MEMBER: "{help}", Audience.STAFF: texts.STAFF_MENU}


def help_lines(audience: Audience) -> str:
    """A line "/usage: help" for each command the audience may use and /help lists: its own
    first, then those it shares with others, each group in the table's order."""
    listed = [c for c in COMMANDS if c.in_help and audience in c.who]
    listed.sort(key=lambda c: c.who != {audience})  # a stable sort keeps the table's order
    return "\n".join(f"{c.usage}: {c.help}" for c in listed)


def help_text(audience: Audience, phone: str) -> str:
    return HELP_TEXTS[audience].format(commands=help_lines(audience), phone=phone)


def lookup(name: str) -> Command | None:
    """The command typed as `name` ("/ack", already in lower case and without @bot)."""
    return _BY_NAME.get(name)


def menu(channel: str) -> tuple[MenuCommand, ...]:
    """The commands the channel's command menu offers, in the table's order."""
    return tuple(
        MenuCommand(c.name.removeprefix("/"), c.args, _summary(c), Audience.MEMBER in c.who)
        for c in COMMANDS
        if channel in c.menus
    )


def _summary(command: Command) -> str:
    audience = next(a for a in Audience if a in command.who)
    summary = MENU_LABELS[audience].format(help=command.help)
    return summary[:1].upper() + summary[1:]


async def start(deps: Deps, ctx: Context, _rest: str) -> list[Reply]:
    # "/start CODE" is redeemed before the sender is identified (bot/conversation/linking.py).
    first_name = ctx.person.name.split()[0]
    welcome = texts.WELCOME.format(
        name=first_name, commands=help_lines(Audience.MEMBER), phone=deps.hotline_phone
    )
    return [Reply(welcome)]


async def help_cmd(deps: Deps, ctx: Context, _rest: str) -> list[Reply]:
    return [Reply(help_text(audience_of(ctx.person), deps.hotline_phone))]


START = Command(
    "/start",
    FOR_EVERYONE,
    start,
    "link your account or see what I can do",
    "[CODE]",
    in_help=False,
    menus=frozenset({"telegram"}),  # what Telegram's invitation links and Start button send
)
HELP = Command("/help", FOR_EVERYONE, help_cmd, "what I can do")

COMMANDS: tuple[Command, ...] = (
    START,
    member_commands.EMERGENCY,
    member_commands.HUMAN,
    *digest_commands.SUBSCRIPTION,
    member_commands.LINK,
    privacy_command.PRIVACY,
    HELP,
    *staff.STAFF,
    *digest_commands.STAFF,
)
_BY_NAME = {c.name: c for c in COMMANDS}
if len(_BY_NAME) != len(COMMANDS):
    raise ValueError("two chat commands share a name")
