"""`hotline ask` and `hotline faq check`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from bot.commands.common import settings
from bot.errors import DataError


def _read_queries(source: str) -> Iterable[str]:
    if source == "-":
        return sys.stdin.read().splitlines()
    try:
        return Path(source).read_text("utf-8").splitlines()
    except OSError as exc:
        raise DataError([f"{source}: cannot read: {exc.strerror}"]) from None


def cmd_ask(args: argparse.Namespace, out: TextIO) -> int:
    from bot.app import build_deps

    deps = build_deps(settings())
    queries: Iterable[str] = _read_queries(args.batch) if args.batch else [" ".join(args.text)]
    for query in queries:
        result = deps.kb.match(query)
        urgency = deps.urgency.detect(query)
        if args.json:
            payload: dict[str, Any] = result.as_json()
            payload["urgency"] = {"urgent": urgency.urgent, "category": urgency.category}
            print(json.dumps(payload, ensure_ascii=False), file=out)
            continue
        print(f"{result.band.value} (score {result.score:.3f})", file=out)
        if urgency.urgent:
            print(f"urgent: {urgency.category}", file=out)
        if result.answer_id:
            entry = deps.kb.entry(result.answer_id)
            print(f"{result.answer_id}: {entry.answer if entry else ''}", file=out)
        for s in result.suggestions:
            print(f"  {s.id} {s.score:.3f}", file=out)
    return 0


def cmd_faq_check(args: argparse.Namespace, out: TextIO) -> int:
    from bot.knowledge import check_faq_dir
    from bot.knowledge.language import load_lexicon
    from bot.knowledge.loader import language_dir

    if args.dir:
        target = Path(args.dir)
        faq_dir = target / "faq" if (target / "faq").is_dir() else target
    else:
        faq_dir = settings().data_dir / "faq"
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


def register(sub: Any) -> None:
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
