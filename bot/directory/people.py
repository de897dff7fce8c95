"""People in the directory as the console and `hotline directory` see them: any person by email
(active or not), marking a person inactive or active again, and the listing with schools,
linked accounts and digest subscriptions.

What inactive means is kept where it is decided: an inactive person's chat accounts are not
recognised (identities.identify), their invitation codes link nothing (invites.redeem_invite),
they are not pinged (escalation/policy.py, the rota), get no digest (digest/) and cannot sign in
to the console (console_access.py). Their linked accounts are kept, so marking them active again
restores all of it. An import never changes whether someone is active.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.store.models import Person, School


async def person_any(session: AsyncSession, email: str) -> Person | None:
    """The person with this email, active or not."""
    return await session.scalar(select(Person).where(Person.email == email.strip().lower()))


async def set_active(session: AsyncSession, person: Person, active: bool) -> bool:
    """Mark the person active or inactive; False when they already were."""
    if person.active is active:
        return False
    person.active = active
    await session.flush()
    return True


@dataclass(frozen=True)
class SchoolRow:
    school: School
    people: int


@dataclass(frozen=True)
class Listing:
    people: list[Person]  # with school and identities loaded, by name
    matched: int  # how many people match (more than `people` when cut at the limit)
    schools: list[SchoolRow]  # the schools matching the search, by name


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def listing(
    session: AsyncSession,
    search: str = "",
    *,
    school_id: int | None = None,
    active: bool | None = None,
    limit: int = 300,
) -> Listing:
    """People whose name, email or school (name or code) contains `search` (any case), in one
    school, active or not; and the schools matching `search` with how many people each has."""
    people = select(Person).outerjoin(School, School.id == Person.school_id)
    schools = select(School)
    if search:
        pattern = _like(search)
        people = people.where(
            or_(
                func.lower(Person.name).like(pattern, escape="\\"),
                func.lower(Person.email).like(pattern, escape="\\"),
                func.lower(School.name).like(pattern, escape="\\"),
                func.lower(School.code).like(pattern, escape="\\"),
            )
        )
        schools = schools.where(
            or_(
                func.lower(School.name).like(pattern, escape="\\"),
                func.lower(School.code).like(pattern, escape="\\"),
            )
        )
    if school_id is not None:
        people = people.where(Person.school_id == school_id)
        schools = schools.where(School.id == school_id)
    if active is not None:
        people = people.where(Person.active.is_(active))
    matched = await session.scalar(select(func.count()).select_from(people.subquery())) or 0
    shown = await session.scalars(
        people.options(selectinload(Person.school), selectinload(Person.identities))
        .order_by(func.lower(Person.name), Person.id)
        .limit(limit)
    )
    counted = await session.execute(
        select(Person.school_id, func.count())
        .where(Person.school_id.is_not(None))
        .group_by(Person.school_id)
    )
    counts: dict[int | None, int] = dict(counted.all())
    school_rows = [
        SchoolRow(s, counts.get(s.id, 0))
        for s in (await session.scalars(schools.order_by(func.lower(School.name)))).all()
    ]
    return Listing(list(shown.all()), matched, school_rows)


async def all_schools(session: AsyncSession) -> list[School]:
    return list((await session.scalars(select(School).order_by(func.lower(School.name)))).all())
