"""Apply a parsed directory to the database in one transaction: all of it or nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.errors import DataError
from bot.directory.records import Directory, PersonRecord, SchoolRecord, parse_directory
from bot.store.db import Database
from bot.store.models import Person, School


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def __str__(self) -> str:
        return f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"


def _assign(row: object, values: dict[str, object]) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed = True
    return changed


async def _apply_schools(
    session: AsyncSession, records: tuple[SchoolRecord, ...], summary: ImportSummary
) -> dict[str, School]:
    existing = {s.code: s for s in (await session.scalars(select(School))).all()}
    for rec in records:
        values: dict[str, object] = {"name": rec.name, "phase": rec.phase}
        school = existing.get(rec.code)
        if school is None:
            school = School(code=rec.code, name=rec.name, phase=rec.phase)
            session.add(school)
            existing[rec.code] = school
            summary.created += 1
        elif _assign(school, values):
            summary.updated += 1
        else:
            summary.unchanged += 1
    await session.flush()
    return existing


async def _apply_people(
    session: AsyncSession,
    records: tuple[PersonRecord, ...],
    schools: dict[str, School],
    source: str,
    summary: ImportSummary,
) -> None:
    unknown = sorted({r.school for r in records if r.school and r.school not in schools})
    if unknown:
        raise DataError([f"{source}: unknown school code {code!r}" for code in unknown])
    existing = {p.email: p for p in (await session.scalars(select(Person))).all()}
    for rec in records:
        school = schools[rec.school] if rec.school else None
        values: dict[str, object] = {
            "name": rec.name,
            "role": rec.role,
            "job_title": rec.job_title,
            "phone": rec.phone,
            "working_hours": rec.working_hours,
            "safeguarding": rec.safeguarding,
            "school_id": school.id if school else None,
        }
        person = existing.get(rec.email)
        if person is None:
            session.add(Person(email=rec.email, active=True, **values))
            summary.created += 1
        elif _assign(person, values):
            summary.updated += 1
        else:
            summary.unchanged += 1


async def apply_directory_in(
    session: AsyncSession, directory: Directory, source: str
) -> ImportSummary:
    """Apply in the caller's transaction (the console adds its audit entry to it); a DataError
    (an unknown school code) leaves the caller to roll everything back. People are never
    deactivated, nor made active again, by an import."""
    summary = ImportSummary()
    schools = await _apply_schools(session, directory.schools, summary)
    await _apply_people(session, directory.people, schools, source, summary)
    return summary


async def apply_directory(db: Database, directory: Directory, source: str) -> ImportSummary:
    async with db.session() as session:
        return await apply_directory_in(session, directory, source)


async def import_directory(db: Database, path: Path) -> ImportSummary:
    return await apply_directory(db, parse_directory(path), path.name)
