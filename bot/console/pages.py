"""The staff console's routes (mounted by bot/web.py under /console).

- `/console/signin/TOKEN`: GET checks the link without using it and shows a Sign in button
  (link previews and mail scanners fetch links, so a GET never uses one up); the button's POST
  uses the link and starts a session (a signed HttpOnly SameSite=Lax cookie, Secure over https,
  12 hours). A used, expired, unknown or malformed link gets one plain page; bad attempts are
  logged (ids, never tokens) and limited per IP.
- `/console/signin`: where anyone without a session is sent: send /console in chat.
- `/console/requests`: the requests not resolved yet, newest first (bot/escalation/inbox.py).
- `/console/signout`: POST with the CSRF token; the session is revoked server-side.
Every POST needs its CSRF token (403 without) and, when the browser sends an Origin, this site's.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.app import Bot
from bot.console.security import (
    COOKIE,
    BadAttempts,
    csrf_ok,
    csrf_token,
    session_of_cookie,
    sign_session,
)
from bot.directory.console_access import (
    LINK_TTL,
    SESSION_TTL,
    check_link,
    redeem_link,
    revoke_session,
    session_person,
)
from bot.escalation.inbox import recent_requests
from bot.store.models import Person

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
TEMPLATES = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
STYLESHEET = (HERE / "static" / "console.css").read_bytes()
INBOX_LIMIT = 200
SIGNIN_PAGE = "/console/signin"
INBOX_PAGE = "/console/requests"


@dataclass(frozen=True)
class Signed:
    """A request from a signed-in staff member."""

    person: Person
    session_id: str
    csrf: str


def _bot(request: Request) -> Bot:
    running: Bot = request.app.state.bot
    return running


def _secret(request: Request) -> bytes | None:
    secret: bytes | None = request.app.state.console_secret
    return secret


def _attempts(request: Request) -> BadAttempts:
    attempts: BadAttempts = request.app.state.console_attempts
    return attempts


def _ip(request: Request) -> str:
    return request.client.host if request.client else "-"


def _now(request: Request) -> datetime:
    return _bot(request).deps.clock()


def page(name: str, status: int = 200, **values: Any) -> HTMLResponse:
    body = TEMPLATES.get_template(name).render(**values)
    return HTMLResponse(body, status_code=status)


def message(title: str, text: str, status: int, **values: Any) -> HTMLResponse:
    return page("message.html", status, title=title, text=text, **values)


def _not_set_up() -> HTMLResponse:
    return message(
        "Console not set up",
        "The staff console is not set up on this server yet (CONSOLE_SECRET).",
        503,
    )


BAD_LINK = (
    "This sign-in link cannot be used. A link works once, within "
    f"{int(LINK_TTL.total_seconds() // 60)} minutes. Send /console to the hotline bot in your "
    "chat for a new one."
)


def _bad_link() -> HTMLResponse:
    return message("Link not valid", BAD_LINK, 403)


def _too_many() -> HTMLResponse:
    return message(
        "Too many attempts",
        "Too many sign-in attempts with links that could not be used. Wait a while, then send "
        "/console to the hotline bot in your chat for a new link.",
        429,
    )


async def _form(request: Request) -> dict[str, str]:
    """A urlencoded form's fields (the first value of each); anything else is no fields."""
    if request.headers.get("content-type", "").split(";")[0].strip() != (
        "application/x-www-form-urlencoded"
    ):
        return {}
    try:
        text = (await request.body()).decode()
    except UnicodeDecodeError:
        return {}
    return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}


def _foreign_origin(request: Request) -> bool:
    """A browser's POST from another site (its Origin is neither this host nor PUBLIC_URL)."""
    origin = request.headers.get("origin")
    if origin is None:
        return False
    own = f"{request.url.scheme}://{request.url.netloc}"
    public = urlsplit(_bot(request).settings.public_url)
    return origin not in (own, f"{public.scheme}://{public.netloc}")


def _forbidden() -> HTMLResponse:
    return message(
        "Refused",
        "This form was out of date or did not come from the console. Go back, reload the page "
        "and try again.",
        403,
    )


async def signed_in(request: Request) -> Signed | None:
    secret = _secret(request)
    assert secret is not None
    session_id = session_of_cookie(secret, request.cookies.get(COOKIE))
    if session_id is None:
        return None
    async with _bot(request).db.reading() as session:
        person = await session_person(session, session_id, _now(request))
    if person is None:
        return None
    return Signed(person, session_id, csrf_token(secret, "session", session_id))


Handler = Callable[[Request], Awaitable[Response]]
StaffHandler = Callable[[Request, Signed], Awaitable[Response]]


def console_page(handler: Handler) -> Handler:
    """Refuses to serve without a secret."""

    async def run(request: Request) -> Response:
        if _secret(request) is None:
            return _not_set_up()
        return await handler(request)

    return run


def staff_only(handler: StaffHandler, *, post: bool = False) -> Handler:
    """A page for a signed-in staff member; without a session, the sign-in page. A POST needs
    the session's CSRF token and no foreign Origin (403)."""

    async def run(request: Request) -> Response:
        signed = await signed_in(request)
        if signed is None:
            if post:
                return _forbidden()
            return RedirectResponse(SIGNIN_PAGE, status_code=303)
        if post:
            form = await _form(request)
            secret = _secret(request)
            assert secret is not None
            if _foreign_origin(request) or not csrf_ok(
                secret, "session", signed.session_id, form.get("csrf")
            ):
                log.info("console form refused person=%d ip=%s", signed.person.id, _ip(request))
                return _forbidden()
        return await handler(request, signed)

    return console_page(run)


async def home(request: Request) -> Response:
    return RedirectResponse(INBOX_PAGE, status_code=303)


async def signin_help(request: Request) -> Response:
    return page("signin_help.html", title="Sign in")


def _refused(request: Request, link_id: int | None, reason: str) -> HTMLResponse:
    _attempts(request).add(_ip(request))
    log.warning(
        "console sign-in refused ip=%s link=%s reason=%s",
        _ip(request),
        link_id if link_id is not None else "-",
        reason,
    )
    return _bad_link()


async def signin_form(request: Request) -> Response:
    if _attempts(request).blocked(_ip(request)):
        log.warning("console sign-in refused ip=%s reason=too many attempts", _ip(request))
        return _too_many()
    token = request.path_params["token"]
    async with _bot(request).db.reading() as session:
        check = await check_link(session, token, _now(request))
    if check.refused is not None:
        return _refused(request, check.link_id, check.refused.value)
    secret = _secret(request)
    assert secret is not None
    return page(
        "signin.html",
        title="Sign in",
        action=request.url.path,
        csrf=csrf_token(secret, "signin", token),
    )


async def signin(request: Request) -> Response:
    if _attempts(request).blocked(_ip(request)):
        log.warning("console sign-in refused ip=%s reason=too many attempts", _ip(request))
        return _too_many()
    token = request.path_params["token"]
    secret = _secret(request)
    assert secret is not None
    form = await _form(request)
    if _foreign_origin(request) or not csrf_ok(secret, "signin", token, form.get("csrf")):
        _attempts(request).add(_ip(request))
        log.warning("console sign-in refused ip=%s reason=bad form", _ip(request))
        return _forbidden()
    bot = _bot(request)
    async with bot.db.session() as session:
        check, started = await redeem_link(session, token, _now(request), _ip(request))
    if started is None:
        return _refused(request, check.link_id, check.refused.value if check.refused else "-")
    log.info(
        "console sign-in person=%d link=%s ip=%s", started.person.id, check.link_id, _ip(request)
    )
    response = RedirectResponse(INBOX_PAGE, status_code=303)
    response.set_cookie(
        COOKIE,
        sign_session(secret, started.session_id),
        max_age=int(SESSION_TTL.total_seconds()),
        path="/console",
        secure=bot.settings.served_over_https,
        httponly=True,
        samesite="lax",
    )
    return response


async def signout(request: Request, signed: Signed) -> Response:
    async with _bot(request).db.session() as session:
        await revoke_session(session, signed.session_id, _now(request))
    log.info("console sign-out person=%d ip=%s", signed.person.id, _ip(request))
    response = RedirectResponse(SIGNIN_PAGE, status_code=303)
    response.delete_cookie(COOKIE, path="/console")
    return response


def _age(since: datetime, now: datetime) -> str:
    minutes = max(0, int((now - since).total_seconds() // 60))
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"


async def inbox(request: Request, signed: Signed) -> Response:
    bot = _bot(request)
    now = _now(request)
    async with bot.db.reading() as session:
        rows = await recent_requests(session, open_only=True, limit=INBOX_LIMIT)
    tz = bot.deps.timezone
    shown = [
        {
            "reference": r.request.reference or f"#{r.request.id}",
            "opened": r.request.created_at.astimezone(tz).strftime("%d %b %H:%M"),
            "age": _age(r.request.created_at, now),
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
    return page("requests.html", title="Open requests", rows=shown, signed=signed)


async def stylesheet(request: Request) -> Response:
    return Response(
        STYLESHEET, media_type="text/css", headers={"cache-control": "public, max-age=3600"}
    )


def console_routes() -> list[BaseRoute]:
    """The console's routes; the app's state holds `bot`, `console_secret` (None: the console
    answers 503) and `console_attempts` (bot/web.py sets them)."""
    return [
        Route("/console", console_page(home), methods=["GET"]),
        Route("/console/", console_page(home), methods=["GET"]),
        Route(SIGNIN_PAGE, console_page(signin_help), methods=["GET"]),
        Route("/console/signin/{token}", console_page(signin_form), methods=["GET"]),
        Route("/console/signin/{token}", console_page(signin), methods=["POST"]),
        Route("/console/signout", staff_only(signout, post=True), methods=["POST"]),
        Route(INBOX_PAGE, staff_only(inbox), methods=["GET"]),
        Route("/console/static/console.css", stylesheet, methods=["GET"]),
    ]
