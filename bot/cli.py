"""The `hotline` command. Bad settings and a database that cannot be used (down, not migrated)
exit 2 with one line; bad data files exit 1 with one line per problem; nothing prints a traceback
for a problem the user can fix.

Only the module of the command being run is imported (`GROUPS`); `hotline --help`, and any
command line the top-level parser does not accept, get every command.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn, TextIO

from bot.core.errors import ConfigError, DataError, StoreUnavailableError, UserFacingError

# Every top-level command, and the module of bot/commands that declares and runs it; the order
# of the modules is the order of `hotline --help`.
GROUPS = {
    "ask": "knowledge",
    "faq": "knowledge",
    "db": "setup",
    "directory": "setup",
    "chat": "chat",
    "run": "chat",
    "worker": "chat",
    "serve": "chat",
    "rota": "rota",
    "requests": "requests",
    "report": "requests",
    "news": "content",
    "events": "content",
    "digest": "digest",
    "console": "console",
    "privacy": "privacy",
}


class _NotThisCommand(Exception):
    """The parser of one command's module met a command line it does not take as a whole."""


class _OneCommandParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _NotThisCommand(message)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Every command's parser, or (`only`, a module of GROUPS) that module's commands alone,
    with a top-level parser that raises rather than exits on what it cannot parse."""
    if only is None:
        parser = argparse.ArgumentParser(prog="hotline", description="Member hotline bot")
    else:
        parser = _OneCommandParser(prog="hotline", description="Member hotline bot")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=argparse.ArgumentParser)
    for name in dict.fromkeys(GROUPS.values()) if only is None else (only,):
        module = importlib.import_module(f"bot.commands.{name}")
        module.register(sub)
    return parser


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The parsed command line, importing only the module of the command it names."""
    args = list(sys.argv[1:] if argv is None else argv)
    first = next((a for a in args if not a.startswith("-")), None)
    if first in GROUPS and not {"-h", "--help"} & set(args[: args.index(first)]):
        try:
            return build_parser(GROUPS[first]).parse_args(args)
        except _NotThisCommand:
            pass  # the whole parser says what is wrong, naming every command
    return build_parser().parse_args(args)


def _fail(lines: Sequence[str], code: int, err: TextIO) -> int:
    for line in lines:
        print(line, file=err)
    return code


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    args = parse(argv)
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
        return _fail([f"database error: {exc}"], 2, err)
    except UserFacingError as exc:
        return _fail([str(exc)], 1, err)
    except KeyboardInterrupt:
        return 130
