"""The sender port: what the core needs from a channel to deliver a message to someone.

Each channel implements `Sender` and translates its own exceptions into these outcomes at the
edge, so the outbox never sees a platform error type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.core.types import Reply


@dataclass(frozen=True, slots=True)
class Sent:
    ref: str | None = None  # the platform's message id, to edit the message later


@dataclass(frozen=True, slots=True)
class RetryLater:
    error: str
    after_s: float | None = None  # the platform's retry_after / Retry-After, when it gave one


@dataclass(frozen=True, slots=True)
class Unreachable:
    """Final: the person blocked the bot or the chat is gone."""

    error: str


SendResult = Sent | RetryLater | Unreachable


class Sender(Protocol):
    channel: str

    async def send(self, chat_id: str, reply: Reply) -> SendResult: ...

    async def edit(self, chat_id: str, ref: str, reply: Reply) -> SendResult:
        """Replace an earlier message (`ref` from its `Sent`) with `reply`."""
        ...


class ProfileLookup(Protocol):
    """A platform that vouches for its users' email addresses (Slack's `users.info`), so an
    account can be linked to the directory without an invite code."""

    async def email_of(self, sender_ref: str) -> str | None: ...
