"""The retention policy as data: for each kind of record, how many days it is kept and what
happens then. The defaults are the issue's; `DATA_DIR/retention.yaml` (optional) overrides the
number of days of any kind (data/example/retention.yaml documents every key).

What happens is fixed per kind, not configurable: texts that counts and reports depend on are
redacted (bot/privacy/redaction.py), the row, its times, category and school kept; rows that
nothing counts are deleted. A pure module: parsing and checking only, no database
(bot/privacy/retention.py applies the policy).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from bot.core.datafile import PathProblems, parse_yaml, read_text

FILENAME = "retention.yaml"

REDACT = "redact"
DELETE = "delete"

# Emergencies in these categories are kept longer (safeguarding records; allegations against
# staff), as bot/escalation/categories.py names them.
LONG_CATEGORIES: tuple[str, ...] = ("safeguarding", "allegation")

YEAR = 365  # days; "6 years" is 6 x 365 days


@dataclass(frozen=True)
class Rule:
    """One kind of record: kept `days` after the moment named by `measured_from`, then
    `action` (REDACT or DELETE)."""

    kind: str
    days: int
    action: str
    what: str
    measured_from: str

    @property
    def keep(self) -> timedelta:
        return timedelta(days=self.days)

    def cutoff(self, now: datetime) -> datetime:
        """Records whose moment is strictly before this are due: one kept exactly `days` is not
        yet (a record is always kept at least its full period)."""
        return now - self.keep


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(
        "questions",
        90,
        REDACT,
        "questions asked in chat (the text; band, match and time kept for the counts; "
        "a question that opened a request goes with its request)",
        "asked (created_at)",
    ),
    Rule(
        "support_requests",
        YEAR,
        REDACT,
        "resolved support requests: text, resolution note, timeline texts, messages about them",
        "resolved (resolved_at)",
    ),
    Rule(
        "emergencies_safeguarding",
        6 * YEAR,
        REDACT,
        f"resolved emergencies in the {' and '.join(LONG_CATEGORIES)} categories",
        "resolved (resolved_at)",
    ),
    Rule(
        "emergencies",
        2 * YEAR,
        REDACT,
        "resolved emergencies in every other category",
        "resolved (resolved_at)",
    ),
    Rule(
        "outbox",
        30,
        REDACT,
        "settled outgoing messages (sent, unreachable, failed, cancelled): the text; the row "
        "stays because digest status, refused addresses and metrics count it",
        "sent (sent_at), or queued (created_at) for one never sent",
    ),
    Rule(
        "processed_updates",
        1,
        DELETE,
        "ids of platform updates already handled (kept only to ignore redeliveries)",
        "received (received_at)",
    ),
    Rule(
        "audit_log",
        6 * YEAR,
        DELETE,
        "audit log entries",
        "written (at)",
    ),
)

KINDS: tuple[str, ...] = tuple(rule.kind for rule in DEFAULT_RULES)


@dataclass(frozen=True)
class RetentionPolicy:
    rules: Mapping[str, Rule] = field(
        default_factory=lambda: {rule.kind: rule for rule in DEFAULT_RULES}
    )
    source: str = "the defaults"

    def __getitem__(self, kind: str) -> Rule:
        return self.rules[kind]

    def days(self, kind: str) -> int:
        return self.rules[kind].days

    def cutoff(self, kind: str, now: datetime) -> datetime:
        return self.rules[kind].cutoff(now)

    def overridden(self, days: Mapping[str, int], source: str) -> RetentionPolicy:
        rules = {k: replace(r, days=days[k]) if k in days else r for k, r in self.rules.items()}
        return RetentionPolicy(rules, source)


DEFAULTS = RetentionPolicy()


def parse_policy(text: str, source: str = FILENAME) -> RetentionPolicy:
    """The defaults with the file's days; DataError with one line per bad key or value."""
    document = parse_yaml(text, source)
    problems = PathProblems(source, document.lines)
    data = document.data
    if data is None:
        return DEFAULTS.overridden({}, source)
    if not isinstance(data, dict):
        problems.add("expected a mapping of kind: days, e.g. 'questions: 90'", document.line(()))
        problems.raise_any()
    assert isinstance(data, dict)
    days: dict[str, int] = {}
    for key, value in data.items():
        path = (key,)
        if key not in KINDS:
            problems.at(path, f"{key!r}: unknown kind (known: {', '.join(KINDS)})")
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            problems.at(path, f"{key}: {_shown(value)} is not a whole number of days")
        elif value < 1:
            problems.at(path, f"{key}: {value} days: must be 1 or more")
        else:
            days[str(key)] = value
    problems.raise_any()
    return DEFAULTS.overridden(days, source)


def _shown(value: object) -> str:
    """A value as the file wrote it: true rather than True, quotes round a text."""
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value) if isinstance(value, str) else str(value)


def load_policy(data_dir: Path) -> RetentionPolicy:
    """DATA_DIR/retention.yaml over the defaults; the defaults alone when there is no file."""
    path = data_dir / FILENAME
    if not path.exists():
        return DEFAULTS
    return parse_policy(read_text(path), str(path))
