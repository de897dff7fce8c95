"""What every console page shares: templates, the signed-in person, forms, CSRF, the audit.

A page module (requests_page.py, rota_page.py, ...) declares its routes with `staff_only`
(`admin=True` for what only admins may do, `post=True` for a form's POST: CSRF token and Origin
checked before the handler runs) and renders with `page`. A form's bad input comes back as the
same page with `errors` (field name -> message, shown beside the field by the macros in
templates/_form.html), status 400, and nothing changed.
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
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from bot.app import Bot
from bot.console.security import COOKIE, BadAttempts, csrf_ok, csrf_token, session_of_cookie
from bot.directory.audit import Actor
from bot.directory.console_access import session_person
from bot.store.models import Person, Role

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
TEMPLATES = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
SIGNIN_PAGE = "/console/signin"
INBOX_PAGE = "/console/requests"
FORM_BYTES = 2_000_000  # a form (a directory import included) larger than this is refused

# The navigation bar: (path, label, admins only).
NAV: tuple[tuple[str, str, bool], ...] = (
    (INBOX_PAGE, "Requests", False),
    ("/console/rota", "Rota", False),
    ("/console/knowledge", "Knowledge", False),
    ("/console/directory", "Directory", False),
    ("/console/digest", "Digest", False),
    ("/console/reports", "Reports", False),
    ("/console/audit", "Audit log", True),
)


@dataclass(frozen=True)
class Signed:
    """A request from a signed-in staff member (or admin)."""

    person: Person
    session_id: str
    csrf: str

    @property
    def is_admin(self) -> bool:
        return self.person.role is Role.ADMIN


def bot_of(request: Request) -> Bot:
    running: Bot = request.app.state.bot
    return running


def secret_of(request: Request) -> bytes | None:
    secret: bytes | None = request.app.state.console_secret
    return secret


def attempts_of(request: Request) -> BadAttempts:
    attempts: BadAttempts = request.app.state.console_attempts
    return attempts


def ip_of(request: Request) -> str:
    return request.client.host if request.client else "-"


def now_of(request: Request) -> datetime:
    return bot_of(request).deps.clock()


def actor(request: Request, signed: Signed) -> Actor:
    """The audit log's actor for this request."""
    return Actor(signed.person.id, ip_of(request), "console")


def page(name: str, status: int = 200, **values: Any) -> HTMLResponse:
    values.setdefault("nav", NAV)
    values.setdefault("errors", {})
    body = TEMPLATES.get_template(name).render(**values)
    return HTMLResponse(body, status_code=status)


def message(title: str, text: str, status: int, **values: Any) -> HTMLResponse:
    return page("message.html", status, title=title, text=text, **values)


def forbidden() -> HTMLResponse:
    return message(
        "Refused",
        "This form was out of date or did not come from the console. Go back, reload the page "
        "and try again.",
        403,
    )


def admins_only(signed: Signed) -> HTMLResponse:
    return message(
        "For admins",
        "Only an admin can do this. Ask an admin of the hotline.",
        403,
        signed=signed,
    )


def not_found(signed: Signed, what: str) -> HTMLResponse:
    return message("Not found", f"{what} was not found.", 404, signed=signed)


async def form_of(request: Request) -> dict[str, str]:
    """A urlencoded or multipart form's fields (the first value of each); anything else is no
    fields. A multipart form's files are kept in `request.state.files` (field name -> (file
    name, bytes)), not among the fields; its CSRF token is a field like any other. Cached on the
    request, so the CSRF check and the handler read the body once."""
    cached: dict[str, str] | None = getattr(request.state, "form", None)
    if cached is not None:
        return cached
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        try:
            text = (await request.body()).decode()
        except UnicodeDecodeError:
            text = ""
        fields = {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
    elif kind == "multipart/form-data":
        try:
            async with request.form(max_files=4, max_fields=100) as form:
                for key, value in form.multi_items():
                    if isinstance(value, str):
                        fields.setdefault(key, value)
                    elif key not in files:
                        files[key] = (value.filename or "", await value.read())
        except (HTTPException, MultiPartException):
            fields, files = {}, {}  # not a form we can read: no fields, so no CSRF token
    request.state.form = fields
    request.state.files = files
    return fields


def uploaded(request: Request, field: str) -> tuple[str, bytes] | None:
    """The file chosen in a multipart form's `field` (name, bytes); None when none was (a
    browser sends the empty field all the same). Call after `form_of`."""
    files: dict[str, tuple[str, bytes]] = getattr(request.state, "files", {})
    filename, raw = files.get(field, ("", b""))
    return (filename, raw) if filename or raw else None


def foreign_origin(request: Request) -> bool:
    """A browser's POST from another site: its Origin is neither this host nor PUBLIC_URL, or
    it is null and the browser says the request came from another site."""
    origin = request.headers.get("origin")
    if origin is None:
        return False
    if origin == "null":
        # The console's pages are sent with Referrer-Policy: no-referrer, under which a browser
        # sends `Origin: null` on their own forms' POSTs; Sec-Fetch-Site says where it came from.
        return request.headers.get("sec-fetch-site") not in ("same-origin", None)
    own = f"{request.url.scheme}://{request.url.netloc}"
    public = urlsplit(bot_of(request).settings.public_url)
    return origin not in (own, f"{public.scheme}://{public.netloc}")


async def signed_in(request: Request) -> Signed | None:
    secret = secret_of(request)
    assert secret is not None
    session_id = session_of_cookie(secret, request.cookies.get(COOKIE))
    if session_id is None:
        return None
    async with bot_of(request).db.reading() as session:
        person = await session_person(session, session_id, now_of(request))
    if person is None:
        return None
    return Signed(person, session_id, csrf_token(secret, "session", session_id))


Handler = Callable[[Request], Awaitable[Response]]
StaffHandler = Callable[[Request, Signed], Awaitable[Response]]


def _not_set_up() -> HTMLResponse:
    return message(
        "Console not set up",
        "The staff console is not set up on this server yet (CONSOLE_SECRET).",
        503,
    )


def console_page(handler: Handler) -> Handler:
    """Refuses to serve without a secret."""

    async def run(request: Request) -> Response:
        if secret_of(request) is None:
            return _not_set_up()
        return await handler(request)

    return run


def staff_only(handler: StaffHandler, *, post: bool = False, admin: bool = False) -> Handler:
    """A page for a signed-in staff member; without a session, the sign-in page (a POST: 403).
    A POST needs the session's CSRF token and no foreign Origin (403). `admin`: admins only."""

    async def run(request: Request) -> Response:
        signed = await signed_in(request)
        if signed is None:
            if post:
                return forbidden()
            return RedirectResponse(SIGNIN_PAGE, status_code=303)
        if post:
            form = await form_of(request)
            secret = secret_of(request)
            assert secret is not None
            if foreign_origin(request) or not csrf_ok(
                secret, "session", signed.session_id, form.get("csrf")
            ):
                log.info("console form refused person=%d ip=%s", signed.person.id, ip_of(request))
                return forbidden()
        if admin and not signed.is_admin:
            log.info("console admin page refused person=%d", signed.person.id)
            return admins_only(signed)
        return await handler(request, signed)

    return console_page(run)


def back_to(path: str) -> RedirectResponse:
    """After a form's POST: see the page again (303, so a reload does not post twice)."""
    return RedirectResponse(path, status_code=303)


def text_field(
    form: dict[str, str],
    name: str,
    errors: dict[str, str],
    *,
    label: str,
    max_chars: int,
    required: bool = True,
) -> str:
    """A form field, stripped; a message in `errors` when empty (and required) or too long."""
    value = form.get(name, "").strip()
    if required and not value:
        errors[name] = f"{label} is needed."
    elif len(value) > max_chars:
        errors[name] = f"{label} is too long ({len(value)} characters; at most {max_chars})."
    return value


def age(since: datetime, now: datetime) -> str:
    minutes = max(0, int((now - since).total_seconds() // 60))
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"
