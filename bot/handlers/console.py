"""The console channel: the terminal as a chat, for development and the embedded default.

Buttons are shown as numbered choices; typing the number presses the button.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import textwrap
from collections.abc import Callable
from typing import TextIO

from bot.conversation import Button, IncomingMessage, Reply
from bot.conversation.dispatcher import Dispatcher
from bot.conversation.ports import SendResult, Sent

CHANNEL = "console"
LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")
QUIT = {"/quit", "/exit"}


def render(reply: Reply, width: int = 88) -> str:
    text = LINK.sub(r"\1 <\2>", reply.text)
    paragraphs = [textwrap.fill(p, width=width) if p.strip() else "" for p in text.split("\n")]
    lines = ["\n".join(paragraphs)]
    for n, button in enumerate(reply.buttons, start=1):
        lines.append(f"  [{n}] {button.label}")
    return "\n".join(lines)


class ConsoleSender:
    """Delivers console-channel messages from the outbox by printing them (STYLE.md 2: the port).

    In `hotline chat` it shows messages for the person at this terminal (pings, updates); in
    `hotline worker` it prints them as JSON lines, for development and tests.
    """

    channel = CHANNEL

    def __init__(
        self,
        out: TextIO = sys.stdout,
        as_json: bool = False,
        on_buttons: Callable[[tuple[Button, ...]], None] | None = None,
    ) -> None:
        self.out = out
        self.as_json = as_json
        self.on_buttons = on_buttons

    async def send(self, chat_id: str, reply: Reply) -> SendResult:
        if self.as_json:
            payload = {
                "chat_id": chat_id,
                "text": reply.text,
                "buttons": [b.action for b in reply.buttons],
            }
            print(json.dumps(payload, ensure_ascii=False), file=self.out, flush=True)
        else:
            print(f"\n[message for {chat_id}]\n{render(reply)}", file=self.out, flush=True)
            if reply.buttons and self.on_buttons is not None:
                self.on_buttons(reply.buttons)  # a number typed next presses these
        return Sent()

    async def edit(self, chat_id: str, ref: str, reply: Reply) -> SendResult:
        """A terminal cannot change what it printed: show the new version as a message."""
        return await self.send(chat_id, reply)


class ConsoleChat:
    def __init__(
        self,
        dispatcher: Dispatcher,
        sender_ref: str,
        out: TextIO = sys.stdout,
        read_line: Callable[[], str] = sys.stdin.readline,
    ) -> None:
        self.dispatcher = dispatcher
        self.sender_ref = sender_ref
        self.out = out
        self.read_line = read_line
        self.choices: tuple[Button, ...] = ()

    def offer(self, buttons: tuple[Button, ...]) -> None:
        self.choices = buttons

    def _message(self, line: str) -> IncomingMessage:
        choice = line.strip()
        if choice.isdigit() and 1 <= int(choice) <= len(self.choices):
            return IncomingMessage(
                CHANNEL,
                self.sender_ref,
                self.sender_ref,
                action=self.choices[int(choice) - 1].action,
            )
        return IncomingMessage(CHANNEL, self.sender_ref, self.sender_ref, text=line)

    async def send(self, line: str) -> list[Reply]:
        replies = await self.dispatcher.handle(self._message(line))
        self.choices = next((r.buttons for r in reversed(replies) if r.buttons), ())
        for reply in replies:
            print(f"bot> {render(reply)}", file=self.out, flush=True)
        return replies

    async def run(self) -> None:
        print(
            "Type a question (or a number to press a button); /quit to leave.",
            file=self.out,
            flush=True,
        )
        while True:
            print("you> ", end="", file=self.out, flush=True)
            line = await asyncio.to_thread(self.read_line)
            if not line or line.strip().lower() in QUIT:
                print("", file=self.out)
                return
            await self.send(line.rstrip("\n"))
