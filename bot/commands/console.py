"""`hotline console link EMAIL`: a one-time sign-in link to the staff console, for the first
admin before anyone has a chat account linked (staff send /console in chat)."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from bot.commands.common import person_named, settings, with_db


def cmd_console_link(args: argparse.Namespace, out: TextIO) -> int:
    from bot.core.errors import UserFacingError
    from bot.directory.console_access import LINK_TTL, create_link, signin_url
    from bot.store import Database
    from bot.store.models import utcnow

    s = settings()

    async def link(db: Database) -> tuple[str, str]:
        async with db.session() as session:
            person = await person_named(session, args.email)
            if not person.is_staff:
                raise UserFacingError(
                    f"{args.email}: {person.name} is a member; the console is for staff and "
                    "admins (the directory's role column)"
                )
            token = await create_link(session, person, utcnow())
            return person.name, token

    name, token = with_db(link)
    minutes = int(LINK_TTL.total_seconds() // 60)
    print(f"Console sign-in link for {name}, usable once within {minutes} minutes:", file=out)
    print(f"  {signin_url(s.public_url, token)}", file=out)
    return 0


def register(sub: Any) -> None:
    console = sub.add_parser("console", help="the staff console in the browser")
    csub = console.add_subparsers(dest="console_command", required=True)
    link = csub.add_parser("link", help="a one-time sign-in link for a staff member or admin")
    link.add_argument("email")
    link.set_defaults(func=cmd_console_link)
