"""`hotline privacy export EMAIL --out PATH` and `hotline privacy erase EMAIL [--yes]`: a person's
copy of their data and their erasure (bot/privacy/export.py, erase.py), both recorded in the
audit log with the command line as who did it.

The rota check is escalation's (bot/escalation/rota_store.py `rota_duties`; bot/privacy may not
import bot.escalation): erase.py is handed `on_rota`, which names where the person is still on
the duty rota.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bot.commands.common import settings, with_db
from bot.core.errors import UserFacingError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.privacy.erase import Plan
    from bot.privacy.export import Exported
    from bot.store import Database
    from bot.store.models import Person


async def _person(session: AsyncSession, email: str) -> Person:
    """The person with this email, active or not; else one line saying so: "already erased"
    (AlreadyErasedError) when the person who had it was erased."""
    from bot.directory.people import person_any
    from bot.privacy.erase import AlreadyErasedError, erased_on

    person = await person_any(session, email)
    if person is not None:
        return person
    when = await erased_on(session, email)
    if when is not None:
        raise AlreadyErasedError(email, when)
    raise UserFacingError(f"{email}: nobody in the directory has this email")


def cmd_export(args: argparse.Namespace, out: TextIO) -> int:
    from bot.directory.audit import Actor
    from bot.privacy.erase import AlreadyErasedError
    from bot.privacy.export import check_destination, export_person

    path = Path(args.out)
    check_destination(path)  # before the database: a bad destination is one line

    async def work(db: Database) -> Exported:
        async with db.session() as session:
            person = await _person(session, args.email)
            if person.erased_at is not None:
                raise AlreadyErasedError(args.email, person.erased_at)
            return await export_person(
                session, person, path, Actor(None, None, "cli"), datetime.now(UTC)
            )

    try:
        done = with_db(work)
    except AlreadyErasedError as exc:  # nothing is held about them any more
        raise UserFacingError(
            f"{args.email}: nobody in the directory has this email (erased on {exc.at:%Y-%m-%d})"
        ) from None
    counts = ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in done.counts.items())
    print(f"wrote what is held about {done.name} to {path} ({counts})", file=out)
    return 0


def cmd_erase(args: argparse.Namespace, out: TextIO) -> int:
    from bot.directory.audit import Actor
    from bot.privacy.erase import (
        AlreadyErasedError,
        check_rota,
        erase_person,
        plan,
        refuse_if_erased,
    )

    tz = settings().tz
    now = datetime.now(UTC)

    from bot.escalation.rota_store import rota_duties

    async def on_rota(session: AsyncSession, person: Person) -> list[str]:
        return await rota_duties(session, person, now, tz)

    async def work(db: Database) -> tuple[str, Plan, bool]:
        async with db.session() as session:
            person = await _person(session, args.email)
            name = person.name
            if not args.yes:
                refuse_if_erased(person, args.email)
                await check_rota(session, person, on_rota, args.email)
                return name, await plan(session, person), False
            done = await erase_person(session, person, Actor(None, None, "cli"), now, on_rota, tz)
            return name, done, True

    try:
        name, done, erased = with_db(work)
    except AlreadyErasedError as exc:
        print(str(exc), file=out)
        return 0
    if not erased:
        print(f"Erasing {name} ({args.email}) would:", file=out)
        for line in done.lines():
            print(f"  {line}", file=out)
        print(f"Nothing is changed yet: run hotline privacy erase {args.email} --yes", file=out)
        return 0
    print(f"erased {name} ({args.email}): {done.detail()}", file=out)
    return 0


def register(privacy: Any) -> None:
    """Adds this module's subcommands to `hotline privacy`."""
    export = privacy.add_parser(
        "export", help="a copy of everything held about a person (JSON and HTML)"
    )
    export.add_argument("email", metavar="EMAIL")
    export.add_argument(
        "--out",
        required=True,
        metavar="PATH",
        help="a new or empty folder, or a file name ending in .zip",
    )
    export.set_defaults(func=cmd_export)
    erase = privacy.add_parser(
        "erase", help="erase a person: accounts and texts removed, requests kept anonymised"
    )
    erase.add_argument("email", metavar="EMAIL")
    erase.add_argument(
        "--yes", action="store_true", help="do it (without: only say what would be done)"
    )
    erase.set_defaults(func=cmd_erase)
