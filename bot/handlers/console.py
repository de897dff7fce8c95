"""The console channel: the terminal as a chat, for development and the embedded default.

Buttons are shown as numbered choices; typing the number presses the button. Every message's
choices stay until one of them is pressed, numbered apart from those of the other messages, so
two pings waiting at once cannot be mixed up.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from bot.conversation.dispatcher import Dispatcher
from bot.core.ports import SendResult, Sent
from bot.core.types import Button, IncomingMessage, Reply

CHANNEL = "console"
LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")
QUIT = {"/quit", "/exit"}
REFERENCE = re.compile(r"\bHL-\d{4}-\d{4,}\b")


@dataclass
class Choices:
    """The buttons shown and not pressed yet, numbered uniquely across messages. Pressing one
    drops its message's choices (and those of copies of that message): a one-shot choice."""

    _shown: list[tuple[int, tuple[Button, ...]]] = field(default_factory=list)

    def offer(self, buttons: tuple[Button, ...]) -> int:
        """Number these buttons after every choice still pending; returns the first number."""
        first = max((start + len(group) for start, group in self._shown), default=1)
        if buttons:
            self._shown.append((first, buttons))
        return first

    def press(self, number: int) -> Button | None:
        for start, group in self._shown:
            if start <= number < start + len(group):
                button = group[number - start]
                self._shown = [
                    (s, g) for s, g in self._shown if all(b.action != button.action for b in g)
                ]
                return button
        return None


def render(reply: Reply, width: int = 88, first: int = 1) -> str:
    text = LINK.sub(r"\1 <\2>", reply.text)
    paragraphs = [textwrap.fill(p, width=width) if p.strip() else "" for p in text.split("\n")]
    lines = ["\n".join(paragraphs)]
    # A message about one request names it in its first line; its buttons then name it too,
    # unless they name requests themselves ("Add to HL-...").
    about = REFERENCE.findall(reply.text.split("\n", 1)[0])
    named = any(REFERENCE.search(button.label) for button in reply.buttons)
    suffix = f" {about[0]}" if len(about) == 1 and not named else ""
    for n, button in enumerate(reply.buttons, start=first):
        lines.append(f"  [{n}] {button.label}{suffix}")
    return "\n".join(lines)


class ConsoleSender:
    """Delivers console-channel messages from the outbox by printing them (the sender port).

    In `hotline chat` it shows messages for the person at this terminal (pings, updates); in
    `hotline worker` it prints them as JSON lines, for development and tests.
    """

    channel = CHANNEL

    def __init__(
        self,
        out: TextIO = sys.stdout,
        as_json: bool = False,
        choices: Choices | None = None,
    ) -> None:
        self.out = out
        self.as_json = as_json
        self.choices = choices  # the chat at this terminal, whose numbers press these buttons

    async def send(self, chat_id: str, reply: Reply) -> SendResult:
        if self.as_json:
            payload = {
                "chat_id": chat_id,
                "text": reply.text,
                "buttons": [b.action for b in reply.buttons],
            }
            print(json.dumps(payload, ensure_ascii=False), file=self.out, flush=True)
        else:
            first = self.choices.offer(reply.buttons) if self.choices is not None else 1
            shown = render(reply, first=first)
            print(f"\n[message for {chat_id}]\n{shown}", file=self.out, flush=True)
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
        choices: Choices | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.sender_ref = sender_ref
        self.out = out
        self.read_line = read_line
        # the buttons shown at this terminal, shared with its sender (ConsoleSender) so that a
        # ping's buttons are numbered with the chat's own
        self.choices = choices or Choices()

    def _message(self, line: str) -> IncomingMessage:
        choice = line.strip()
        button = self.choices.press(int(choice)) if choice.isascii() and choice.isdigit() else None
        if button is not None:
            return IncomingMessage(CHANNEL, self.sender_ref, self.sender_ref, action=button.action)
        return IncomingMessage(CHANNEL, self.sender_ref, self.sender_ref, text=line)

    async def send(self, line: str) -> list[Reply]:
        replies = await self.dispatcher.handle(self._message(line))
        for reply in replies:
            first = self.choices.offer(reply.buttons)
            print(f"bot> {render(reply, first=first)}", file=self.out, flush=True)
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
