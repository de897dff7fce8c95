"""The console and restricted requests: a safeguarding request's page shows its reference,
school, status, times and a notice to staff without the safeguarding role (admins included)
and who were not pinged for it; those who may read it see its messages and timeline, each
view audited as "view-restricted". Both databases."""

from __future__ import annotations

import re

from sqlalchemy import select, update

from bot.store.models import AuditEntry, Person, Role
from tests.console.conftest import Console
from tests.console.conftest import console as console  # the fixture "c"
from tests.factories import make_person

WORDS = "a child has disclosed abuse and is frightened to go home"
REFERENCE = re.compile(r"HL-\d{4}-\d{4,}")
VERSION = re.compile(r'name="version" value="(\d+)"')


async def _entries(c: Console, action: str) -> list[tuple[str, int | None, str]]:
    async with c.db.session() as s:
        rows = await s.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
        return [(e.subject, e.actor_id, e.via) for e in rows]


async def _page(c: Console, person: Person, ref: str) -> str:
    async with await c.signed_in(person) as http:
        shown = await http.get(f"/console/requests/{ref}")
        assert shown.status_code == 200, shown.text
        inbox = await http.get("/console/requests")
        assert ref in inbox.text and WORDS not in inbox.text  # the inbox never shows words
        return shown.text


async def test_the_request_page_of_a_safeguarding_request(c: Console) -> None:
    other = await make_person(c.db, role=Role.STAFF, name="Nia Other")
    found = REFERENCE.search(await c.chat(c.member, f"/emergency {WORDS}"))
    assert found is not None
    ref = found.group()

    for viewer in (other, c.admin):  # neither pinged nor holding the role
        page = await _page(c, viewer, ref)
        assert WORDS not in page
        assert f"{ref}, School " in page and "Restricted (safeguarding)" in page
        assert "(withheld: restricted)" in page  # the timeline's texts
        assert "Pinged" in page and "safeguarding" in page
    assert await _entries(c, "view-restricted") == []
    assert [actor for _, actor, _ in await _entries(c, "view")] == [other.id, c.admin.id]

    page = await _page(c, c.staff, ref)  # the primary, pinged for it
    assert WORDS in page and "(withheld: restricted)" not in page
    assert await _entries(c, "view-restricted") == [(ref, c.staff.id, "console")]

    async with c.db.session() as s:
        await s.execute(update(Person).where(Person.id == other.id).values(safeguarding=True))
    async with await c.signed_in(other) as http:
        page = (await http.get(f"/console/requests/{ref}")).text
        assert WORDS in page
        # A refused form shows the page again: a view too.
        version = VERSION.search(page)
        assert version is not None
        refused = await http.post(
            f"/console/requests/{ref}/note",
            data={"csrf": c.csrf(page), "version": str(int(version[1]) + 1), "note": "seen"},
        )
        assert refused.status_code == 409 and WORDS in refused.text
    assert await _entries(c, "view-restricted") == [
        (ref, c.staff.id, "console"),
        (ref, other.id, "console"),
        (ref, other.id, "console"),
    ]
