"""`hotline db upgrade`, `hotline directory import` and `hotline directory invite`."""

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
    username = s.telegram_bot_username
    if username:
        print(f"  Telegram: https://t.me/{username.lstrip('@')}?start={code}", file=out)
    else:
        print(
            f"  Telegram: send /start {code} to the bot (set TELEGRAM_BOT_USERNAME for a link)",
            file=out,
        )
    print(f"  Slack:    /hotline link {code}", file=out)
    return 0


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
