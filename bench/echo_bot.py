"""The bare baseline for bench/throughput.py: a python-telegram-bot echo bot behind the same
webhook route (secret checked, JSON parsed, `process_update`), served by uvicorn on uvloop, and
sending through the bot's own HTTP transport (bot/handlers/telegram_http.py, aiohttp) with the
bot's pool size: the same transport and event loop, so the difference is the bot's own work.

It answers what the bot is sent in the bench: a text (question, command, greeting) with the text
back, a button press with answerCallbackQuery and then an edit of the pressed message (as the
bot answers most presses). Like `hotline serve`, it freezes its start-up heap (`gc.freeze`,
unless GC_FREEZE=0) and watches its event-loop lag (`bot.metrics.LoopLag`), served on
`/metrics` in the same format, so the bench reads both servers alike.

    TELEGRAM_TOKEN=... TELEGRAM_API_BASE_URL=... TELEGRAM_WEBHOOK_SECRET=... PORT=...
    python bench/echo_bot.py
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import json
import os

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from bot import metrics
from bot.handlers.telegram_http import AiohttpRequest

OFF = ("0", "false", "no", "off")  # GC_FREEZE values that turn the freeze off, as Settings reads


async def echo(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.message is not None and update.message.text:
        await update.message.reply_text(update.message.text)


async def pressed(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    if query is None:
        return
    await query.answer()
    if query.message is not None:
        await query.edit_message_text(f"pressed: {query.data}")


async def main() -> None:
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    secret = os.environ["TELEGRAM_WEBHOOK_SECRET"]
    application = (
        Application.builder()
        .token(os.environ["TELEGRAM_TOKEN"])
        .base_url(os.environ["TELEGRAM_API_BASE_URL"])
        .request(AiohttpRequest(10.0, pool_size=16))  # as bot/handlers/telegram.py builds it
        .updater(None)
        .build()
    )
    application.add_handler(MessageHandler(filters.TEXT, echo))
    application.add_handler(CallbackQueryHandler(pressed))
    loop_lag = metrics.LoopLag()

    async def webhook(request: Request) -> Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            return JSONResponse({"ok": False}, status_code=403)
        update = Update.de_json(json.loads(await request.body()), application.bot)
        await application.process_update(update)
        return JSONResponse({"ok": True})

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def metrics_page(_request: Request) -> Response:
        return Response(metrics.loop_lag_page(loop_lag), media_type=metrics.CONTENT_TYPE)

    app = Starlette(
        routes=[
            Route("/telegram/webhook", webhook, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics_page, methods=["GET"]),
        ]
    )
    async with application:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=int(os.environ["PORT"]), lifespan="off", log_level="warning"
        )
        if os.environ.get("GC_FREEZE", "1").strip().lower() not in OFF:
            gc.collect()
            gc.freeze()
        async with loop_lag.watching():
            await uvicorn.Server(config).serve()


if __name__ == "__main__":
    try:  # the same event loop as `hotline serve`, for a fair comparison
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
