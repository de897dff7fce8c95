"""What keeps the staff console safe, apart from the pages.

- The secret (CONSOLE_SECRET) signs session cookies and derives CSRF tokens (HMAC-SHA256).
  Unset, a development deployment (an http PUBLIC_URL) uses a random one kept in
  EMBEDDING_CACHE_DIR/console-secret (made once, readable by its owner alone); a deployment
  served over https gets none, and the console refuses to serve until the setting is made.
- Every response under /console carries a strict Content-Security-Policy (scripts only from
  /console/static: htmx, no inline script, no eval),
  X-Frame-Options DENY, Referrer-Policy no-referrer, nosniff and no-store (`ConsoleHeaders`).
- Bad sign-in attempts are counted per IP in memory (`BadAttempts`): past the limit, that IP's
  sign-in links are refused unread until the window has passed.
- uvicorn's access log shows sign-in paths without their tokens (`RedactSigninTokens`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import time
from collections import deque
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.config import Settings
from bot.core.kept_secret import kept_secret

log = logging.getLogger(__name__)

KEY_FILE = "console-secret"
COOKIE = "hotline_console"
PREFIX = "/console"
HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
}


def console_secret(settings: Settings) -> bytes | None:
    """CONSOLE_SECRET; unset, the development secret (an http PUBLIC_URL), or None over https."""
    if settings.console_secret:
        return settings.console_secret.encode()
    if settings.served_over_https:
        return None
    return kept_secret(settings.embedding_cache_dir / KEY_FILE, "console secret", "CONSOLE_SECRET")


def _mac(secret: bytes, purpose: str, value: str) -> str:
    digest = hmac.new(secret, f"{purpose}:{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign_session(secret: bytes, session_id: str) -> str:
    """The cookie's value: the session id and its signature."""
    return f"{session_id}.{_mac(secret, 'session', session_id)}"


def session_of_cookie(secret: bytes, cookie: str | None) -> str | None:
    """The session id of a cookie whose signature holds, else None (nothing is looked up)."""
    if not cookie or cookie.count(".") != 1:
        return None
    session_id, signature = cookie.split(".")
    expected = _mac(secret, "session", session_id)
    if not session_id or not hmac.compare_digest(signature.encode(), expected.encode()):
        return None
    return session_id


def csrf_token(secret: bytes, purpose: str, bound_to: str) -> str:
    """The token a form carries: bound to the session (or, to sign in, to the link)."""
    return _mac(secret, f"csrf-{purpose}", bound_to)


def csrf_ok(secret: bytes, purpose: str, bound_to: str, given: str | None) -> bool:
    expected = csrf_token(secret, purpose, bound_to)
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


class BadAttempts:
    """Bad sign-in attempts per IP in a sliding window (in memory: this process only)."""

    def __init__(
        self, limit: int = 10, window_s: float = 900, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}

    def _recent(self, ip: str) -> deque[float]:
        now = self._clock()
        stamps = self._seen.setdefault(ip, deque())
        while stamps and now - stamps[0] >= self.window_s:
            stamps.popleft()
        return stamps

    def blocked(self, ip: str) -> bool:
        return len(self._recent(ip)) >= self.limit

    def add(self, ip: str) -> None:
        self._recent(ip).append(self._clock())
        if len(self._seen) > 10_000:
            for key in [k for k, v in self._seen.items() if not v]:
                del self._seen[key]


class ConsoleHeaders:
    """Adds the console's security headers to every response whose path is under /console."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {bytes(k).lower() for k, _ in message.get("headers", [])}
                extra = [
                    (name.encode(), value.encode())
                    for name, value in HEADERS.items()
                    if name.encode() not in names
                ]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


_SIGNIN_TOKEN = re.compile(r"(/console/signin/)[^\s?#/]+")


class RedactSigninTokens(logging.Filter):
    """Takes sign-in tokens out of access-log lines (uvicorn logs each request's path):
    `/console/signin/TOKEN` is logged as `/console/signin/...`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _SIGNIN_TOKEN.sub(r"\1...", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        record.msg = (
            _SIGNIN_TOKEN.sub(r"\1...", record.msg) if isinstance(record.msg, str) else record.msg
        )
        return True
