"""Pure pieces of the adapters: splitting, escaping, rendering and the throttle."""

from __future__ import annotations

import html
import json

import pytest

from bot.core.types import Button, Reply
from bot.handlers import slack_render, telegram_render, text
from bot.handlers.throttle import Throttle


@pytest.mark.parametrize("limit", [50, 200, 4000])
def test_split_keeps_every_character_and_never_breaks_a_link(limit: int) -> None:
    source = (
        "Word " * 30 + "[the guidance](https://example.org/a-long-path) more. " * 5 + "\n\n"
    ) * 20
    chunks = text.split(source, limit)
    assert all(text.visible_length(c) <= limit for c in chunks)
    assert all(c.count("[") == c.count("](") for c in chunks)  # links whole
    squashed = "".join(source.split())
    assert "".join("".join(chunks).split()) == squashed


def test_split_of_one_unbroken_run_still_fits() -> None:
    chunks = text.split("x" * 9000, 4000)
    assert [len(c) for c in chunks] == [4000, 4000, 1000]


def test_telegram_html_escapes_everything_typed_and_keeps_links() -> None:
    rendered = telegram_render.to_html('<b>hi</b> & "q" [site](https://example.org/?a=1&b=2)')
    assert rendered.startswith('&lt;b&gt;hi&lt;/b&gt; &amp; "q" ')
    assert '<a href="https://example.org/?a=1&amp;b=2">site</a>' in rendered


def test_telegram_chunks_stay_under_the_limit_even_when_escaping_grows_them() -> None:
    chunks = telegram_render.messages(Reply("<&>" * 3000, (Button("OK", "fb:1:1"),)))
    assert len(chunks) >= 3 and all(len(h) < telegram_render.MESSAGE_LIMIT for h, _ in chunks)
    assert [markup is not None for _, markup in chunks] == [False] * (len(chunks) - 1) + [True]
    assert html.unescape("".join(h for h, _ in chunks)) == "<&>" * 3000


def test_slack_mrkdwn_cannot_ping_a_channel_or_forge_a_link() -> None:
    blocks = slack_render.blocks(
        Reply("<!channel> <https://evil.example|click> & [ok](https://example.org/x|y)")
    )
    shown = json.dumps(blocks)
    assert "<!channel>" not in shown and "&lt;!channel&gt;" in shown
    assert "<https://evil" not in shown and "&amp;" in shown
    assert "<https://example.org/x%7Cy|ok>" in blocks[0]["text"]["text"]


def test_slack_status_replaces_only_the_buttons() -> None:
    original = slack_render.blocks(Reply("Ping", (Button("Acknowledge", "ack:1"),)))
    updated = slack_render.with_status(original, Reply("Acknowledged by Sam at 10:42"))
    assert [b["type"] for b in updated] == ["section", "context"]


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


async def test_throttle_spaces_messages_overall_and_per_chat() -> None:
    t = FakeTime()
    throttle = Throttle(per_second=4, chat_interval_s=1.0, clock=t.clock, sleep=t.sleep)
    for chat in ("a", "b", "c", "d", "e"):
        await throttle.wait(chat)
    assert t.now == pytest.approx(101.0)  # five chats at four a second: the fifth waits 1 s
    start = t.now
    await throttle.wait("a")  # "a" was sent at 100.0: one a second per chat is already met
    assert t.now - start == pytest.approx(0.25)  # only the overall spacing applies
    await throttle.wait("a")
    assert t.now == pytest.approx(102.25)  # a full second after the last one to "a"
