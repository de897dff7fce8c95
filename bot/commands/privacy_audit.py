"""`hotline privacy audit`: the audit log read from the command line, for a data-protection
officer checking who viewed, exported, erased or held what (registered by
bot/commands/privacy.py). One line per entry, newest first, in the partnership's timezone."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from bot.commands.common import parse_time, settings, with_db
from bot.core.errors import UserFacingError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from bot.store import Database
    from bot.store.models import AuditEntry

DATE_CHARS = len("2026-11-23")  # a date alone, not a time


def _window(args: argparse.Namespace, tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    """[since, until) in UTC from --from and --to; a date alone for --to runs to the end of that
    day in the partnership's timezone, as `hotline report` reads it."""
    from datetime import timedelta

    from bot.escalation.reports import day_start

    since = parse_time(args.start, tz) if args.start else None
    until = None
    if args.end:
        until = parse_time(args.end, tz)
        if len(args.end) == DATE_CHARS:
            until = day_start(until.astimezone(tz).date() + timedelta(days=1), tz)
    if since is not None and until is not None and until <= since:
        raise UserFacingError(f"--from {args.start} must come before --to {args.end}")
    return since, until


def entry_line(entry: AuditEntry, tz: ZoneInfo) -> str:
    """One entry: when (the partnership's time), who (their email; "cli" for a command line,
    "system" for the bot itself), what, to what, and by which way in."""
    if entry.actor is not None:
        who = entry.actor.email
    else:
        who = "cli" if entry.via == "cli" else "system"
    return (
        f"{entry.at.astimezone(tz):%Y-%m-%d %H:%M:%S %Z}  {who}  {entry.action}  "
        f"{entry.subject or '-'}  via {entry.via}"
    )


def cmd_privacy_audit(args: argparse.Namespace, out: TextIO) -> int:
    from sqlalchemy import select

    from bot.directory.audit import entries
    from bot.store.models import Person

    tz = settings().tz
    since, until = _window(args, tz)

    async def work(db: Database) -> list[str]:
        async with db.reading() as session:
            person_id = None
            if args.person:
                email = args.person.strip().lower()
                # Inactive people too: the audit trail of someone who has left still matters.
                person_id = await session.scalar(select(Person.id).where(Person.email == email))
                if person_id is None:
                    raise UserFacingError(f"{args.person}: nobody in the directory has this email")
            rows = await entries(
                session,
                limit=None,
                action=args.action,
                person_id=person_id,
                since=since,
                until=until,
            )
            return [entry_line(entry, tz) for entry in rows]

    lines = with_db(work)
    print("\n".join(lines) if lines else "no audit entries match", file=out)
    return 0


def register(privacy: Any) -> None:
    """Adds this module's subcommands to `hotline privacy`."""
    audit = privacy.add_parser(
        "audit",
        help="the audit log, newest first: who viewed, exported, erased or held what",
        description=(
            "The audit log, one line per entry, newest first: time (the partnership's "
            "timezone), who (an email; cli or system), action, subject, via."
        ),
    )
    audit.add_argument("--person", metavar="EMAIL", help="only entries by or about this person")
    audit.add_argument(
        "--from", dest="start", metavar="DATE", help="from this date or time (2026-11-23)"
    )
    audit.add_argument(
        "--to", dest="end", metavar="DATE", help="up to this time, or the end of this date"
    )
    audit.add_argument("--action", metavar="A", help="only this action (view-restricted, erase...)")
    audit.set_defaults(func=cmd_privacy_audit)
