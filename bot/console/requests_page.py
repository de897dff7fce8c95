"""The requests pages.

- `/console/requests`: the inbox, newest first (bot/escalation/inbox.py, the same query as
  `hotline requests list`), narrowed by a GET form (status, kind, category, school, opened from /
  to). Its table polls `/console/requests/live` (htmx, every 5 s) with the same filters; that
  fragment starts with a `<title>`, so the browser tab shows the count.
- `/console/requests/<REF>` (`id-<id>` for a request without a reference): the member's messages,
  the whole timeline, and the forms Acknowledge, Resolve, Add note and Reply to member, which
  call the chat's domain functions (bot/escalation/hotline.py). Each form carries the request's
  version: a form loaded before someone else acted changes nothing (409). Every view and every
  action adds an audit entry in the same transaction.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from bot.console.common import (
    INBOX_PAGE,
    SIGNIN_PAGE,
    Signed,
    actor,
    age,
    back_to,
    bot_of,
    form_of,
    not_found,
    now_of,
    page,
    staff_only,
    text_field,
)
from bot.core import texts
from bot.delivery.outbox import QUEUED
from bot.directory.audit import record
from bot.escalation.categories import CATEGORIES
from bot.escalation.hotline import (
    acknowledge,
    add_note,
    by_reference,
    readers_of,
    resolve,
    staff_reply,
)
from bot.escalation.inbox import (
    NOT_RESOLVED,
    Filters,
    categories_in_use,
    count_requests,
    pinged_names,
    recent_requests,
)
from bot.privacy.access import VIEW_RESTRICTED, may_read, restricted, withheld_facts
from bot.privacy.redaction import TEXT_EVENTS
from bot.store.models import (
    HotlineRequest,
    OutboundMessage,
    Person,
    RequestEvent,
    RequestKind,
    RequestStatus,
    School,
)
from bot.store.timeline import events_of

INBOX_LIMIT = 200
LIVE_PAGE = f"{INBOX_PAGE}/live"
TEXT_CHARS = 2000  # a note, a resolution note, a reply (the timeline keeps 2,000 characters)
FILTER_CHARS = 60
ID_KEY = re.compile(r"^id-(\d{1,12})$")

STATUSES: tuple[tuple[str, str], ...] = (
    ("", "Not resolved"),
    ("open", "Open (nobody has it)"),
    ("acknowledged", "Acknowledged"),
    ("resolved", "Resolved"),
    ("all", "Any status"),
)
KINDS: tuple[tuple[str, str], ...] = (
    ("", "Any kind"),
    ("emergency", "Emergency"),
    ("support", "Support"),
)
TITLES = {
    "": "Open requests",
    "open": "Requests nobody has yet",
    "acknowledged": "Acknowledged requests",
    "resolved": "Resolved requests",
    "all": "All requests",
}
# What the timeline calls its events (others: their kind, in words).
EVENTS = {
    "opened": "Opened",
    "level_pinged": "Pinged",
    "level_skipped": "Level skipped",
    "nobody_reachable": "Nobody reachable",
    "out_of_hours": "Held out of hours",
    "no_rota": "No rota",
    "chain_exhausted": "Escalation chain ended",
    "member_cant_wait": "Member said it can't wait",
    "acknowledged": "Acknowledged",
    "note": "Note",
    "reply": "Reply to member",
    "member_message": "Message from the member",
    "message_added": "Message from the member",
    "reminder": "Reminder to the owner",
    "resolved": "Resolved",
    "send_failed": "Message not delivered",
    "send_unreachable": "Member or staff unreachable",
}
MEMBER_MESSAGES = ("member_message", "message_added")

CHANGED = (
    "Someone else changed this request after you loaded the page (see its status and "
    "timeline below). Nothing was done: check it, then try again."
)
OLD_FORM = "This form is incomplete. Reload the page and try again."


# -- the inbox --------------------------------------------------------------------------------


@dataclass
class Asked:
    """The inbox's filters as asked (query parameters), checked."""

    values: dict[str, str]
    filters: Filters
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def query(self) -> str:
        return urlencode({k: v for k, v in self.values.items() if v})

    @property
    def title(self) -> str:
        return TITLES.get(self.values["status"], TITLES[""])


def _day(raw: str, name: str, errors: dict[str, str]) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = "Give a date like 2026-11-25."
        return None


def _day_start(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def asked_filters(
    params: Mapping[str, str],
    schools: Mapping[str, School],
    categories: set[str],
    tz: tzinfo,
) -> Asked:
    """The filter form's values, checked; a bad value gets a message beside its field."""
    values = {
        name: params.get(name, "").strip()[:FILTER_CHARS]
        for name in ("status", "kind", "category", "school", "from", "to")
    }
    errors: dict[str, str] = {}
    status = values["status"]
    statuses: frozenset[RequestStatus] | None = NOT_RESOLVED
    if status == "all":
        statuses = None
    elif status in {s.value for s in RequestStatus}:
        statuses = frozenset({RequestStatus(status)})
    elif status:
        errors["status"] = "Choose a status from the list."
    kind = None
    if values["kind"] in {k.value for k in RequestKind}:
        kind = RequestKind(values["kind"])
    elif values["kind"]:
        errors["kind"] = "Choose emergency or support."
    if values["category"] and values["category"] not in categories:
        errors["category"] = "Choose a category from the list."
    school = schools.get(values["school"]) if values["school"] else None
    if values["school"] and school is None:
        errors["school"] = "Choose a school from the list."
    start = _day(values["from"], "from", errors)
    end = _day(values["to"], "to", errors)
    if start and end and end < start:
        errors["to"] = "The end date comes before the start date."
    filters = Filters(
        statuses=statuses,
        kind=kind,
        category=values["category"] or None,
        school_id=school.id if school else None,
        opened_from=_day_start(start, tz) if start else None,
        opened_before=_day_start(end + timedelta(days=1), tz) if end else None,
    )
    return Asked(values, filters, errors)


def _key(request: HotlineRequest) -> str:
    """The request's address under /console/requests/."""
    return request.reference or f"id-{request.id}"


def _subject(request: HotlineRequest) -> str:
    """How the audit log names the request."""
    return request.reference or f"#{request.id}"


@dataclass(frozen=True)
class Listing:
    asked: Asked
    rows: list[dict[str, Any]]
    count: int
    schools: list[tuple[str, str]]
    categories: list[tuple[str, str]]

    @property
    def tab_title(self) -> str:
        return f"({self.count}) {self.asked.title}"


async def _listing(request: Request) -> Listing:
    bot = bot_of(request)
    now = now_of(request)
    tz = bot.deps.timezone
    params = {k: request.query_params.get(k, "") for k in request.query_params}
    async with bot.db.reading() as session:
        schools = {s.code: s for s in await session.scalars(select(School).order_by(School.name))}
        categories = sorted(set(CATEGORIES) | set(await categories_in_use(session)))
        asked = asked_filters(params, schools, set(categories), tz)
        rows = []
        count = 0
        if not asked.errors:
            count = await count_requests(session, asked.filters)
            rows = await recent_requests(session, limit=INBOX_LIMIT, filters=asked.filters)
    shown = [
        {
            "reference": r.request.reference or f"#{r.request.id}",
            "href": f"{INBOX_PAGE}/{_key(r.request)}",
            "opened": r.request.created_at.astimezone(tz).strftime("%d %b %H:%M"),
            "opened_iso": r.request.created_at.astimezone(tz).isoformat(),
            "age": age(r.request.created_at, now),
            "kind": r.request.kind.value,
            "category": r.request.category or "",
            "school": r.request.school.name if r.request.school else "",
            "status": r.request.status.value,
            "owner": r.request.acknowledged_by.name if r.request.acknowledged_by else "",
            "level": r.request.level,
            "pinged": ", ".join(r.pinged),
        }
        for r in rows
    ]
    return Listing(
        asked,
        shown,
        count,
        [("", "Any school"), *((code, s.name) for code, s in schools.items())],
        [("", "Any category"), *((c, c) for c in categories)],
    )


async def inbox(request: Request, signed: Signed) -> Response:
    listing = await _listing(request)
    return page(
        "requests.html",
        400 if listing.asked.errors else 200,
        title=listing.asked.title,
        listing=listing,
        errors=listing.asked.errors,
        live=LIVE_PAGE,
        statuses=STATUSES,
        kinds=KINDS,
        signed=signed,
        current=INBOX_PAGE,
    )


async def live(request: Request, signed: Signed) -> Response:
    """The inbox's table alone, for htmx to swap in (and its <title>, for the tab)."""
    listing = await _listing(request)
    return page(
        "requests_live.html",
        400 if listing.asked.errors else 200,
        listing=listing,
        signed=signed,
    )


def _live_route() -> Callable[[Request], Awaitable[Response]]:
    """The fragment for signed-in staff; htmx polling without a session (it ended) is sent to
    the sign-in page as a whole page (HX-Redirect), not swapped into the table."""
    handler = staff_only(live)

    async def run(request: Request) -> Response:
        response = await handler(request)
        if response.status_code == 303 and request.headers.get("hx-request") == "true":
            return Response(status_code=204, headers={"HX-Redirect": SIGNIN_PAGE})
        return response

    return run


# -- a request --------------------------------------------------------------------------------


async def find_request(session: AsyncSession, key: str) -> HotlineRequest | None:
    """The request at /console/requests/<key>: a reference, or id-<id> for one without."""
    found = ID_KEY.match(key)
    if found is None:
        return await by_reference(session, key)
    return await session.scalar(
        select(HotlineRequest)
        .where(HotlineRequest.id == int(found[1]))
        .options(
            selectinload(HotlineRequest.person),
            selectinload(HotlineRequest.school),
            selectinload(HotlineRequest.acknowledged_by),
        )
    )


def _when(at: datetime, tz: tzinfo) -> dict[str, str]:
    local = at.astimezone(tz)
    return {"at": local.strftime("%d %b %Y %H:%M"), "at_iso": local.isoformat()}


async def _details(
    session: AsyncSession, found: HotlineRequest, tz: tzinfo, now: datetime, viewer: Person
) -> dict[str, Any]:
    """What the request page shows of a request to `viewer`: a restricted request's messages,
    resolution note and timeline texts only to those who may read it (bot/privacy/access.py);
    to others its reference, school, status, times and a notice."""
    events: list[RequestEvent] = await events_of(session, found.id)
    readable = may_read(viewer, found, await readers_of(session, found))
    ids = {e.person_id for e in events} | {found.resolved_by_id, found.acknowledged_by_id}
    wanted = [i for i in ids if i is not None]
    names = {
        p.id: p.name for p in await session.scalars(select(Person).where(Person.id.in_(wanted)))
    }
    pinged = (await pinged_names(session, [found.id])).get(found.id, ())
    messages = [{"text": found.text, **_when(found.created_at, tz)}]
    messages += [{"text": e.detail, **_when(e.at, tz)} for e in events if e.kind in MEMBER_MESSAGES]
    school = found.school.name if found.school else ""

    def detail(event: RequestEvent) -> str:
        hidden = not readable and event.kind in TEXT_EVENTS and event.detail
        return texts.WITHHELD_DETAIL if hidden else event.detail

    return {
        "key": _key(found),
        "reference": found.reference or f"#{found.id}",
        "kind": found.kind.value,
        "category": found.category or "",
        "school": school,
        "restricted": restricted(found),
        "readable": readable,
        "withheld": "" if readable else withheld_facts(found, school or None, tz),
        "level": found.level,
        "status": found.status.value,
        "owner": names.get(found.acknowledged_by_id or 0, ""),
        "resolved_by": names.get(found.resolved_by_id or 0, ""),
        "resolution_note": (found.resolution_note or "") if readable else texts.WITHHELD_DETAIL,
        "member": found.person.name,
        "channel": found.channel,
        "version": found.version,
        "age": age(found.created_at, now),
        "pinged": ", ".join(pinged),
        **_when(found.created_at, tz),
        "messages": messages if readable else [],
        "timeline": [
            {
                "what": EVENTS.get(e.kind, e.kind.replace("_", " ").capitalize()),
                "kind": e.kind,
                "who": names.get(e.person_id or 0, "" if e.person_id is None else "someone"),
                "detail": detail(e),
                **_when(e.at, tz),
            }
            for e in events
        ],
    }


def _request_page(
    shown: dict[str, Any],
    signed: Signed,
    status: int = 200,
    *,
    errors: dict[str, str] | None = None,
    values: Mapping[str, str] | None = None,
    notice: str | None = None,
) -> HTMLResponse:
    return page(
        "request.html",
        status,
        title=f"Request {shown['reference']}",
        req=shown,
        errors=errors or {},
        values=values or {},
        notice=notice,
        signed=signed,
        current=INBOX_PAGE,
    )


def _notice(params: Mapping[str, str]) -> str | None:
    """The line after an action, from what its transaction committed (the redirect's query)."""
    done = params.get("done", "")
    told = params.get("told") == "1"
    if done == "acknowledge":
        edited = params.get("edited", "0")
        pings = (
            f" {edited} chat ping{'s' if edited != '1' else ''} will show who has it."
            if edited.isdigit() and edited != "0"
            else ""
        )
        member = (  # queued, not yet delivered: the timeline and chat show the rest
            " The bot is telling the member who has it."
            if told
            else " No message to the member could be queued: contact them yourself."
        )
        return f"Acknowledged.{member}{pings}"
    if done == "resolve":
        return "Resolved." + (" The bot is telling the member." if told else "")
    if done == "note":
        return "Note added to the timeline."
    if done == "reply":
        return (
            "Your reply is on its way to the member through the bot."
            if told
            else "Your reply was not sent."
        )
    return None


async def _viewed(
    request: Request,
    signed: Signed,
    session: AsyncSession,
    found: HotlineRequest,
    now: datetime,
    *,
    every_view: bool,
) -> dict[str, Any]:
    """The page's facts, and its audit entry: "view-restricted" for a restricted request read
    in full (each time, the page shown again after a refused form too), else "view" when
    `every_view`."""
    shown = await _details(session, found, bot_of(request).deps.timezone, now, signed.person)
    if shown["restricted"] and shown["readable"]:
        action = VIEW_RESTRICTED
    elif every_view:
        action = "view"
    else:
        return shown
    record(session, actor(request, signed), action, _subject(found), about=found.person_id)
    return shown


async def request_view(request: Request, signed: Signed) -> Response:
    bot = bot_of(request)
    key = request.path_params["key"]
    now = now_of(request)

    async def work(session: AsyncSession) -> dict[str, Any] | None:
        found = await find_request(session, key)
        if found is None:
            return None
        return await _viewed(request, signed, session, found, now, every_view=True)

    shown = await bot.db.transaction(work)
    if shown is None:
        return not_found(signed, f"Request {key[:40]}")
    notice = _notice({k: request.query_params.get(k, "") for k in request.query_params})
    return _request_page(shown, signed, notice=notice)


# -- the actions ------------------------------------------------------------------------------


class Refused(Exception):
    """An action refused before it changed anything: the message beside its form."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Done:
    """What an action's transaction committed: the notice's facts."""

    told: bool = False  # a message to the member was enqueued
    edited: int = 0  # pings in chat that will be edited


Act = Callable[[AsyncSession, HotlineRequest, Person, str], Awaitable[Done]]


async def _owner_name(session: AsyncSession, found: HotlineRequest) -> str:
    owner_id = found.acknowledged_by_id
    owner = await session.get(Person, owner_id) if owner_id else None
    return owner.name if owner else "someone"


async def _check(session: AsyncSession, found: HotlineRequest, action: str, version: str) -> None:
    """Refuses a form loaded before someone else acted (or one the request's state rules out)."""
    if found.status is RequestStatus.RESOLVED and action != "note":
        raise Refused(texts.ALREADY_RESOLVED.format(reference=_subject(found)))
    if found.status is RequestStatus.ACKNOWLEDGED and action == "acknowledge":
        raise Refused(
            texts.ALREADY_ACKNOWLEDGED.format(
                reference=_subject(found), name=await _owner_name(session, found)
            )
        )
    if not version.isdigit():
        raise Refused(OLD_FORM, 400)
    if int(version) != found.version:
        raise Refused(CHANGED)


async def _queued(session: AsyncSession, key: str) -> bool:
    return (
        await session.scalar(select(OutboundMessage.id).where(OutboundMessage.dedupe_key == key))
        is not None
    )


async def _run(
    request: Request,
    signed: Signed,
    action: str,
    field_name: str,
    act: Act,
    *,
    label: str | None = None,
) -> Response:
    """One action's POST: the text field (when `label`) checked, the request's version
    compared, `act` and its audit entry in one transaction; 303 back to the page, or the page
    with the message beside the form (400 / 409) and nothing changed."""
    bot = bot_of(request)
    key = request.path_params["key"]
    now = now_of(request)
    form = await form_of(request)
    errors: dict[str, str] = {}
    text = text_field(form, field_name, errors, label=label, max_chars=TEXT_CHARS) if label else ""
    queued: list[bool] = []

    async def work(session: AsyncSession) -> Done | None:
        found = await find_request(session, key)
        if found is None:
            return None
        await _check(session, found, action, form.get("version", ""))
        if errors:
            raise Refused(errors[field_name], 400)
        staff = await session.get(Person, signed.person.id)
        assert staff is not None  # signed in: the session's person exists
        done = await act(session, found, staff, text)
        record(
            session,
            actor(request, signed),
            action,
            _subject(found),
            about=found.person_id,
            detail=_audit_detail(done),
        )
        if session.info.get(QUEUED):
            queued.append(True)
        return done

    try:
        done = await bot.db.transaction(work)
    except (Refused, StaleDataError) as exc:
        message, status = (str(exc), exc.status) if isinstance(exc, Refused) else (CHANGED, 409)

        async def again(session: AsyncSession) -> dict[str, Any] | None:
            found = await find_request(session, key)
            if found is None:
                return None
            return await _viewed(request, signed, session, found, now, every_view=False)

        shown = await bot.db.transaction(again)
        if shown is None:
            return not_found(signed, f"Request {key[:40]}")
        return _request_page(shown, signed, status, errors={field_name: message}, values=form)
    if done is None:
        return not_found(signed, f"Request {key[:40]}")
    if queued:
        bot.deps.on_queued()  # committed: the sender loop can take it now
    query = urlencode({"done": action, "told": int(done.told), "edited": done.edited})
    return back_to(f"{INBOX_PAGE}/{key}?{query}")


def _audit_detail(done: Done) -> str:
    parts = ["member told" if done.told else ""]
    if done.edited:
        parts.append(f"{done.edited} ping(s) edited")
    return "; ".join(p for p in parts if p)


async def act_acknowledge(request: Request, signed: Signed) -> Response:
    config = bot_of(request).deps.escalation
    now = now_of(request)

    async def act(session: AsyncSession, found: HotlineRequest, staff: Person, _: str) -> Done:
        # own_pings: the staff member's own pings are edited too (no button was pressed).
        await acknowledge(session, found, staff, now, config, own_pings=True)
        edited = await session.scalar(
            select(func.count())
            .select_from(OutboundMessage)
            .where(
                OutboundMessage.request_id == found.id,
                OutboundMessage.dedupe_key.like(f"edit:%:{RequestStatus.ACKNOWLEDGED.value}"),
            )
        )
        return Done(await _queued(session, f"member-ack:{found.id}"), int(edited or 0))

    return await _run(request, signed, "acknowledge", "acknowledge", act)


async def act_resolve(request: Request, signed: Signed) -> Response:
    now = now_of(request)

    async def act(session: AsyncSession, found: HotlineRequest, staff: Person, note: str) -> Done:
        await resolve(session, found, staff, note, now)
        return Done(await _queued(session, f"member-resolved:{found.id}"))

    return await _run(request, signed, "resolve", "resolution", act, label="Resolution note")


async def act_note(request: Request, signed: Signed) -> Response:
    now = now_of(request)

    async def act(session: AsyncSession, found: HotlineRequest, staff: Person, note: str) -> Done:
        await add_note(session, found, staff, note, now)
        return Done()

    return await _run(request, signed, "note", "note", act, label="Note")


async def act_reply(request: Request, signed: Signed) -> Response:
    now = now_of(request)

    async def act(session: AsyncSession, found: HotlineRequest, staff: Person, text: str) -> Done:
        before = await session.scalar(select(func.max(OutboundMessage.id))) or 0
        await staff_reply(session, found, staff, text, now, bot_of(request).deps.escalation)
        told = await session.scalar(
            select(OutboundMessage.id).where(
                OutboundMessage.id > before,
                OutboundMessage.request_id == found.id,
                OutboundMessage.dedupe_key.like("reply:%"),
            )
        )
        return Done(told is not None)

    return await _run(request, signed, "reply", "reply", act, label="Reply")


def routes() -> list[BaseRoute]:
    one = INBOX_PAGE + "/{key}"
    return [
        Route(INBOX_PAGE, staff_only(inbox), methods=["GET"]),
        Route(LIVE_PAGE, _live_route(), methods=["GET"]),
        Route(one, staff_only(request_view), methods=["GET"]),
        Route(one + "/acknowledge", staff_only(act_acknowledge, post=True), methods=["POST"]),
        Route(one + "/resolve", staff_only(act_resolve, post=True), methods=["POST"]),
        Route(one + "/note", staff_only(act_note, post=True), methods=["POST"]),
        Route(one + "/reply", staff_only(act_reply, post=True), methods=["POST"]),
    ]
