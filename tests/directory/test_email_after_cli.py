"""`hotline directory email-after EMAIL MINUTES|default` from fresh processes on the example
directory (SQLite and PostgreSQL): what it prints, what it stores, its audit entries, and its
answers to bad input (exit 1 and one line, no traceback)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

from bot.store import Database
from bot.store.models import AuditEntry, Person
from tests.conftest import run_hotline

LUCY = "lucy.brennan@partnership.example.org"
AMARA = "amara.okafor@stmarys.example.org"


async def _state(db_url: str, email: str) -> tuple[int | None, list[tuple[str, str, str]]]:
    """Their email_after_minutes and the audit entries about them (action, via, detail)."""
    db = Database(db_url)
    try:
        async with db.session() as session:
            found = await session.scalar(select(Person).where(Person.email == email))
            assert found is not None
            entries = await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.subject_person_id == found.id)
                .order_by(AuditEntry.id)
            )
            return found.email_after_minutes, [(e.action, e.via, e.detail) for e in entries]
    finally:
        await db.dispose()


def test_hotline_directory_email_after(example_db: Path, db_url: str) -> None:
    five = run_hotline("directory", "email-after", LUCY.upper(), "5")
    assert five.returncode == 0, five.stderr
    assert (
        five.stdout == "Lucy Brennan: pings emailed 5 minutes after an unacknowledged chat ping\n"
    )
    again = run_hotline("directory", "email-after", LUCY, "5")
    assert again.returncode == 0 and again.stdout.endswith("chat ping (already)\n"), again.stderr
    assert asyncio.run(_state(db_url, LUCY)) == (5, [("email-after", "cli", "default -> 5 min")])

    back = run_hotline(
        "directory", "email-after", LUCY, "default", env={"STAFF_EMAIL_AFTER_MIN": "7"}
    )
    assert back.returncode == 0, back.stderr
    assert back.stdout == (
        "Lucy Brennan: pings emailed after an unacknowledged chat ping: "
        "the deployment default (7 minutes)\n"
    )
    now = run_hotline("directory", "email-after", LUCY, "0")
    assert now.stdout == "Lucy Brennan: pings emailed at once, with the chat ping\n", now.stderr

    for bad, says in [
        ("-3", "-3 minutes is out of range: give 0 to 1440 minutes"),
        ("99999", "99999 minutes is out of range"),
        ("abc", "'abc' is not a number of minutes"),
    ]:
        refused = run_hotline("directory", "email-after", LUCY, bad)
        assert refused.returncode == 1 and refused.stdout == "", (bad, refused.stderr)
        assert refused.stderr.startswith(f"{LUCY}: {says}"), (bad, refused.stderr)
        assert "Traceback" not in refused.stderr
    member = run_hotline("directory", "email-after", AMARA, "5")
    assert member.returncode == 1 and "Traceback" not in member.stderr
    assert member.stderr.strip() == (
        f"{AMARA}: Amara Okafor is a member: only staff are pinged, so only staff have their "
        "pings emailed"
    )
    unknown = run_hotline("directory", "email-after", "nobody@example.org", "5")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "nobody@example.org: nobody in the directory has this email"
    assert run_hotline("directory", "email-after", LUCY).returncode == 2  # usage

    assert asyncio.run(_state(db_url, LUCY)) == (
        0,
        [
            ("email-after", "cli", "default -> 5 min"),
            ("email-after", "cli", "5 min -> default"),
            ("email-after", "cli", "default -> 0 min"),
        ],
    )
    assert asyncio.run(_state(db_url, AMARA)) == (None, [])
