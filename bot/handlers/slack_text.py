"""Slack's message text into the core's plain text, and the mentions that may go back out.

Slack sends what a person typed with `&`, `<` and `>` as `&amp;`, `&lt;` and `&gt;`, and marks
everything else up between angle brackets: `<@U123>` a person, `<#C123|name>` a channel,
`<!here>` a broadcast, `<https://...|label>` a link. `decode` turns that into plain text: the
three entities decoded, links written out, broadcasts and group mentions as harmless words
("@channel"), and person and channel mentions kept as Slack's own tokens. Those tokens belong to
the core's text the way `[label](url)` links do: the Slack renderer escapes everything else and
lets exactly them through (`slack_render.escape_text`), so a relayed mention is a mention again
while a typed `<!channel>` is shown as text and pings nobody. A mention can only name one person
or link one channel, never broadcast.
"""

from __future__ import annotations

import re

# A person (U..., W... in Enterprise Grid) or a channel (C..., G... for older private ones),
# with an optional label. The label never holds `<`, `>`, `|` or a line break.
MENTION = re.compile(r"<(@[UW][A-Z0-9]{2,30}|#[CG][A-Z0-9]{2,30})(?:\|([^<>|\n]{1,80}))?>")
BROADCASTS = frozenset({"channel", "here", "everyone"})

_ENTITY = re.compile(r"&(amp|lt|gt);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}
_MARKUP = re.compile(r"<([^<>\n]*)>")
_LABEL_DROPPED = re.compile(r"[<>|\n]")


def unescape(raw: str) -> str:
    """Slack's three entities decoded, in one pass (so `&amp;lt;` is the typed text `&lt;`)."""
    return _ENTITY.sub(lambda m: _ENTITIES[m.group(1)], raw)


def decode(raw: str) -> str:
    """A message as Slack sends it, as the plain text the person meant."""
    out: list[str] = []
    at = 0
    for markup in _MARKUP.finditer(raw):
        out.append(unescape(raw[at : markup.start()]))
        out.append(_markup(markup.group(1)))
        at = markup.end()
    out.append(unescape(raw[at:]))
    return "".join(out)


def _markup(inner: str) -> str:
    target, _, raw_label = inner.partition("|")
    label = unescape(raw_label)
    if MENTION.fullmatch(f"<{target}>"):
        kept = _LABEL_DROPPED.sub("", label).strip()[:80]
        return f"<{target}|{kept}>" if kept else f"<{target}>"
    if target.startswith("!"):
        # <!here>, <!subteam^S123|@team>, <!date^1700000000^{date}|Nov 14>: words, never pings.
        name = target[1:].split("^", 1)[0]
        if name in BROADCASTS or not label:
            return f"@{name}"
        return label
    url = unescape(target)
    if not label or label == url or url.endswith((f"//{label}", f":{label}")):
        return label or url  # Slack's own linking of a typed address or email
    return f"{label} ({url})"


def without_mention_of(raw: str, user_id: str | None) -> str:
    """An app mention's text without the mentions of the app itself (`user_id`, the bot's
    user), or without its leading mention when that id is not known."""
    if user_id is None:
        return re.sub(r"^\s*<@[UW][A-Z0-9]+(?:\|[^<>]*)?>\s*", "", raw, count=1)
    mention = re.compile(rf"<@{re.escape(user_id)}(?:\|[^<>]*)?>\s*")
    return mention.sub("", raw).strip()
