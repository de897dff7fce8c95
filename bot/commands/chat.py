"""`hotline chat`, `hotline run` and `hotline worker`: the bot's running processes."""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any, TextIO

from bot.commands.common import settings
from bot.errors import ConfigError


def cmd_chat(args: argparse.Namespace, out: TextIO) -> int:
    from bot.app import open_runtime
    from bot.directory import link_identity, person_by_email
    from bot.handlers.console import CHANNEL, ConsoleChat, ConsoleSender

    s = settings()
    email = args.as_email.strip().lower()
    staff_chat = s.staff_chat_target

    async def run() -> None:
        async with open_runtime(s, start_background=False) as rt:
            async with rt.db.session() as session:
                person = await person_by_email(session, email)
                if person is not None:
                    await link_identity(session, person, CHANNEL, email, chat_id=email)
            chats = {email}
            if person is not None and person.is_staff and staff_chat and staff_chat[0] == CHANNEL:
                chats.add(staff_chat[1])
            chat = ConsoleChat(rt.dispatcher, email, out=out)
            rt.background.senders = {CHANNEL: ConsoleSender(out, on_buttons=chat.offer)}
            rt.background.chat_ids = chats
            rt.background.start()
            who = (
                f"{person.name} ({person.role.value})"
                if person
                else f"{email} (not in the directory)"
            )
            print(f"Console chat as {who}.", file=out)
            await chat.run()

    asyncio.run(run())
    return 0


def cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    s = settings()
    if s.telegram_token or s.slack_bot_token:
        print(
            "Slack and Telegram channels arrive with a later release; starting the console.",
            file=out,
        )
    if not args.as_email:
        raise ConfigError("--as: the console channel needs --as EMAIL (a person in the directory)")
    return cmd_chat(args, out)


def cmd_worker(args: argparse.Namespace, out: TextIO) -> int:
    """The sweeper and sender loop with no chat: console messages are printed as JSON lines."""
    from bot.app import open_runtime
    from bot.handlers.console import CHANNEL, ConsoleSender

    s = settings()

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with open_runtime(s, senders={CHANNEL: ConsoleSender(out, as_json=True)}):
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
