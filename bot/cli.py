"""The `hotline` command. Bad settings exit 2 with one line; bad data files exit 1 with one line
per problem; nothing prints a traceback for a problem the user can fix."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TextIO

from bot.config import Settings, load_settings
from bot.errors import ConfigError, DataError, StoreUnavailableError

log = logging.getLogger("bot")


def _settings() -> Settings:
    return load_settings()


# ask


def _read_queries(source: str) -> Iterable[str]:
    if source == "-":
        return sys.stdin.read().splitlines()
    try:
        return Path(source).read_text("utf-8").splitlines()
    except OSError as exc:
        raise DataError([f"{source}: cannot read: {exc.strerror}"]) from None


def cmd_ask(args: argparse.Namespace, out: TextIO) -> int:
    from bot.knowledge import load_knowledge_base

    kb = load_knowledge_base(_settings().data_dir)
    queries: Iterable[str] = _read_queries(args.batch) if args.batch else [" ".join(args.text)]
    for query in queries:
        result = kb.match(query)
        if args.json:
            print(json.dumps(result.as_json(), ensure_ascii=False), file=out)
            continue
        print(f"{result.band.value} (score {result.score:.3f})", file=out)
        if result.answer_id:
            entry = kb.entry(result.answer_id)
            print(f"{result.answer_id}: {entry.answer if entry else ''}", file=out)
        for s in result.suggestions:
            print(f"  {s.id} {s.score:.3f}", file=out)
    return 0


# faq


def cmd_faq_check(args: argparse.Namespace, out: TextIO) -> int:
    from bot.knowledge import check_faq_dir
    from bot.knowledge.language import load_lexicon
    from bot.knowledge.loader import language_dir

    if args.dir:
        target = Path(args.dir)
        faq_dir = target / "faq" if (target / "faq").is_dir() else target
    else:
        faq_dir = _settings().data_dir / "faq"
    entries, problems = check_faq_dir(faq_dir)
    try:
        load_lexicon(language_dir(faq_dir.parent))
    except DataError as exc:
        problems.extend(exc.problems)
    for line in problems:
        print(line, file=out)
    if problems:
        return 1
    print(f"{faq_dir}: {len(entries)} entries, all valid", file=out)
    return 0


# database and directory


def cmd_db_upgrade(_args: argparse.Namespace, out: TextIO) -> int:
    from bot.store import upgrade
    from bot.store.db import check_sqlite_file, sqlite_path

    settings = _settings()
    check_sqlite_file(settings.db_url)
    upgrade(settings.db_url)
    where = sqlite_path(settings.db_url) or settings.db_url.render_as_string(hide_password=True)
    print(f"database is up to date ({where})", file=out)
    return 0


def cmd_directory_import(args: argparse.Namespace, out: TextIO) -> int:
    from bot.directory import import_directory, parse_directory
    from bot.store import Database

    path = Path(args.file)
    parse_directory(path)  # report file problems before touching the database

    async def run() -> str:
        db = Database(_settings().db_url)
        try:
            return str(await import_directory(db, path))
        finally:
            await db.dispose()

    print(f"{path.name}: {asyncio.run(run())}", file=out)
    return 0


# chat


def cmd_chat(args: argparse.Namespace, out: TextIO) -> int:
    from bot.app import open_runtime
    from bot.directory import link_identity, person_by_email
    from bot.handlers.console import CHANNEL, ConsoleChat

    settings = _settings()
    email = args.as_email.strip().lower()

    async def run() -> None:
        async with open_runtime(settings) as rt:
            async with rt.db.session() as session:
                person = await person_by_email(session, email)
                if person is not None:
                    await link_identity(session, person, CHANNEL, email, chat_id=email)
            who = (
                f"{person.name} ({person.role.value})"
                if person
                else f"{email} (not in the directory)"
            )
            print(f"Console chat as {who}.", file=out)
            await ConsoleChat(rt.dispatcher, email, out=out).run()

    asyncio.run(run())
    return 0


def cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    settings = _settings()
    if settings.telegram_token or settings.slack_bot_token:
        print(
            "Slack and Telegram channels arrive with a later release; starting the console.",
            file=out,
        )
    if not args.as_email:
        raise ConfigError("--as: the console channel needs --as EMAIL (a person in the directory)")
    return cmd_chat(args, out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotline", description="Member hotline bot")
    sub = parser.add_subparsers(dest="command", required=True)

    ask = sub.add_parser("ask", help="match a question against the FAQ")
    ask.add_argument("text", nargs="*", help="the question")
    ask.add_argument("--json", action="store_true", help="print one JSON object a query")
    ask.add_argument("--batch", metavar="FILE", help="one query a line; - for standard input")
    ask.set_defaults(func=cmd_ask)

    faq = sub.add_parser("faq", help="the knowledge base").add_subparsers(
        dest="faq_command", required=True
    )
    check = faq.add_parser("check", help="validate FAQ files")
    check.add_argument(
        "dir", nargs="?", help="a faq folder or a data folder (default DATA_DIR/faq)"
    )
    check.set_defaults(func=cmd_faq_check)

    db = sub.add_parser("db", help="the database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply migrations").set_defaults(func=cmd_db_upgrade)

    directory = sub.add_parser("directory", help="schools and people")
    dsub = directory.add_subparsers(dest="directory_command", required=True)
    imp = dsub.add_parser("import", help="import a YAML or CSV directory file")
    imp.add_argument("file")
    imp.set_defaults(func=cmd_directory_import)

    chat = sub.add_parser("chat", help="chat in the terminal as a person from the directory")
    chat.add_argument("--as", dest="as_email", required=True, metavar="EMAIL")
    chat.set_defaults(func=cmd_chat)

    run = sub.add_parser("run", help="start every configured channel (the console when none is)")
    run.add_argument("--as", dest="as_email", metavar="EMAIL", help="who the console chats as")
    run.set_defaults(func=cmd_run)
    return parser


def _fail(lines: Sequence[str], code: int, err: TextIO) -> int:
    for line in lines:
        print(line, file=err)
    return code


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    args = build_parser().parse_args(argv)
    if args.command == "ask" and not args.batch and not args.text:
        return _fail(["hotline ask: give a question, or --batch FILE"], 2, err)
    logging.basicConfig(
        level=logging.WARNING, stream=err, format="%(levelname)s %(name)s: %(message)s"
    )
    func: Callable[[argparse.Namespace, TextIO], int] = args.func
    try:
        return func(args, out)
    except ConfigError as exc:
        return _fail([f"configuration error: {exc}"], 2, err)
    except DataError as exc:
        return _fail(exc.problems, 1, err)
    except StoreUnavailableError as exc:
        return _fail([f"database error: {exc}"], 1, err)
    except KeyboardInterrupt:
        return 130
