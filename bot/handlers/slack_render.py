"""Replies as Slack Block Kit: mrkdwn sections with user text escaped (`&`, `<`, `>`, so a
typed `<!channel>` stays text and pings nobody) except the person and channel mentions the core's
text carries (`slack_text.MENTION`), links as <url|label>, buttons in an actions block whose
`value` carries the core's action string."""

from __future__ import annotations

from typing import Any

from bot.core.types import Button, Reply
from bot.handlers import slack_text, text

SECTION_LIMIT = 3000  # characters of mrkdwn per section block (Slack, Nov 2026)
SECTION_CHUNK = 2800  # visible characters, leaving room for escapes and links
FALLBACK_LIMIT = 3000
BUTTON_LABEL_LIMIT = 75
ACTION_PREFIX = "hl:"

Block = dict[str, Any]


def escape(plain: str) -> str:
    return plain.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_text(plain: str) -> str:
    """Text for mrkdwn: everything escaped once, except person and channel mentions."""
    out: list[str] = []
    at = 0
    for found in slack_text.MENTION.finditer(plain):
        target, label = found.group(1), found.group(2)
        out.append(escape(plain[at : found.start()]))
        out.append(f"<{target}|{escape(label)}>" if label else f"<{target}>")
        at = found.end()
    out.append(escape(plain[at:]))
    return "".join(out)


def to_mrkdwn(plain: str) -> str:
    return text.render(
        plain,
        plain=escape_text,
        link=lambda label, url: f"<{escape(url).replace('|', '%7C')}|{escape(label)}>",
    )


def fallback(reply: Reply) -> str:
    """The notification text (also mrkdwn, so escaped the same way)."""
    return to_mrkdwn(text.split(reply.text, FALLBACK_LIMIT)[0])


def section(plain: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": to_mrkdwn(plain)}}


def actions(buttons: tuple[Button, ...]) -> list[Block]:
    if not buttons:
        return []
    elements = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": b.label[:BUTTON_LABEL_LIMIT]},
            "action_id": f"{ACTION_PREFIX}{n}",
            "value": b.action,
        }
        for n, b in enumerate(buttons)
    ]
    return [{"type": "actions", "block_id": "hotline_actions", "elements": elements}]


def blocks(reply: Reply) -> list[Block]:
    sections = [section(chunk) for chunk in text.split(reply.text, SECTION_CHUNK) if chunk]
    return sections + actions(reply.buttons)


def with_status(original: list[Block], status: Reply) -> list[Block]:
    """An earlier message with its buttons replaced by a status line (and any new buttons)."""
    kept = [b for b in original if b.get("type") != "actions"]
    note = {"type": "context", "elements": [{"type": "mrkdwn", "text": to_mrkdwn(status.text)}]}
    return [*kept, note, *actions(status.buttons)]
