"""The audit log (bot/directory/audit.py) and its console page, shown to admins only."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.directory.audit import Actor, entries, record
from bot.store import Database, upgrade
from bot.store.models import AuditEntry
from tests.console.conftest import START, Console


async def test_admins_see_the_audit_log_newest_first_and_staff_are_refused(c: Console) -> None:
    async with c.db.session() as session:
        record(session, Actor(c.admin.id, "10.0.0.7"), "invite", c.member.email, about=c.member.id)
        record(session, Actor(c.staff.id, "10.0.0.8"), "acknowledge", "HL-2026-0001")
    async with await c.signed_in(c.admin) as http:
        page = await http.get("/console/audit")
        assert page.status_code == 200
        text = page.text
        assert "Audit log" in text and 'href="/console/audit"' in text
        assert text.index("HL-2026-0001") < text.index(c.member.email)  # newest first
        assert "10.0.0.7" in text and c.admin.name in text
        only = await http.get("/console/audit", params={"action": "invite"})
        assert c.member.email in only.text and "HL-2026-0001" not in only.text
    async with await c.signed_in(c.staff) as http:
        refused = await http.get("/console/audit")
        assert refused.status_code == 403 and "Only an admin" in refused.text
        inbox = await http.get("/console/requests")
        assert 'href="/console/audit"' not in inbox.text  # not offered to staff


async def test_without_a_session_the_audit_log_is_not_shown(c: Console) -> None:
    response = await c.http.get("/console/audit")
    assert response.status_code == 303 and response.headers["location"] == "/console/signin"


async def test_an_entry_is_kept_only_with_the_change_it_describes(c: Console) -> None:
    class Failed(Exception):
        pass

    try:
        async with c.db.session() as session:
            record(session, Actor(c.admin.id), "rota override add", "rota")
            raise Failed
    except Failed:
        pass
    async with c.db.session() as session:
        assert await entries(session) == []
        record(session, Actor(None, via="cli"), "retention", "", detail="x" * 2000, at=START)
    async with c.db.session() as session:
        (entry,) = await entries(session)
    assert (entry.actor_id, entry.via, entry.at, len(entry.detail)) == (None, "cli", START, 500)


def test_migration_0009_adds_the_audit_log_to_a_database_at_0008(unmigrated_url: str) -> None:
    assert upgrade(unmigrated_url, "0008").after == "0008"
    done = upgrade(unmigrated_url, "0009")
    assert (done.before, done.after) == ("0008", "0009")

    async def rows() -> int:
        db = Database(unmigrated_url)
        try:
            async with db.session() as session:
                return len((await session.scalars(select(AuditEntry))).all())
        finally:
            await db.dispose()

    assert asyncio.run(rows()) == 0
