"""`hotline requests list | show` and `hotline report`."""

from __future__ import annotations

import argparse
import csv
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select

from bot.commands.common import parse_time, settings, with_db
from bot.core.errors import UserFacingError
from bot.store import Database
from bot.store.models import HotlineRequest, Person

RESTRICTED_NOTE = (
    "text: withheld: a restricted request ({category}); --show-restricted shows it and is "
    "written to the audit log"
)


def _filters(args: argparse.Namespace) -> Any:
    """The console's inbox filters from the command line (dates are local days; --to includes
    its day); None when none is given."""
    from bot.escalation.inbox import Filters
    from bot.store.models import RequestKind, RequestStatus

    tz = settings().tz
    given = (args.status, args.kind, args.category, args.school, args.date_from, args.date_to)
    if all(v is None for v in given):
        return None
    school_id = None
    if args.school is not None:
        from bot.store.models import School

        async def find(db: Database) -> int | None:
            async with db.reading() as session:
                found: int | None = await session.scalar(
                    select(School.id).where(School.code == args.school)
                )
                return found

        school_id = with_db(find)
        if school_id is None:
            raise UserFacingError(f"no school with the code {args.school!r}")
    from bot.escalation.reports import day_start

    def day(raw: str) -> date:
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise UserFacingError(f"{raw!r} is not a date like 2026-11-23") from None

    opened_from = day_start(day(args.date_from), tz) if args.date_from else None
    opened_before = day_start(day(args.date_to) + timedelta(days=1), tz) if args.date_to else None
    if opened_from is not None and opened_before is not None and opened_before <= opened_from:
        raise UserFacingError("--to is before --from")
    return Filters(
        statuses=frozenset({RequestStatus(args.status)}) if args.status else None,
        kind=RequestKind(args.kind) if args.kind else None,
        category=args.category,
        school_id=school_id,
        opened_from=opened_from,
        opened_before=opened_before,
    )


def cmd_list(args: argparse.Namespace, out: TextIO) -> int:
    from bot.escalation.inbox import recent_requests

    tz = settings().tz
    filters = _filters(args)

    async def work(db: Database) -> list[str]:
        async with db.session() as session:
            rows = await recent_requests(
                session, open_only=args.open, limit=args.limit, filters=filters
            )
        return [
            f"{r.reference}  {r.created_at.astimezone(tz):%d %b %H:%M}  "
            f"{r.kind.value:<9} {r.status.value:<12} "
            f"level {r.level}  {r.category or '-':<20} {r.school.name if r.school else '-'}"
            + (f"  pinged: {', '.join(row.pinged)}" if row.pinged else "")
            for row in rows
            for r in (row.request,)
        ]

    lines = with_db(work)
    print("\n".join(lines) if lines else "no requests", file=out)
    return 0


def cmd_show(args: argparse.Namespace, out: TextIO) -> int:
    """A request and its timeline. A restricted one (safeguarding, allegation:
    bot/privacy/access.py) shows its facts and the timeline without texts, unless
    --show-restricted, which is written to the audit log as a view."""
    from bot.core import texts
    from bot.directory.audit import Actor, record
    from bot.escalation.hotline import by_reference
    from bot.privacy.access import VIEW_RESTRICTED, restricted
    from bot.privacy.redaction import TEXT_EVENTS
    from bot.store.timeline import events_of

    tz = settings().tz

    async def work(db: Database) -> list[str]:
        async with db.session() as session:
            request = await by_reference(session, args.reference)
            if request is None:
                raise UserFacingError(
                    f"no request {args.reference!r} (references look like HL-2026-0042)"
                )
            events = await events_of(session, request.id)
            names = {p.id: p.name for p in await session.scalars(select(Person))}
            hidden = restricted(request) and not args.show_restricted
            if restricted(request) and args.show_restricted:
                record(
                    session,
                    Actor(None, None, "cli"),
                    VIEW_RESTRICTED,
                    request.reference or f"#{request.id}",
                    about=request.person_id,
                )
        head = [
            f"{request.reference} ({request.kind.value}, {request.category or 'no category'}) "
            f"{request.status.value}, level {request.level}",
            f"from {request.person.name} ({request.school.name if request.school else 'no school'})"
            f" on {request.channel}",
            RESTRICTED_NOTE.format(category=request.category)
            if hidden
            else f"text: {request.text}",
        ]

        def detail(kind: str, text: str) -> str:
            return texts.WITHHELD_DETAIL if hidden and kind in TEXT_EVENTS and text else text

        return head + [
            f"  {e.at.astimezone(tz):%d %b %H:%M:%S}  {e.kind:<16} "
            f"{names.get(e.person_id, '') if e.person_id else ''}  "
            f"{detail(e.kind, e.detail)}".rstrip()
            for e in events
        ]

    print("\n".join(with_db(work)), file=out)
    return 0


def cmd_report(args: argparse.Namespace, out: TextIO) -> int:
    from bot.escalation.reports import (
        breakdown,
        day_start,
        figures_line,
        minutes_text,
        report_between,
    )

    tz = settings().tz
    start = parse_time(args.start, tz)
    end = (  # a date alone: to the end of that day in the partnership's timezone
        day_start(parse_time(args.end, tz).astimezone(tz).date() + timedelta(days=1), tz)
        if len(args.end) == 10
        else parse_time(args.end, tz)
    )
    if end <= start:
        raise UserFacingError(f"--from {args.start} must come before --to {args.end}")

    async def work(db: Database) -> tuple[Any, list[HotlineRequest]]:
        async with db.session() as session:
            return await report_between(session, start, end)

    report, rows = with_db(work)
    fmt = minutes_text

    print(f"Hotline requests {args.start} to {args.end}: {report.total}", file=out)
    print(
        f"time to acknowledge: median {fmt(report.ack_minutes[0])}, "
        f"95th percentile {fmt(report.ack_minutes[1])}",
        file=out,
    )
    print(
        f"time to resolve: median {fmt(report.resolve_minutes[0])}, "
        f"95th percentile {fmt(report.resolve_minutes[1])}",
        file=out,
    )
    print(f"escalation: {report.reached_line()}", file=out)
    print(
        "by category: " + (", ".join(f"{k} {v}" for k, v in report.by_category.items()) or "-"),
        file=out,
    )
    print(
        "by school: " + (", ".join(f"{k} {v}" for k, v in report.by_school.items()) or "-"),
        file=out,
    )
    for by in dict.fromkeys(args.by or ()):  # each once, in the order asked
        print(f"per {by}:", file=out)
        for group in breakdown(by, rows, start, end, tz):
            print(f"  {figures_line(group)}", file=out)
    if args.csv:
        with Path(args.csv).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(
                [
                    "reference",
                    "kind",
                    "category",
                    "school",
                    "created_at",
                    "acknowledged_at",
                    "resolved_at",
                    "level",
                    "status",
                ]
            )
            for r in rows:
                writer.writerow(
                    [
                        r.reference,
                        r.kind.value,
                        r.category or "",
                        r.school.name if r.school else "",
                        r.created_at.isoformat(),
                        r.acknowledged_at.isoformat() if r.acknowledged_at else "",
                        r.resolved_at.isoformat() if r.resolved_at else "",
                        r.level,
                        r.status.value,
                    ]
                )
        print(f"wrote {len(rows)} rows to {args.csv}", file=out)
    return 0


def register(sub: Any) -> None:
    requests = sub.add_parser("requests", help="hotline requests").add_subparsers(
        dest="requests_command", required=True
    )
    lst = requests.add_parser("list", help="recent requests")
    lst.add_argument("--open", action="store_true", help="only unresolved ones")
    lst.add_argument("--limit", type=int, default=50)
    lst.add_argument("--status", choices=["open", "acknowledged", "resolved"])
    lst.add_argument("--kind", choices=["emergency", "support"])
    lst.add_argument("--category", help="an emergency category, e.g. safeguarding")
    lst.add_argument("--school", metavar="CODE", help="a school's code from the directory")
    lst.add_argument("--from", dest="date_from", metavar="DATE", help="opened on or after (local)")
    lst.add_argument("--to", dest="date_to", metavar="DATE", help="opened on or before (local)")
    lst.set_defaults(func=cmd_list)
    show = requests.add_parser("show", help="a request and its timeline")
    show.add_argument("reference")
    show.add_argument(
        "--show-restricted",
        action="store_true",
        help="show the texts of a safeguarding or allegation request too (an admin's flag; "
        "written to the audit log)",
    )
    show.set_defaults(func=cmd_show)

    report = sub.add_parser("report", help="figures for a period")
    report.add_argument("--from", dest="start", required=True, help="a date, e.g. 2026-09-01")
    report.add_argument("--to", dest="end", required=True, help="a date (inclusive)")
    report.add_argument("--csv", metavar="FILE", help="also write one row per request")
    report.add_argument(
        "--by",
        action="append",
        choices=("week", "category", "school"),
        help="also the figures per week (from Monday), category or school; repeat for more",
    )
    report.set_defaults(func=cmd_report)
