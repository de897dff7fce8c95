"""`hotline privacy audit [--person EMAIL] [--from DATE --to DATE] [--action A]` from fresh
processes on the example directory (SQLite and PostgreSQL): one line per entry, newest first, in
the partnership's timezone (Europe/London), and one clear line with exit 1 for bad input."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from bot.directory.audit import Actor, record
from bot.store import Database
from bot.store.models import Person
from tests.conftest import run_hotline

LUCY = "lucy.brennan@partnership.example.org"  # staff in the example directory
AMARA = "amara.okafor@stmarys.example.org"  # a member

# Newest first, as the command prints them: the system's retention run (winter: GMT), an
# export about Amara run from the command line, Lucy's view of a restricted request (summer).
RETENTION = "2026-12-01 02:00:00 GMT  system  retention  2026-12-01  via system"
EXPORT = "2026-07-01 13:30:00 BST  cli  export  person 2  via cli"
VIEW = f"2026-06-01 10:00:00 BST  {LUCY}  view-restricted  HL-2026-0001  via console"


async def _seed(db_url: str) -> None:
    db = Database(db_url)
    try:
        async with db.session() as session:
            rows = await session.execute(select(Person.email, Person.id))
            ids = {row.email: row.id for row in rows}
            lucy, amara = ids[LUCY], ids[AMARA]
            record(
                session,
                Actor(lucy, "192.0.2.7", "console"),
                "view-restricted",
                "HL-2026-0001",
                at=datetime(2026, 6, 1, 9, 0, tzinfo=UTC),
            )
            record(
                session,
                Actor(None, None, "cli"),
                "export",
                "person 2",
                about=amara,
                at=datetime(2026, 7, 1, 12, 30, tzinfo=UTC),
            )
            record(
                session,
                Actor(None, None, "system"),
                "retention",
                "2026-12-01",
                at=datetime(2026, 12, 1, 2, 0, tzinfo=UTC),
            )
    finally:
        await db.dispose()


def audit(*args: str) -> list[str]:
    done = run_hotline("privacy", "audit", *args)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return done.stdout.splitlines()


def test_the_audit_log_newest_first_and_filtered(example_db: Path, db_url: str) -> None:
    assert audit() == ["no audit entries match"]
    asyncio.run(_seed(db_url))
    assert audit() == [RETENTION, EXPORT, VIEW]
    # By or about a person: Lucy did the view; the export was about Amara (upper case is fine).
    assert audit("--person", LUCY) == [VIEW]
    assert audit("--person", AMARA.upper()) == [EXPORT]
    # A date alone for --to runs to the end of that day in London, not in UTC.
    assert audit("--from", "2026-06-02", "--to", "2026-07-01") == [EXPORT]
    assert audit("--from", "2026-06-01T10:00") == [RETENTION, EXPORT, VIEW]
    assert audit("--from", "2026-06-01T10:01") == [RETENTION, EXPORT]
    assert audit("--to", "2026-06-30") == [VIEW]
    assert audit("--action", "retention") == [RETENTION]
    assert audit("--action", "erase") == ["no audit entries match"]


def test_bad_input_is_one_clear_line_and_exit_1(example_db: Path) -> None:
    for args, says in [
        (("--from", "last tuesday"), "'last tuesday' is not a time like 2026-11-23T14:30"),
        (("--to", "2026-02-30"), "'2026-02-30' is not a time like"),
        (("--from", "2026-07-02", "--to", "2026-07-01"), "--from 2026-07-02 must come before"),
        (("--person", "nobody@nowhere.example.org"), "nobody@nowhere.example.org: nobody in"),
    ]:
        done = run_hotline("privacy", "audit", *args)
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        assert done.stdout == ""
        (line,) = done.stderr.splitlines()
        assert line.startswith(says), (args, line)
