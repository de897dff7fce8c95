"""`hotline db upgrade` and `hotline directory import`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from bot.commands.common import settings, with_db


def cmd_db_upgrade(_args: argparse.Namespace, out: TextIO) -> int:
    from bot.store import upgrade
    from bot.store.db import check_sqlite_file, sqlite_path

    s = settings()
    check_sqlite_file(s.db_url)
    upgrade(s.db_url)
    where = sqlite_path(s.db_url) or s.db_url.render_as_string(hide_password=True)
    print(f"database is up to date ({where})", file=out)
    return 0


def cmd_directory_import(args: argparse.Namespace, out: TextIO) -> int:
    from bot.directory import import_directory, parse_directory

    path = Path(args.file)
    parse_directory(path)  # report file problems before touching the database
    summary = with_db(lambda db: import_directory(db, path))
    print(f"{path.name}: {summary}", file=out)
    return 0


def register(sub: Any) -> None:
    db = sub.add_parser("db", help="the database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply migrations").set_defaults(func=cmd_db_upgrade)

    directory = sub.add_parser("directory", help="schools and people")
    dsub = directory.add_subparsers(dest="directory_command", required=True)
    imp = dsub.add_parser("import", help="import a YAML or CSV directory file")
    imp.add_argument("file")
    imp.set_defaults(func=cmd_directory_import)
