"""The digest page: the next run previewed as any subscriber (bot/digest/preview.py, as `hotline
digest preview`), the latest runs with their counts (bot/digest/runs.py, as `hotline digest
status`), and the news and events the coming digests carry: add, edit (a page per item, refused
when someone else changed it since the form was read) and withdraw, checked by
bot/digest/content.py's build_record like `hotline news add` / `events add`. Staff may do all
of it (as /news in chat); every change is audited in its own transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.app import digest_config
from bot.console.common import (
    Signed,
    StaffHandler,
    actor,
    back_to,
    bot_of,
    form_of,
    not_found,
    now_of,
    page,
    staff_only,
)
from bot.digest.audience import PHASES, ROLES, Audience
from bot.digest.content import ItemProblems
from bot.digest.content_store import (
    StaleItem,
    add_item,
    current_items,
    edit_item,
    item,
    withdraw,
    withdrawn_items,
)
from bot.digest.gather import LOOKBACK
from bot.digest.preview import Preview, next_run_week, preview
from bot.digest.runs import status, unreachable_people
from bot.digest.subscriptions import subscribers
from bot.directory.audit import record
from bot.store.models import ContentItem, ContentKind, Person
from bot.teaching.live import live_of

PAGE = "/console/digest"
RUNS_SHOWN = 10
WITHDRAWN_SHOWN = 10
SOURCE = "console"
HINT_WHEN = "A date like 2026-12-03, or 2026-12-03 16:00"


@dataclass(frozen=True)
class Field:
    """One form field: its name in build_record's mapping, its label, how it is typed."""

    key: str  # build_record's field (title, text, date, end, ...)
    name: str  # the form's field name, unique on the page
    label: str
    hint: str = ""
    long: bool = False  # a textarea
    required: bool = False


@dataclass(frozen=True)
class Section:
    kind: ContentKind
    path: str  # news | events
    noun: str  # news item | event
    verb: str  # the audit log's word: news | event
    fields: tuple[Field, ...]

    @property
    def prefix(self) -> str:
        return f"{self.verb}_"

    def field_name(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def check_name(self, axis: str, value: str) -> str:
        return f"{self.prefix}{axis}_{re.sub(r'[^a-z0-9]+', '_', value)}"


NEWS = Section(
    ContentKind.NEWS,
    "news",
    "news item",
    "news",
    (
        Field("title", "news_title", "Title", required=True),
        Field("text", "news_text", "Text", long=True, required=True),
        Field("date", "news_date", "Date", f"Published from. {HINT_WHEN}; empty: now."),
        Field("publish_until", "news_until", "Show until", f"Optional. {HINT_WHEN}."),
        Field("link", "news_link", "Link", "Optional: an http(s) address."),
        Field("link_label", "news_link_label", "Link label", "Optional; default: Read more."),
    ),
)
EVENTS = Section(
    ContentKind.EVENT,
    "events",
    "event",
    "event",
    (
        Field("title", "event_title", "Title", required=True),
        Field(
            "date", "event_date", "Starts", f"{HINT_WHEN} (a date alone: all day).", required=True
        ),
        Field("end", "event_end", "Ends", f"Optional. {HINT_WHEN}."),
        Field("location", "event_location", "Location", "Optional."),
        Field("text", "event_text", "Text", "Optional.", long=True),
        Field(
            "publish_from",
            "event_publish_from",
            "Announce from",
            f"Optional; empty: now. {HINT_WHEN}.",
        ),
        Field("publish_until", "event_until", "Show until", f"Optional. {HINT_WHEN}."),
        Field("link", "event_link", "Link", "Optional: an http(s) address."),
        Field("link_label", "event_link_label", "Link label", "Optional; default: Details."),
    ),
)
SECTIONS = {NEWS.path: NEWS, EVENTS.path: EVENTS}

DONE = {
    f"{s.path}-{what}": f"{s.noun.capitalize()} {what}."
    for s in SECTIONS.values()
    for what in ("added", "saved", "withdrawn")
} | {
    **{f"{s.path}-unchanged": "Nothing changed." for s in SECTIONS.values()},
    **{f"{s.path}-already": f"That {s.noun} was withdrawn already." for s in SECTIONS.values()},
}
STALE = (
    "Someone else changed this {noun} after you opened it, so nothing was saved. This is how it "
    "is now: make your change again."
)


# -- reading a form ---------------------------------------------------------------------------


def _raw(section: Section, form: dict[str, str], now: datetime) -> dict[str, Any]:
    """The mapping `hotline news add` / `events add` builds from its flags, from the form."""
    raw: dict[str, Any] = {f.key: form.get(f.name, "").strip() or None for f in section.fields}
    if section.kind is ContentKind.NEWS and raw["date"] is None:
        raw["date"] = now.isoformat(timespec="seconds")  # as the CLI: published now
    phases = [p for p in PHASES if form.get(section.check_name("phase", p))]
    roles = [r for r in ROLES if form.get(section.check_name("role", r))]
    raw["audience"] = {"phases": phases, "roles": roles} if phases or roles else "all"
    return raw


def _errors(section: Section, problems: ItemProblems) -> dict[str, str]:
    """build_record's problems by form field (the audience's under its checkboxes)."""
    names = {f.key: f.name for f in section.fields}
    names |= {"audience.phases": section.field_name("phases")}
    names |= {"audience.roles": section.field_name("roles")}
    errors: dict[str, str] = {}
    for key, what in problems.fields.items():
        errors.setdefault(names.get(key, section.field_name("title")), what)
    return errors


# -- showing items ----------------------------------------------------------------------------


def _when(moment: datetime | None, tz: ZoneInfo) -> str:
    """A stored time as the form takes it back: a date alone at local midnight."""
    if moment is None:
        return ""
    local = moment.astimezone(tz).replace(tzinfo=None)
    if local.time() == time(0):
        return local.date().isoformat()
    if local.second == 0 and local.microsecond == 0:
        return local.strftime("%Y-%m-%d %H:%M")
    return local.isoformat(sep=" ")


def _shown(moment: datetime | None, tz: ZoneInfo) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(tz)
    if local.time().replace(tzinfo=None) == time(0):
        return f"{local:%a %d %b %Y}"
    return f"{local:%a %d %b %Y %H:%M}"


def _values(section: Section, row: ContentItem, tz: ZoneInfo) -> dict[str, str]:
    """The edit form pre-filled from the stored item."""
    stored: dict[str, str] = {
        "title": row.title,
        "text": row.body,
        "publish_until": _when(row.publish_until, tz),
        "link": row.link_url or "",
        "link_label": row.link_label or "",
        "location": row.location or "",
        "end": _when(row.ends_at, tz),
        "publish_from": _when(row.publish_from, tz),
    }
    if section.kind is ContentKind.NEWS:
        stored["date"] = _when(row.publish_from, tz)
    else:
        stored["date"] = (
            f"{row.starts_at.astimezone(tz).date():%Y-%m-%d}"
            if row.all_day and row.starts_at
            else _when(row.starts_at, tz)
        )
    values = {f.name: stored.get(f.key, "") for f in section.fields}
    audience = Audience.from_columns(row.phases, row.roles)
    values |= {section.check_name("phase", p): "on" for p in audience.phases}
    values |= {section.check_name("role", r): "on" for r in audience.roles}
    values["version"] = row.content_hash
    return values


def _row(section: Section, row: ContentItem, now: datetime, tz: ZoneInfo) -> dict[str, Any]:
    if section.kind is ContentKind.NEWS:
        when = _shown(row.publish_from, tz)
    else:
        when = _shown(row.starts_at, tz)
        if row.ends_at:
            when += f" to {_shown(row.ends_at, tz)}"
    window = []
    if section.kind is ContentKind.EVENT and row.publish_from:
        window.append(f"from {_shown(row.publish_from, tz)}")
    if row.publish_until:
        window.append(f"until {_shown(row.publish_until, tz)}")
    if row.withdrawn_at:
        state = f"Withdrawn {_shown(row.withdrawn_at, tz)}"
    elif row.publish_from and row.publish_from > now:
        state = "Upcoming"
    else:
        state = "Showing"
    return {
        "id": row.id,
        "slug": row.slug,
        "title": row.title,
        "when": when,
        "location": row.location or "",
        "window": ", ".join(window) or "no limit",
        "audience": Audience.from_columns(row.phases, row.roles).describe(),
        "state": state,
        "withdrawn": row.withdrawn_at is not None,
        "edit": f"{PAGE}/{section.path}/{row.id}",
        "withdraw": f"{PAGE}/{section.path}/{row.id}/withdraw",
    }


def _form(section: Section, values: dict[str, str], errors: dict[str, str]) -> dict[str, Any]:
    """What the template's item form needs."""
    return {
        "section": section,
        "values": values,
        "errors": errors,
        "checks": [
            (
                axis,
                legend,
                section.field_name(f"{axis}s"),
                [
                    (section.check_name(axis, v), v, bool(values.get(section.check_name(axis, v))))
                    for v in options
                ],
            )
            for axis, legend, options in (("phase", "Phases", PHASES), ("role", "Roles", ROLES))
        ],
    }


# -- the page ---------------------------------------------------------------------------------


def _label(person: Person) -> str:
    if person.is_staff:
        return f"{person.name} (staff digest)"
    school = person.school.name if person.school else "no school"
    return f"{person.name}, {school}"


async def _preview(
    request: Request, people: list[Person], chosen: str
) -> tuple[Preview | None, dict[str, str]]:
    if not chosen:
        return None, {}
    found = next((p for p in people if str(p.id) == chosen), None)
    if found is None:
        return None, {"as": "Choose someone from the list (people who get the digest)."}
    bot = bot_of(request)
    config = digest_config(bot.settings)
    week = next_run_week(config, now_of(request))
    shown = await preview(bot.db, live_of(bot.deps.kb).base, config, found.email, week)
    return shown, {}


async def _digest_page(
    request: Request,
    signed: Signed,
    *,
    status_code: int = 200,
    adding: dict[str, dict[str, Any]] | None = None,
) -> Response:
    bot = bot_of(request)
    tz = bot.deps.timezone
    now = now_of(request)
    config = digest_config(bot.settings)
    week = next_run_week(config, now)
    today = datetime.combine(now.astimezone(tz).date(), time(0), tzinfo=tz)
    async with bot.db.reading() as session:
        people = sorted(await subscribers(session), key=lambda p: (p.is_staff, p.name.lower()))
        lists = {
            s.path: [
                _row(s, r, now, tz)
                for r in await current_items(
                    session, s.kind, now, now - LOOKBACK if s is NEWS else today
                )
            ]
            for s in SECTIONS.values()
        }
        gone = {
            s.path: [
                _row(s, r, now, tz) for r in await withdrawn_items(session, s.kind, WITHDRAWN_SHOWN)
            ]
            for s in SECTIONS.values()
        }
    chosen = request.query_params.get("as", "").strip()[:20] if adding is None else ""
    shown, errors = await _preview(request, people, chosen)
    if errors:
        status_code = 400
    runs = await status(bot.db, now, RUNS_SHOWN)
    unreachable = [
        (c, email, channel)
        for c in runs[:2]
        for email, channel in await unreachable_people(bot.db, c.run_id)
    ]
    adding = adding or {}
    forms = {s.path: adding.get(s.path) or _form(s, {}, {}) for s in SECTIONS.values()}
    return page(
        "digest.html",
        status_code,
        title="Digest",
        signed=signed,
        current=PAGE,
        notice=DONE.get(request.query_params.get("done", "")),
        week=week,
        scheduled=config.scheduled(week).astimezone(tz),
        people=[("", "Choose a person")] + [(str(p.id), _label(p)) for p in people],
        chosen=chosen,
        errors=errors,
        shown=shown,
        runs=runs,
        unreachable=unreachable,
        lists=lists,
        gone=gone,
        forms=forms,
        sections=list(SECTIONS.values()),
    )


async def digest(request: Request, signed: Signed) -> Response:
    return await _digest_page(request, signed)


def _audit_subject(section: Section, row: ContentItem) -> str:
    return f"{section.verb} #{row.id} {row.slug}"


def add_handler(section: Section) -> StaffHandler:
    async def add(request: Request, signed: Signed) -> Response:
        form = await form_of(request)
        bot = bot_of(request)
        now = now_of(request)
        raw = _raw(section, form, now)
        try:
            async with bot.db.session() as session:
                row = await add_item(
                    session, section.kind, raw, bot.deps.timezone, now, signed.person.id, SOURCE
                )
                record(
                    session,
                    actor(request, signed),
                    f"{section.verb} add",
                    _audit_subject(section, row),
                    detail=row.title,
                )
        except ItemProblems as problems:
            values = dict(form)
            adding = {section.path: _form(section, values, _errors(section, problems))}
            return await _digest_page(request, signed, status_code=400, adding=adding)
        return back_to(f"{PAGE}?done={section.path}-added#{section.path}")

    return add


async def _item_page(
    request: Request,
    signed: Signed,
    section: Section,
    row: ContentItem,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
    problem: str = "",
) -> Response:
    tz = bot_of(request).deps.timezone
    return page(
        "digest_item.html",
        status_code,
        title=f"Edit {section.noun}: {row.title}",
        signed=signed,
        current=PAGE,
        item=_row(section, row, now_of(request), tz),
        problem=problem,
        **_form(section, values, errors),
    )


def _item_id(request: Request) -> int:
    value: int = request.path_params["item_id"]
    return value


def edit_form_handler(section: Section) -> StaffHandler:
    async def edit_form(request: Request, signed: Signed) -> Response:
        bot = bot_of(request)
        async with bot.db.reading() as session:
            row = await item(session, section.kind, _item_id(request))
        if row is None:
            return not_found(signed, f"That {section.noun}")
        return await _item_page(
            request, signed, section, row, _values(section, row, bot.deps.timezone), {}
        )

    return edit_form


def edit_handler(section: Section) -> StaffHandler:
    async def edit(request: Request, signed: Signed) -> Response:
        form = await form_of(request)
        bot = bot_of(request)
        tz = bot.deps.timezone
        now = now_of(request)
        raw = _raw(section, form, now)
        async with bot.db.session() as session:
            row = await item(session, section.kind, _item_id(request))
            if row is None:
                return not_found(signed, f"That {section.noun}")
            try:
                changed = await edit_item(
                    session, row, raw, tz, now, SOURCE, expected_hash=form.get("version", "")
                )
            except StaleItem:
                return await _item_page(
                    request,
                    signed,
                    section,
                    row,
                    _values(section, row, tz),
                    {},
                    400,
                    STALE.format(noun=section.noun),
                )
            except ItemProblems as problems:
                values = dict(form)
                return await _item_page(
                    request, signed, section, row, values, _errors(section, problems), 400
                )
            if changed:
                record(
                    session,
                    actor(request, signed),
                    f"{section.verb} edit",
                    _audit_subject(section, row),
                    detail=row.title,
                )
        done = "saved" if changed else "unchanged"
        return back_to(f"{PAGE}?done={section.path}-{done}#{section.path}")

    return edit


def withdraw_handler(section: Section) -> StaffHandler:
    async def withdraw_item(request: Request, signed: Signed) -> Response:
        bot = bot_of(request)
        async with bot.db.session() as session:
            row = await item(session, section.kind, _item_id(request))
            if row is None:
                return not_found(signed, f"That {section.noun}")
            changed = await withdraw(session, row, now_of(request))
            if changed:
                record(
                    session,
                    actor(request, signed),
                    f"{section.verb} withdraw",
                    _audit_subject(section, row),
                    detail=row.title,
                )
        done = "withdrawn" if changed else "already"
        return back_to(f"{PAGE}?done={section.path}-{done}#{section.path}")

    return withdraw_item


def routes() -> list[BaseRoute]:
    found: list[BaseRoute] = [Route(PAGE, staff_only(digest), methods=["GET"])]
    for s in SECTIONS.values():
        base = f"{PAGE}/{s.path}"
        found += [
            Route(base, staff_only(add_handler(s), post=True), methods=["POST"]),
            Route(f"{base}/{{item_id:int}}", staff_only(edit_form_handler(s)), methods=["GET"]),
            Route(
                f"{base}/{{item_id:int}}", staff_only(edit_handler(s), post=True), methods=["POST"]
            ),
            Route(
                f"{base}/{{item_id:int}}/withdraw",
                staff_only(withdraw_handler(s), post=True),
                methods=["POST"],
            ),
        ]
    return found
