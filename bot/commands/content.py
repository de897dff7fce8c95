"""`hotline news import | add | list | withdraw` and the same for `hotline events`."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from bot.commands.common import settings, with_db
from bot.core.errors import DataError, UserFacingError
from bot.store import Database
from bot.store.models import ContentItem, ContentKind


def _import(kind: ContentKind, args: argparse.Namespace, out: TextIO) -> int:
    from bot.digest.content import parse_file
    from bot.digest.content_store import import_records

    path = Path(args.file)
    records = parse_file(path, kind, settings().tz)  # every problem before touching the database
    summary = with_db(lambda db: import_records(db, records, path.name))
    print(f"{path.name}: {summary}", file=out)
    return 0


def _add(kind: ContentKind, raw: dict[str, Any], out: TextIO) -> int:
    from bot.digest.content import build_record, parse_when
    from bot.digest.content_store import import_records, slugify

    tz = settings().tz
    noun = "news" if kind is ContentKind.NEWS else "events"
    if not raw.get("id") and raw.get("title"):
        parsed = parse_when(raw.get("date"), tz)
        raw["id"] = slugify(str(raw["title"]), parsed[0] if parsed else datetime.now(UTC), tz)
    record, problems = build_record(kind, raw, tz, f"hotline {noun} add")
    if record is None:
        raise DataError(problems)
    summary = with_db(lambda db: import_records(db, [record], "cli"))
    outcome = "added" if summary.added else "updated" if summary.updated else "unchanged"
    print(f"{noun} {record.slug}: {outcome}", file=out)
    return 0


def _audience(args: argparse.Namespace) -> dict[str, list[str]] | str:
    if not args.phase and not args.role:
        return "all"
    return {"phases": args.phase or [], "roles": args.role or []}


def cmd_news_import(args: argparse.Namespace, out: TextIO) -> int:
    return _import(ContentKind.NEWS, args, out)


def cmd_events_import(args: argparse.Namespace, out: TextIO) -> int:
    return _import(ContentKind.EVENT, args, out)


def cmd_news_add(args: argparse.Namespace, out: TextIO) -> int:
    raw: dict[str, Any] = {
        "id": args.id,
        "title": args.title,
        "text": args.text,
        "date": args.date or datetime.now(UTC).isoformat(timespec="seconds"),
        "publish_until": args.until,
        "link": args.link,
        "link_label": args.link_label,
        "audience": _audience(args),
    }
    return _add(ContentKind.NEWS, raw, out)


def cmd_events_add(args: argparse.Namespace, out: TextIO) -> int:
    raw: dict[str, Any] = {
        "id": args.id,
        "title": args.title,
        "text": args.text,
        "date": args.date,
        "end": args.end,
        "location": args.location,
        "publish_from": args.publish_from,
        "publish_until": args.until,
        "link": args.link,
        "link_label": args.link_label,
        "audience": _audience(args),
    }
    return _add(ContentKind.EVENT, raw, out)


def _list(kind: ContentKind, out: TextIO) -> int:
    from bot.digest.audience import Audience
    from bot.digest.content_store import latest

    tz = settings().tz

    async def work(db: Database) -> list[ContentItem]:
        async with db.session() as session:
            return await latest(session, kind)

    rows = with_db(work)
    for row in rows:
        when = row.publish_from if kind is ContentKind.NEWS else row.starts_at
        shown = f"{when.astimezone(tz):%d %b %Y %H:%M}" if when else "-"
        audience = Audience.from_columns(row.phases, row.roles).describe()
        withdrawn = (
            f"  withdrawn {row.withdrawn_at.astimezone(tz):%d %b %Y %H:%M}"
            if row.withdrawn_at
            else ""
        )
        print(f"{row.id:>4}  {shown}  {row.slug}  {row.title}  ({audience}){withdrawn}", file=out)
    if not rows:
        print(f"no {'news' if kind is ContentKind.NEWS else 'events'} yet", file=out)
    return 0


def _withdraw(kind: ContentKind, key: str, out: TextIO) -> int:
    from bot.digest.content_store import item, withdraw

    noun = "news" if kind is ContentKind.NEWS else "events"

    async def work(db: Database) -> tuple[str, bool]:
        async with db.session() as session:
            raw = key.strip()
            row = await item(session, kind, int(raw) if raw.isdigit() else raw)
            if row is None:
                raise UserFacingError(
                    f"no {noun} item {key!r} (the number or the id `hotline {noun} list` shows)"
                )
            return f"{row.id} ({row.slug})", await withdraw(session, row, datetime.now(UTC))

    shown, changed = with_db(work)
    what = "withdrawn: in no digest from now on" if changed else "already withdrawn"
    print(f"{noun} {shown}: {what}", file=out)
    return 0


def _common_add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--id", help="a stable id (default: the date and the title)")
    parser.add_argument("--link", metavar="URL")
    parser.add_argument("--link-label", metavar="TEXT", help="default: Read more / Details")
    parser.add_argument(
        "--phase",
        action="append",
        metavar="PHASE",
        help="only schools of this phase (repeat for several): nursery, primary, secondary, "
        "special, all-through",
    )
    parser.add_argument(
        "--role",
        action="append",
        metavar="ROLE",
        help="only this role (repeat for several): headteacher, deputy, business-manager, governor",
    )
    parser.add_argument("--until", metavar="DATE", help="stop showing it after this date")


def register(sub: Any) -> None:
    news = sub.add_parser("news", help="news items for the weekly digest").add_subparsers(
        dest="news_command", required=True
    )
    imp = news.add_parser("import", help="import a news YAML file (safe to run again)")
    imp.add_argument("file")
    imp.set_defaults(func=cmd_news_import)
    add = news.add_parser("add", help="add or update one news item")
    add.add_argument("--title", required=True)
    add.add_argument("--text", required=True)
    add.add_argument("--date", help="publication date (default: now), e.g. 2026-11-30")
    _common_add_flags(add)
    add.set_defaults(func=cmd_news_add)
    news.add_parser("list", help="the latest news items, with their numbers").set_defaults(
        func=lambda _a, out: _list(ContentKind.NEWS, out)
    )
    off = news.add_parser("withdraw", help="take a news item out of every digest from now on")
    off.add_argument("item", metavar="ID", help="its number (news list) or its id")
    off.set_defaults(func=lambda a, out: _withdraw(ContentKind.NEWS, a.item, out))

    events = sub.add_parser("events", help="events for the weekly digest").add_subparsers(
        dest="events_command", required=True
    )
    imp = events.add_parser("import", help="import an events YAML file (safe to run again)")
    imp.add_argument("file")
    imp.set_defaults(func=cmd_events_import)
    add = events.add_parser("add", help="add or update one event")
    add.add_argument("--date", required=True, help="2026-12-03 (all day) or 2026-12-03T16:00")
    add.add_argument("--title", required=True)
    add.add_argument("--text")
    add.add_argument("--end", metavar="DATE", help="when it ends")
    add.add_argument("--location")
    add.add_argument("--publish-from", metavar="DATE", help="announce it from (default: now)")
    _common_add_flags(add)
    add.set_defaults(func=cmd_events_add)
    events.add_parser("list", help="the latest events, with their numbers").set_defaults(
        func=lambda _a, out: _list(ContentKind.EVENT, out)
    )
    off = events.add_parser("withdraw", help="take an event out of every digest from now on")
    off.add_argument("item", metavar="ID", help="its number (events list) or its id")
    off.set_defaults(func=lambda a, out: _withdraw(ContentKind.EVENT, a.item, out))
