"""`make_*` factories for tests: real rows in a real database, real FAQ entries."""

from __future__ import annotations

from itertools import count

from bot.directory import link_identity
from bot.knowledge import FaqEntry
from bot.store import Database
from bot.store.models import Person, Role, School

_n = count(1)


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
