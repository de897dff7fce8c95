"""The `hotline` command. Bad settings and a database that cannot be used (down, not migrated)
exit 2 with one line; bad data files exit 1 with one line per problem; nothing prints a traceback
for a problem the user can fix."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from bot.commands import chat, content, digest, knowledge, requests, rota, setup
from bot.core.errors import ConfigError, DataError, StoreUnavailableError, UserFacingError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotline", description="Member hotline bot")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in (knowledge, setup, chat, rota, requests, content, digest):
        group.register(sub)
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
        return _fail([f"database error: {exc}"], 2, err)
    except UserFacingError as exc:
        return _fail([str(exc)], 1, err)
    except KeyboardInterrupt:
        return 130
