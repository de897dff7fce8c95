"""Who a news item or event is for: every member, or some school phases and / or some roles.

The directory keeps a free-text job title; `role_of` maps the usual titles to the four roles
items can target. A member whose title maps to no role still gets items open to every role.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.directory.records import PHASES

ROLES = ("headteacher", "deputy", "business manager", "governor")

# Order matters: "Deputy Headteacher" is a deputy, not a headteacher.
_ROLE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("governor", re.compile(r"\b(governor|governors|trustee|chair)\b")),
    ("deputy", re.compile(r"\b(deputy|assistant head|vice principal|associate head)")),
    ("business manager", re.compile(r"\b(business manager|bursar|finance director|sbm)\b")),
    (
        "headteacher",
        re.compile(r"\b(head ?teacher|head of school|principal|executive head)|^head$"),
    ),
)


def role_of(job_title: str | None) -> str | None:
    """The digest role for a job title, e.g. "Chair of Governors" -> "governor"."""
    if not job_title:
        return None
    title = re.sub(r"[^a-z ]+", " ", job_title.lower())
    title = re.sub(r"\s+", " ", title).strip()
    for role, pattern in _ROLE_PATTERNS:
        if pattern.search(title):
            return role
    return None


@dataclass(frozen=True, slots=True)
class Audience:
    """Empty tuples mean "no restriction" on that axis."""

    phases: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()

    @property
    def everyone(self) -> bool:
        return not self.phases and not self.roles

    def includes(self, phase: str | None, role: str | None) -> bool:
        if self.phases and (phase or "") not in self.phases:
            return False
        return not self.roles or (role or "") in self.roles

    def describe(self) -> str:
        if self.everyone:
            return "all members"
        parts = [", ".join(self.phases)] if self.phases else []
        if self.roles:
            parts.append(", ".join(self.roles))
        return "; ".join(parts)

    @staticmethod
    def from_columns(phases: str, roles: str) -> Audience:
        return Audience(_split(phases), _split(roles))

    def columns(self) -> tuple[str, str]:
        return ",".join(self.phases), ",".join(self.roles)


def _split(value: str) -> tuple[str, ...]:
    return tuple(v for v in value.split(",") if v)


def check_values(values: Iterable[str], allowed: Iterable[str]) -> list[str]:
    """The values that are not allowed (for a validation message)."""
    known = set(allowed)
    return [v for v in values if v not in known]


__all__ = ["PHASES", "ROLES", "Audience", "check_values", "role_of"]
