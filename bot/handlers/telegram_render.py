"""Replies as Telegram messages: HTML parse mode with every piece of text escaped, links as
<a href>, inline keyboards, and chunks under the 4,096-character limit."""

from __future__ import annotations

import html

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.core.types import Button, Reply
from bot.handlers import text

# Telegram counts the limit after entity parsing, i.e. the visible text (Bot API, Nov 2026).
MESSAGE_LIMIT = 4096
CHUNK = 4000
BUTTON_LABEL_LIMIT = 64


def to_html(plain: str) -> str:
    return text.render(
        plain,
        plain=lambda t: html.escape(t, quote=False),
        link=lambda label, url: (
            f'<a href="{html.escape(url)}">{html.escape(label, quote=False)}</a>'
        ),
    )


def keyboard(buttons: tuple[Button, ...]) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b.label[:BUTTON_LABEL_LIMIT], callback_data=b.action)]
            for b in buttons
        ]
    )


def html_chunks(plain: str, limit: int = CHUNK) -> list[str]:
    """HTML pieces each under the limit even before Telegram parses it (escapes and link
    markup count), so no reading of the rule can reject one."""
    pieces: list[str] = []
    for chunk in text.split(plain, limit):
        rendered = to_html(chunk)
        if len(rendered) < MESSAGE_LIMIT or limit <= 200:
            pieces.append(rendered)
        else:
            pieces.extend(html_chunks(chunk, limit // 2))
    return pieces


def messages(reply: Reply) -> list[tuple[str, InlineKeyboardMarkup | None]]:
    """The HTML chunks of a reply; the buttons go on the last one."""
    chunks = html_chunks(reply.text)
    last = len(chunks) - 1
    return [(c, keyboard(reply.buttons) if n == last else None) for n, c in enumerate(chunks)]


def with_status(original_html: str, original_plain: str, status: str) -> str:
    """An earlier message with a status line added (a ping once someone has acknowledged it).
    The original keeps its formatting unless it must be shortened to fit."""
    room = CHUNK - len(status)
    if len(original_plain) > room:
        original_html = html.escape(original_plain[: room - 1], quote=False) + "…"
    return f"{original_html}\n\n<i>{to_html(status)}</i>"
