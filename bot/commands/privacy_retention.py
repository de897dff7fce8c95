"""`hotline privacy retention [--dry-run]`, `hotline privacy hold REF --reason TEXT` and
`hotline privacy release REF` (registered by bot/commands/privacy.py).

A manual retention run is always allowed (it does not claim the day the nightly job claims: the
policy is idempotent, so running it twice only finds nothing the second time) and is audited.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, TextIO

from bot.commands.common import settings, with_db

if TYPE_CHECKING:
    from datetime import datetime

    from bot.privacy.policy import RetentionPolicy
    from bot.privacy.retention import Summary

CLI = "cli"


def cmd_retention(args: argparse.Namespace, out: TextIO) -> int:
    from bot.directory.audit import Actor, record
    from bot.privacy.policy import load_policy
    from bot.privacy.retention import apply, plan
    from bot.store import Database
    from bot.store.models import utcnow

    policy = load_policy(settings().data_dir)  # a bad file is refused before the database
    now = utcnow()

    async def work(db: Database) -> Summary:
        if args.dry_run:
            async with db.session() as session:
                return await plan(session, policy, now)
        done = await apply(db, policy, now)
        async with db.session() as session:
            record(
                session, Actor(None, None, CLI), "retention", "manual run", detail=done.to_json()
            )
        return done

    summary = with_db(work)
    _print(summary, policy, args.dry_run, out)
    return 0


def _print(summary: Summary, policy: RetentionPolicy, dry_run: bool, out: TextIO) -> None:
    from bot.privacy.policy import REDACT
    from bot.privacy.retention import REQUEST_KINDS

    print(f"Retention policy: {policy.source}", file=out)
    for kind, rule in policy.rules.items():
        verb = "redact" if rule.action == REDACT else "delete"
        done = f"would {verb}" if dry_run else ("redacted" if rule.action == REDACT else "deleted")
        print(
            f"  {kind}: {done} {summary.counts[kind]} "
            f"(kept {rule.days} days from when {rule.measured_from})",
            file=out,
        )
        if kind in REQUEST_KINDS and summary.references[kind]:
            print(f"    {', '.join(summary.references[kind])}", file=out)
    if dry_run:
        print("Dry run: nothing was changed.", file=out)


def cmd_hold(args: argparse.Namespace, out: TextIO) -> int:
    from bot.directory.audit import Actor
    from bot.privacy.holds import hold
    from bot.store import Database
    from bot.store.models import utcnow

    async def work(db: Database) -> tuple[str, datetime | None]:
        async with db.session() as session:
            cli = Actor(None, None, CLI)
            request = await hold(session, args.reference, args.reason, cli, utcnow())
            return request.reference or args.reference, request.redacted_at

    reference, redacted_at = with_db(work)
    print(f"{reference} is under a legal hold: the retention policy leaves it whole.", file=out)
    if redacted_at is not None:
        print(
            f"Note: its texts were already redacted on {redacted_at:%Y-%m-%d}; "
            "the hold keeps what is left.",
            file=out,
        )
    print(f"Release it with: hotline privacy release {reference}", file=out)
    return 0


def cmd_release(args: argparse.Namespace, out: TextIO) -> int:
    from bot.directory.audit import Actor
    from bot.privacy.holds import release
    from bot.store import Database
    from bot.store.models import utcnow

    async def work(db: Database) -> str:
        async with db.session() as session:
            request = await release(session, args.reference, Actor(None, None, CLI), utcnow())
            return request.reference or args.reference

    reference = with_db(work)
    print(
        f"{reference} is no longer under a legal hold: the retention policy applies to it again.",
        file=out,
    )
    return 0


def register(privacy: Any) -> None:
    """Adds this module's subcommands to `hotline privacy`."""
    retention = privacy.add_parser(
        "retention",
        help="apply the retention policy (DATA_DIR/retention.yaml) now, or show what it would do",
    )
    retention.add_argument(
        "--dry-run",
        action="store_true",
        help="show what would be redacted or deleted; change nothing",
    )
    retention.set_defaults(func=cmd_retention)
    held = privacy.add_parser(
        "hold", help="put a request under a legal hold: never redacted until released"
    )
    held.add_argument("reference", metavar="REF", help="the request's reference, e.g. HL-2026-0042")
    held.add_argument("--reason", required=True, help="why it is held (kept in the audit log)")
    held.set_defaults(func=cmd_hold)
    free = privacy.add_parser("release", help="lift a request's legal hold")
    free.add_argument("reference", metavar="REF", help="the request's reference")
    free.set_defaults(func=cmd_release)
