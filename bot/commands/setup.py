"""`hotline db upgrade` and `hotline directory import / invite / unlink / deactivate / activate /
email-after` (the console's directory page calls the same domain functions)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from bot.commands.common import person_named, settings, with_db


def cmd_db_upgrade(_args: argparse.Namespace, out: TextIO) -> int:
    from bot.store import upgrade_engine
    from bot.store.db import check_sqlite_file, sqlite_path

    s = settings()
    path = sqlite_path(s.db_url)
    created = path is not None and not path.exists()
    check_sqlite_file(s.db_url)
    done = with_db(lambda db: upgrade_engine(db.engine), migrated=False)
    where = path or s.db_url.render_as_string(hide_password=True)
    if created:
        message = f"created the database {where} and applied migrations up to {done.after}"
    elif done.before is None:
        message = f"migrated a new (empty) database {where} up to {done.after}"
    elif done.before == done.after:
        message = f"database already up to date at {done.after} ({where})"
    else:
        message = f"upgraded the database {where} from {done.before} to {done.after}"
    print(message, file=out)
    return 0


def cmd_directory_import(args: argparse.Namespace, out: TextIO) -> int:
    from bot.directory import import_directory, parse_directory

    path = Path(args.file)
    parse_directory(path)  # report file problems before touching the database
    summary = with_db(lambda db: import_directory(db, path))
    print(f"{path.name}: {summary}", file=out)
    return 0


def cmd_directory_invite(args: argparse.Namespace, out: TextIO) -> int:
    """A one-time code (and a Telegram link) that links a chat account to this person."""
    from datetime import timedelta

    from bot.directory import create_invite
    from bot.directory.invites import telegram_link
    from bot.store import Database
    from bot.store.models import utcnow

    s = settings()
    days = args.days or s.invite_days

    async def invite(db: Database) -> tuple[str, str]:
        async with db.session() as session:
            person = await person_named(session, args.email)
            code = await create_invite(session, person, utcnow(), timedelta(days=days))
            return person.name, code

    name, code = with_db(invite)
    print(f"Invitation for {name}, valid for {days} days, usable once:", file=out)
    print(f"  code:     {code}", file=out)
    link = telegram_link(s.telegram_bot_username, code)
    if link:
        print(f"  Telegram: {link}", file=out)
    else:
        print(
            f"  Telegram: send /start {code} to the bot (set TELEGRAM_BOT_USERNAME for a link)",
            file=out,
        )
    print(f"  Slack:    /hotline link {code}", file=out)
    return 0


CHANNELS = ("telegram", "slack", "console")


def cmd_directory_unlink(args: argparse.Namespace, out: TextIO) -> int:
    """Remove a person's linked chat accounts (those on --channel only, when given)."""
    from bot.core.errors import UserFacingError
    from bot.directory.audit import Actor, record
    from bot.directory.identities import masked, unlink_accounts
    from bot.directory.people import person_any
    from bot.store import Database

    async def unlink(db: Database) -> tuple[str, list[tuple[str, str]]]:
        async with db.session() as session:
            person = await person_any(session, args.email)
            if person is None:
                raise UserFacingError(f"{args.email}: nobody in the directory has this email")
            removed = await unlink_accounts(session, person, args.channel)
            for identity in removed:
                record(
                    session,
                    Actor(None, None, "cli"),
                    "unlink",
                    person.email,
                    about=person.id,
                    detail=f"{identity.channel} account {masked(identity.external_id)}",
                )
            return person.name, [(i.channel, masked(i.external_id)) for i in removed]

    name, removed = with_db(unlink)
    if not removed:
        where = f" on {args.channel}" if args.channel else ""
        raise UserFacingError(f"{args.email}: {name} has no linked chat account{where}")
    for channel, account in removed:
        print(f"unlinked {name}'s {channel} account {account}", file=out)
    return 0


def cmd_directory_active(args: argparse.Namespace, out: TextIO) -> int:
    """`deactivate` / `activate`: whether the bot knows the person (bot/directory/people.py)."""
    from bot.core.errors import UserFacingError
    from bot.directory.audit import Actor, record
    from bot.directory.people import person_any, set_active
    from bot.store import Database

    active: bool = args.active

    async def change(db: Database) -> tuple[str, bool]:
        async with db.session() as session:
            person = await person_any(session, args.email)
            if person is None:
                raise UserFacingError(f"{args.email}: nobody in the directory has this email")
            changed = await set_active(session, person, active)
            if changed:
                verb = "activate" if active else "deactivate"
                record(session, Actor(None, None, "cli"), verb, person.email, about=person.id)
            return person.name, changed

    name, changed = with_db(change)
    state = "active" if active else "inactive"
    print(f"{name} is {'now' if changed else 'already'} {state}", file=out)
    return 0


def cmd_directory_email_after(args: argparse.Namespace, out: TextIO) -> int:
    """`email-after EMAIL MINUTES|default`: how long a staff member's unacknowledged chat ping
    waits before it is also emailed (bot/directory/notify.py)."""
    from bot.core.errors import UserFacingError
    from bot.directory.audit import Actor, record
    from bot.directory.notify import email_after_text, parse_email_after, set_email_after
    from bot.directory.people import person_any
    from bot.store import Database

    try:
        minutes = parse_email_after(args.minutes)
    except ValueError as exc:
        raise UserFacingError(f"{args.email}: {exc}") from None
    default = settings().staff_email_after_min

    async def change(db: Database) -> tuple[str, bool]:
        async with db.session() as session:
            person = await person_any(session, args.email)
            if person is None:
                raise UserFacingError(f"{args.email}: nobody in the directory has this email")
            before = person.email_after_minutes
            try:
                changed = await set_email_after(session, person, minutes)
            except ValueError as exc:
                raise UserFacingError(f"{args.email}: {exc}") from None
            if changed:
                record(
                    session,
                    Actor(None, None, "cli"),
                    "email-after",
                    person.email,
                    about=person.id,
                    detail=f"{_minutes(before)} -> {_minutes(minutes)}",
                )
            return person.name, changed

    name, changed = with_db(change)
    already = "" if changed else " (already)"
    print(f"{name}: pings emailed {email_after_text(minutes, default)}{already}", file=out)
    return 0


def _minutes(minutes: int | None) -> str:
    """An email-after value in an audit entry's detail."""
    return "default" if minutes is None else f"{minutes} min"


def register(sub: Any) -> None:
    db = sub.add_parser("db", help="the database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply migrations").set_defaults(func=cmd_db_upgrade)

    directory = sub.add_parser("directory", help="schools and people")
    dsub = directory.add_subparsers(dest="directory_command", required=True)
    imp = dsub.add_parser("import", help="import a YAML or CSV directory file")
    imp.add_argument("file")
    imp.set_defaults(func=cmd_directory_import)
    inv = dsub.add_parser("invite", help="a one-time code that links a chat account to a person")
    inv.add_argument("email")
    inv.add_argument(
        "--days",
        type=int,
        choices=range(1, 366),
        metavar="DAYS",
        help="how long the code stays valid (default: INVITE_DAYS, 14)",
    )
    inv.set_defaults(func=cmd_directory_invite)
    unl = dsub.add_parser("unlink", help="remove a person's linked chat accounts")
    unl.add_argument("email")
    unl.add_argument("--channel", choices=CHANNELS, help="only the account on this channel")
    unl.set_defaults(func=cmd_directory_unlink)
    off = dsub.add_parser(
        "deactivate", help="mark a person inactive: not recognised, not pinged, no digest"
    )
    off.add_argument("email")
    off.set_defaults(func=cmd_directory_active, active=False)
    on = dsub.add_parser("activate", help="mark an inactive person active again")
    on.add_argument("email")
    on.set_defaults(func=cmd_directory_active, active=True)
    after = dsub.add_parser(
        "email-after",
        help="minutes after an unacknowledged chat ping that a staff member is also emailed",
    )
    after.add_argument("email")
    after.add_argument(
        "minutes",
        metavar="MINUTES|default",
        help="0 to 1440, or default (the deployment's STAFF_EMAIL_AFTER_MIN)",
    )
    after.set_defaults(func=cmd_directory_email_after)
