"""The duty rota: who is pinged at each level at any moment; pure (rota_file.py reads the file).

The office writes the rota in wall-clock local time ("Sam, Mondays 08:00-18:00"), so a shift
covers every instant whose local clock reads inside it: when the clocks go back, 01:30 happens
twice and both are covered, and a Sunday 00:00-24:00 lasts 25 hours. Everything handed back is
UTC, like the database.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from bot.escalation.chains import DEFAULT, DEFAULT_CHAIN, Chain, ChainStep

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WAKE = "wake_out_of_hours"
MIDNIGHT = time(0)
DAY_MINUTES = 24 * 60
MINUTE = timedelta(minutes=1)
STEP = timedelta(minutes=15)


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
        return f"{_format_days(self.days)} {hhmm(start)}-{hhmm(end)}"


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
        # The checks build a Rota, so their module imports this one: import it when used.
        from bot.escalation.rota_file import rota_from_json

        return rota_from_json(data)


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


def _may_ping(rota: Rota, step: ChainStep) -> set[str]:
    """Everyone a chain step could ping: a role's holders in the pattern (or the fallback), the
    person, the group's people."""
    if step.kind == "role":
        return {
            "primary": {s.primary for s in rota.pattern},
            "backup": {s.backup for s in rota.pattern if s.backup},
            "fallback": {rota.fallback},
        }[step.name]
    return {step.name} if step.kind == "person" else set(step.people)


def named_people(rota: Rota) -> set[str]:
    """Everyone the rota names: the pattern, the fallback, and the chains' people and groups."""
    steps = [step for chain in rota.chains.values() for step in chain.steps]
    return set().union(*(_may_ping(rota, step) for step in (*DEFAULT_CHAIN.steps, *steps)))


def unreachable_chains(rota: Rota, reachable: Callable[[str], bool]) -> list[str]:
    """Chains with no step that could reach anyone (a role counts when anyone who holds it in
    the pattern, or the fallback, has a linked chat account)."""
    return [
        f"chain {chain.name}: no step can reach anyone by chat"
        for chain in rota.chains.values() or [DEFAULT_CHAIN]
        if not any(reachable(p) for step in chain.steps for p in _may_ping(rota, step))
    ]


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


# --- Written out -------------------------------------------------------------------------------


def _minute_of(t: time) -> int:
    return t.hour * 60 + t.minute


def hhmm(minutes: int) -> str:
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
    return {"days": _format_days(span.days), "from": hhmm(start), "to": hhmm(end)}


def _step_json(step: ChainStep) -> dict[str, object]:
    data = step.to_json()
    data.pop("people", None)
    return data


# --- A week as a grid (the console's rota page) --------------------------------------------------

ROLES = ("primary", "backup")


@dataclass(frozen=True)
class Stretch:
    """Part of one local day with the same duty throughout: wall-clock minutes [start, end) of
    `day` (an `end` of 1440 is midnight at the end of the day), and the instants they stand for."""

    day: date
    start: int
    end: int
    starts_at: datetime
    ends_at: datetime
    duty: Duty
    closure: Closure | None
    overridden: frozenset[str]  # the roles an override holds here
    gap: str | None  # why nobody can be pinged in hotline hours (find_gaps' reason), or None

    @property
    def label(self) -> str:
        return f"{hhmm(self.start)}-{hhmm(self.end)}"

    def holds(self, at: datetime) -> bool:
        return self.starts_at <= _utc(at) < self.ends_at


def closure_on(rota: Rota, day: date) -> Closure | None:
    """The closure that covers a local day, if any."""
    return next((c for c in rota.closures if c.start <= day <= c.end), None)


def overridden_roles(overrides: Sequence[Override], at: datetime) -> frozenset[str]:
    """The roles an override holds at this instant."""
    utc = _utc(at)
    return frozenset(role for role in ROLES if _override(overrides, role, utc) is not None)


def _instant(rota: Rota, day: date, minute: int) -> datetime:
    """The first instant the local clock reads `minute` (of the day) on `day`; 1440 is the next
    day's midnight."""
    if minute >= DAY_MINUTES:
        day, minute = day + timedelta(days=1), 0
    return min(_reaching(day, time(minute // 60, minute % 60), rota.timezone))


def _boundaries(rota: Rota, overrides: Sequence[Override], day: date) -> list[int]:
    """The wall-clock minutes of `day` at which the duty may change: midnight, the edges of the
    spans for that weekday, and the edges of the overrides that fall on the day."""
    minutes = {0}
    for span in (*rota.hotline_hours, *(s.span for s in rota.pattern)):
        if day.weekday() in span.days:
            minutes.update(m % DAY_MINUTES for m in span._minutes())
    for override in overrides:
        for edge in (override.starts_at, override.ends_at):
            local = _utc(edge).astimezone(rota.timezone)
            if local.date() == day:
                minutes.add(_minute_of(local.time()))
    return sorted(minutes)


def day_stretches(
    rota: Rota,
    overrides: Sequence[Override],
    day: date,
    reachable: Callable[[str], bool] = lambda email: True,
) -> list[Stretch]:
    """One local day cut where its duty changes, each part with who holds each role (duty_at),
    which roles are overridden, the closure, and the gap find_gaps would report there."""
    closure = closure_on(rota, day)
    points = _boundaries(rota, overrides, day)
    stretches: list[Stretch] = []
    for start, end in zip(points, [*points[1:], DAY_MINUTES], strict=True):
        starts_at, ends_at = _instant(rota, day, start), _instant(rota, day, end)
        duty = duty_at(rota, overrides, starts_at)
        overridden = overridden_roles(overrides, starts_at)
        gap = _gap_reason(duty, reachable)
        last = stretches[-1] if stretches else None
        if (
            last is not None
            and (last.duty.in_hours, last.duty.primary, last.duty.backup)
            == (duty.in_hours, duty.primary, duty.backup)
            and (last.overridden, last.gap) == (overridden, gap)
        ):
            stretches[-1] = replace(last, end=end, ends_at=ends_at)
        else:
            stretches.append(
                Stretch(day, start, end, starts_at, ends_at, duty, closure, overridden, gap)
            )
    return stretches
