"""Erasing a person (bot/privacy/erase.py, `hotline privacy erase`): nothing of theirs left for an
export to find, their requests kept and counted as "a former member of St Mary's", erasing again
says so, and someone still on the duty rota is refused until replaced."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.core.errors import UserFacingError
from bot.directory.audit import Actor
from bot.escalation.rota_store import rota_duties
from bot.privacy.erase import erase_person, erased_on
from bot.store import Database
from bot.store.models import (
    AnswerFeedback,
    AuditEntry,
    HotlineRequest,
    Identity,
    InviteCode,
    OutboundMessage,
    OutboxStatus,
    Person,
    QuestionLog,
    Role,
    RotaOverride,
)
from tests.conftest import run_hotline
from tests.escalation.conftest import LONDON, Partnership
from tests.escalation.conftest import partnership as partnership  # the fixture "p"
from tests.factories import make_person
from tests.privacy.rights import (
    MEMBER_TEXTS,
    NAME,
    SCHOOL,
    SLACK,
    STAFF_REPLY,
    TELEGRAM,
    member_with_everything,
    texts_in_database,
)

MARKER = re.compile(r"^\[removed at the person's request on \d{4}-\d{2}-\d{2}\]$")
FORMER = f"a former member of {SCHOOL}"
CHATS = (TELEGRAM[2], SLACK[2])  # their private chats' ids
REPORT = ("report", "--from", "2026-11-23", "--to", "2026-11-23", "--by", "school")


async def _person(db: Database, person_id: int) -> Person:
    async with db.session() as s:
        person = await s.get(Person, person_id)
        assert person is not None
        return person


async def _count(db: Database, model: type[object], person_id: int) -> int:
    async with db.session() as s:
        column = model.person_id  # type: ignore[attr-defined]
        return await s.scalar(select(func.count()).where(column == person_id)) or 0


async def test_after_erasure_nothing_is_left_and_the_requests_still_count(
    p: Partnership, db_url: str, tmp_path: Path
) -> None:
    member = await member_with_everything(p)
    env = {"DATABASE_URL": db_url}
    before = run_hotline(*REPORT, env=env)
    assert before.returncode == 0 and "Hotline requests 2026-11-23 to 2026-11-23: 2" in (
        before.stdout
    ), before.stderr

    needles = (*MEMBER_TEXTS, STAFF_REPLY, member.email, NAME, "07700 900123", *CHATS)
    held = await texts_in_database(p.db, needles)
    assert {h.split(": ", 1)[1] for h in held} == set(needles)  # the scan finds each of them

    asked = run_hotline("privacy", "erase", member.email, env=env)
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout.splitlines()[0] == f"Erasing {NAME} ({member.email}) would:"
    assert "redact the texts of 2 request(s), keeping them for the records" in asked.stdout
    assert asked.stdout.splitlines()[-1] == (
        f"Nothing is changed yet: run hotline privacy erase {member.email} --yes"
    )
    assert (await _person(p.db, member.id)).name == NAME  # not yet

    done = run_hotline("privacy", "erase", member.email, "--yes", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"erased {NAME} ({member.email}): accounts 3, ")

    # The person row stays, anonymised; everything else of theirs is gone or redacted.
    person = await _person(p.db, member.id)
    assert (person.name, person.email, person.phone, person.active) == (
        FORMER,
        f"erased-{member.id}@erased.invalid",
        None,
        False,
    )
    assert person.erased_at is not None
    assert (person.digest_subscribed, person.digest_channel) == (False, "off")
    for model in (Identity, InviteCode, AnswerFeedback):
        assert await _count(p.db, model, member.id) == 0, model
    async with p.db.session() as s:
        questions = list(
            await s.scalars(select(QuestionLog).where(QuestionLog.person_id == member.id))
        )
        requests = list(
            await s.scalars(select(HotlineRequest).where(HotlineRequest.person_id == member.id))
        )
        messages = list(
            await s.scalars(select(OutboundMessage).where(OutboundMessage.person_id == member.id))
        )
    assert questions and all(MARKER.match(q.text) and q.redacted_at for q in questions)
    assert [(r.reference, r.school_id is not None) for r in requests] == [
        (ref, True) for ref in member.references
    ]
    assert all(MARKER.match(r.text) and r.redacted_at for r in requests)
    assert messages and all(MARKER.match(m.text) for m in messages)
    assert {m.status for m in messages if m.dedupe_key.startswith("digest:2:")} == {
        OutboxStatus.CANCELLED
    }
    # No text, address, name or account of theirs anywhere in the database; earlier audit
    # entries keep their subject (the audit log is only ever added to): here the email of the
    # `unlink` entry written before the erasure.
    left = await texts_in_database(p.db, needles)
    assert left == [f"audit_log.subject: {member.email}"]

    async with p.db.session() as s:
        entry = await s.scalar(select(AuditEntry).where(AuditEntry.action == "erase"))
        assert await erased_on(s, member.email.upper()) is not None
        assert await erased_on(s, "someone.else@example.org") is None
    assert entry is not None
    assert (entry.subject, entry.subject_person_id, entry.actor_id, entry.via) == (
        f"person #{member.id}",
        member.id,
        None,
        "cli",
    )
    assert member.email not in entry.detail and "Mo" not in entry.detail

    # An export finds nothing; the report counts their requests as before; a request reads
    # "a former member of St Mary's".
    copy = run_hotline("privacy", "export", member.email, "--out", str(tmp_path / "c"), env=env)
    assert copy.returncode == 1 and not (tmp_path / "c").exists()
    day = f"{entry.at:%Y-%m-%d}"
    assert copy.stderr.strip() == (
        f"{member.email}: nobody in the directory has this email (erased on {day})"
    )
    after = run_hotline(*REPORT, env=env)
    assert after.returncode == 0 and after.stdout == before.stdout, after.stderr
    shown = run_hotline("requests", "show", member.references[0], env=env)
    assert shown.returncode == 0, shown.stderr
    assert f"from {FORMER} ({SCHOOL}) on telegram" in shown.stdout
    assert "[removed at the person's request on " in shown.stdout

    again = run_hotline("privacy", "erase", member.email, "--yes", env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout == f"{member.email}: already erased on {day}\n"
    async with p.db.session() as s:
        erasures = await s.scalar(select(func.count()).where(AuditEntry.action == "erase"))
    assert erasures == 1
    unknown = run_hotline("privacy", "erase", "nobody@example.org", env=env)
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
    assert unknown.stderr.strip() == "nobody@example.org: nobody in the directory has this email"


async def _erase(db: Database, person_id: int, now: datetime) -> None:
    async def on_rota(session: object, person: Person) -> list[str]:
        return await rota_duties(session, person, now, LONDON)  # type: ignore[arg-type]

    async with db.session() as s:
        person = await s.get(Person, person_id)
        assert person is not None
        await erase_person(s, person, Actor(None, None, "cli"), now, on_rota, LONDON)


async def test_refused_while_on_the_rota_until_replaced(p: Partnership, db_url: str) -> None:
    env = {"DATABASE_URL": db_url}
    refused = run_hotline("privacy", "erase", p.primary.email, "--yes", env=env)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.strip() == (
        f"{p.primary.email}: Pat Primary is still on the duty rota "
        "(primary on Mon-Sun 00:00-24:00); replace them (hotline rota import FILE, "
        "hotline rota unoverride ID) and erase again"
    )
    fallback = run_hotline("privacy", "erase", p.fallback.email, env=env)  # asking is refused too
    assert fallback.returncode == 1 and "(the fallback)" in fallback.stderr
    assert (await _person(p.db, p.primary.id)).name == "Pat Primary"

    # A cover later on blocks it; one already over does not.
    now = datetime.now(UTC)
    cover = await make_person(p.db, role=Role.STAFF, name="Cy Cover")
    async with p.db.session() as s:
        s.add(
            RotaOverride(
                person_id=cover.id,
                role="backup",
                starts_at=now - timedelta(days=9),
                ends_at=now - timedelta(days=8),
            )
        )
        later = RotaOverride(
            person_id=cover.id,
            role="backup",
            starts_at=now + timedelta(days=2),
            ends_at=now + timedelta(days=3),
        )
        s.add(later)
        await s.flush()
        later_id = later.id
    with pytest.raises(UserFacingError, match=rf"\(backup cover #{later_id} from "):
        await _erase(p.db, cover.id, now)
    assert (await _person(p.db, cover.id)).erased_at is None

    unoverride = run_hotline("rota", "unoverride", str(later_id), env=env)
    assert unoverride.returncode == 0, unoverride.stderr
    await _erase(p.db, cover.id, now)
    erased = await _person(p.db, cover.id)
    assert erased.name == "a former member" and erased.erased_at is not None  # staff: no school


async def test_a_request_under_a_legal_hold_keeps_its_texts_through_an_erasure(
    p: Partnership, db_url: str
) -> None:
    """The hold outweighs the erasure: the held request's texts, and the messages sent to them
    about it, stay; the rest of the person goes as usual. Once the hold is released, the
    retention policy removes those texts in its time."""
    from bot.privacy.holds import hold

    member = await member_with_everything(p)
    held_ref, other_ref = member.references[0], member.references[1]
    async with p.db.session() as s:
        await hold(s, held_ref, "a claim is expected", Actor(None, None, "cli"), datetime.now(UTC))
        kept = await s.scalar(
            select(HotlineRequest.text).where(HotlineRequest.reference == held_ref)
        )
    env = {"DATABASE_URL": db_url}
    asked = run_hotline("privacy", "erase", member.email, env=env)
    assert asked.returncode == 0, asked.stderr
    assert "redact the texts of 1 request(s), keeping them for the records" in asked.stdout
    assert "keep the texts of 1 request(s) under a legal hold as they are" in asked.stdout

    done = run_hotline("privacy", "erase", member.email, "--yes", env=env)
    assert done.returncode == 0, done.stderr
    assert "(1 held, kept)" in done.stdout
    async with p.db.session() as s:
        rows = {
            r.reference: r
            for r in await s.scalars(
                select(HotlineRequest).where(HotlineRequest.person_id == member.id)
            )
        }
        about_held = list(
            await s.scalars(
                select(OutboundMessage.text).where(
                    OutboundMessage.request_id == rows[held_ref].id,
                    OutboundMessage.person_id == member.id,
                )
            )
        )
    assert rows[held_ref].text == kept and rows[held_ref].redacted_at is None
    assert MARKER.match(rows[other_ref].text)
    assert about_held and all(not MARKER.match(t) for t in about_held)
    assert (await _person(p.db, member.id)).name == FORMER
