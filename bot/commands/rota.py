"""`hotline rota import | show | override | unoverride | check`."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bot.commands.common import parse_time, settings, with_db
from bot.core.errors import UserFacingError
from bot.store import Database

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from bot.escalation.rota import Duty, Rota
    from bot.store.models import RotaOverride


def cmd_import(args: argparse.Namespace, out: TextIO) -> int:
    from bot.escalation.rota_store import import_rota

    rota = with_db(lambda db: import_rota(db, Path(args.file)))
    print(f"{Path(args.file).name}: {len(rota.pattern)} shifts, fallback {rota.fallback}", file=out)
    return 0


def cmd_show(args: argparse.Namespace, out: TextIO) -> int:
    from bot.escalation.categories import CATEGORIES
    from bot.escalation.rota_store import rota_and_duty, upcoming_overrides

    tz = settings().tz
    at = parse_time(args.at, tz) if args.at else datetime.now(UTC)
    if args.category is not None and args.category not in CATEGORIES:
        raise UserFacingError(f"unknown category {args.category!r}: one of {', '.join(CATEGORIES)}")

    async def work(db: Database) -> str:
        async with db.session() as session:
            found = await rota_and_duty(session, at)
            listed = _override_lines(await upcoming_overrides(session, at), tz)
        if found is None:
            raise UserFacingError("no rota imported yet: hotline rota import FILE")
        rota, duty = found
        when = at.astimezone(tz).strftime("%a %d %b %Y %H:%M %Z")
        hours = "inside" if duty.in_hours else "outside"
        head = f"{when} ({hours} hotline hours)"
        if args.category is None:
            return (
                f"{head}\n"
                f"  level 1 primary: {duty.primary or 'nobody'}\n"
                f"  level 2 backup:  {duty.backup or 'nobody'}\n"
                f"  level 3 fallback: {duty.fallback}\n" + listed
            )
        return "\n".join(
            [
                head,
                *_chain_lines(rota, duty, args.category, settings().escalation_timeout_s),
                listed,
            ]
        )

    print(with_db(work), file=out)
    return 0


def _override_lines(rows: list[RotaOverride], tz: ZoneInfo) -> str:
    """The overrides not ended yet, each with the id `hotline rota unoverride` takes."""
    if not rows:
        return "overrides: none current or upcoming"
    return "\n".join(
        [
            "overrides (current and upcoming; remove with hotline rota unoverride ID):",
            *(
                f"  override {row.id}: {row.person.email} {row.role} from "
                f"{row.starts_at.astimezone(tz):%a %d %b %Y %H:%M} to "
                f"{row.ends_at.astimezone(tz):%a %d %b %Y %H:%M}"
                for row in rows
            ),
        ]
    )


def _chain_lines(rota: Rota, duty: Duty, category: str, default_s: float) -> list[str]:
    """Who an emergency of `category` would ping, step by step, at the duty's moment."""
    from bot.escalation.policy import chain_plan

    plan = chain_plan(rota, duty, category, timedelta(seconds=default_s))
    lines = [f"{category}: chain {plan.chain}"]
    if plan.held:
        lines.append("  held until the hotline opens (unless the member presses It can't wait)")
    for step in plan.steps:
        note = "  (not out of hours: skipped)" if step.skipped else ""
        who = ", ".join(step.who) or "nobody"
        lines.append(f"  {step.number}. {step.label}: {who}, waits {step.wait_minutes:g} min{note}")
    lines.append(f"  the last step repeats {plan.repeats}")
    return lines


def cmd_override(args: argparse.Namespace, out: TextIO) -> int:
    from bot.directory.audit import Actor, record
    from bot.escalation.rota_store import add_override, describe_override, read_time

    tz = settings().tz
    start, end = read_time(args.start, tz, "starts"), read_time(args.end, tz, "ends")

    async def work(db: Database) -> str:
        async with db.session() as session:
            row = await add_override(session, args.staff, args.role, start, end)
            line = describe_override(row, tz)
            record(
                session,
                Actor(None, via="cli"),
                "rota override add",
                f"override {row.id}",
                about=row.person_id,
                detail=line,
            )
            return f"override {row.id}: {line}"

    print(with_db(work), file=out)
    return 0


def cmd_unoverride(args: argparse.Namespace, out: TextIO) -> int:
    from bot.directory.audit import Actor, record
    from bot.escalation.rota_store import describe_override, remove_override

    tz = settings().tz

    async def work(db: Database) -> str:
        async with db.session() as session:
            removed = await remove_override(session, args.id, datetime.now(UTC))
            row = removed.override
            done = (
                f"ended at {removed.at.astimezone(tz):%a %d %b %Y %H:%M}"
                if removed.cut_short
                else "removed"
            )
            line = f"override {row.id} {done}: {describe_override(row, tz)}"
            record(
                session,
                Actor(None, via="cli"),
                "rota override remove",
                f"override {row.id}",
                about=row.person_id,
                detail=line,
            )
            return line

    print(with_db(work), file=out)
    return 0


def cmd_check(args: argparse.Namespace, out: TextIO) -> int:
    from bot.escalation.rota import find_gaps, named_people, unreachable_chains
    from bot.escalation.rota_store import current_rota, overrides_between, reachable_emails
    from bot.escalation.stated_hours import disagreements
    from bot.knowledge import load_knowledge_base

    tz = settings().tz
    kb = load_knowledge_base(settings().data_dir)
    start = datetime.now(UTC)

    async def work(db: Database) -> list[str]:
        async with db.session() as session:
            rota = await current_rota(session)
            if rota is None:
                raise UserFacingError("no rota imported yet: hotline rota import FILE")
            overrides = await overrides_between(session, start, start + timedelta(days=args.days))
            reachable = await reachable_emails(session)
        named = sorted(named_people(rota))
        lines = [f"no linked chat account: {email}" for email in named if email not in reachable]
        lines += unreachable_chains(rota, lambda email: email in reachable)
        lines += disagreements(rota, ((e.id, e.answer) for e in kb.index.entries))
        for gap in find_gaps(rota, overrides, start, args.days, lambda e: e in reachable):
            lines.append(
                f"gap {gap.starts_at.astimezone(tz):%a %d %b %H:%M} "
                f"to {gap.ends_at.astimezone(tz):%a %d %b %H:%M}: {gap.reason}"
            )
        return lines

    problems = with_db(work)
    for line in problems:
        print(line, file=out)
    if not problems:
        print(f"no gaps in the next {args.days} days; the FAQ states the rota's hours", file=out)
    return 1 if problems else 0


def register(sub: Any) -> None:
    rota = sub.add_parser("rota", help="the duty rota").add_subparsers(
        dest="rota_command", required=True
    )
    imp = rota.add_parser("import", help="import a rota YAML file")
    imp.add_argument("file")
    imp.set_defaults(func=cmd_import)
    show = rota.add_parser(
        "show", help="who is on duty (now, or --at TIME); with --category, who would be pinged"
    )
    show.add_argument("--at", help="a local time, e.g. 2026-11-23T19:30")
    show.add_argument("--category", help="an emergency category, e.g. safeguarding")
    show.set_defaults(func=cmd_show)
    override = rota.add_parser("override", help="a swap or cover for a window")
    override.add_argument("staff", help="the staff member's email")
    override.add_argument("--from", dest="start", required=True)
    override.add_argument("--to", dest="end", required=True)
    override.add_argument("--role", default="primary", choices=("primary", "backup"))
    override.set_defaults(func=cmd_override)
    unoverride = rota.add_parser(
        "unoverride",
        help="remove an override by its id (hotline rota show lists them); one already running "
        "ends now",
    )
    unoverride.add_argument("id", type=int, help="the override's id")
    unoverride.set_defaults(func=cmd_unoverride)
    check = rota.add_parser(
        "check", help="list gaps, unreachable staff and FAQ answers that state other hours"
    )
    check.add_argument("--days", type=int, default=14)
    check.set_defaults(func=cmd_check)
