"""The duty rota: who is pinged at each level at any moment; pure apart from reading the file.

The office writes the rota in wall-clock local time ("Sam, Mondays 08:00-18:00"), so a shift
covers every instant whose local clock reads inside it: when the clocks go back, 01:30 happens
twice and both are covered, and a Sunday 00:00-24:00 lasts 25 hours. Everything handed back is
UTC, like the database.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from bot.core.errors import DataError
from bot.escalation.categories import CATEGORIES
from bot.escalation.chains import DEFAULT, DEFAULT_CHAIN, KINDS, ROLES, Chain, ChainStep

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")  # the directory's rule
CLOCK = re.compile(r"^(\d\d?):(\d\d)$")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DAY_NUMBERS = {name: n for n, day in enumerate(WEEKDAYS) for name in (day, day[:3])}
DAY_HINT = "use Mon, Tue, Wed, Thu, Fri, Sat, Sun"
WAKE = "wake_out_of_hours"
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
MIDNIGHT = time(0)
DAY_MINUTES = 24 * 60
MINUTE = timedelta(minutes=1)
STEP = timedelta(minutes=15)

_Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Span:
    """Days (0 = Monday) and a local wall-clock window; an `end` of 00:00 stands for 24:00."""

    days: frozenset[int]
    start: time
    end: time

    def contains(self, local: datetime) -> bool:
        t = local.time()
        return (
            local.weekday() in self.days
            and self.start <= t
            and (t < self.end or self.end == MIDNIGHT)
        )

    def overlaps(self, other: Span) -> bool:
        (a, b), (c, d) = self._minutes(), other._minutes()
        return bool(self.days & other.days) and a < d and c < b

    def _minutes(self) -> tuple[int, int]:
        return _minute_of(self.start), _minute_of(self.end) or DAY_MINUTES

    def __str__(self) -> str:
        start, end = self._minutes()
        return f"{_format_days(self.days)} {_clock(start)}-{_clock(end)}"


@dataclass(frozen=True)
class Shift:
    span: Span
    primary: str
    backup: str | None


@dataclass(frozen=True)
class Closure:
    """Whole local days, both ends included."""

    start: date
    end: date
    note: str | None


@dataclass(frozen=True)
class Rota:
    timezone: ZoneInfo
    hotline_hours: tuple[Span, ...]
    pattern: tuple[Shift, ...]
    closures: tuple[Closure, ...]
    fallback: str
    # Emergency categories that ping the fallback at once outside hotline hours; the others wait
    # for the next opening. None (the file does not say) wakes someone for every emergency.
    wake_out_of_hours: frozenset[str] | None = None
    # Escalation chains (chains.py): groups of people by name, chains by name, and the chain of
    # each routed category (the others take "default"). No chains: DEFAULT_CHAIN for all.
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    chains: Mapping[str, Chain] = field(default_factory=dict)
    routes: Mapping[str, str] = field(default_factory=dict)

    def wakes(self, category: str | None) -> bool:
        return self.wake_out_of_hours is None or (category or "") in self.wake_out_of_hours

    def chain_for(self, category: str | None) -> Chain:
        """The chain an emergency of this category follows."""
        if not self.chains:
            return DEFAULT_CHAIN
        return self.chains[self.routes.get(category or "", DEFAULT)]

    def to_json(self) -> dict[str, object]:
        """The same shape as rota.yaml, so a stored rota reads like the file it came from."""
        wake = {} if self.wake_out_of_hours is None else {WAKE: sorted(self.wake_out_of_hours)}
        chains: dict[str, object] = {}
        if self.chains:
            chains = {
                "groups": {name: list(people) for name, people in self.groups.items()},
                "chains": {
                    name: [_step_json(step) for step in chain.steps]
                    for name, chain in self.chains.items()
                },
                "routes": dict(self.routes),
            }
        return (
            wake
            | chains
            | {
                "timezone": self.timezone.key,
                "hotline_hours": [_span_json(span) for span in self.hotline_hours],
                "fallback": self.fallback,
                "pattern": [
                    {**_span_json(s.span), "primary": s.primary, "backup": s.backup}
                    for s in self.pattern
                ],
                "closures": [
                    {"from": c.start.isoformat(), "to": c.end.isoformat(), "note": c.note}
                    for c in self.closures
                ],
            }
        )

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Rota:
        """Checked as strictly as the file, so a row that no longer fits fails loudly."""
        return _build(data, _Problems("stored rota", {}))


@dataclass(frozen=True)
class Override:
    """A swap or cover: `email` takes `role` from `starts_at` (included) to `ends_at` (excluded)."""

    email: str
    role: Literal["primary", "backup"]
    starts_at: datetime
    ends_at: datetime

    def __post_init__(self) -> None:
        # Comparing a naive time with an aware one fails late and far away; refuse it here.
        if self.starts_at.utcoffset() is None or self.ends_at.utcoffset() is None:
            raise ValueError("override times must be aware (UTC)")
        if self.starts_at >= self.ends_at:
            raise ValueError("an override must end after it starts")


@dataclass(frozen=True)
class Duty:
    at: datetime
    in_hours: bool
    primary: str | None
    backup: str | None
    fallback: str

    def levels(self) -> tuple[str | None, str | None, str]:
        """Level 2 is left empty when it is the primary again: an empty level is skipped at once
        rather than pinging the same person twice. The fallback stays, being the last resort."""
        backup = self.backup if self.backup != self.primary else None
        return self.primary, backup, self.fallback


@dataclass(frozen=True)
class Gap:
    starts_at: datetime
    ends_at: datetime
    reason: str


def named_people(rota: Rota) -> set[str]:
    """Everyone the rota names: the pattern, the fallback, and the chains' people and groups."""
    chained = {
        person
        for chain in rota.chains.values()
        for step in chain.steps
        for person in ((step.name,) if step.kind == "person" else rota.groups.get(step.name, ()))
        if step.kind != "role"
    }
    return (
        {s.primary for s in rota.pattern}
        | {s.backup for s in rota.pattern if s.backup}
        | {rota.fallback}
        | chained
    )


def unreachable_chains(rota: Rota, reachable: Callable[[str], bool]) -> list[str]:
    """Chains with no step that could reach anyone (a role counts when anyone who holds it in
    the pattern, or the fallback, has a linked chat account)."""
    holders = {
        "primary": {s.primary for s in rota.pattern},
        "backup": {s.backup for s in rota.pattern if s.backup},
        "fallback": {rota.fallback},
    }
    found = []
    for chain in rota.chains.values() or [DEFAULT_CHAIN]:

        def people(step: ChainStep) -> set[str]:
            if step.kind == "role":
                return holders[step.name]
            return {step.name} if step.kind == "person" else set(rota.groups.get(step.name, ()))

        if not any(reachable(p) for step in chain.steps for p in people(step)):
            found.append(f"chain {chain.name}: no step can reach anyone by chat")
    return found


# --- Who is on duty ----------------------------------------------------------------------------


def _utc(at: datetime) -> datetime:
    if at.utcoffset() is None:
        raise ValueError("a naive datetime could be in any timezone: pass an aware one")
    return at.astimezone(UTC)


def _closed(rota: Rota, day: date) -> bool:
    return any(c.start <= day <= c.end for c in rota.closures)


def in_hotline_hours(rota: Rota, at: datetime) -> bool:
    local = _utc(at).astimezone(rota.timezone)
    return not _closed(rota, local.date()) and any(s.contains(local) for s in rota.hotline_hours)


def _override(overrides: Sequence[Override], role: str, at: datetime) -> str | None:
    """The cover that started last wins, so covering for someone who is covering works."""
    active = [o for o in overrides if o.role == role and o.starts_at <= at < o.ends_at]
    return max(active, key=lambda o: o.starts_at).email.lower() if active else None


def duty_at(rota: Rota, overrides: Sequence[Override], at: datetime) -> Duty:
    """An override counts even on a closure day: cover over Christmas is arranged as overrides,
    so the pattern never has to be edited and put back."""
    utc = _utc(at)
    local = utc.astimezone(rota.timezone)
    shift = None
    if not _closed(rota, local.date()):
        shift = next((s for s in rota.pattern if s.span.contains(local)), None)
    return Duty(
        at=utc,
        in_hours=in_hotline_hours(rota, utc),
        primary=_override(overrides, "primary", utc) or (shift.primary if shift else None),
        backup=_override(overrides, "backup", utc) or (shift.backup if shift else None),
        fallback=rota.fallback,
    )


def _wall(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def _reaching(day: date, wall: time, tz: ZoneInfo) -> set[datetime]:
    """The instants at which the local clock reaches `wall` on `day`: two when the clocks go back
    over it, and the moment of the jump when they go forward over it (zoneinfo alone would answer
    an hour late, reading a skipped time with the offset from before the jump)."""
    naive = datetime.combine(day, wall)
    found: set[datetime] = set()
    for fold in (0, 1):
        instant = naive.replace(tzinfo=tz, fold=fold).astimezone(UTC)
        while _wall(instant - MINUTE, tz) >= naive:
            instant -= MINUTE
        if _wall(instant, tz) >= naive:
            found.add(instant)
    return found


def next_opening(rota: Rota, at: datetime) -> datetime:
    """For promising a call back "when the office opens", which must not land on a bank holiday
    or an hour that the clocks skip."""
    utc = _utc(at)
    if in_hotline_hours(rota, utc):
        return utc
    first = utc.astimezone(rota.timezone).date()
    last_closed = max([first, *(c.end for c in rota.closures)])
    for n in range((last_closed - first).days + 8):
        day = first + timedelta(days=n)
        if _closed(rota, day):
            continue
        starts = [
            instant
            for span in rota.hotline_hours
            if day.weekday() in span.days
            for instant in _reaching(day, span.start, rota.timezone)
        ]
        opening = min((s for s in starts if s > utc and in_hotline_hours(rota, s)), default=None)
        if opening is not None:
            return opening
    raise ValueError("the rota has no hotline hours")


def find_gaps(
    rota: Rota,
    overrides: Sequence[Override],
    start: datetime,
    days: int,
    reachable: Callable[[str], bool] = lambda email: True,
) -> list[Gap]:
    """Sampled every 15 minutes (on the quarter hour), finer than any shift the office writes, so
    the clock changes need no cases of their own. `days` are calendar days in the rota's zone."""
    begin = _utc(start)
    end = _utc(begin.astimezone(rota.timezone) + timedelta(days=days))
    reachable = functools.cache(reachable)
    gaps: list[Gap] = []
    t = begin.replace(minute=begin.minute - begin.minute % 15, second=0, microsecond=0)
    while t < end:
        reason = _gap_reason(duty_at(rota, overrides, t), reachable)
        if reason and gaps and gaps[-1].ends_at == max(t, begin) and gaps[-1].reason == reason:
            gaps[-1] = replace(gaps[-1], ends_at=min(t + STEP, end))
        elif reason:
            gaps.append(Gap(max(t, begin), min(t + STEP, end), reason))
        t += STEP
    return gaps


def _gap_reason(duty: Duty, reachable: Callable[[str], bool]) -> str | None:
    if not duty.in_hours:
        return None
    if duty.primary is None:
        return "no primary on duty"
    if not reachable(duty.primary):
        return f"primary {duty.primary} is not reachable (no linked chat identity)"
    return None


# --- Reading the rota --------------------------------------------------------------------------


def _minute_of(t: time) -> int:
    return t.hour * 60 + t.minute


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _format_days(days: frozenset[int]) -> str:
    runs: list[list[int]] = []
    for day in sorted(days):
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    name = [day[:3].title() for day in WEEKDAYS]
    return ", ".join(name[r[0]] if len(r) == 1 else f"{name[r[0]]}-{name[r[-1]]}" for r in runs)


def _span_json(span: Span) -> dict[str, object]:
    start, end = span._minutes()
    return {"days": _format_days(span.days), "from": _clock(start), "to": _clock(end)}


class _Problems:
    """Every problem, each with the line of the nearest enclosing YAML node that has one, listed
    in the order of the file whatever order the checks ran in."""

    def __init__(self, filename: str, lines: dict[_Path, int]) -> None:
        self.filename = filename
        self.lines = lines
        self.found: list[tuple[int, str]] = []

    @property
    def problems(self) -> list[str]:
        return [what for _, what in sorted(self.found, key=lambda found: found[0])]

    def line(self, path: _Path) -> int | None:
        return next(
            (self.lines[path[:n]] for n in range(len(path), 0, -1) if path[:n] in self.lines), None
        )

    def add(self, path: _Path, what: str) -> None:
        line = self.line(path)
        where = f"{self.filename}:{line}" if line else self.filename
        field = ".".join(p for p in path if isinstance(p, str))
        self.found.append((line or 0, f"{where}: {field}: {what}" if field else f"{where}: {what}"))


def _plain(node: yaml.Node, path: _Path, lines: dict[_Path, int]) -> object:
    """Scalars stay text as written: YAML 1.1 would read 18:00 as the number 1080 and crash on
    2026-02-30 before we could say which line it is on."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        return {str(k.value): _plain(v, (*path, str(k.value)), lines) for k, v in node.value}
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item, (*path, n), lines) for n, item in enumerate(node.value)]
    return None if node.tag == "tag:yaml.org,2002:null" else str(node.value)


def _text(
    fields: Mapping[str, object], key: str, path: _Path, out: _Problems, *, required: bool = True
) -> str | None:
    value = fields.get(key)
    if isinstance(value, str) and value.strip():
        return value.strip()
    if value is not None and not isinstance(value, str):
        out.add((*path, key), "expected text")
    elif required:
        out.add((*path, key), "missing")
    return None


def _email(
    fields: Mapping[str, object], key: str, path: _Path, out: _Problems, *, required: bool = True
) -> str | None:
    text = _text(fields, key, path, out, required=required)
    if text is not None and not EMAIL.match(text):
        out.add((*path, key), f"{text!r} is not an email address")
        return None
    return text.lower() if text else None


def _minutes(fields: Mapping[str, object], key: str, path: _Path, out: _Problems) -> int | None:
    text = _text(fields, key, path, out)
    if text is None:
        return None
    m = CLOCK.match(text)
    if not m or int(m[2]) > 59 or int(m[1]) * 60 + int(m[2]) > DAY_MINUTES:
        out.add((*path, key), f'{text!r} is not a time like "08:00" (or "24:00" for midnight)')
        return None
    return int(m[1]) * 60 + int(m[2])


def _days(fields: Mapping[str, object], path: _Path, out: _Problems) -> frozenset[int] | None:
    text = _text(fields, "days", path, out)
    if text is None:
        return None
    days: set[int] = set()
    for part in text.split(","):
        names = [name.strip() for name in part.split("-", 1)]
        unknown = [name for name in names if name.lower() not in DAY_NUMBERS]
        if unknown:
            out.add((*path, "days"), f"unknown day {unknown[0]!r} ({DAY_HINT})")
            return None
        first, last = DAY_NUMBERS[names[0].lower()], DAY_NUMBERS[names[-1].lower()]
        if first > last:
            out.add((*path, "days"), f"{part.strip()!r} runs backwards (write 'Fri-Sun, Mon')")
            return None
        days.update(range(first, last + 1))
    return frozenset(days)


def _span(fields: Mapping[str, object], path: _Path, out: _Problems) -> Span | None:
    days = _days(fields, path, out)
    start, end = _minutes(fields, "from", path, out), _minutes(fields, "to", path, out)
    if start is None or end is None:
        return None
    if start >= end:
        out.add(
            (*path, "from"),
            f"{_clock(start)} is not before to {_clock(end)} "
            '(a shift across midnight is two entries, split at "24:00")',
        )
        return None
    if days is None:
        return None
    return Span(days, time(*divmod(start, 60)), time(*divmod(end % DAY_MINUTES, 60)))


def _mapping(
    item: object, path: _Path, allowed: tuple[str, ...], out: _Problems
) -> Mapping[str, object] | None:
    if not isinstance(item, Mapping):
        out.add(path, f"expected a mapping with {', '.join(allowed)}")
        return None
    for key in item:
        if key not in allowed:
            out.add((*path, str(key)), f"unknown field (expected {', '.join(allowed)})")
    return item


def _items(
    data: Mapping[str, object], section: str, out: _Problems, *, required: bool = True
) -> list[tuple[_Path, object]]:
    value = data.get(section)
    if value is None or value == []:
        if required:
            out.add((section,), "missing" if value is None else "empty: at least one entry needed")
        return []
    if not isinstance(value, list):
        out.add((section,), "expected a list")
        return []
    return [((section, n), item) for n, item in enumerate(value)]


def _hours(item: object, path: _Path, out: _Problems) -> Span | None:
    fields = _mapping(item, path, SPAN_FIELDS, out)
    return _span(fields, path, out) if fields is not None else None


def _shift(item: object, path: _Path, out: _Problems) -> Shift | None:
    fields = _mapping(item, path, SHIFT_FIELDS, out)
    if fields is None:
        return None
    span = _span(fields, path, out)
    primary = _email(fields, "primary", path, out)
    backup = _email(fields, "backup", path, out, required=False)
    if primary and backup == primary:
        out.add((*path, "backup"), "the same person as primary")
    return Shift(span, primary, backup) if span and primary else None


def _date(fields: Mapping[str, object], key: str, path: _Path, out: _Problems) -> date | None:
    text = _text(fields, key, path, out)
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        out.add((*path, key), f"{text!r} is not a date like 2026-12-25")
        return None


def _closure(item: object, path: _Path, out: _Problems) -> Closure | None:
    fields = _mapping({"date": item} if isinstance(item, str) else item, path, CLOSURE_FIELDS, out)
    if fields is None:
        return None
    note = _text(fields, "note", path, out, required=False)
    if "date" in fields:
        if "from" in fields or "to" in fields:
            out.add(path, "give either date, or from and to")
            return None
        day = _date(fields, "date", path, out)
        return Closure(day, day, note) if day else None
    start, end = _date(fields, "from", path, out), _date(fields, "to", path, out)
    if start and end and start > end:
        out.add((*path, "to"), f"{end} is before from {start}")
        return None
    return Closure(start, end, note) if start and end else None


def _timezone(data: Mapping[str, object], out: _Problems) -> ZoneInfo | None:
    name = _text(data, "timezone", (), out)
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError, OSError):
        out.add(("timezone",), f"unknown timezone {name!r} (a tz database name like Europe/London)")
        return None


def _wake(data: Mapping[str, object], out: _Problems) -> frozenset[str] | None:
    if WAKE not in data:
        return None
    value = data[WAKE]
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        out.add((WAKE,), f"expected a list of emergency categories ({', '.join(CATEGORIES)})")
        return None
    wake: set[str] = set()
    for n, item in enumerate(value):
        if isinstance(item, str) and item.strip() in CATEGORIES:
            wake.add(item.strip())
        else:
            out.add((WAKE, n), f"{item!r} is not one of {', '.join(CATEGORIES)}")
    return frozenset(wake)


def _flag(fields: Mapping[str, object], key: str, path: _Path, out: _Problems) -> bool | None:
    value = fields.get(key)
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in YES or text in NO:
        return text in YES
    out.add((*path, key), f"{value!r} is not true or false")
    return None


def _count(
    fields: Mapping[str, object], key: str, path: _Path, out: _Problems, low: int, high: int
) -> int | None:
    value = fields.get(key)
    if value is None:
        return None
    text = str(value).strip()
    if not text.isdigit() or not low <= int(text) <= high:
        out.add((*path, key), f"{value!r} is not a whole number from {low} to {high}")
        return None
    return int(text)


def _groups(data: Mapping[str, object], out: _Problems) -> dict[str, tuple[str, ...]]:
    value = data.get("groups")
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        out.add(("groups",), "expected a mapping of group names to lists of email addresses")
        return {}
    groups: dict[str, tuple[str, ...]] = {}
    for name, people in value.items():
        path: _Path = ("groups", name)
        if not NAME.match(name):
            out.add(path, f"{name!r}: a group name is lowercase letters, digits and dashes")
        if not isinstance(people, list) or not people:
            out.add(path, "expected a list of one or more email addresses")
            continue
        emails = [_email({"email": p}, "email", (*path, n), out) for n, p in enumerate(people)]
        groups[name] = tuple(e for e in emails if e)
    return groups


def _step(
    item: object, path: _Path, groups: Mapping[str, tuple[str, ...]], last: bool, out: _Problems
) -> ChainStep | None:
    fields = _mapping(item, path, STEP_FIELDS, out)
    if fields is None:
        return None
    kinds = [k for k in KINDS if k in fields]
    if len(kinds) != 1:
        out.add(path, "give exactly one of role, person or group")
        return None
    kind = kinds[0]
    name = _email(fields, kind, path, out) if kind == "person" else _text(fields, kind, path, out)
    if name is None:
        return None
    if kind == "role" and name not in ROLES:
        out.add((*path, "role"), f"{name!r} is not one of {', '.join(ROLES)}")
    if kind == "group" and name not in groups:
        out.add((*path, "group"), f"no group {name!r} in groups")
    repeat = _count(fields, "repeat", path, out, 0, 100)
    if repeat is not None and not last:
        out.add((*path, "repeat"), "only the last step repeats")
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
    data: Mapping[str, object], groups: Mapping[str, tuple[str, ...]], out: _Problems
) -> dict[str, Chain]:
    value = data.get("chains")
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        out.add(("chains",), "expected a mapping of chain names to lists of steps")
        return {}
    chains: dict[str, Chain] = {}
    for name, steps in value.items():
        path: _Path = ("chains", name)
        if not NAME.match(name):
            out.add(path, f"{name!r}: a chain name is lowercase letters, digits and dashes")
        if not isinstance(steps, list) or not steps:
            out.add(path, "expected a list of one or more steps")
            continue
        parsed = [
            _step(item, (*path, n), groups, n == len(steps) - 1, out)
            for n, item in enumerate(steps)
        ]
        chains[name] = Chain(name, tuple(s for s in parsed if s))
    return chains


def _routes(
    data: Mapping[str, object], chains: Mapping[str, Chain], out: _Problems
) -> dict[str, str]:
    value = data.get("routes")
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        out.add(("routes",), "expected a mapping of emergency categories to chain names")
        return {}
    if not chains:
        out.add(("routes",), "routes name chains, but the file has no chains")
    routes: dict[str, str] = {}
    for category, chain in value.items():
        path: _Path = ("routes", category)
        if category not in CATEGORIES:
            out.add(path, f"{category!r} is not one of {', '.join(CATEGORIES)}")
        elif not isinstance(chain, str) or chain not in chains:
            out.add(path, f"no chain {chain!r} in chains")
        else:
            routes[category] = chain
    return routes


def _check_chains(
    chains: Mapping[str, Chain],
    routes: Mapping[str, str],
    wake: frozenset[str] | None,
    out: _Problems,
) -> None:
    """Every category has a chain, and one that wakes someone out of hours has a step that runs
    then."""
    if not chains:
        return
    if DEFAULT not in chains:
        orphans = [c for c in CATEGORIES if c not in routes]
        if orphans:
            out.add(
                ("chains",),
                f"no chain for {', '.join(orphans)}: add a {DEFAULT!r} chain or route them",
            )
    for category in sorted(CATEGORIES if wake is None else wake):
        chain = chains.get(routes.get(category, DEFAULT))
        if chain is not None and not any(s.out_of_hours for s in chain.steps):
            out.add(
                ("chains", chain.name),
                f"{category} wakes someone out of hours, but no step of this chain runs "
                "out of hours (out_of_hours: true)",
            )


def _step_json(step: ChainStep) -> dict[str, object]:
    data = step.to_json()
    data.pop("people", None)
    return data


def _check_overlaps(shifts: list[tuple[_Path, Shift]], out: _Problems) -> None:
    for n, (path, shift) in enumerate(shifts):
        for earlier_path, earlier in shifts[:n]:
            if shift.span.overlaps(earlier.span):
                line = out.line(earlier_path)
                where = f" on line {line}" if line else ""
                out.add(path, f"{shift.span} overlaps the shift {earlier.span}{where}")


def _build(data: object, out: _Problems) -> Rota:
    if not isinstance(data, Mapping):
        raise DataError([f"{out.filename}: expected a mapping with {', '.join(SECTIONS)}"])
    for key in data:
        if key not in SECTIONS:
            out.add((str(key),), f"unknown section (expected {', '.join(SECTIONS)})")
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
    if out.problems or timezone is None or fallback is None:
        raise DataError(out.problems)
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


def parse_rota_text(text: str, filename: str) -> Rota:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = f":{exc.problem_mark.line + 1}" if exc.problem_mark else ""
        raise DataError([f"{filename}{line}: bad YAML: {exc.problem or exc}"]) from None
    except yaml.YAMLError as exc:
        raise DataError([f"{filename}: bad YAML: {exc}"]) from None
    lines: dict[_Path, int] = {}
    data = _plain(root, (), lines) if root is not None else None
    return _build(data, _Problems(filename, lines))


def parse_rota(path: Path) -> Rota:
    """Read and check a rota file; raise DataError with every problem, each with its line."""
    try:
        text = path.read_text("utf-8-sig")
    except FileNotFoundError:
        raise DataError([f"{path}: no such file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError([f"{path}: cannot read: {exc}"]) from None
    return parse_rota_text(text, path.name)
