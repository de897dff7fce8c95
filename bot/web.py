"""The web process: one Starlette app for the platforms' webhooks, health and metrics.

- `/telegram/webhook`: the secret token header is compared before the body is read; a wrong
  or missing one is 403 and nothing is processed.
- `/slack/events`: Bolt checks the signature (401 for a bad or stale one) and routes.
- `/healthz`: 200 when the database answers and is migrated, else 503 with the reason's class
  ("database unavailable", "database not migrated", "internal error"), never an exception's text.
- `/metrics`: Prometheus text, with this process's event-loop lag (`metrics.LoopLag`, watched
  from the end of start-up to shutdown).
- `/console/...`: the staff console (bot/console/), with its security headers on every response.
- `/email/unsubscribe/TOKEN`: the digest email's one-click unsubscribe (bot/digest/unsubscribe.py):
  GET shows a button and changes nothing, POST unsubscribes; the signed token is the authority.
- `/ack/TOKEN`: a staff ping email's Acknowledge link (bot/escalation/ack_links.py): GET shows
  the request's reference and a button, POST acknowledges once, as the chat button does.
Bodies over `MAX_BODY_BYTES` are refused with 413 before they are read into memory.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot import metrics
from bot.app import Bot, open_bot, settle_heap
from bot.config import Settings
from bot.console.pages import console_routes
from bot.console.security import BadAttempts, ConsoleHeaders, console_secret
from bot.conversation.context import Deps
from bot.core.errors import StoreUnavailableError
from bot.digest.unsubscribe import unsubscribe_routes
from bot.escalation.ack_links import ack_routes
from bot.store import is_current
from bot.store.models import utcnow

log = logging.getLogger(__name__)

# What a health check that cannot reach or use the database raises (the driver's errors arrive
# wrapped in SQLAlchemy's; a refused or lost connection can also surface as OSError or a timeout).
DATABASE_DOWN = (StoreUnavailableError, SQLAlchemyError, OSError, TimeoutError)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret


class BodyLimit:
    """Refuse request bodies over `limit` bytes with 413, by header or while streaming."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _too_large(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLargeError
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLargeError:
            await _too_large(scope, receive, send)


class _TooLargeError(Exception):
    pass


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    response = JSONResponse({"error": "request body too large"}, status_code=413)
    await response(scope, receive, send)


def _bot(request: Request) -> Bot:
    """The running bot: set on the app by its lifespan (or by the caller, in tests)."""
    running: Bot = request.app.state.bot
    return running


def health_reason(exc: BaseException) -> str:
    """The class of a failed health check, for `/healthz`: never the exception's own text, which
    can name the database's host, user or file, or quote what a failed statement carried."""
    if isinstance(exc, DATABASE_DOWN):
        return "database unavailable"
    return "internal error"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": message}, status_code=status)


def web_process(settings: Settings, deps: Deps) -> ASGIApp:
    """`hotline serve`'s app: its lifespan opens the bot (database, platforms, loops) before the
    first request and closes it after the last, and sets the Telegram webhook (or, without a
    webhook URL, the command menu) once the bot is open. The event-loop lag is watched from then
    on (start-up's own pauses are not the loop's lag under traffic)."""
    loop_lag = metrics.LoopLag()
    secret = console_secret(settings)
    if secret is None:
        log.error("the staff console is off: set CONSOLE_SECRET (PUBLIC_URL is https)")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with open_bot(settings, deps=deps) as bot:
            telegram = bot.inbound.telegram
            if telegram is not None:
                if settings.telegram_webhook_url:
                    assert settings.telegram_webhook_secret is not None
                    await telegram.set_webhook(
                        settings.telegram_webhook_url, settings.telegram_webhook_secret
                    )
                else:
                    await telegram.register_commands()
            app.state.bot = bot
            settle_heap(settings.gc_freeze)
            async with loop_lag.watching():
                yield

    return build_web_app(
        settings.max_body_bytes, lifespan=lifespan, loop_lag=loop_lag, console_secret=secret
    )


def build_web_app(
    max_body_bytes: int,
    *,
    bot: Bot | None = None,
    lifespan: Callable[[Starlette], AbstractAsyncContextManager[None]] | None = None,
    loop_lag: metrics.LoopLag | None = None,
    console_secret: bytes | None = None,
) -> ASGIApp:
    """The routes, reading the bot from the app's state: set by `lifespan`, or given (tests).
    `loop_lag`: the event-loop monitor whose figures `/metrics` shows (none without one);
    `console_secret`: signs the staff console's cookies (None: the console answers 503)."""

    async def telegram_webhook(request: Request) -> Response:
        running = _bot(request)
        channel, secret = running.inbound.telegram, running.settings.telegram_webhook_secret
        if channel is None or not secret:
            return _error(404, "telegram webhook is not configured")
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            reason = "bad secret token" if given else "no secret token"
            log.info("webhook refused channel=telegram status=403 reason=%s", reason)
            return _error(403, "bad secret token")
        try:
            data = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return _error(400, "malformed JSON")
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return _error(400, "not a Telegram update (no update_id)")
        try:
            await channel.process_webhook(data)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:  # PTB reading it
            log.info("telegram update not understood: %s", type(exc).__name__)
            return _error(400, "not a Telegram update")
        return JSONResponse({"ok": True})

    async def slack_events(request: Request) -> Response:
        slack = _bot(request).inbound.slack
        if slack is None:
            return _error(404, "slack is not configured")
        from bot.handlers.slack import handle_http

        return await handle_http(slack, request)

    async def healthz(request: Request) -> Response:
        db = _bot(request).db
        try:
            await db.ping()
            if not await is_current(db.engine):
                return JSONResponse(
                    {"status": "unavailable", "reason": "database not migrated"}, status_code=503
                )
        except Exception as exc:  # any failure here means "not healthy", said plainly
            reason = health_reason(exc)
            log.warning("healthz unavailable reason=%s error=%s", reason, type(exc).__name__)
            return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def metrics_page(request: Request) -> Response:
        running = _bot(request)
        body = await metrics.scrape(
            running.db, running.dispatcher.handled, utcnow(), loop_lag=request.app.state.loop_lag
        )
        return Response(body, media_type=metrics.CONTENT_TYPE)

    app = Starlette(
        routes=[
            Route("/telegram/webhook", telegram_webhook, methods=["POST"]),
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics_page, methods=["GET"]),
            *console_routes(),
            *unsubscribe_routes(),
            *ack_routes(),
        ],
        middleware=[Middleware(ConsoleHeaders)],
        lifespan=lifespan,
    )
    if bot is not None:
        app.state.bot = bot
    app.state.loop_lag = loop_lag
    app.state.console_secret = console_secret
    app.state.console_attempts = BadAttempts()
    return BodyLimit(app, max_body_bytes)
