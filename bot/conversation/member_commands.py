"""/emergency, /human and /link, declared beside their handlers (bot/conversation/commands.py
collects every chat command)."""

from __future__ import annotations

from bot.conversation.chat_command import FOR_EVERYONE, FOR_MEMBERS, Command
from bot.conversation.context import Context, Deps
from bot.conversation.emergency import raise_emergency
from bot.conversation.pass_on import pass_on
from bot.core import texts
from bot.core.types import Reply

EMERGENCY_COMMAND = "/emergency"


async def emergency(deps: Deps, ctx: Context, rest: str) -> list[Reply]:
    return await raise_emergency(deps, ctx, rest or texts.EMERGENCY_NO_TEXT)


async def human(deps: Deps, ctx: Context, rest: str) -> list[Reply]:
    return [await pass_on(deps, ctx, rest or texts.HUMAN_NO_TEXT, None)]


async def link(deps: Deps, ctx: Context, _rest: str) -> list[Reply]:
    # "/link CODE" is redeemed before the sender is identified (bot/conversation/linking.py);
    # what reaches here is /link without a code, from an account already linked.
    return [Reply(texts.ALREADY_LINKED)]


EMERGENCY = Command(
    EMERGENCY_COMMAND, FOR_MEMBERS, emergency, "alert the duty officer now", "WHAT HAPPENED"
)
HUMAN = Command(
    "/human", FOR_EVERYONE, human, "ask for a person from the Partnership team to reply to you"
)
# Slack's way to link (Telegram's invitation links send /start CODE).
LINK = Command(
    "/link",
    FOR_EVERYONE,
    link,
    "link this chat account with an invitation code",
    "CODE",
    in_help=False,
    menus=frozenset({"slack"}),
)
