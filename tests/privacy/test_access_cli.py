"""`hotline requests show REF [--show-restricted]` from fresh processes on the example directory
(SQLite and PostgreSQL): a safeguarding request's words are withheld unless the admin's flag is
given, and that view is in the audit log; other requests show as before."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from bot.escalation.requests import new_request
from bot.store import Database
from bot.store.models import AuditEntry, Person, RequestKind
from bot.store.timeline import add_event
from tests.conftest import run_hotline

AMARA = "amara.okafor@stmarys.example.org"
WORDS = "a year 4 boy says his step dad burnt him, marks on his arm"
NOTE = "spoke to the DSL, social care called"
AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


async def _open(db_url: str, category: str, text: str) -> str:
    db = Database(db_url)
    try:
        async with db.session() as session:
            amara = await session.scalar(select(Person).where(Person.email == AMARA))
            assert amara is not None
            request = await new_request(
                session, RequestKind.EMERGENCY, amara, "console", AMARA, text, AT, category
            )
            add_event(session, request.id, "opened", f"{category}: {text}", amara.id, AT)
            add_event(session, request.id, "note", NOTE, None, AT)
            add_event(session, request.id, "level_pinged", "level 1 (primary): x", None, AT)
            await session.flush()
            assert request.reference is not None
            return request.reference
    finally:
        await db.dispose()


async def _views(db_url: str) -> list[tuple[str, str, int | None]]:
    db = Database(db_url)
    try:
        async with db.session() as session:
            rows = await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "view-restricted")
                .order_by(AuditEntry.id)
            )
            return [(e.subject, e.via, e.actor_id) for e in rows]
    finally:
        await db.dispose()


def test_requests_show_withholds_a_restricted_request(example_db: Path, db_url: str) -> None:
    env = {"DATABASE_URL": db_url}
    ref = asyncio.run(_open(db_url, "safeguarding", WORDS))

    shown = run_hotline("requests", "show", ref, env=env)
    assert shown.returncode == 0, shown.stderr
    assert WORDS not in shown.stdout and NOTE not in shown.stdout
    assert "text: withheld: a restricted request (safeguarding)" in shown.stdout
    assert "(withheld: restricted)" in shown.stdout
    assert "level 1 (primary): x" in shown.stdout  # the steps stay
    listed = run_hotline("requests", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert ref in listed.stdout and WORDS not in listed.stdout
    assert asyncio.run(_views(db_url)) == []

    full = run_hotline("requests", "show", ref, "--show-restricted", env=env)
    assert full.returncode == 0, full.stderr
    assert f"text: {WORDS}" in full.stdout and NOTE in full.stdout
    assert asyncio.run(_views(db_url)) == [(ref, "cli", None)]


def test_requests_show_of_another_category_is_unchanged(example_db: Path, db_url: str) -> None:
    env = {"DATABASE_URL": db_url}
    ref = asyncio.run(_open(db_url, "premises", "burst pipe flooding the hall"))
    shown = run_hotline("requests", "show", ref, env=env)
    assert shown.returncode == 0, shown.stderr
    assert "text: burst pipe flooding the hall" in shown.stdout and NOTE in shown.stdout
    assert asyncio.run(_views(db_url)) == []
