"""Fakes at the edge only: a clock the test moves, and a channel that records what it is given."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.core.ports import RetryLater, SendResult, Sent, Unreachable
from bot.core.types import Reply


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday, in hours

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class RecordingSender:
    """A channel that records every message; `script` makes the next sends fail in given ways."""

    channel: str = "console"
    sent: list[tuple[str, Reply]] = field(default_factory=list)
    script: list[SendResult | Exception] = field(default_factory=list)
    calls: int = 0
    edits: list[tuple[str, str, Reply]] = field(default_factory=list)

    async def send(self, chat_id: str, reply: Reply) -> SendResult:
        self.calls += 1
        if self.script:
            outcome = self.script.pop(0)
            if isinstance(outcome, Exception):
                raise outcome
            if not isinstance(outcome, Sent):
                return outcome
        self.sent.append((chat_id, reply))
        return Sent(f"m{len(self.sent)}")

    async def edit(self, chat_id: str, ref: str, reply: Reply) -> SendResult:
        self.calls += 1
        self.edits.append((chat_id, ref, reply))
        return Sent(ref)

    def to(self, chat_id: str) -> list[Reply]:
        return [r for c, r in self.sent if c == chat_id]


__all__ = ["FakeClock", "RecordingSender", "RetryLater", "Sent", "Unreachable"]
