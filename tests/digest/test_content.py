"""News and events files: the examples are valid; every problem is reported with file, line,
item and field; role and phase targeting."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.core.errors import DataError
from bot.digest.audience import Audience, role_of
from bot.digest.content import parse_file, parse_text
from bot.store.models import ContentKind
from tests.conftest import DATA

LONDON = ZoneInfo("Europe/London")


def test_example_files_are_valid_and_cover_the_week_of_30_november() -> None:
    news = parse_file(DATA / "example" / "news.yaml", ContentKind.NEWS, LONDON)
    events = parse_file(DATA / "example" / "events.yaml", ContentKind.EVENT, LONDON)
    monday = datetime(2026, 11, 30, 7, 30, tzinfo=LONDON)
    assert any(
        n.publish_from and monday.astimezone(UTC).replace(day=23) < n.publish_from < monday
        for n in news
    )
    soon = [e for e in events if e.starts_at and 0 < (e.starts_at - monday).days < 21]
    assert len(soon) >= 4
    assert any(not e.audience.everyone for e in events)
    timed = next(e for e in events if e.slug == "primary-heads-network-2026-12")
    assert timed.starts_at == datetime(2026, 12, 2, 13, 30, tzinfo=LONDON)
    assert not timed.all_day
    census = next(e for e in events if e.slug == "census-deadline-2027-01")
    assert census.all_day and census.starts_at == datetime(2027, 1, 21, tzinfo=LONDON)


BAD_NEWS = """\
news:
  - id: fine-item
    title: Fine
    text: All good
    date: 2026-11-24
  - id: Bad Id
    title: Broken link
    text: x
    date: 2026-11-24
    link: not-a-url
  - title: No id or date
    text: y
    audience:
      phases: [primary, sixth-form]
      roles: [caretaker]
  - id: fine-item
    title: Duplicate
    text: z
    date: 2026-11-25
    colour: blue
"""


def test_every_problem_names_file_line_item_and_field() -> None:
    records, problems = parse_text(BAD_NEWS, ContentKind.NEWS, LONDON, "news.yaml")
    assert len(records) == 1
    assert "news.yaml:6: item 2 (Bad Id): id: 'Bad Id': use lower-case letters" in problems[0]
    assert (
        problems[1] == "news.yaml:6: item 2 (Bad Id): link: 'not-a-url' is not an http(s) address"
    )
    joined = "\n".join(problems)
    assert "news.yaml:11: item 3 (No id or date): id: missing" in joined
    assert "news.yaml:11: item 3 (No id or date): date: missing" in joined
    assert "item 3 (No id or date): audience.phases: unknown 'sixth-form'" in joined
    assert "item 3 (No id or date): audience.roles: unknown 'caretaker'" in joined
    assert "news.yaml:16: item 4 (fine-item): colour: unknown field" in joined
    assert len(problems) == 7


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("events:\n  - id: x1\n    title: T\n    date: 2026-12-01\n", "this is an events file"),
        ("news: [unclosed\n", "news.yaml:2: bad YAML"),
        ("- just a list\n", "expected a mapping with a `news:` list"),
    ],
)
def test_whole_file_problems(text: str, expected: str) -> None:
    _, problems = parse_text(text, ContentKind.NEWS, LONDON, "news.yaml")
    assert len(problems) == 1 and expected in problems[0]


def test_event_dates_are_checked() -> None:
    text = (
        "events:\n"
        "  - id: backwards\n    title: T\n    date: 2026-12-03 16:00\n    end: 2026-12-03 15:00\n"
        "  - id: not-a-date\n    title: T\n    date: next tuesday\n"
    )
    _, problems = parse_text(text, ContentKind.EVENT, LONDON, "events.yaml")
    assert problems == [
        "events.yaml:2: item 1 (backwards): end: before the event's date",
        "events.yaml:6: item 2 (not-a-date): date: 'next tuesday' is not a date like "
        "2026-12-03 or 2026-12-03 16:00",
    ]


def test_missing_file_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(DataError) as caught:
        parse_file(tmp_path / "news.yaml", ContentKind.NEWS, LONDON)
    assert caught.value.problems == [f"{tmp_path / 'news.yaml'}: no such file"]


@pytest.mark.parametrize(
    ("title", "role"),
    [
        ("Headteacher", "headteacher"),
        ("Executive Head Teacher", "headteacher"),
        ("Head of School", "headteacher"),
        ("Deputy Headteacher", "deputy"),
        ("Assistant Headteacher", "deputy"),
        ("School Business Manager", "business manager"),
        ("Bursar", "business manager"),
        ("Chair of Governors", "governor"),
        ("Trustee", "governor"),
        ("Head of Maths", None),
        ("SENCo", None),
        (None, None),
    ],
)
def test_role_from_job_title(title: str | None, role: str | None) -> None:
    assert role_of(title) == role


def test_audience_needs_both_phase_and_role_to_match() -> None:
    audience = Audience(phases=("primary",), roles=("headteacher", "deputy"))
    assert audience.includes("primary", "deputy")
    assert not audience.includes("secondary", "deputy")
    assert not audience.includes("primary", None)
    assert Audience().includes(None, None)
    assert Audience(roles=("governor",)).includes("special", "governor")
