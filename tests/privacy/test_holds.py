"""Legal holds: placed and released with a reason, each audited, and refused with one clear line
for an unknown reference, an empty reason, a second hold or a release of nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.core.errors import UserFacingError
from bot.directory.audit import Actor
from bot.privacy.holds import hold, release
from bot.store import Database
from bot.store.models import AuditEntry, HotlineRequest
from tests.factories import make_person
from tests.privacy.retention_rows import NOW, add_request

CLI = Actor(None, None, "cli")


async def test_a_hold_is_kept_on_the_request_and_audited_and_released(db: Database) -> None:
    member = await make_person(db)
    made = await add_request(db, member, resolved_days_ago=10)
    async with db.session() as session:
        await hold(session, made.reference.lower(), "  claim by   a parent ", CLI, NOW)
    async with db.session() as session:
        request = await session.get_one(HotlineRequest, made.id)
        assert (request.hold_reason, request.hold_at, request.hold_by) == (
            "claim by a parent",
            NOW,
            "cli",
        )
        await release(session, made.reference, CLI, NOW)
    async with db.session() as session:
        request = await session.get_one(HotlineRequest, made.id)
        assert (request.hold_reason, request.hold_at, request.hold_by) == (None, None, None)
        audit = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
    assert [(a.action, a.subject, a.detail, a.via) for a in audit] == [
        ("hold", made.reference, "claim by a parent", "cli"),
        ("release", made.reference, "hold was: claim by a parent", "cli"),
    ]


async def test_hold_by_names_who_placed_it(db: Database) -> None:
    member = await make_person(db)
    made = await add_request(db, member, resolved_days_ago=10)
    async with db.session() as session:
        request = await hold(
            session, made.reference, "police inquiry", Actor(None, "127.0.0.1"), NOW, "dpo@p.org"
        )
        assert request.hold_by == "dpo@p.org"


@pytest.mark.parametrize(
    ("reference", "reason", "problem"),
    [
        ("HL-2026-9999", "claim", "HL-2026-9999: no request has this reference"),
        ("HL-26-1", "claim", "'HL-26-1' is not a request reference like HL-2026-0042"),
        ("HL-2026-9999", "   ", "give the reason for the hold: --reason TEXT"),
        ("HL-2026-9999", "x" * 501, "the reason is too long: at most 500 characters"),
    ],
)
async def test_a_bad_hold_is_refused_in_one_line(
    db: Database, reference: str, reason: str, problem: str
) -> None:
    async with db.session() as session:
        with pytest.raises(UserFacingError) as caught:
            await hold(session, reference, reason, CLI, NOW)
    assert str(caught.value) == problem


async def test_a_second_hold_and_a_release_of_nothing_are_refused(db: Database) -> None:
    member = await make_person(db)
    made = await add_request(db, member, resolved_days_ago=10)
    async with db.session() as session:
        with pytest.raises(UserFacingError) as caught:
            await release(session, made.reference, CLI, NOW)
        assert str(caught.value) == f"{made.reference} is not under a legal hold"
        await hold(session, made.reference, "claim", CLI, NOW)
        with pytest.raises(UserFacingError) as caught:
            await hold(session, made.reference, "another", CLI, NOW)
        assert str(caught.value) == (
            f"{made.reference} is already under a legal hold since 2026-11-29: claim"
        )
        with pytest.raises(UserFacingError) as caught:
            await release(session, "HL-2026-9999", CLI, NOW)
        assert str(caught.value) == "HL-2026-9999: no request has this reference"
