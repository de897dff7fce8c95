"""`make_*` factories for tests: real rows in a real database, real FAQ entries."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from itertools import count
from zoneinfo import ZoneInfo

from sqlalchemy import insert, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.directory import link_identity
from bot.escalation.rota_file import parse_rota_text
from bot.knowledge import FaqEntry
from bot.store import Database
from bot.store.models import (
    ContentItem,
    ContentKind,
    HotlineRequest,
    Identity,
    LearnedPhrasing,
    Person,
    Role,
    RotaVersion,
    School,
    utcnow,
)

_n = count(1)


async def seed_staff_and_members(session: AsyncSession, members: int) -> list[Person]:
    """A school with `members` members (m<n>@s.example.org) and three staff named after rota
    roles (primary@, backup@, fallback@p.example.org), staff first: the benches' partnership."""
    school = School(code="bench", name="Bench School", phase="primary")
    session.add(school)
    await session.flush()
    people = [
        Person(email=f"{r}@p.example.org", name=r.title(), role=Role.STAFF, active=True)
        for r in ("primary", "backup", "fallback")
    ]
    people += [
        Person(
            email=f"m{n}@s.example.org",
            name=f"Member {n}",
            role=Role.MEMBER,
            school_id=school.id,
            active=True,
        )
        for n in range(members)
    ]
    session.add_all(people)
    await session.flush()
    return people


async def make_escalations_due(session: AsyncSession, *request_ids: int) -> None:
    """What time passing does: the requests' next escalation steps are due. The version moves,
    as any change to a request does, so a worker holding an older copy cannot write over this."""
    await session.execute(
        update(HotlineRequest)
        .where(HotlineRequest.id.in_(request_ids))
        .values(
            next_escalation_at=utcnow() - timedelta(seconds=1),
            version=HotlineRequest.version + 1,
        )
    )


def make_entry(
    entry_id: str,
    question: str,
    answer: str = "",
    *,
    category: str = "membership",
    alternatives: tuple[str, ...] = (),
    tags: tuple[str, ...] = (),
    keywords: tuple[str, ...] = (),
) -> FaqEntry:
    return FaqEntry(
        id=entry_id,
        question=question,
        answer=answer or f"The answer about {question.lower()}",
        category=category,
        alternatives=alternatives,
        tags=tags,
        keywords=keywords,
    )


async def make_person(
    db: Database,
    *,
    role: Role = Role.MEMBER,
    name: str | None = None,
    email: str | None = None,
    channel: str = "console",
    external_id: str | None = None,
    linked: bool = True,
) -> Person:
    n = next(_n)
    async with db.session() as session:
        school = School(code=f"school-{n}", name=f"School {n}", phase="primary")
        session.add(school)
        await session.flush()
        person = Person(
            email=email or f"person{n}@school{n}.example.org",
            name=name or f"Person {n}",
            role=role,
            school_id=school.id if role is Role.MEMBER else None,
            active=True,
        )
        session.add(person)
        await session.flush()
        if linked:
            await link_identity(
                session,
                person,
                channel,
                external_id or person.email,
                chat_id=external_id or person.email,
            )
    return person


def rota_yaml(
    primary: str,
    backup: str | None,
    fallback: str,
    hours: str = "{days: Mon-Sun, from: '00:00', to: '24:00'}",
    pattern_days: str = "Mon-Sun",
    pattern_from: str = "00:00",
    pattern_to: str = "24:00",
    wake: str | None = None,
) -> str:
    """`wake`: the wake_out_of_hours list as YAML (none: the file says nothing)."""
    backup_line = f"\n    backup: {backup}" if backup else ""
    wake_line = f"wake_out_of_hours: {wake}\n" if wake is not None else ""
    return (
        "timezone: Europe/London\n"
        f"hotline_hours:\n  - {hours}\n"
        f"fallback: {fallback}\n"
        f"{wake_line}"
        "pattern:\n"
        f"  - days: {pattern_days}\n    from: '{pattern_from}'\n    to: '{pattern_to}'\n"
        f"    primary: {primary}{backup_line}\n"
    )


async def make_rota(db: Database, text: str) -> None:
    async with db.session() as session:
        rota = parse_rota_text(text, "rota.yaml")
        session.add(RotaVersion(source="rota.yaml", content=json.dumps(rota.to_json())))


async def seed_digest_members(
    session: AsyncSession,
    members: int,
    first_user_id: int,
    week: date,
    label: str,
    *,
    linked: bool = True,
) -> None:
    """`members` subscribed members (one school per 20, addresses m0@LABEL.example.org, m1@...)
    linked on Telegram as users first_user_id, first_user_id + 1, ... (or, `linked=False`, on
    no chat at all: the digest goes to their email), inserted in bulk, and one news item for
    every audience published the day before `week`, so that each has a digest to get."""
    now = datetime.now(UTC)
    schools = await session.execute(
        insert(School).returning(School.id),
        [
            {"code": f"{label}-s{n}", "name": f"School {n}", "phase": "primary"}
            for n in range(members // 20 + 1)
        ],
    )
    school_ids = list(schools.scalars())
    people = await session.execute(
        insert(Person).returning(Person.id),
        [
            {
                "email": f"m{n}@{label}.example.org",
                "name": f"Member {n}",
                "role": Role.MEMBER,
                "job_title": "Headteacher",
                "school_id": school_ids[n // 20],
                "active": True,
                "digest_subscribed": True,
            }
            for n in range(members)
        ],
    )
    identities = [
        {
            "person_id": person_id,
            "channel": "telegram",
            "external_id": str(first_user_id + n),
            "chat_id": str(first_user_id + n),
            "reachable": True,
        }
        for n, person_id in enumerate(people.scalars())
    ]
    if linked:
        await session.execute(insert(Identity), identities)
    published = datetime.combine(week, datetime.min.time(), ZoneInfo("Europe/London"))
    session.add(
        ContentItem(
            kind=ContentKind.NEWS,
            slug=f"{label}-news",
            title="Spring term network dates",
            body="The dates for every network meeting next term.",
            publish_from=published - timedelta(days=1),
            phases="",
            roles="",
            source=label,
            content_hash="0" * 64,
            created_at=now,
            updated_at=now,
        )
    )


async def reset_postgres(url: str) -> None:
    """Drop and recreate the public schema (tests that damage it on purpose, and benchmarks)."""
    db = Database(url)
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await db.dispose()


async def make_learned(db: Database, entry_id: str, text: str, *, key: str | None = None) -> None:
    """A learned phrasing as `/teach` stores one (`key` overrides its text key)."""
    from bot.teaching.learned import normalised, text_key

    async with db.session() as session:
        session.add(
            LearnedPhrasing(
                entry_id=entry_id,
                text=text,
                normalised=normalised(text),
                text_key=key or text_key(normalised(text)),
                created_at=datetime.now(UTC),
            )
        )
