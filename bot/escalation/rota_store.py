"""The rota in the database: the newest imported document and the overrides (swaps, cover).

An override is added and removed here for every caller (`hotline rota override` / `unoverride`,
the console's rota page) with the same checks; a bad field raises OverrideProblem naming it.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.core.errors import DataError, UserFacingError
from bot.directory.identities import person_by_email
from bot.escalation.rota import ROLES, Duty, Override, Rota, duty_at, named_people
from bot.escalation.rota_file import parse_rota
from bot.store.db import Database
from bot.store.models import Identity, Person, Role, RotaOverride, RotaVersion

# Longer than a school term is a change of pattern: import the rota again instead.
OVERRIDE_MAX = timedelta(days=92)
EMAIL_CHARS = 254
YEARS = (2000, 2999)  # a year outside these is a slip of the keyboard


async def current_rota(session: AsyncSession) -> Rota | None:
    content = await session.scalar(
        select(RotaVersion.content).order_by(RotaVersion.id.desc()).limit(1)
    )
    return _parsed(content) if content is not None else None


@functools.lru_cache(maxsize=8)
def _parsed(content: str) -> Rota:
    """A stored rota, parsed once per process: an emergency reads it several times, and a
    version's content never changes (a new import is a new row). Keyed by the content itself,
    so two databases, or a table emptied and filled again, never share a wrong one."""
    return Rota.from_json(json.loads(content))


async def overrides_between(
    session: AsyncSession, start: datetime, end: datetime
) -> list[Override]:
    rows = await session.scalars(
        select(RotaOverride)
        .where(RotaOverride.ends_at > start, RotaOverride.starts_at <= end)
        .options(selectinload(RotaOverride.person))
        .order_by(RotaOverride.id)
    )
    return [Override(r.person.email, r.role, r.starts_at, r.ends_at) for r in rows]  # type: ignore[arg-type]


async def duty_now(session: AsyncSession, at: datetime) -> Duty | None:
    found = await rota_and_duty(session, at)
    return found[1] if found else None


async def rota_and_duty(session: AsyncSession, at: datetime) -> tuple[Rota, Duty] | None:
    rota = await current_rota(session)
    if rota is None:
        return None
    return rota, duty_at(rota, await overrides_between(session, at, at), at)


async def import_rota(db: Database, path: Path) -> Rota:
    rota = parse_rota(path)
    async with db.session() as session:
        await store_rota(session, rota, path.name)
    return rota


async def store_rota(session: AsyncSession, rota: Rota, source: str) -> bool:
    """Make `rota` (checked: parse_rota / parse_rota_text) the current one, in the caller's
    transaction; DataError (nothing stored) when it names people who are not active in the
    directory. False when it is the current rota already (importing a file again changes
    nothing)."""
    known = {p.email for p in await session.scalars(select(Person).where(Person.active.is_(True)))}
    missing = sorted(named_people(rota) - known)
    if missing:
        raise DataError(
            [f"{source}: {email}: not in the directory (import it first)" for email in missing]
        )
    content = json.dumps(rota.to_json(), sort_keys=True)
    latest = await session.scalar(select(RotaVersion).order_by(RotaVersion.id.desc()).limit(1))
    if latest is not None and latest.content == content:
        return False
    session.add(RotaVersion(source=source[:200], content=content))
    return True


class OverrideProblem(UserFacingError):
    """An override that cannot be added; `field` is the input at fault: person, role, starts or
    ends."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def read_time(raw: str, tz: ZoneInfo, field: str = "starts") -> datetime:
    """An ISO time as typed (a form's datetime-local, or the command line); without an offset it
    is read in the partnership's timezone. UTC back."""
    text = raw.strip()
    if not text:
        raise OverrideProblem(field, "a time is needed, like 2026-11-23T14:30")
    try:
        value = datetime.fromisoformat(text)
        if value.tzinfo is None:
            value = value.replace(tzinfo=tz)
        if not YEARS[0] <= value.year <= YEARS[1]:
            raise ValueError(text)
        return value.astimezone(UTC)
    except (ValueError, OverflowError):
        raise OverrideProblem(
            field, f"{text[:40]!r} is not a time like 2026-11-23T14:30 or 2026-11-23"
        ) from None


async def check_override(
    session: AsyncSession, email: str, role: str, start: datetime, end: datetime
) -> Person:
    """The staff member who would take `role` from `start` to `end`; OverrideProblem if any of
    it cannot be (nothing is written)."""
    email = email.strip().lower()
    if not email:
        raise OverrideProblem("person", "choose the member of staff who covers")
    if len(email) > EMAIL_CHARS:
        raise OverrideProblem("person", f"an email has at most {EMAIL_CHARS} characters")
    if role not in ROLES:
        raise OverrideProblem("role", f"role must be primary or backup, not {role[:20]!r}")
    if end <= start:
        raise OverrideProblem("ends", "the override must end after it starts")
    if end - start > OVERRIDE_MAX:
        raise OverrideProblem(
            "ends",
            f"an override lasts at most {OVERRIDE_MAX.days} days; for longer, change the "
            "rota's pattern and import it again",
        )
    person = await person_by_email(session, email)
    if person is None or not person.is_staff:
        raise OverrideProblem("person", f"{email} is not a member of staff in the directory")
    return person


async def add_override(
    session: AsyncSession, email: str, role: str, start: datetime, end: datetime
) -> RotaOverride:
    person = await check_override(session, email, role, start, end)
    row = RotaOverride(person_id=person.id, role=role, starts_at=start, ends_at=end)
    row.person = person
    session.add(row)
    await session.flush()
    return row


@dataclass(frozen=True)
class Removed:
    """What removing an override did: deleted it (it had not started), or ended it at `at`
    (it had: the part already past stays, as a record of who was on duty)."""

    override: RotaOverride
    cut_short: bool
    at: datetime


async def remove_override(session: AsyncSession, override_id: int, now: datetime) -> Removed:
    """Removes an override that has not ended yet; UserFacingError (nothing changed) when there
    is no such override (someone removed it already) or it has ended."""
    row = None
    if 0 < override_id < 2**31:  # an id the column can hold (PostgreSQL refuses larger)
        row = await session.get(
            RotaOverride, override_id, options=[selectinload(RotaOverride.person)]
        )
    if row is None:
        raise UserFacingError(
            f"there is no override {override_id}: it was removed already, or never existed"
        )
    if row.ends_at <= now:
        raise UserFacingError(
            f"override {override_id} has ended already (or was removed while it ran); past "
            "overrides are kept as the record of who was on duty"
        )
    if row.starts_at < now:
        row.ends_at = now
        await session.flush()
        return Removed(row, cut_short=True, at=now)
    await session.delete(row)
    await session.flush()
    return Removed(row, cut_short=False, at=now)


async def upcoming_overrides(session: AsyncSession, now: datetime) -> list[RotaOverride]:
    """The overrides not ended yet (current and upcoming), soonest first, with their people."""
    rows = await session.scalars(
        select(RotaOverride)
        .where(RotaOverride.ends_at > now)
        .options(selectinload(RotaOverride.person))
        .order_by(RotaOverride.starts_at, RotaOverride.id)
    )
    return list(rows)


async def staff_people(session: AsyncSession) -> list[Person]:
    """The active staff and admins, by name: who may take a role in an override."""
    rows = await session.scalars(
        select(Person)
        .where(Person.active.is_(True), Person.role.in_([Role.STAFF, Role.ADMIN]))
        .order_by(Person.name, Person.email)
    )
    return list(rows)


async def names_of(session: AsyncSession, emails: set[str]) -> dict[str, str]:
    """Each email's name in the directory (an email nobody has is left out)."""
    if not emails:
        return {}
    rows = await session.execute(select(Person.email, Person.name).where(Person.email.in_(emails)))
    return dict(rows.all())


def describe_override(row: RotaOverride, tz: ZoneInfo) -> str:
    """One line for the audit log and the command line: who covers which role, when."""
    return (
        f"{row.person.name} ({row.person.email}) is {row.role} from "
        f"{row.starts_at.astimezone(tz):%a %d %b %Y %H:%M} to "
        f"{row.ends_at.astimezone(tz):%a %d %b %Y %H:%M %Z}"
    )


async def reachable_emails(session: AsyncSession) -> set[str]:
    """Staff with at least one linked chat identity that has not blocked the bot."""
    rows = await session.scalars(
        select(Person.email)
        .join(Identity, Identity.person_id == Person.id)
        .where(Identity.reachable.is_(True))
    )
    return set(rows)


async def rota_duties(
    session: AsyncSession, person: Person, now: datetime, tz: ZoneInfo
) -> list[str]:
    """Where `person` is on the duty rota now or later: the pattern's shifts (they recur), the
    fallback, the chains' named people and groups, and covers not ended yet."""
    email = person.email.lower()
    found: list[str] = []
    rota = await current_rota(session)
    if rota is not None:
        for shift in rota.pattern:
            for role, holder in (("primary", shift.primary), ("backup", shift.backup)):
                if holder is not None and holder.lower() == email:
                    found.append(f"{role} on {shift.span}")
        if rota.fallback.lower() == email:
            found.append("the fallback")
        for name, people in rota.groups.items():
            if email in (p.lower() for p in people):
                found.append(f"in the group {name}")
        for chain in rota.chains.values():
            for step in chain.steps:
                if step.kind == "person" and step.name.lower() == email:
                    found.append(f"named in the chain {chain.name}")
    covers = await session.scalars(
        select(RotaOverride)
        .where(RotaOverride.person_id == person.id, RotaOverride.ends_at > now)
        .order_by(RotaOverride.starts_at)
    )
    for cover in covers:
        found.append(
            f"{cover.role} cover #{cover.id} from "
            f"{cover.starts_at.astimezone(tz):%a %d %b %Y %H:%M} to "
            f"{cover.ends_at.astimezone(tz):%a %d %b %Y %H:%M}"
        )
    return found
