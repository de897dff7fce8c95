"""/help for staff, built from the staff command lists themselves, so it cannot miss a command."""

from __future__ import annotations

from bot.conversation import digest_commands, staff
from bot.core import texts


def staff_help() -> str:
    commands = (*staff.STAFF, *digest_commands.STAFF)
    return texts.STAFF_HELP.format(commands="\n".join(f"{c.usage}: {c.does}" for c in commands))
