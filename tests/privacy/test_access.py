"""Who reads a safeguarding or allegation request (bot/privacy/access.py), in chat: the staff
chat's copies carry only a summary line, `/open REF` shows the words only to staff with the
safeguarding role and to those pinged for it (or who took it), each such view is audited, and
other requests read as before. Both databases."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update

from bot.core import texts
from bot.core.types import IncomingMessage
from bot.privacy.access import (
    VIEW_RESTRICTED,
    may_read,
    restricted,
    withheld,
    withheld_facts,
)
from bot.store.models import (
    AuditEntry,
    HotlineRequest,
    Person,
    RequestKind,
    RequestStatus,
    Role,
)
from tests.escalation.conftest import LONDON, TIMEOUT, Partnership
from tests.escalation.conftest import partnership as partnership  # the fixture "p"

WORDS = "a child has disclosed abuse and is frightened to go home"
MORE = "she says her uncle collects her on Fridays"
PIPE = "burst pipe flooding the hall"


def _request(category: str | None, **given: object) -> HotlineRequest:
    request = HotlineRequest(
        id=7,
        kind=RequestKind.EMERGENCY,
        status=RequestStatus.OPEN,
        person_id=1,
        category=category,
        text=WORDS,
        reference="HL-2026-0001",
        created_at=datetime(2026, 11, 23, 10, 5, tzinfo=UTC),
    )
    for key, value in given.items():
        setattr(request, key, value)
    return request


def _person(id: int, role: Role, *, safeguarding: bool = False) -> Person:
    return Person(id=id, role=role, safeguarding=safeguarding, email=f"p{id}@x.example.org")


def test_who_may_read_what() -> None:
    guarding = _request("safeguarding")
    allegation = _request("allegation")
    pipe = _request("premises")
    staff, admin = _person(2, Role.STAFF), _person(3, Role.ADMIN)
    adviser = _person(4, Role.STAFF, safeguarding=True)
    author, other_member = _person(1, Role.MEMBER), _person(5, Role.MEMBER)
    assert restricted(guarding) and restricted(allegation) and not restricted(pipe)
    assert not restricted(_request(None))
    for request in (guarding, allegation):
        assert not may_read(staff, request, ())
        assert not may_read(admin, request, ())  # being an admin is not enough
        assert may_read(adviser, request, ())
        assert may_read(staff, request, [2])  # pinged for it
        assert may_read(author, request, ())  # their own words
        assert not may_read(other_member, request, [5])
    assert may_read(staff, _request("allegation", acknowledged_by_id=2), ())  # they took it
    assert may_read(staff, pipe, ()) and may_read(admin, pipe, ())
    assert not may_read(other_member, pipe, ())


def test_the_summaries_hold_no_words() -> None:
    request = _request("safeguarding", acknowledged_at=datetime(2026, 11, 23, 10, 9, tzinfo=UTC))
    assert withheld(request, "St Mary's") == (
        "safeguarding emergency at St Mary's, HL-2026-0001, open it in a direct message: "
        "/open HL-2026-0001"
    )
    facts = withheld_facts(request, "St Mary's", LONDON)
    assert facts.startswith(
        "HL-2026-0001, St Mary's, open, opened 23 Nov 2026 10:05, acknowledged 23 Nov 2026 10:09."
    )
    assert "Restricted (safeguarding)" in facts
    assert WORDS not in facts and WORDS not in withheld(request, None)


async def _only_request(p: Partnership) -> HotlineRequest:
    async with p.db.session() as s:
        (request,) = (await s.scalars(select(HotlineRequest))).all()
    return request


async def _views(p: Partnership) -> list[tuple[str, str, int | None, str]]:
    async with p.db.session() as s:
        rows = await s.scalars(
            select(AuditEntry).where(AuditEntry.action == VIEW_RESTRICTED).order_by(AuditEntry.id)
        )
        return [(e.subject, e.via, e.actor_id, e.detail) for e in rows]


async def _give_role(p: Partnership, person: Person) -> None:
    async with p.db.session() as s:
        await s.execute(update(Person).where(Person.id == person.id).values(safeguarding=True))


async def test_a_safeguarding_emergency_in_chat(p: Partnership) -> None:
    await p.say(p.member, f"/emergency {WORDS}")
    request = await _only_request(p)
    assert request.category == "safeguarding"
    ref = request.reference
    assert ref is not None
    await p.deliver()

    # The pinged primary's own ping carries the words; the staff chat's copy only the line.
    assert any(WORDS in m for m in p.inbox(p.primary))
    staff_chat = [r.text for r in p.channel.to("#staff")]
    assert staff_chat and all(WORDS not in t for t in staff_chat)
    assert staff_chat[0].startswith("safeguarding emergency at School ")
    assert f", {ref}, open it in a direct message" in staff_chat[0]
    assert "\nFrom: " in staff_chat[0]  # who to call stays: a warning may say phone the school
    assert p.channel.to("#staff")[0].buttons  # still Acknowledge and Resolve

    # Staff without the role, admins too, see its facts and no words, in the list and alone.
    for viewer in (p.backup, p.fallback):
        listed = (await p.say(viewer, "/open")).text
        assert ref in listed and WORDS not in listed
        alone = (await p.say(viewer, f"/open {ref}")).text
        assert alone.startswith(f"{ref}, School ") and "Restricted (safeguarding)" in alone
        assert WORDS not in alone
    assert await _views(p) == []

    # The member adds to it: the pinged primary reads it, the staff chat gets the line again.
    await p.say(p.member, MORE, reply_to_text=f"Your request {ref} ...")
    await p.deliver()
    assert any(MORE in m for m in p.inbox(p.primary))
    assert all(MORE not in r.text and WORDS not in r.text for r in p.channel.to("#staff"))
    assert len(p.channel.to("#staff")) == 2

    # The pinged primary reads it in full, and the view is audited.
    shown = (await p.say(p.primary, f"/open {ref}")).text
    assert WORDS in shown and MORE in shown
    assert await _views(p) == [(ref, "chat", p.primary.id, "")]

    # Given the role, the backup reads it too.
    await _give_role(p, p.backup)
    assert WORDS in (await p.say(p.backup, f"/open {ref}")).text
    assert [v[2] for v in await _views(p)] == [p.primary.id, p.backup.id]

    # Not in a shared chat, even for those who may read it: no words, no view.
    group = IncomingMessage(
        "console", "#staff", p.backup.email, text=f"/open {ref}", private_chat_id=p.backup.email
    )
    (answer,) = await p.dispatcher.handle(group)
    assert answer.text == texts.OPEN_IN_PRIVATE.format(reference=ref, category="safeguarding")
    assert len(await _views(p)) == 2


async def test_pinged_later_and_acknowledging_let_them_read(p: Partnership) -> None:
    await p.say(p.member, f"/emergency {WORDS}")
    ref = (await _only_request(p)).reference
    assert WORDS not in (await p.say(p.backup, f"/open {ref}")).text
    p.clock.advance(seconds=TIMEOUT.total_seconds())
    assert await p.sweep() == 1  # level 2: the backup is pinged
    await p.deliver()
    assert any(WORDS in m for m in p.inbox(p.backup))
    assert all(WORDS not in r.text for r in p.channel.to("#staff"))
    assert WORDS in (await p.say(p.backup, f"/open {ref}")).text
    # The fallback, never pinged, takes it: from then on it is theirs to read.
    assert WORDS not in (await p.say(p.fallback, f"/open {ref}")).text
    await p.say(p.fallback, f"/ack {ref}")
    assert WORDS in (await p.say(p.fallback, f"/open {ref}")).text
    assert [v[2] for v in await _views(p)] == [p.backup.id, p.fallback.id]


async def test_other_requests_read_as_before(p: Partnership) -> None:
    await p.say(p.member, f"/emergency {PIPE}")
    request = await _only_request(p)
    assert request.category == "premises"
    await p.deliver()
    assert any(PIPE in r.text for r in p.channel.to("#staff"))
    assert PIPE in (await p.say(p.backup, f"/open {request.reference}")).text
    assert await _views(p) == []
