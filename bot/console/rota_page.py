"""The rota page: who is on duty now, this week and next as a grid (the same duty_at and
find_gaps the bot pings with, the stored overrides included), gaps, closures, and the overrides
with add and remove for admins (the same checks as `hotline rota override` / `unoverride`,
bot/escalation/rota_store.py). Staff see the page without its forms.

The grid's rows are the bands of wall-clock time where some day's duty changes; each day's
column has one cell per stretch of unchanged duty (spanning rows), so a quiet week stays short.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.console.common import Signed, actor, back_to, bot_of, form_of, now_of, page, staff_only
from bot.core.errors import UserFacingError
from bot.directory.audit import record
from bot.escalation.rota import (
    ROLES,
    Gap,
    Override,
    Rota,
    Stretch,
    day_stretches,
    duty_at,
    find_gaps,
    hhmm,
)
from bot.escalation.rota_store import (
    EMAIL_CHARS,
    OverrideProblem,
    add_override,
    current_rota,
    describe_override,
    names_of,
    overrides_between,
    reachable_emails,
    read_time,
    remove_override,
    staff_people,
    upcoming_overrides,
)
from bot.store.models import RotaOverride

PAGE = "/console/rota"
ADD = "/console/rota/overrides"
REMOVE = "/console/rota/overrides/remove"
WEEKS = 2
FIELDS = ("person", "role", "starts", "ends")
DONE = {
    "added": "Override added.",
    "removed": "Override removed.",
    "ended": "Override ended now (the part already past is kept).",
}
DAY = "%a %d %b"
WHEN = "%a %d %b %Y %H:%M"


@dataclass
class Cell:
    stretch: Stretch
    rowspan: int
    now: bool
    lines: list[tuple[str, str, bool]]  # (role, who, held by an override)
    status: str


@dataclass
class Week:
    title: str
    days: list[date]
    rows: list[tuple[str, list[Cell]]] = field(default_factory=list)


def _first_instant(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _cell(stretch: Stretch, rota: Rota, name: dict[str, str], now: datetime, rowspan: int) -> Cell:
    duty = stretch.duty

    def who(email: str | None) -> str:
        return name.get(email, email) if email else "nobody"

    lines: list[tuple[str, str, bool]] = []
    if duty.in_hours:
        status = "Hotline hours"
        lines += [
            ("Primary", who(duty.primary), "primary" in stretch.overridden),
            ("Backup", who(duty.backup), "backup" in stretch.overridden),
            ("Fallback", who(duty.fallback), False),
        ]
    else:
        closure = stretch.closure
        status = f"Closed: {closure.note or 'closure'}" if closure else "Out of hours"
        if duty.primary:
            lines.append(("Primary", who(duty.primary), "primary" in stretch.overridden))
        if duty.backup:
            lines.append(("Backup", who(duty.backup), "backup" in stretch.overridden))
        lines.append(("Out-of-hours cover", who(duty.fallback), False))
    return Cell(stretch, rowspan, stretch.holds(now), lines, status)


def _week(
    rota: Rota,
    overrides: list[Override],
    monday: date,
    title: str,
    name: dict[str, str],
    now: datetime,
    reachable: set[str],
) -> Week:
    days = [monday + timedelta(days=n) for n in range(7)]
    stretches = [day_stretches(rota, overrides, d, lambda e: e in reachable) for d in days]
    bands = sorted({s.start for day in stretches for s in day} | {24 * 60})
    week = Week(title, days)
    for i, start in enumerate(bands[:-1]):
        cells = [
            _cell(s, rota, name, now, sum(1 for b in bands[:-1] if s.start <= b < s.end))
            for day in stretches
            for s in day
            if s.start == start
        ]
        week.rows.append((f"{hhmm(start)}-{hhmm(bands[i + 1])}", cells))
    return week


def _override_row(row: RotaOverride, tz: ZoneInfo, now: datetime) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.person.name,
        "email": row.person.email,
        "role": row.role,
        "starts": row.starts_at.astimezone(tz).strftime(WHEN),
        "ends": row.ends_at.astimezone(tz).strftime(WHEN),
        "current": row.starts_at <= now,
    }


def _gap_row(gap: Gap, tz: ZoneInfo) -> dict[str, str]:
    start, end = gap.starts_at.astimezone(tz), gap.ends_at.astimezone(tz)
    to = end.strftime("%H:%M" if end.date() == start.date() else WHEN)
    return {"from": start.strftime(WHEN), "to": to, "reason": gap.reason}


async def _show(
    request: Request,
    signed: Signed,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    problem: str | None = None,
    notice: str | None = None,
) -> Response:
    bot = bot_of(request)
    now = now_of(request)
    tz = bot.deps.timezone
    async with bot.db.reading() as session:
        rota = await current_rota(session)
        staff = await staff_people(session)
        listed = await upcoming_overrides(session, now)
        reachable = await reachable_emails(session)
        grid: dict[str, Any] = {}
        if rota is not None:
            today = now.astimezone(rota.timezone).date()
            monday = today - timedelta(days=today.weekday())
            first = _first_instant(monday, rota.timezone)
            last = _first_instant(monday + timedelta(days=7 * WEEKS), rota.timezone)
            overrides = await overrides_between(session, first, last)
            emails = {rota.fallback} | {o.email for o in overrides}
            emails |= {p for s in rota.pattern for p in (s.primary, s.backup) if p}
            name = await names_of(session, emails)
            grid = _grid(rota, overrides, monday, first, now, name, reachable)
    return page(
        "rota.html",
        status,
        title="Rota",
        signed=signed,
        current=PAGE,
        head_css="rota.css",
        rota=rota,
        tz=tz.key,
        errors=errors or {},
        values=values or {},
        problem=problem,
        notice=notice,
        overrides=[_override_row(row, tz, now) for row in listed],
        people=[("", "Choose a person")] + [(p.email, f"{p.name} ({p.email})") for p in staff],
        roles=[(role, role) for role in ROLES],
        email_chars=EMAIL_CHARS,
        **grid,
    )


def _grid(
    rota: Rota,
    overrides: list[Override],
    monday: date,
    first: datetime,
    now: datetime,
    name: dict[str, str],
    reachable: set[str],
) -> dict[str, Any]:
    tz = rota.timezone
    duty = duty_at(rota, overrides, now)
    weeks = [
        _week(
            rota,
            overrides,
            monday + timedelta(days=7 * n),
            f"{'This week' if n == 0 else 'Next week'}: "
            f"{monday + timedelta(days=7 * n):{DAY}} to {monday + timedelta(days=7 * n + 6):{DAY}}",
            name,
            now,
            reachable,
        )
        for n in range(WEEKS)
    ]
    current = next((c.stretch for w in weeks for _, cells in w.rows for c in cells if c.now), None)
    gaps = find_gaps(rota, overrides, first, 7 * WEEKS, lambda e: e in reachable)
    today = now.astimezone(tz).date()
    closures = [
        {
            "note": c.note or "Closed",
            "from": f"{c.start:%a %d %b %Y}",
            "to": f"{c.end:%a %d %b %Y}" if c.end != c.start else None,
        }
        for c in sorted(rota.closures, key=lambda c: c.start)
        if c.end >= today
    ]
    wake = None if rota.wake_out_of_hours is None else ", ".join(sorted(rota.wake_out_of_hours))
    return {
        "weeks": weeks,
        "now_at": now.astimezone(tz).strftime(f"{WHEN} %Z"),
        "now_duty": duty,
        "now_names": {
            role: name.get(email, email) if email else None
            for role, email in (
                ("primary", duty.primary),
                ("backup", duty.backup),
                ("fallback", duty.fallback),
            )
        },
        "now_stretch": current,
        "gaps": [_gap_row(g, tz) for g in gaps if g.ends_at > now],
        "closures": closures,
        "wake": wake,
        "grid_tz": tz.key,
    }


async def rota_view(request: Request, signed: Signed) -> Response:
    notice = DONE.get(request.query_params.get("done", ""))
    return await _show(request, signed, notice=notice)


def _capital(text: str) -> str:
    """A domain message as a sentence beside its field (an email or a quoted value first stays
    as it is)."""
    first = text.split(" ", 1)[0]
    return text if "@" in first or not first.isalpha() else text[:1].upper() + text[1:]


async def add(request: Request, signed: Signed) -> Response:
    form = await form_of(request)
    bot = bot_of(request)
    tz = bot.deps.timezone
    now = now_of(request)
    values = {name: form.get(name, "")[:300] for name in FIELDS}
    errors: dict[str, str] = {}
    times: dict[str, datetime] = {}
    for name in ("starts", "ends"):
        try:
            times[name] = read_time(form.get(name, ""), tz, name)
        except OverrideProblem as problem:
            errors[name] = _capital(str(problem))
    if not errors:
        try:
            async with bot.db.session() as session:
                row = await add_override(
                    session,
                    form.get("person", ""),
                    form.get("role", "").strip(),
                    times["starts"],
                    times["ends"],
                )
                record(
                    session,
                    actor(request, signed),
                    "rota override add",
                    f"override {row.id}",
                    about=row.person_id,
                    detail=describe_override(row, tz),
                    at=now,
                )
        except OverrideProblem as problem:
            errors[problem.field] = _capital(str(problem))
    if errors:
        return await _show(request, signed, status=400, errors=errors, values=values)
    return back_to(f"{PAGE}?done=added")


async def remove(request: Request, signed: Signed) -> Response:
    form = await form_of(request)
    bot = bot_of(request)
    now = now_of(request)
    raw = form.get("override", "").strip()
    if not raw.isdigit() or len(raw) > 18:
        return await _show(
            request, signed, status=400, problem="That override could not be read; nothing changed."
        )
    try:
        async with bot.db.session() as session:
            removed = await remove_override(session, int(raw), now)
            row = removed.override
            done = (
                f"ended early at {now.astimezone(bot.deps.timezone):{WHEN}}"
                if (removed.cut_short)
                else "removed before it started"
            )
            record(
                session,
                actor(request, signed),
                "rota override remove",
                f"override {row.id}",
                about=row.person_id,
                detail=f"{done}: {describe_override(row, bot.deps.timezone)}",
                at=now,
            )
    except UserFacingError as problem:
        return await _show(
            request, signed, status=400, problem=f"{_capital(str(problem))}. Nothing changed."
        )
    return back_to(f"{PAGE}?done={'ended' if removed.cut_short else 'removed'}")


def routes() -> list[BaseRoute]:
    return [
        Route(PAGE, staff_only(rota_view), methods=["GET"]),
        Route(ADD, staff_only(add, post=True, admin=True), methods=["POST"]),
        Route(REMOVE, staff_only(remove, post=True, admin=True), methods=["POST"]),
    ]
