"""Pure text helpers shared by the platform renderers: links in the core's plain text, and
splitting long text where a reader would expect a break."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

# The core writes links as [label](https://...); everything else is plain text typed by people.
LINK = re.compile(r"\[([^\]\n]{1,200})\]\((https?://[^)\s]{1,500})\)")


def pieces(text: str) -> Iterator[tuple[str, str | None]]:
    """(text, None) for plain runs and (label, url) for links, in order."""
    at = 0
    for found in LINK.finditer(text):
        if found.start() > at:
            yield text[at : found.start()], None
        yield found.group(1), found.group(2)
        at = found.end()
    if at < len(text):
        yield text[at:], None


def render(text: str, plain: Callable[[str], str], link: Callable[[str, str], str]) -> str:
    return "".join(plain(t) if url is None else link(t, url) for t, url in pieces(text))


def visible_length(text: str) -> int:
    return sum(len(t) for t, _ in pieces(text))


def split(text: str, limit: int) -> list[str]:
    """Chunks of at most `limit` visible characters, broken at a paragraph, line or space when
    there is one, never inside a link."""
    chunks: list[str] = []
    rest = text
    while visible_length(rest) > limit:
        cut = _cut_point(rest, limit)
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n ")
    if rest or not chunks:
        chunks.append(rest)
    return chunks


def _cut_point(text: str, limit: int) -> int:
    # Map `limit` visible characters to a raw index, stepping over whole links.
    seen, raw = 0, 0
    for t, url in pieces(text):
        size = len(t)
        if seen + size > limit:
            if url is None:
                raw += limit - seen
            break
        seen += size
        raw += size if url is None else len(f"[{t}]({url})")
    window = text[:raw]
    for sep in ("\n\n", "\n", " "):
        at = window.rfind(sep)
        if at > raw // 2 and _outside_link(text, at):
            return at + len(sep)
    return max(raw, 1)


def _outside_link(text: str, at: int) -> bool:
    return not any(found.start() < at < found.end() for found in LINK.finditer(text))
