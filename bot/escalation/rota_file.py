"""Reading the duty rota: `rota.yaml` (the format of `data/example/rota.yaml`), and a stored
rota checked as strictly, into the Rota of bot/escalation/rota.py.

Every problem is reported at once, each with the line of the nearest YAML node that has one and
the field it is about, in the order of the file whatever order the checks ran in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.datafile import NodePath, PathProblems, parse_yaml, read_text
from bot.core.errors import DataError
from bot.escalation.categories import CATEGORIES
from bot.escalation.chains import DEFAULT, KINDS, ROLES, Chain, ChainStep
from bot.escalation.rota import (
    DAY_MINUTES,
    WAKE,
    WEEKDAYS,
    Closure,
    Rota,
    Shift,
    Span,
    hhmm,
)

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")  # the directory's rule
CLOCK = re.compile(r"^(\d\d?):(\d\d)$")
DAY_NUMBERS = {name: n for n, day in enumerate(WEEKDAYS) for name in (day, day[:3])}
DAY_HINT = "use Mon, Tue, Wed, Thu, Fri, Sat, Sun"
SECTIONS = (
    "timezone",
    "hotline_hours",
    "fallback",
    "pattern",
    "closures",
    WAKE,
    "groups",
    "chains",
    "routes",
)
STEP_FIELDS = ("role", "person", "group", "minutes", "out_of_hours", "repeat", "label")
NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
YES, NO = ("true", "yes", "on"), ("false", "no", "off")
SPAN_FIELDS = ("days", "from", "to")
SHIFT_FIELDS = (*SPAN_FIELDS, "primary", "backup")
CLOSURE_FIELDS = ("date", "from", "to", "note")

_Path = tuple[str | int, ...]


def parse_rota(path: Path) -> Rota:
    """Read and check a rota file; raise DataError with every problem, each with its line."""
    return parse_rota_text(read_text(path), path.name)


def parse_rota_text(text: str, filename: str) -> Rota:
    # Scalars stay text as written: YAML 1.1 would read 18:00 as the number 1080 and crash on
    # 2026-02-30 before we could say which line it is on.
    document = parse_yaml(text, filename, typed=False)
    return _build(document.data, _problems(filename, document.lines))


def rota_from_json(data: Mapping[str, object]) -> Rota:
    """A stored rota (Rota.to_json), checked as strictly as the file."""
    return _build(data, _problems("stored rota", {}))


def _problems(source: str, lines: Mapping[NodePath, int]) -> PathProblems:
    """Listed in the file's order, each naming its field by the path's keys."""
    return PathProblems(source, lines, in_line_order=True, name_field=True)


def _text(
    fields: Mapping[str, object], key: str, path: _Path, out: PathProblems, *, required: bool = True
) -> str | None:
    value = fields.get(key)
    if isinstance(value, str) and value.strip():
        return value.strip()
    if value is not None and not isinstance(value, str):
        out.at((*path, key), "expected text")
    elif required:
        out.at((*path, key), "missing")
    return None


def _email(
    fields: Mapping[str, object], key: str, path: _Path, out: PathProblems, *, required: bool = True
) -> str | None:
    text = _text(fields, key, path, out, required=required)
    if text is not None and not EMAIL.match(text):
        out.at((*path, key), f"{text!r} is not an email address")
        return None
    return text.lower() if text else None


def _minutes(fields: Mapping[str, object], key: str, path: _Path, out: PathProblems) -> int | None:
    text = _text(fields, key, path, out)
    if text is None:
        return None
    m = CLOCK.match(text)
    if not m or int(m[2]) > 59 or int(m[1]) * 60 + int(m[2]) > DAY_MINUTES:
        out.at((*path, key), f'{text!r} is not a time like "08:00" (or "24:00" for midnight)')
        return None
    return int(m[1]) * 60 + int(m[2])


def _days(fields: Mapping[str, object], path: _Path, out: PathProblems) -> frozenset[int] | None:
    text = _text(fields, "days", path, out)
    if text is None:
        return None
    days: set[int] = set()
    for part in text.split(","):
        names = [name.strip() for name in part.split("-", 1)]
        unknown = [name for name in names if name.lower() not in DAY_NUMBERS]
        if unknown:
            out.at((*path, "days"), f"unknown day {unknown[0]!r} ({DAY_HINT})")
            return None
        first, last = DAY_NUMBERS[names[0].lower()], DAY_NUMBERS[names[-1].lower()]
        if first > last:
            out.at((*path, "days"), f"{part.strip()!r} runs backwards (write 'Fri-Sun, Mon')")
            return None
        days.update(range(first, last + 1))
    return frozenset(days)


def _span(fields: Mapping[str, object], path: _Path, out: PathProblems) -> Span | None:
    days = _days(fields, path, out)
    start, end = _minutes(fields, "from", path, out), _minutes(fields, "to", path, out)
    if start is None or end is None:
        return None
    if start >= end:
        out.at(
            (*path, "from"),
            f"{hhmm(start)} is not before to {hhmm(end)} "
            '(a shift across midnight is two entries, split at "24:00")',
        )
        return None
    if days is None:
        return None
    return Span(days, time(*divmod(start, 60)), time(*divmod(end % DAY_MINUTES, 60)))


def _mapping(
    item: object, path: _Path, allowed: tuple[str, ...], out: PathProblems
) -> Mapping[str, object] | None:
    if not isinstance(item, Mapping):
        out.at(path, f"expected a mapping with {', '.join(allowed)}")
        return None
    for key in item:
        if key not in allowed:
            out.at((*path, str(key)), f"unknown field (expected {', '.join(allowed)})")
    return item


def _items(
    data: Mapping[str, object], section: str, out: PathProblems, *, required: bool = True
) -> list[tuple[_Path, object]]:
    value = data.get(section)
    if value is None or value == []:
        if required:
            out.at((section,), "missing" if value is None else "empty: at least one entry needed")
        return []
    if not isinstance(value, list):
        out.at((section,), "expected a list")
        return []
    return [((section, n), item) for n, item in enumerate(value)]


def _hours(item: object, path: _Path, out: PathProblems) -> Span | None:
    fields = _mapping(item, path, SPAN_FIELDS, out)
    return _span(fields, path, out) if fields is not None else None


def _shift(item: object, path: _Path, out: PathProblems) -> Shift | None:
    fields = _mapping(item, path, SHIFT_FIELDS, out)
    if fields is None:
        return None
    span = _span(fields, path, out)
    primary = _email(fields, "primary", path, out)
    backup = _email(fields, "backup", path, out, required=False)
    if primary and backup == primary:
        out.at((*path, "backup"), "the same person as primary")
    return Shift(span, primary, backup) if span and primary else None


def _date(fields: Mapping[str, object], key: str, path: _Path, out: PathProblems) -> date | None:
    text = _text(fields, key, path, out)
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        out.at((*path, key), f"{text!r} is not a date like 2026-12-25")
        return None


def _closure(item: object, path: _Path, out: PathProblems) -> Closure | None:
    fields = _mapping({"date": item} if isinstance(item, str) else item, path, CLOSURE_FIELDS, out)
    if fields is None:
        return None
    note = _text(fields, "note", path, out, required=False)
    if "date" in fields:
        if "from" in fields or "to" in fields:
            out.at(path, "give either date, or from and to")
            return None
        day = _date(fields, "date", path, out)
        return Closure(day, day, note) if day else None
    start, end = _date(fields, "from", path, out), _date(fields, "to", path, out)
    if start and end and start > end:
        out.at((*path, "to"), f"{end} is before from {start}")
        return None
    return Closure(start, end, note) if start and end else None


def _timezone(data: Mapping[str, object], out: PathProblems) -> ZoneInfo | None:
    name = _text(data, "timezone", (), out)
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError, OSError):
        out.at(("timezone",), f"unknown timezone {name!r} (a tz database name like Europe/London)")
        return None


def _wake(data: Mapping[str, object], out: PathProblems) -> frozenset[str] | None:
    if WAKE not in data:
        return None
    value = data[WAKE]
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        out.at((WAKE,), f"expected a list of emergency categories ({', '.join(CATEGORIES)})")
        return None
    wake: set[str] = set()
    for n, item in enumerate(value):
        if isinstance(item, str) and item.strip() in CATEGORIES:
            wake.add(item.strip())
        else:
            out.at((WAKE, n), f"{item!r} is not one of {', '.join(CATEGORIES)}")
    return frozenset(wake)


def _flag(fields: Mapping[str, object], key: str, path: _Path, out: PathProblems) -> bool | None:
    value = fields.get(key)
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in YES or text in NO:
        return text in YES
    out.at((*path, key), f"{value!r} is not true or false")
    return None


def _count(
    fields: Mapping[str, object], key: str, path: _Path, out: PathProblems, low: int, high: int
) -> int | None:
    value = fields.get(key)
    if value is None:
        return None
    text = str(value).strip()
    if not text.isdigit() or not low <= int(text) <= high:
        out.at((*path, key), f"{value!r} is not a whole number from {low} to {high}")
        return None
    return int(text)


def _groups(data: Mapping[str, object], out: PathProblems) -> dict[str, tuple[str, ...]]:
    value = data.get("groups")
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        out.at(("groups",), "expected a mapping of group names to lists of email addresses")
        return {}
    groups: dict[str, tuple[str, ...]] = {}
    for name, people in value.items():
        path: _Path = ("groups", name)
        if not NAME.match(name):
            out.at(path, f"{name!r}: a group name is lowercase letters, digits and dashes")
        if not isinstance(people, list) or not people:
            out.at(path, "expected a list of one or more email addresses")
            continue
        emails = [_email({"email": p}, "email", (*path, n), out) for n, p in enumerate(people)]
        groups[name] = tuple(e for e in emails if e)
    return groups


def _step(
    item: object, path: _Path, groups: Mapping[str, tuple[str, ...]], last: bool, out: PathProblems
) -> ChainStep | None:
    fields = _mapping(item, path, STEP_FIELDS, out)
    if fields is None:
        return None
    kinds = [k for k in KINDS if k in fields]
    if len(kinds) != 1:
        out.at(path, "give exactly one of role, person or group")
        return None
    kind = kinds[0]
    name = _email(fields, kind, path, out) if kind == "person" else _text(fields, kind, path, out)
    if name is None:
        return None
    if kind == "role" and name not in ROLES:
        out.at((*path, "role"), f"{name!r} is not one of {', '.join(ROLES)}")
    if kind == "group" and name not in groups:
        out.at((*path, "group"), f"no group {name!r} in groups")
    repeat = _count(fields, "repeat", path, out, 0, 100)
    if repeat is not None and not last:
        out.at((*path, "repeat"), "only the last step repeats")
    wakes = _flag(fields, "out_of_hours", path, out)
    return ChainStep(
        kind,
        name,
        people=groups.get(name, ()) if kind == "group" else (),
        minutes=_count(fields, "minutes", path, out, 1, 24 * 60),
        out_of_hours=(kind == "role" and name == "fallback") if wakes is None else wakes,
        repeat=repeat,
        label=_text(fields, "label", path, out, required=False),
    )


def _chains(
    data: Mapping[str, object], groups: Mapping[str, tuple[str, ...]], out: PathProblems
) -> dict[str, Chain]:
    value = data.get("chains")
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        out.at(("chains",), "expected a mapping of chain names to lists of steps")
        return {}
    chains: dict[str, Chain] = {}
    for name, steps in value.items():
        path: _Path = ("chains", name)
        if not NAME.match(name):
            out.at(path, f"{name!r}: a chain name is lowercase letters, digits and dashes")
        if not isinstance(steps, list) or not steps:
            out.at(path, "expected a list of one or more steps")
            continue
        parsed = [
            _step(item, (*path, n), groups, n == len(steps) - 1, out)
            for n, item in enumerate(steps)
        ]
        chains[name] = Chain(name, tuple(s for s in parsed if s))
    return chains


def _routes(
    data: Mapping[str, object], chains: Mapping[str, Chain], out: PathProblems
) -> dict[str, str]:
    value = data.get("routes")
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        out.at(("routes",), "expected a mapping of emergency categories to chain names")
        return {}
    if not chains:
        out.at(("routes",), "routes name chains, but the file has no chains")
    routes: dict[str, str] = {}
    for category, chain in value.items():
        path: _Path = ("routes", category)
        if category not in CATEGORIES:
            out.at(path, f"{category!r} is not one of {', '.join(CATEGORIES)}")
        elif not isinstance(chain, str) or chain not in chains:
            out.at(path, f"no chain {chain!r} in chains")
        else:
            routes[category] = chain
    return routes


def _check_chains(
    chains: Mapping[str, Chain],
    routes: Mapping[str, str],
    wake: frozenset[str] | None,
    out: PathProblems,
) -> None:
    """Every category has a chain, and one that wakes someone out of hours has a step that runs
    then."""
    if not chains:
        return
    if DEFAULT not in chains:
        orphans = [c for c in CATEGORIES if c not in routes]
        if orphans:
            out.at(
                ("chains",),
                f"no chain for {', '.join(orphans)}: add a {DEFAULT!r} chain or route them",
            )
    for category in sorted(CATEGORIES if wake is None else wake):
        chain = chains.get(routes.get(category, DEFAULT))
        if chain is not None and not any(s.out_of_hours for s in chain.steps):
            out.at(
                ("chains", chain.name),
                f"{category} wakes someone out of hours, but no step of this chain runs "
                "out of hours (out_of_hours: true)",
            )


def _check_overlaps(shifts: list[tuple[_Path, Shift]], out: PathProblems) -> None:
    for n, (path, shift) in enumerate(shifts):
        for earlier_path, earlier in shifts[:n]:
            if shift.span.overlaps(earlier.span):
                line = out.line(earlier_path)
                where = f" on line {line}" if line else ""
                out.at(path, f"{shift.span} overlaps the shift {earlier.span}{where}")


def _build(data: object, out: PathProblems) -> Rota:
    if not isinstance(data, Mapping):
        raise DataError([f"{out.source}: expected a mapping with {', '.join(SECTIONS)}"])
    for key in data:
        if key not in SECTIONS:
            out.at((str(key),), f"unknown section (expected {', '.join(SECTIONS)})")
    timezone = _timezone(data, out)
    fallback = _email(data, "fallback", (), out)
    hours = [_hours(item, path, out) for path, item in _items(data, "hotline_hours", out)]
    shifts = [
        (path, s) for path, item in _items(data, "pattern", out) if (s := _shift(item, path, out))
    ]
    closures = [_closure(i, p, out) for p, i in _items(data, "closures", out, required=False)]
    _check_overlaps(shifts, out)
    wake = _wake(data, out)
    groups = _groups(data, out)
    chains = _chains(data, groups, out)
    routes = _routes(data, chains, out)
    _check_chains(chains, routes, wake, out)
    if out.messages or timezone is None or fallback is None:
        raise DataError(out.messages)
    return Rota(
        timezone=timezone,
        hotline_hours=tuple(s for s in hours if s),
        pattern=tuple(s for _, s in shifts),
        closures=tuple(c for c in closures if c),
        fallback=fallback,
        wake_out_of_hours=wake,
        groups=groups,
        chains=chains,
        routes=routes,
    )
