"""Parsing a directory file (YAML or CSV) into validated records; pure apart from reading the file.

Every problem is collected with file and line, so one run reports all of them and the import can
refuse the whole file rather than half-apply it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.core.datafile import Document, Problems, parse_yaml, read_csv, read_text
from bot.core.errors import DataError
from bot.store.models import Role

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HOURS = re.compile(
    r"^(?P<d1>[a-z]{3})(?:-(?P<d2>[a-z]{3}))?\s+(?P<h1>\d\d):(?P<m1>\d\d)-(?P<h2>\d\d):(?P<m2>\d\d)$"
)
PHASES = ("nursery", "primary", "secondary", "special", "all-through", "alternative-provision")
PERSON_COLUMNS = ("email", "name", "role")
OPTIONAL_PERSON_COLUMNS = (
    "school",
    "school_name",
    "phase",
    "job_title",
    "phone",
    "working_hours",
    "safeguarding",
)
# How a CSV cell (or a quoted YAML value) says yes or no to the safeguarding role
YES = ("true", "yes", "y", "1")
NO = ("false", "no", "n", "0", "")


@dataclass(frozen=True)
class SchoolRecord:
    code: str
    name: str
    phase: str | None


@dataclass(frozen=True)
class PersonRecord:
    email: str
    name: str
    role: Role
    school: str | None
    job_title: str | None
    phone: str | None
    working_hours: str | None
    # staff who read safeguarding and allegation requests in full (bot/privacy/access.py)
    safeguarding: bool = False


@dataclass(frozen=True)
class Directory:
    schools: tuple[SchoolRecord, ...]
    people: tuple[PersonRecord, ...]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _yes_no(value: Any) -> bool | None:
    """The safeguarding flag: YAML's true / false, or a CSV cell's yes / no (blank: no);
    None when it is neither."""
    if isinstance(value, bool):
        return value
    text = "" if value is None else str(value).strip().lower()
    if text in YES:
        return True
    return False if text in NO else None


def valid_working_hours(value: str) -> bool:
    """Accept "Mon-Fri 08:00-17:00", several spans joined with ";"."""
    for span in value.lower().split(";"):
        m = HOURS.match(span.strip())
        if not m or m["d1"] not in DAYS or (m["d2"] and m["d2"] not in DAYS):
            return False
        start, end = (int(m["h1"]), int(m["m1"])), (int(m["h2"]), int(m["m2"]))
        if not (start < end <= (24, 0) and start[1] < 60 and end[1] < 60):
            return False
    return True


def _school(row: dict[str, Any], line: int | None, out: Problems) -> SchoolRecord | None:
    code, name, phase = _text(row.get("code")), _text(row.get("name")), _text(row.get("phase"))
    ok = True
    if not code or not CODE.match(code):
        out.add(f"school: code: {'missing' if not code else 'use letters, digits, - and _'}", line)
        ok = False
    if not name:
        out.add(f"school {code or '?'}: name: missing", line)
        ok = False
    if phase and phase.lower() not in PHASES:
        out.add(f"school {code}: phase: unknown phase {phase!r} (one of {', '.join(PHASES)})", line)
        ok = False
    return (
        SchoolRecord(code, name, phase.lower() if phase else None) if ok and code and name else None
    )


def _person(row: dict[str, Any], line: int | None, out: Problems) -> PersonRecord | None:
    email = (_text(row.get("email")) or "").lower()
    name, role = _text(row.get("name")), (_text(row.get("role")) or "").lower()
    hours = _text(row.get("working_hours"))
    label = f"person {email}" if email else "person"
    ok = True
    if not EMAIL.match(email):
        out.add(f"{label}: email: {'missing' if not email else 'not an email address'}", line)
        ok = False
    if not name:
        out.add(f"{label}: name: missing", line)
        ok = False
    if role not in {r.value for r in Role}:
        problem = f"{role!r} is not member, staff or admin" if role else "missing"
        out.add(f"{label}: role: {problem}", line)
        ok = False
    if hours and not valid_working_hours(hours):
        out.add(f"{label}: working_hours: {hours!r} is not like 'Mon-Fri 08:00-17:00'", line)
        ok = False
    safeguarding = _yes_no(row.get("safeguarding"))
    if safeguarding is None:
        out.add(f"{label}: safeguarding: {row.get('safeguarding')!r} is not true or false", line)
        ok = False
    elif safeguarding and role == "member":
        out.add(f"{label}: safeguarding: only staff and admins can hold the role", line)
        ok = False
    if not ok or not name:
        return None
    return PersonRecord(
        email=email,
        name=name,
        role=Role(role),
        school=_text(row.get("school")),
        job_title=_text(row.get("job_title")),
        phone=_text(row.get("phone")),
        working_hours=hours,
        safeguarding=bool(safeguarding),
    )


def _check_duplicates(directory: Directory, lines: dict[str, int | None], out: Problems) -> None:
    codes: set[str] = set()
    for s in directory.schools:
        if s.code.lower() in codes:
            out.add(f"school {s.code}: code: duplicate", lines.get(f"school:{s.code}"))
        codes.add(s.code.lower())
    emails: set[str] = set()
    for p in directory.people:
        if p.email in emails:
            out.add(f"person {p.email}: email: duplicate", lines.get(f"person:{p.email}"))
        emails.add(p.email)


def _rows(
    data: dict[Any, Any], document: Document, section: str, out: Problems
) -> list[tuple[int | None, dict[str, Any]]]:
    items = data.get(section) or []
    if not isinstance(items, list):
        out.add(f"{section}: expected a list")
        return []
    rows: list[tuple[int | None, dict[str, Any]]] = []
    for n, item in enumerate(items):
        line = document.lines.get((section, n))
        if isinstance(item, dict):
            rows.append((line, item))
        else:
            out.add(f"{section}: item {n + 1}: expected a mapping", line)
    return rows


def _parse_yaml(text: str, out: Problems) -> tuple[Directory, dict[str, int | None]]:
    document = parse_yaml(text, out.source)
    data = document.data
    if not isinstance(data, dict):
        out.add("expected a mapping with `schools:` and `people:` lists")
        return Directory((), ()), {}
    for key in sorted(set(data) - {"schools", "people"}, key=str):
        out.add(f"unknown section {key!r} (expected schools and people)")
    lines: dict[str, int | None] = {}
    schools: list[SchoolRecord] = []
    for line, row in _rows(data, document, "schools", out):
        school = _school(row, line, out)
        if school is not None:
            schools.append(school)
            lines[f"school:{school.code}"] = line
    people: list[PersonRecord] = []
    for line, row in _rows(data, document, "people", out):
        person = _person(row, line, out)
        if person is not None:
            people.append(person)
            lines[f"person:{person.email}"] = line
    return Directory(tuple(schools), tuple(people)), lines


def _parse_csv(text: str, out: Problems) -> tuple[Directory, dict[str, int | None]]:
    """One person a row; `school`, `school_name` and `phase` columns also define the school."""
    written, rows = read_csv(text, out.source)
    header = [h.strip().lower() for h in written]
    missing = [c for c in PERSON_COLUMNS if c not in header]
    if missing:
        out.add(f"missing column{'s' if len(missing) > 1 else ''}: {', '.join(missing)}", 1)
        return Directory((), ()), {}
    unknown = [c for c in header if c not in PERSON_COLUMNS + OPTIONAL_PERSON_COLUMNS]
    if unknown:
        out.add(f"unknown column{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}", 1)
    lines: dict[str, int | None] = {}
    schools: dict[str, SchoolRecord] = {}
    people: list[PersonRecord] = []
    for csv_row in rows:
        line = csv_row.line
        if csv_row.overflows(header):
            out.add("more values than columns", line)
            continue
        row = csv_row.fields(header)
        person = _person(row, line, out)
        code = _text(row.get("school"))
        if code and (_text(row.get("school_name")) or _text(row.get("phase"))):
            school = _school(
                {"code": code, "name": row.get("school_name"), "phase": row.get("phase")}, line, out
            )
            if school is not None:
                known = schools.setdefault(code, school)
                if known != school:
                    out.add(f"school {code}: differs from an earlier row", line)
        if person is not None:
            people.append(person)
            lines[f"person:{person.email}"] = line
    return Directory(tuple(schools.values()), tuple(people)), lines


FORMATS = ("yaml", "csv")


def parse_directory_text(text: str, source: str, fmt: str) -> Directory:
    """Validate a directory's text (`fmt` "yaml" or "csv"; `source` names it in the problems,
    `source:line: ...`); raise DataError with every problem found. The file and the console's
    pasted text are read by this one function."""
    if fmt not in FORMATS:
        raise DataError([f"{source}: expected YAML or CSV"])
    out = Problems(source)
    if fmt == "csv":
        directory, lines = _parse_csv(text, out)
    else:
        directory, lines = _parse_yaml(text, out)
    _check_duplicates(directory, lines, out)
    out.raise_any()
    return directory


def format_of(name: str) -> str | None:
    """A directory file's format by its name's suffix: "yaml", "csv", or None."""
    return {".yaml": "yaml", ".yml": "yaml", ".csv": "csv"}.get(Path(name).suffix.lower())


def parse_directory(path: Path) -> Directory:
    """Read and validate a directory file; raise DataError with every problem found."""
    fmt = format_of(path.name)
    if fmt is None:
        raise DataError([f"{path.name}: expected a .yaml, .yml or .csv file"])
    return parse_directory_text(read_text(path), path.name, fmt)
