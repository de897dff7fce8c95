"""Sections of bullet lines fitted into one chat message.

Telegram refuses messages over 4,096 characters (Slack's section blocks hold 3,000 each, so its
adapter splits by paragraph); a digest stays under `LIMIT` so the adapters' markup fits too.
The longest list loses items first, and says how many it left out, rather than the message
being cut mid-sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

LIMIT = 3900
BULLET = "• "
MAX_ITEM_CHARS = 600  # a single item is shortened to this before any list is trimmed


@dataclass(frozen=True, slots=True)
class Section:
    heading: str
    items: tuple[str, ...]
    note: str = ""  # a line after the list, e.g. "Ask me about any of these."


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(",;:.-– ") + "…"


def _render_section(section: Section, shown: int) -> str:
    lines = [section.heading]
    lines.extend(BULLET + item for item in section.items[:shown])
    hidden = len(section.items) - shown
    if hidden > 0:
        lines.append(f"…and {hidden} more")
    if section.note:
        lines.append(section.note)
    return "\n".join(lines)


def render(header: str, sections: Sequence[Section], footer: str, limit: int = LIMIT) -> str:
    """Header, the non-empty sections, footer; lists trimmed ("…and N more") to fit `limit`."""
    kept = [
        Section(s.heading, tuple(shorten(i, MAX_ITEM_CHARS) for i in s.items), s.note)
        for s in sections
        if s.items
    ]
    shown = [len(s.items) for s in kept]

    def text() -> str:
        parts = [header, *(_render_section(s, n) for s, n in zip(kept, shown, strict=True))]
        return "\n\n".join(p for p in [*parts, footer] if p)

    result = text()
    while len(result) > limit:
        candidates = [i for i, n in enumerate(shown) if n > 1]
        if not candidates:
            break
        longest = max(candidates, key=lambda i: (shown[i], i))
        shown[longest] -= 1
        result = text()
    if len(result) > limit:  # one item per section and still too long: cut the whole
        result = result[: limit - 1].rstrip() + "…"
    return result
