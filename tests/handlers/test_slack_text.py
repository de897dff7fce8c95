"""Slack's text in and out: entities decoded once, mentions kept, broadcasts and typed markup
harmless."""

from __future__ import annotations

import pytest

from bot.core.types import Reply
from bot.handlers import slack_render
from bot.handlers.slack_text import decode, unescape, without_mention_of


@pytest.mark.parametrize(
    ("sent", "meant"),
    [
        ("Q&amp;A &lt;tag&gt;", "Q&A <tag>"),
        ("&amp;lt; is how you write &lt;", "&lt; is how you write <"),  # decoded once only
        ("&lt;!channel&gt; &lt;b&gt;hi&lt;/b&gt;", "<!channel> <b>hi</b>"),
        ("ask <@U123ABC> or <@U456|sam>", "ask <@U123ABC> or <@U456|sam>"),
        ("in <#C0123|staff-room> and <#C0456>", "in <#C0123|staff-room> and <#C0456>"),
        ("<!channel> <!here|here> <!everyone> hello", "@channel @here @everyone hello"),
        ("<!subteam^S0123|@heads> please", "@heads please"),
        ("due <!date^1700000000^{date}|14 Nov>", "due 14 Nov"),
        ("see <https://example.org/a?b=1&amp;c=2>", "see https://example.org/a?b=1&c=2"),
        ("see <http://example.org|example.org>", "see example.org"),
        ("mail <mailto:a@school.example.org|a@school.example.org>", "mail a@school.example.org"),
        ("<https://evil.example|click &amp; win>", "click & win (https://evil.example)"),
    ],
)
def test_decode_gives_the_text_the_person_meant(sent: str, meant: str) -> None:
    assert decode(sent) == meant


def test_a_mention_label_cannot_smuggle_markup() -> None:
    assert decode("<@U123|a &lt;!channel&gt; b>") == "<@U123|a !channel b>"
    assert decode("<@U123|&lt;&gt;>") == "<@U123>"


def test_unescape_knows_only_slacks_three_entities() -> None:
    assert unescape("&amp;&lt;&gt;&quot;&#39;") == "&<>&quot;&#39;"


def test_the_apps_own_mention_is_taken_out_of_an_app_mention() -> None:
    assert without_mention_of("<@UBOT> who is on call?", "UBOT") == "who is on call?"
    assert without_mention_of("is <@U1> on call, <@UBOT|hotline>?", "UBOT") == "is <@U1> on call, ?"
    assert without_mention_of("<@UBOT> ask <@U1>", None) == "ask <@U1>"


@pytest.mark.parametrize(
    ("plain", "mrkdwn"),
    [
        ("Q&A <tag>", "Q&amp;A &lt;tag&gt;"),
        ("<!channel> and <!here>", "&lt;!channel&gt; and &lt;!here&gt;"),
        ("ask <@U123ABC> now", "ask <@U123ABC> now"),
        ("ask <@U456|Sam & Bea>", "ask <@U456|Sam &amp; Bea>"),
        ("in <#C0123|staff-room>", "in <#C0123|staff-room>"),
        (
            "<@u123> <@U1> <#X99> <!subteam^S1>",
            "&lt;@u123&gt; &lt;@U1&gt; &lt;#X99&gt; &lt;!subteam^S1&gt;",
        ),
        ("<https://evil.example|click>", "&lt;https://evil.example|click&gt;"),
    ],
)
def test_mrkdwn_escapes_once_and_lets_only_person_and_channel_mentions_through(
    plain: str, mrkdwn: str
) -> None:
    assert slack_render.escape_text(plain) == mrkdwn
    (section,) = slack_render.blocks(Reply(plain))
    assert section["text"]["text"] == mrkdwn
    assert slack_render.fallback(Reply(plain)) == mrkdwn


@pytest.mark.parametrize(
    "sent",
    [
        "Q&amp;A &lt;tag&gt;",
        "ask <@U123ABC> or <@U456|sam> in <#C0123|staff-room>",
        "&lt;!channel&gt; &lt;b&gt;x&lt;/b&gt; &amp;amp;",
    ],
)
def test_typed_text_goes_back_to_slack_as_it_came(sent: str) -> None:
    assert slack_render.escape_text(decode(sent)) == sent


def test_a_real_broadcast_comes_back_as_words() -> None:
    assert slack_render.escape_text(decode("<!channel> <!here> help")) == "@channel @here help"
