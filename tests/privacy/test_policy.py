"""The retention policy file: the defaults, the example file, overrides, and one clear line per
bad key or value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.errors import DataError
from bot.privacy.policy import DEFAULTS, DELETE, KINDS, REDACT, load_policy, parse_policy

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "data" / "example" / "retention.yaml"


def test_the_defaults_are_the_issues() -> None:
    assert {kind: DEFAULTS.days(kind) for kind in KINDS} == {
        "questions": 90,
        "support_requests": 365,
        "emergencies_safeguarding": 6 * 365,
        "emergencies": 2 * 365,
        "outbox": 30,
        "processed_updates": 1,
        "audit_log": 6 * 365,
    }
    assert DEFAULTS["audit_log"].action == DELETE
    assert DEFAULTS["processed_updates"].action == DELETE
    assert all(
        DEFAULTS[k].action == REDACT for k in KINDS if k not in ("audit_log", "processed_updates")
    )


def test_no_file_means_the_defaults(tmp_path: Path) -> None:
    assert load_policy(tmp_path) is DEFAULTS


def test_the_example_file_documents_every_key_and_repeats_the_defaults() -> None:
    text = EXAMPLE.read_text()
    example = parse_policy(text, str(EXAMPLE))
    assert {k: example.days(k) for k in KINDS} == {k: DEFAULTS.days(k) for k in KINDS}
    for kind in KINDS:
        assert f"#   {kind} " in text, f"{kind} is not described in the example"
        assert f"\n{kind}: " in text, f"{kind} is not set in the example"


def test_a_file_overrides_only_what_it_names(tmp_path: Path) -> None:
    (tmp_path / "retention.yaml").write_text("questions: 30\nemergencies: 1000\n")
    policy = load_policy(tmp_path)
    assert policy.days("questions") == 30
    assert policy.days("emergencies") == 1000
    assert policy.days("support_requests") == 365
    assert policy.source == str(tmp_path / "retention.yaml")


def test_an_empty_file_is_the_defaults() -> None:
    assert {k: parse_policy("# nothing yet\n").days(k) for k in KINDS} == {
        k: DEFAULTS.days(k) for k in KINDS
    }


def test_the_cutoff_keeps_a_record_its_full_period() -> None:
    now = datetime(2026, 11, 29, 12, tzinfo=UTC)
    assert DEFAULTS.cutoff("questions", now) == now - timedelta(days=90)


def test_each_bad_key_or_value_gets_one_line_naming_it() -> None:
    text = (
        "questions: -5\n"  # line 1
        "support_requests: 1.5\n"
        "emergencies: a year\n"
        "outbox: 0\n"
        "audit: 10\n"  # line 5
        "processed_updates: true\n"
        "audit_log: 2190\n"
    )
    with pytest.raises(DataError) as caught:
        parse_policy(text, "retention.yaml")
    assert caught.value.problems == [
        "retention.yaml:1: questions: -5 days: must be 1 or more",
        "retention.yaml:2: support_requests: 1.5 is not a whole number of days",
        "retention.yaml:3: emergencies: 'a year' is not a whole number of days",
        "retention.yaml:4: outbox: 0 days: must be 1 or more",
        "retention.yaml:5: 'audit': unknown kind (known: questions, support_requests, "
        "emergencies_safeguarding, emergencies, outbox, processed_updates, audit_log)",
        "retention.yaml:6: processed_updates: true is not a whole number of days",
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("- questions\n", "retention.yaml: expected a mapping of kind: days"),
        ("questions: [90\n", "retention.yaml:2: bad YAML"),
    ],
)
def test_a_file_that_is_not_a_mapping_is_refused(text: str, problem: str) -> None:
    with pytest.raises(DataError) as caught:
        parse_policy(text, "retention.yaml")
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(problem)
