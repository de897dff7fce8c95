"""Hotline hours are stated in two places: the rota (which the escalation follows) and the FAQ
answers (which members read). This finds the hours the answers state, so a check can fail when
the two disagree. Pure: text in, minutes out."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.escalation.rota import Rota

_TIME = r"(\d{1,2})(?:[.:](\d{2}))?\s*(am|pm|noon)"
RANGE = re.compile(rf"\b{_TIME}\s*(?:to|until|till|-|–)\s*{_TIME}", re.IGNORECASE)
# "7.30am" has a full stop inside it: a sentence ends at a stop followed by a space.
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
ABOUT_THE_HOTLINE = ("hotline", "staffed")


@dataclass(frozen=True)
class StatedHours:
    entry_id: str
    start: int  # minutes after midnight
    end: int

    def __str__(self) -> str:
        return f"{_clock(self.start)}-{_clock(self.end)}"


def _minutes(hour: str, minute: str | None, half: str) -> int:
    h = int(hour) % 12 + (12 if half.lower() in ("pm", "noon") else 0)
    return h * 60 + int(minute or 0)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def stated_hours(entry_id: str, text: str) -> list[StatedHours]:
    """Time ranges in the sentences of `text` that speak of the hotline."""
    found: list[StatedHours] = []
    for sentence in SENTENCE_END.split(text):
        if not any(word in sentence.lower() for word in ABOUT_THE_HOTLINE):
            continue
        for m in RANGE.finditer(sentence):
            start, end = _minutes(m[1], m[2], m[3]), _minutes(m[4], m[5], m[6])
            found.append(StatedHours(entry_id, start, end))
    return found


def disagreements(rota: Rota, answers: Iterable[tuple[str, str]]) -> list[str]:
    """One line per FAQ answer that states hotline hours the rota does not have."""
    spans = {
        (s.start.hour * 60 + s.start.minute, s.end.hour * 60 + s.end.minute or 24 * 60)
        for s in rota.hotline_hours
    }
    rota_says = ", ".join(sorted(str(s) for s in rota.hotline_hours))
    return [
        f"faq {stated.entry_id}: says the hotline is staffed {stated}, the rota says {rota_says}"
        for entry_id, text in answers
        for stated in stated_hours(entry_id, text)
        if (stated.start, stated.end) not in spans
    ]
