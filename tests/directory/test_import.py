"""Directory import: idempotent, all-or-nothing, every problem named with file and line."""

from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.core.errors import DataError
from bot.directory import import_directory, parse_directory
from bot.store import Database
from bot.store.models import Person, Role, School
from tests.conftest import DATA

EXAMPLE = DATA / "example" / "directory.yaml"


async def _counts(db: Database) -> tuple[int, int]:
    async with db.session() as s:
        return (
            await s.scalar(select(func.count(School.id))) or 0,
            await s.scalar(select(func.count(Person.id))) or 0,
        )


async def test_importing_the_example_twice_changes_nothing_the_second_time(db: Database) -> None:
    first = await import_directory(db, EXAMPLE)
    counts = await _counts(db)
    second = await import_directory(db, EXAMPLE)
    assert first.created == sum(counts) and first.updated == 0
    assert (second.created, second.updated, second.unchanged) == (0, 0, sum(counts))
    assert await _counts(db) == counts


async def test_a_changed_row_is_updated_in_place(db: Database, tmp_path: Path) -> None:
    await import_directory(db, EXAMPLE)
    changed = tmp_path / "directory.yaml"
    changed.write_text(
        EXAMPLE.read_text().replace("School Business Manager", "Business Manager"), encoding="utf-8"
    )
    summary = await import_directory(db, changed)
    assert summary.updated == 1 and summary.created == 0


async def test_csv_people_with_their_schools(db: Database, tmp_path: Path) -> None:
    csv = tmp_path / "people.csv"
    csv.write_text(
        "email,name,role,school,school_name,phase,job_title\n"
        "a@one.example.org,Ada One,member,one,One Primary,primary,Headteacher\n"
        "b@one.example.org,Ben One,member,one,One Primary,primary,Deputy\n"
        "s@p.example.org,Sue Staff,staff,,,,Adviser\n",
        encoding="utf-8",
    )
    summary = await import_directory(db, csv)
    assert summary.created == 4
    async with db.session() as s:
        staff = await s.scalar(select(Person).where(Person.email == "s@p.example.org"))
    assert staff is not None and staff.role is Role.STAFF and staff.school_id is None


def test_a_missing_column_is_named(tmp_path: Path) -> None:
    csv = tmp_path / "people.csv"
    csv.write_text("email,name\na@x.example.org,Ada\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        parse_directory(csv)
    assert info.value.problems == ["people.csv:1: missing column: role"]


async def test_a_duplicate_email_rejects_the_whole_file(db: Database, tmp_path: Path) -> None:
    csv = tmp_path / "people.csv"
    csv.write_text(
        "email,name,role\nnew@x.example.org,New Person,member\nA@x.example.org,Ada,member\na@x.example.org,Ada Again,member\n",
        encoding="utf-8",
    )
    with pytest.raises(DataError) as info:
        await import_directory(db, csv)
    assert info.value.problems == ["people.csv:4: person a@x.example.org: email: duplicate"]
    assert await _counts(db) == (0, 0)


def test_yaml_problems_carry_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(
        "schools:\n  - code: ok\n    name: OK School\n    phase: university\n"
        "people:\n  - email: not-an-email\n    name: X\n    role: member\n"
        "  - email: y@x.example.org\n    role: boss\n    working_hours: whenever\n",
        encoding="utf-8",
    )
    with pytest.raises(DataError) as info:
        parse_directory(path)
    assert info.value.problems == [
        "d.yaml:2: school ok: phase: unknown phase 'university' (one of nursery, primary, secondary, special, all-through, alternative-provision)",
        "d.yaml:6: person not-an-email: email: not an email address",
        "d.yaml:9: person y@x.example.org: name: missing",
        "d.yaml:9: person y@x.example.org: role: 'boss' is not member, staff or admin",
        "d.yaml:9: person y@x.example.org: working_hours: 'whenever' is not like 'Mon-Fri 08:00-17:00'",
    ]


async def test_an_unknown_school_code_applies_nothing(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(
        "schools:\n  - {code: real, name: Real School}\n"
        "people:\n  - {email: a@x.example.org, name: A, role: member, school: real}\n"
        "  - {email: b@x.example.org, name: B, role: member, school: imaginary}\n",
        encoding="utf-8",
    )
    with pytest.raises(DataError, match="unknown school code 'imaginary'"):
        await import_directory(db, path)
    assert await _counts(db) == (0, 0)


def test_bad_yaml_and_wrong_file_types(tmp_path: Path) -> None:
    bad = tmp_path / "d.yaml"
    bad.write_text("people:\n  - email: [\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"d.yaml:\d+: bad YAML"):
        parse_directory(bad)
    with pytest.raises(DataError, match=r"expected a \.yaml, \.yml or \.csv file"):
        parse_directory(tmp_path / "d.txt")
    with pytest.raises(DataError, match="no such file"):
        parse_directory(tmp_path / "missing.yaml")
