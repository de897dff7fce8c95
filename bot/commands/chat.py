"""`hotline chat`, `hotline run` and `hotline worker`: the bot's running processes."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, TextIO

from bot.commands.common import check_database, run_fast, settings, with_db
from bot.core.errors import ConfigError

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.conversation.context import Deps
    from bot.store import Database
    from bot.store.models import Person

log = logging.getLogger(__name__)


def _ready(s: Settings, *, sweep_first: bool = False) -> Deps:
    """The knowledge base and urgency cues (refusing invalid ones) and a database that answers
    and is migrated, checked before anything starts, so that a problem is one line.

    `sweep_first` (`run`, `serve`, `worker`): the database first, and the escalation steps that
    fell due while no process was running are taken before anything else loads (the knowledge
    base, the model, the platforms): a restart pings due escalations at once. The sender loop
    then starts before the platforms' set-up calls (bot/app.py, `open_bot`)."""
    if sweep_first:
        first_sweep(s)
    from bot.app import build_deps

    deps = build_deps(s)
    if not sweep_first:
        check_database()
    return deps


def first_sweep(s: Settings) -> int:
    """One sweep of due escalation steps (bot/escalation/sweeper.py) on a database that answers
    and is migrated, importing no more than that needs; how many steps it took."""
    from bot.escalation.sweeper import sweep
    from bot.loading import escalation_config

    async def work(db: Database) -> int:
        return await sweep(db, escalation_config(s))

    taken = with_db(work)
    log.info("first sweep: %d due escalation steps taken", taken)
    return taken


def cmd_chat(args: argparse.Namespace, out: TextIO) -> int:
    from bot.app import open_bot, settle_heap
    from bot.directory import link_identity, person_by_email
    from bot.handlers.console import CHANNEL, Choices, ConsoleChat, ConsoleSender
    from bot.store import Database

    s = settings()
    email = args.as_email.strip().lower()
    staff_chats = [chat for channel, chat in s.staff_chat_targets if channel == CHANNEL]
    deps = _ready(s)

    async def me() -> Person | None:
        """The person at this terminal, their console account linked first."""
        db = Database(s.db_url)
        try:
            async with db.session() as session:
                person = await person_by_email(session, email)
                if person is not None:
                    await link_identity(session, person, CHANNEL, email, chat_id=email)
                return person
        finally:
            await db.dispose()

    async def run() -> None:
        person = await me()
        chats = {email}
        if person is not None and person.is_staff:
            chats.update(staff_chats)
        choices = Choices()
        console = ConsoleSender(out, choices=choices)
        async with open_bot(s, deps=deps, console=console, chat_ids=chats) as bot:
            settle_heap(s.gc_freeze)
            chat = ConsoleChat(bot.dispatcher, email, out=out, choices=choices)
            who = (
                f"{person.name} ({person.role.value})"
                if person
                else f"{email} (not in the directory)"
            )
            print(f"Console chat as {who}.", file=out)
            await chat.run()

    asyncio.run(run())
    return 0


def follow_log_level(level: str) -> None:
    """The bot's own loggers (`bot.*`) at LOG_LEVEL in the long-running processes. Everything
    else stays at the root's WARNING: other libraries are not ours to make chatty (Bolt logs
    a refused request's body at INFO), and the one-shot commands stay quiet."""
    logging.getLogger("bot").setLevel(level)


def _until_signalled() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    """Every configured channel and the schedulers in one process (development: Telegram by
    long polling, Slack by Socket Mode); the console alone when no platform is configured."""
    s = settings()
    if not (s.telegram_token or s.slack_bot_token):
        if not args.as_email:
            raise ConfigError(
                "--as: with no TELEGRAM_TOKEN or SLACK_BOT_TOKEN set, `hotline run` is the "
                "console channel and needs --as EMAIL (a person in the directory)"
            )
        return cmd_chat(args, out)
    follow_log_level(s.log_level)
    deps = _ready(s, sweep_first=True)
    from bot.app import open_bot, settle_heap  # after the first sweep: the rest of the bot

    if s.slack_bot_token and not s.slack_app_token:
        print(
            "Slack: no SLACK_APP_TOKEN, so no Socket Mode here; Slack events need "
            "`hotline serve` (HTTP). Sending to Slack still works.",
            file=out,
        )

    async def run() -> None:
        stop = _until_signalled()
        async with (
            open_bot(s, deps=deps, polling=True, console_out=out) as bot,
            AsyncExitStack() as stack,
        ):
            settle_heap(s.gc_freeze)
            running = []
            if bot.inbound.telegram is not None:
                await stack.enter_async_context(bot.inbound.telegram.polling())
                running.append("Telegram (long polling)")
            if bot.inbound.slack is not None and s.slack_app_token:
                await stack.enter_async_context(bot.inbound.slack.socket_mode(s.slack_app_token))
                running.append("Slack (Socket Mode)")
            print(f"Running: {', '.join(running) or 'senders only'}. Ctrl-C stops.", file=out)
            await stop.wait()

    asyncio.run(run())
    return 0


def cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    """The web process: webhooks, health and metrics, plus the sweeper and sender loop."""
    s = settings()
    if s.slack_bot_token and not s.slack_signing_secret:
        raise ConfigError("SLACK_SIGNING_SECRET: needed to receive Slack events over HTTP")
    if s.telegram_token and not s.telegram_webhook_secret:
        raise ConfigError(
            "TELEGRAM_WEBHOOK_SECRET: needed to receive Telegram updates by webhook "
            "(any long random string; Telegram sends it back with every update)"
        )
    follow_log_level(s.log_level)
    deps = _ready(s, sweep_first=True)
    import uvicorn  # after the first sweep, as the rest of the bot

    from bot.console.security import RedactSigninTokens
    from bot.web import web_process

    async def run() -> None:
        config = uvicorn.Config(
            web_process(s, deps),
            host=args.host or s.host,
            port=args.port or s.port,
            # The app's lifespan opens the bot (database, platforms, sweeper, sender loop)
            # before the first request and stops it after the last; a failure to start stops
            # the process.
            lifespan="on",
            log_level=s.log_level.lower(),
        )
        # uvicorn's access log (configured by Config) never shows a console sign-in token.
        logging.getLogger("uvicorn.access").addFilter(RedactSigninTokens())
        # uvicorn shuts down on SIGINT / SIGTERM (running the lifespan's shutdown, which lets
        # the sender loop and sweeper finish their batch) and then raises the signal again for
        # the handler that was there before; a quiet one lets the process end normally.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: None)
        server = uvicorn.Server(config)
        await server.serve()
        if not server.started:
            raise ConfigError("the web process did not start (its log above says why)")

    run_fast(run())  # the web process's hot path is the event loop
    return 0


def cmd_worker(args: argparse.Namespace, out: TextIO) -> int:
    """The sweeper and sender loop with no chat: console messages are printed as JSON lines."""
    s = settings()
    follow_log_level(s.log_level)
    deps = _ready(s, sweep_first=True)
    from bot.app import open_bot, settle_heap  # after the first sweep: the rest of the bot

    async def run() -> None:
        stop = _until_signalled()
        async with open_bot(s, deps=deps, console_out=out):
            settle_heap(s.gc_freeze)
            print('{"worker": "started"}', file=out, flush=True)
            await stop.wait()

    asyncio.run(run())
    return 0


def register(sub: Any) -> None:
    chat = sub.add_parser("chat", help="chat in the terminal as a person from the directory")
    chat.add_argument("--as", dest="as_email", required=True, metavar="EMAIL")
    chat.set_defaults(func=cmd_chat)

    run = sub.add_parser("run", help="start every configured channel (the console when none is)")
    run.add_argument("--as", dest="as_email", metavar="EMAIL", help="who the console chats as")
    run.set_defaults(func=cmd_run)

    worker = sub.add_parser("worker", help="run the escalation sweeper and the sender loop only")
    worker.set_defaults(func=cmd_worker)

    serve = sub.add_parser("serve", help="the web app: webhooks, /healthz, /metrics (production)")
    serve.add_argument("--host", help="address to listen on (default: HOST, 0.0.0.0)")
    serve.add_argument("--port", type=int, help="port (default: PORT, 8080)")
    serve.set_defaults(func=cmd_serve)
