"""The safeguarding role in the directory: `safeguarding: true` in YAML, a `safeguarding`
column in CSV, for staff only; the example directory gives it to its safeguarding adviser.
Both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from bot.core.errors import DataError
from bot.directory.importer import import_directory
from bot.directory.records import parse_directory
from bot.store import Database
from bot.store.models import Person
from tests.conftest import DATA


async def _roles(db: Database) -> dict[str, bool]:
    async with db.session() as s:
        return {p.email: p.safeguarding for p in await s.scalars(select(Person))}


async def test_the_example_directory_gives_its_adviser_the_role(db: Database) -> None:
    await import_directory(db, DATA / "example" / "directory.yaml")
    holders = [email for email, held in (await _roles(db)).items() if held]
    assert holders == ["lucy.brennan@partnership.example.org"]


async def test_yaml_and_csv_give_and_take_the_role(db: Database, tmp_path: Path) -> None:
    yaml = tmp_path / "d.yaml"
    yaml.write_text(
        "people:\n"
        "  - {email: s@p.example.org, name: Sue Staff, role: staff, safeguarding: true}\n"
        "  - {email: a@p.example.org, name: Al Admin, role: admin, safeguarding: false}\n"
        "  - {email: t@p.example.org, name: Tia Staff, role: staff}\n",
        encoding="utf-8",
    )
    await import_directory(db, yaml)
    assert await _roles(db) == {
        "s@p.example.org": True,
        "a@p.example.org": False,
        "t@p.example.org": False,
    }
    csv = tmp_path / "d.csv"
    csv.write_text(
        "email,name,role,safeguarding\n"
        "s@p.example.org,Sue Staff,staff,\n"  # blank: no longer
        "a@p.example.org,Al Admin,admin,yes\n"
        "t@p.example.org,Tia Staff,staff,no\n",
        encoding="utf-8",
    )
    summary = await import_directory(db, csv)
    assert summary.updated == 2 and summary.unchanged == 1
    assert await _roles(db) == {
        "s@p.example.org": False,
        "a@p.example.org": True,
        "t@p.example.org": False,
    }


def test_a_member_or_a_bad_value_is_an_error_line(tmp_path: Path) -> None:
    yaml = tmp_path / "d.yaml"
    yaml.write_text(
        "schools:\n  - {code: one, name: One Primary}\n"
        "people:\n"
        "  - {email: m@one.example.org, name: Mo Member, role: member, school: one,"
        " safeguarding: true}\n"
        "  - {email: s@p.example.org, name: Sue Staff, role: staff, safeguarding: perhaps}\n",
        encoding="utf-8",
    )
    with pytest.raises(DataError) as info:
        parse_directory(yaml)
    assert info.value.problems == [
        "d.yaml:4: person m@one.example.org: safeguarding: only staff and admins can hold the role",
        "d.yaml:5: person s@p.example.org: safeguarding: 'perhaps' is not true or false",
    ]
    csv = tmp_path / "d.csv"
    csv.write_text(
        "email,name,role,safeguarding\nm@x.example.org,Mo Member,member,TRUE\n", encoding="utf-8"
    )
    with pytest.raises(DataError) as info:
        parse_directory(csv)
    assert info.value.problems == [
        "d.csv:2: person m@x.example.org: safeguarding: only staff and admins can hold the role"
    ]
