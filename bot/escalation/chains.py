"""Escalation chains: who is pinged, in what order, and how long each step waits (pure).

A chain is an ordered list of steps. A step pings a rota role (`primary`, `backup`, `fallback`:
whoever holds it when the step runs), a named person, or a group of people; it waits its own
number of minutes for an acknowledgement before the next step. The last step repeats, `repeat`
more times or until someone acknowledges. Outside hotline hours only the steps marked
`out_of_hours` run (the fallback role is, unless the file says otherwise).

The rota file declares chains and which emergency categories take which chain; a category it
does not route takes `default`. A rota without chains has one, `DEFAULT_CHAIN`: primary, backup,
fallback, each waiting ESCALATION_TIMEOUT_S, as the bot always did. When a request's escalation
starts, its chain is copied onto the request (groups as the people in them then), so editing the
rota never changes an escalation already running.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from bot.core import texts

Kind = Literal["role", "person", "group"]
KINDS: tuple[Kind, ...] = ("role", "person", "group")
ROLES = ("primary", "backup", "fallback")
DEFAULT = "default"


@dataclass(frozen=True)
class ChainStep:
    kind: Kind
    name: str  # the role, the person's email, or the group's name
    minutes: int | None = None  # None: ESCALATION_TIMEOUT_S
    out_of_hours: bool = False
    repeat: int | None = None  # the last step only: more pings after its first; None: no limit
    people: tuple[str, ...] = ()  # a group's members (emails)
    label: str | None = None  # what people are told, when the name would not do

    @property
    def staff_label(self) -> str:
        """How a ping names the step: "primary duty officer", "safeguarding adviser"."""
        if self.label:
            return self.label
        if self.kind == "role":
            return texts.STAFF_LEVELS.get(self.name, self.name)
        return self.name.replace("-", " ") if self.kind == "group" else texts.NAMED_CONTACT

    @property
    def member_label(self) -> str:
        """How the member is told who is being alerted: "the duty officer"."""
        if self.kind == "role" and not self.label:
            return texts.MEMBER_LEVELS[self.name]
        return f"the {self.staff_label}"

    def timeout(self, default: timedelta) -> timedelta:
        return default if self.minutes is None else timedelta(minutes=self.minutes)

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {self.kind: self.name, "out_of_hours": self.out_of_hours}
        for key, value in (
            ("minutes", self.minutes),
            ("repeat", self.repeat),
            ("label", self.label),
        ):
            if value is not None:
                data[key] = value
        if self.kind == "group":
            data["people"] = list(self.people)
        return data

    @staticmethod
    def from_json(data: Mapping[str, object]) -> ChainStep:
        kind = next(k for k in KINDS if k in data)
        minutes, repeat, label = data.get("minutes"), data.get("repeat"), data.get("label")
        people = data.get("people", [])
        return ChainStep(
            kind=kind,
            name=str(data[kind]),
            minutes=int(str(minutes)) if minutes is not None else None,
            out_of_hours=bool(data.get("out_of_hours")),
            repeat=int(str(repeat)) if repeat is not None else None,
            people=tuple(str(p) for p in people) if isinstance(people, list) else (),
            label=str(label) if label is not None else None,
        )


@dataclass(frozen=True)
class Chain:
    name: str
    steps: tuple[ChainStep, ...]

    def step(self, number: int) -> ChainStep:
        """Step `number`, counted from 1; past the end, the last (it is the one that repeats)."""
        return self.steps[min(max(number, 1), len(self.steps)) - 1]

    def runnable(self, number: int, in_hours: bool) -> bool:
        return in_hours or self.step(number).out_of_hours

    def snapshot(self) -> str:
        """The chain as it stands, groups as their people now: stored on the request."""
        return json.dumps({"name": self.name, "steps": [s.to_json() for s in self.steps]})

    @staticmethod
    def from_snapshot(text: str) -> Chain:
        data = json.loads(text)
        return Chain(str(data["name"]), tuple(ChainStep.from_json(s) for s in data["steps"]))


DEFAULT_CHAIN = Chain(
    DEFAULT,
    (
        ChainStep("role", "primary"),
        ChainStep("role", "backup"),
        ChainStep("role", "fallback", out_of_hours=True),
    ),
)
