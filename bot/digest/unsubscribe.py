"""One-click unsubscribe from the digest email (RFC 8058), with no sign-in.

A link is `PUBLIC_URL/email/unsubscribe/TOKEN`, TOKEN = "PERSON.EXPIRY.SIGNATURE": the
signature is HMAC-SHA256 over the purpose, the person's id and the expiry (Unix seconds), with
a key derived from EMAIL_SECRET, else CONSOLE_SECRET, else (development) a kept random one. A
token is good for VALID_FOR after the email was composed; it names nothing but a person id.

- `GET` only shows a page with a button: mail scanners and link previews fetch links, so a GET
  never changes anything.
- `POST` (the mail client's one-click, body `List-Unsubscribe=One-Click`, or the page's button)
  turns the digest off: the signed token is the authority (no CSRF token or Origin check is
  possible for a mail client's POST). Idempotent: a second POST answers the same.
- A malformed, forged or expired token is refused (400 or 403) and changes nothing.
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
from pathlib import Path
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.core.kept_secret import kept_secret
from bot.escalation.ack_links import link_page
from bot.store.models import Person, utcnow

log = logging.getLogger(__name__)

PURPOSE = "digest-unsubscribe"
VALID_FOR = timedelta(days=60)
PATH = "/email/unsubscribe/"
KEY_FILE = "email-secret"
_TOKEN = re.compile(r"^(\d{1,12})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$")


class LinkSettings(Protocol):
    """What signing links needs of the settings (bot/config.py's Settings)."""

    @property
    def email_secret(self) -> str | None: ...
    @property
    def console_secret(self) -> str | None: ...
    @property
    def embedding_cache_dir(self) -> Path: ...
    @property
    def served_over_https(self) -> bool: ...


def email_secret(settings: LinkSettings) -> bytes | None:
    """The key that signs email links: derived from EMAIL_SECRET, else CONSOLE_SECRET, else (a
    development deployment, http PUBLIC_URL) a random secret kept in EMBEDDING_CACHE_DIR. None
    over https with neither set: no link can be made, so no digest email is composed."""
    raw = settings.email_secret or settings.console_secret
    if raw:
        key = raw.encode()
    elif settings.served_over_https:
        return None
    else:
        key = kept_secret(settings.embedding_cache_dir / KEY_FILE, "email link key", "EMAIL_SECRET")
    return hmac.new(key, b"hotline email links", hashlib.sha256).digest()


def _signature(secret: bytes, purpose: str, person_id: int, expires: int) -> str:
    mac = hmac.new(secret, f"{purpose}:{person_id}:{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def make_token(
    secret: bytes,
    person_id: int,
    now: datetime,
    purpose: str = PURPOSE,
    valid_for: timedelta = VALID_FOR,
) -> str:
    expires = int((now + valid_for).timestamp())
    return f"{person_id}.{expires}.{_signature(secret, purpose, person_id, expires)}"


@dataclass(frozen=True)
class Checked:
    person_id: int | None  # None when refused
    problem: str = ""  # "malformed", "forged" or "expired"


def check_token(secret: bytes, token: str, now: datetime, purpose: str = PURPOSE) -> Checked:
    found = _TOKEN.match(token)
    if found is None:
        return Checked(None, "malformed")
    person_id, expires, given = int(found[1]), int(found[2]), found[3]
    if not hmac.compare_digest(given, _signature(secret, purpose, person_id, expires)):
        return Checked(None, "forged")
    if now.timestamp() > expires:
        return Checked(None, "expired")
    return Checked(person_id)


def unsubscribe_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}{PATH}{token}"


# The web pages


def _refused(checked: Checked) -> Response:
    if checked.problem == "expired":
        return link_page(
            400,
            "This link has expired",
            "<p>Unsubscribe links work for 60 days. Use the link in a more recent email, or "
            "send /digest off to the hotline bot.</p>",
        )
    return link_page(
        403 if checked.problem == "forged" else 400,
        "This link is not valid",
        "<p>Nothing was changed. Check that the whole link was copied from the email.</p>",
    )


def _secret(request: Request) -> bytes | None:
    state = request.app.state
    secret: bytes | None = getattr(state, "email_secret", None)
    if secret is None:
        secret = email_secret(state.bot.settings)
        state.email_secret = secret
    return secret


async def _checked(request: Request) -> Checked | Response:
    secret = _secret(request)
    if secret is None:
        return link_page(503, "Unsubscribing is not available", "<p>Please try again later.</p>")
    checked = check_token(secret, request.path_params["token"], utcnow())
    if checked.person_id is None:
        log.info("unsubscribe link refused reason=%s", checked.problem)
        return _refused(checked)
    return checked


async def unsubscribe_page(request: Request) -> Response:
    """GET: a confirmation page with a button; changes nothing."""
    checked = await _checked(request)
    if isinstance(checked, Response):
        return checked
    return link_page(
        200,
        "Unsubscribe from the weekly digest",
        "<p>You will no longer get the weekly digest email. You can start it again at any "
        "time by sending /digest email (or /digest chat) to the hotline bot.</p>"
        '<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Unsubscribe</button></form>',
    )


async def unsubscribe_post(request: Request) -> Response:
    """POST: the one-click unsubscribe (the mail client's, or the page's button)."""
    checked = await _checked(request)
    if isinstance(checked, Response):
        return checked
    from bot.digest.subscriptions import unsubscribe

    async with request.app.state.bot.db.session() as session:
        person = await session.get(Person, checked.person_id)
        changed = await unsubscribe(session, person) if person is not None else False
    log.info("digest unsubscribed by email link person=%s changed=%s", checked.person_id, changed)
    return link_page(
        200,
        "You're unsubscribed",
        "<p>You won't get the weekly digest any more. Send /digest email or /digest chat to "
        "the hotline bot to start it again.</p>",
    )


def unsubscribe_routes() -> list[BaseRoute]:
    return [
        Route(PATH + "{token}", unsubscribe_page, methods=["GET"]),
        Route(PATH + "{token}", unsubscribe_post, methods=["POST"]),
    ]
