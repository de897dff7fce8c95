"""The Acknowledge link in a staff ping email: a signed token, and the page it opens.

A link is `PUBLIC_URL/ack/TOKEN`, TOKEN = "REQUEST.PERSON.EXPIRY.SIGNATURE": HMAC-SHA256 over
the purpose, the request's id, the staff member's id and the expiry (Unix seconds), with the key
that signs every email link (EMAIL_SECRET, else CONSOLE_SECRET: bot/digest/unsubscribe.py's
`email_secret`, handed down in EscalationConfig.email). A token is good while its request is not
resolved, and for at most VALID_FOR after the email was composed.

- `GET` only shows the request's reference and a button: mail scanners fetch links, so a GET
  never changes anything.
- `POST` acknowledges exactly as the chat button does (hotline.acknowledge, the staff member's
  own pings edited too, the member told), with an audit entry (via "email"). Single use: once
  the request is acknowledged (by this link or anyone else) or resolved, the link only says so.
- Malformed or expired: 400; forged: 403; already acknowledged or resolved: 409. Nothing changes.
Pages are plain, with no script, no referrer (the token is in the address) and no caching.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from bot.store.models import HotlineRequest, Person, RequestStatus

log = logging.getLogger(__name__)

PURPOSE = "staff-ack"
VALID_FOR = timedelta(days=7)
PATH = "/ack/"
_TOKEN = re.compile(r"^(\d{1,12})\.(\d{1,12})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$")
HEADERS = {
    "content-security-policy": (
        "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
    "x-robots-tag": "noindex",
}


def _signature(secret: bytes, request_id: int, person_id: int, expires: int) -> str:
    message = f"{PURPOSE}:{request_id}:{person_id}:{expires}".encode()
    mac = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def make_token(
    secret: bytes, request_id: int, person_id: int, now: datetime, valid_for: timedelta = VALID_FOR
) -> str:
    expires = int((now + valid_for).timestamp())
    return (
        f"{request_id}.{person_id}.{expires}.{_signature(secret, request_id, person_id, expires)}"
    )


@dataclass(frozen=True)
class Checked:
    request_id: int | None  # None when refused
    person_id: int | None = None
    problem: str = ""  # "malformed", "forged" or "expired"


def check_token(secret: bytes, token: str, now: datetime) -> Checked:
    found = _TOKEN.match(token)
    if found is None:
        return Checked(None, problem="malformed")
    request_id, person_id, expires, given = int(found[1]), int(found[2]), int(found[3]), found[4]
    if not hmac.compare_digest(given, _signature(secret, request_id, person_id, expires)):
        return Checked(None, problem="forged")
    if now.timestamp() > expires:
        return Checked(None, problem="expired")
    return Checked(request_id, person_id)


def ack_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}{PATH}{token}"


def console_url(public_url: str, reference: str) -> str:
    return f"{public_url.rstrip('/')}/console/requests/{reference}"


# The web pages


def link_page(status: int, title: str, body: str) -> Response:
    """A plain page opened from a link in an email (no script, no referrer, not indexed): the
    Acknowledge link's and the digest's unsubscribe link's (bot/digest/unsubscribe.py)."""
    html = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title></head>"
        f"<body><main><h1>{escape(title)}</h1>{body}</main></body></html>\n"
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _refused(problem: str) -> Response:
    if problem == "expired":
        return link_page(
            400,
            "This link has expired",
            "<p>Nothing was changed. Acknowledge links work for 7 days; use the chat or the "
            "staff console instead.</p>",
        )
    return link_page(
        403 if problem == "forged" else 400,
        "This link is not valid",
        "<p>Nothing was changed. Check that the whole link was copied from the email.</p>",
    )


@dataclass(frozen=True)
class _Found:
    request: HotlineRequest
    staff: Person


def _state_page(request: HotlineRequest, owner: Person | None, staff: Person) -> Response | None:
    """The page for a request that can no longer be acknowledged, else None."""
    reference = escape(request.reference or "")
    if request.status is RequestStatus.RESOLVED:
        return link_page(
            409,
            f"{request.reference} is already resolved",
            f"<p>Nothing was changed: {reference} was resolved.</p>",
        )
    if request.status is RequestStatus.ACKNOWLEDGED:
        name = "you" if owner is not None and owner.id == staff.id else None
        name = name or (owner.name if owner is not None else "someone")
        return link_page(
            409,
            f"{request.reference} is already acknowledged",
            f"<p>Nothing was changed: {reference} was already acknowledged by {escape(name)}.</p>",
        )
    return None


async def _load(session: AsyncSession, checked: Checked) -> _Found | Response:
    request = await session.get(HotlineRequest, checked.request_id)
    staff = await session.get(Person, checked.person_id)
    if request is None or staff is None or not staff.active or not staff.is_staff:
        return link_page(
            400,
            "This link is no longer valid",
            "<p>Nothing was changed. Use the chat or the staff console instead.</p>",
        )
    return _Found(request, staff)


def _checked(request: Request) -> tuple[Checked, Any] | Response:
    bot = request.app.state.bot
    setup = bot.deps.escalation.email
    if setup is None:
        return link_page(503, "Acknowledging by email is not available", "<p>Use the chat.</p>")
    checked = check_token(setup.secret, request.path_params["token"], bot.deps.clock())
    if checked.request_id is None:
        log.info("ack link refused reason=%s", checked.problem)
        return _refused(checked.problem)
    return checked, bot


async def _owner(session: AsyncSession, request: HotlineRequest) -> Person | None:
    """Who acknowledged the request, if anyone has."""
    owner_id = request.acknowledged_by_id
    return await session.get(Person, owner_id) if owner_id else None


async def ack_page(request: Request) -> Response:
    """GET: the request's reference and a button; changes nothing."""
    found_check = _checked(request)
    if isinstance(found_check, Response):
        return found_check
    checked, bot = found_check
    async with bot.db.reading() as session:
        found = await _load(session, checked)
        if isinstance(found, Response):
            return found
        done = _state_page(found.request, await _owner(session, found.request), found.staff)
        if done is not None:
            return done
        reference = escape(found.request.reference or "")
    return link_page(
        200,
        f"Acknowledge {found.request.reference}",
        f"<p>Acknowledging {reference} tells the member that you, {escape(found.staff.name)}, "
        "have it, and stops the escalation.</p>"
        f'<form method="post"><button type="submit">Acknowledge {reference}</button></form>',
    )


async def ack_post(request: Request) -> Response:
    """POST: acknowledge as the chat button does, once."""
    found_check = _checked(request)
    if isinstance(found_check, Response):
        return found_check
    checked, bot = found_check
    from bot.directory.audit import Actor, record
    from bot.escalation.hotline import acknowledge

    config = bot.deps.escalation
    now = bot.deps.clock()
    ip = request.client.host if request.client else None
    try:
        async with bot.db.session() as session:
            found = await _load(session, checked)
            if isinstance(found, Response):
                return found
            done = _state_page(found.request, await _owner(session, found.request), found.staff)
            if done is not None:
                return done
            await acknowledge(session, found.request, found.staff, now, config, own_pings=True)
            record(
                session,
                Actor(found.staff.id, ip, via="email"),
                "acknowledge",
                found.request.reference or "",
                about=found.request.person_id,
                detail="from the ping email's link; member told",
                at=now,
            )
            reference = found.request.reference or ""
    except StaleDataError:  # someone acknowledged it at the same moment
        return link_page(
            409, "Already acknowledged", "<p>Nothing was changed: someone else has it.</p>"
        )
    bot.deps.on_queued()
    log.info("request acknowledged by email link request=%s", checked.request_id)
    return link_page(
        200,
        f"You have {reference}",
        f"<p>{escape(reference)} is acknowledged. The member has been told you will contact "
        "them.</p>",
    )


def ack_routes() -> list[BaseRoute]:
    return [
        Route(PATH + "{token}", ack_page, methods=["GET"]),
        Route(PATH + "{token}", ack_post, methods=["POST"]),
    ]
