"""The staff console's routes (mounted by bot/web.py under /console): sign-in, sign-out, the
static files, and every page module's routes.

- `/console/signin/TOKEN`: GET checks the link without using it and shows a Sign in button
  (link previews and mail scanners fetch links, so a GET never uses one up); the button's POST
  uses the link and starts a session (a signed HttpOnly SameSite=Lax cookie, Secure over https,
  12 hours). A used, expired, unknown or malformed link gets one plain page; bad attempts are
  logged (ids, never tokens) and limited per IP.
- `/console/signin`: where anyone without a session is sent: send /console in chat.
- `/console/signout`: POST with the CSRF token; the session is revoked server-side.
Every POST needs its CSRF token (403 without) and, when the browser sends an Origin, this site's
(bot/console/common.py). The pages themselves live one module each: requests_page, rota_page,
knowledge_page, directory_page, digest_page, reports_page, audit_page, chains_page.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.console import (
    audit_page,
    chains_page,
    digest_page,
    directory_page,
    knowledge_page,
    reports_page,
    requests_page,
    rota_page,
)
from bot.console.common import (
    HERE,
    INBOX_PAGE,
    SIGNIN_PAGE,
    Signed,
    attempts_of,
    bot_of,
    console_page,
    forbidden,
    foreign_origin,
    form_of,
    ip_of,
    message,
    now_of,
    page,
    secret_of,
    staff_only,
)
from bot.console.security import COOKIE, csrf_ok, csrf_token, sign_session
from bot.directory.console_access import (
    LINK_TTL,
    SESSION_TTL,
    check_link,
    redeem_link,
    revoke_session,
)

log = logging.getLogger(__name__)

# The files under static/ that are served (read once; nothing else is), by their suffix.
TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}
_STATIC = {
    path.name: (path.read_bytes(), TYPES[path.suffix])
    for path in sorted((HERE / "static").iterdir())
    if path.suffix in TYPES
}

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


async def home(request: Request) -> Response:
    return RedirectResponse(INBOX_PAGE, status_code=303)


async def signin_help(request: Request) -> Response:
    return page("signin_help.html", title="Sign in")


def _refused(request: Request, link_id: int | None, reason: str) -> HTMLResponse:
    attempts_of(request).add(ip_of(request))
    log.warning(
        "console sign-in refused ip=%s link=%s reason=%s",
        ip_of(request),
        link_id if link_id is not None else "-",
        reason,
    )
    return _bad_link()


async def signin_form(request: Request) -> Response:
    if attempts_of(request).blocked(ip_of(request)):
        log.warning("console sign-in refused ip=%s reason=too many attempts", ip_of(request))
        return _too_many()
    token = request.path_params["token"]
    async with bot_of(request).db.reading() as session:
        check = await check_link(session, token, now_of(request))
    if check.refused is not None:
        return _refused(request, check.link_id, check.refused.value)
    secret = secret_of(request)
    assert secret is not None
    return page(
        "signin.html",
        title="Sign in",
        action=request.url.path,
        csrf=csrf_token(secret, "signin", token),
    )


async def signin(request: Request) -> Response:
    if attempts_of(request).blocked(ip_of(request)):
        log.warning("console sign-in refused ip=%s reason=too many attempts", ip_of(request))
        return _too_many()
    token = request.path_params["token"]
    secret = secret_of(request)
    assert secret is not None
    form = await form_of(request)
    if foreign_origin(request) or not csrf_ok(secret, "signin", token, form.get("csrf")):
        attempts_of(request).add(ip_of(request))
        log.warning("console sign-in refused ip=%s reason=bad form", ip_of(request))
        return forbidden()
    bot = bot_of(request)
    async with bot.db.session() as session:
        check, started = await redeem_link(session, token, now_of(request), ip_of(request))
    if started is None:
        return _refused(request, check.link_id, check.refused.value if check.refused else "-")
    log.info(
        "console sign-in person=%d link=%s ip=%s", started.person.id, check.link_id, ip_of(request)
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
    async with bot_of(request).db.session() as session:
        await revoke_session(session, signed.session_id, now_of(request))
    log.info("console sign-out person=%d ip=%s", signed.person.id, ip_of(request))
    response = RedirectResponse(SIGNIN_PAGE, status_code=303)
    response.delete_cookie(COOKIE, path="/console")
    return response


async def static_file(request: Request) -> Response:
    name = request.path_params["name"]
    found = _STATIC.get(name)
    if found is None:
        return Response("not found", status_code=404, media_type="text/plain")
    body, media_type = found
    return Response(body, media_type=media_type, headers={"cache-control": "public, max-age=3600"})


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
        Route("/console/static/{name}", static_file, methods=["GET"]),
        *requests_page.routes(),
        *rota_page.routes(),
        *chains_page.routes(),
        *knowledge_page.routes(),
        *directory_page.routes(),
        *digest_page.routes(),
        *reports_page.routes(),
        *audit_page.routes(),
    ]
