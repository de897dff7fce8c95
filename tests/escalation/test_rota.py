"""The duty rota: who is on duty, hotline hours, closures, gaps, file errors and clock changes."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.core.errors import DataError
from bot.directory import parse_directory
from bot.escalation.rota import (
    Gap,
    Override,
    Rota,
    duty_at,
    find_gaps,
    in_hotline_hours,
    next_opening,
)
from bot.escalation.rota_file import parse_rota, parse_rota_text
from tests.conftest import DATA

LONDON = ZoneInfo("Europe/London")
EXAMPLE = DATA / "example" / "rota.yaml"
SAM = "sam.adeyemi@partnership.example.org"
LUCY = "lucy.brennan@partnership.example.org"
JOE = "joe.kaminski@partnership.example.org"
RUTH = "ruth.green@partnership.example.org"
ADA, BEN, DEE = "ada@team.example", "ben@team.example", "dee@team.example"
WEEKDAYS = '{days: Mon-Fri, from: "08:00", to: "18:00"}'
ALL_SUNDAY = '{days: Sun, from: "00:00", to: "24:00"}'


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(year: int, month: int, day: int, hour: int, minute: int = 0, fold: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON, fold=fold)


def shift(days: str, start: str, end: str, primary: str, backup: str | None = None) -> str:
    backup_field = f", backup: {backup}" if backup else ""
    return f'{{days: "{days}", from: "{start}", to: "{end}", primary: {primary}{backup_field}}}'


def make_rota(*pattern: str, hours: tuple[str, ...] = (WEEKDAYS,), closures: str = "[]") -> Rota:
    text = "\n".join(
        [
            "timezone: Europe/London",
            f"fallback: {DEE}",
            f"hotline_hours: [{', '.join(hours)}]",
            "pattern:",
            *(f"  - {s}" for s in pattern),
            f"closures: {closures}",
        ]
    )
    return parse_rota_text(text, "rota.yaml")


@pytest.fixture(scope="module")
def example() -> Rota:
    return parse_rota(EXAMPLE)


# --- The shipped example ------------------------------------------------------------------------


def test_the_shipped_example_parses_and_names_staff_of_the_example_directory(
    example: Rota,
) -> None:
    staff = {p.email for p in parse_directory(DATA / "example" / "directory.yaml").people}
    on_rota = {example.fallback} | {s.primary for s in example.pattern}
    on_rota |= {s.backup for s in example.pattern if s.backup}
    assert example.timezone.key == "Europe/London" and example.fallback == RUTH
    assert on_rota == {SAM, LUCY, JOE, RUTH} and on_rota <= staff
    assert any(c.start == c.end == date(2027, 3, 26) for c in example.closures)


def test_a_rota_survives_a_round_trip_through_json(example: Rota) -> None:
    assert Rota.from_json(example.to_json()) == example
    sunday = make_rota(shift("Mon, Wed-Thu, Sun", "00:00", "24:00", ADA))
    assert sunday.to_json()["pattern"] == [
        {
            "days": "Mon, Wed-Thu, Sun",
            "from": "00:00",
            "to": "24:00",
            "primary": ADA,
            "backup": None,
        }
    ]
    assert Rota.from_json(sunday.to_json()) == sunday


def test_a_broken_stored_rota_is_refused() -> None:
    with pytest.raises(DataError) as caught:
        Rota.from_json({"timezone": "Europe/London", "hotline_hours": [], "fallback": DEE})
    assert caught.value.problems == [
        "stored rota: hotline_hours: empty: at least one entry needed",
        "stored rota: pattern: missing",
    ]


# --- Who is on duty -----------------------------------------------------------------------------


def test_a_weekday_in_hours_gives_the_patterns_people(example: Rota) -> None:
    duty = duty_at(example, [], utc(2026, 11, 24, 10))  # Tuesday
    assert duty.in_hours and duty.at == utc(2026, 11, 24, 10)
    assert duty.levels() == (SAM, LUCY, RUTH)
    assert duty_at(example, [], utc(2026, 11, 26, 17, 59)).levels() == (LUCY, JOE, RUTH)


def test_outside_hours_nobody_is_in_hours_but_the_fallback_is_named(example: Rota) -> None:
    duty = duty_at(example, [], utc(2026, 11, 24, 18))  # Tuesday 18:00, the end is excluded
    assert not duty.in_hours and not in_hotline_hours(example, utc(2026, 11, 28, 12))
    assert duty.levels() == (None, None, RUTH)


def test_an_override_replaces_the_primary_for_its_window_only(example: Rota) -> None:
    cover = Override(JOE, "primary", utc(2026, 11, 24, 12), utc(2026, 11, 24, 14))
    assert duty_at(example, [cover], utc(2026, 11, 24, 11, 59)).primary == SAM
    assert duty_at(example, [cover], utc(2026, 11, 24, 12)).levels() == (JOE, LUCY, RUTH)
    assert duty_at(example, [cover], utc(2026, 11, 24, 14)).primary == SAM


def test_the_cover_that_started_last_wins_and_nobody_is_pinged_twice(example: Rota) -> None:
    week = Override(JOE, "primary", utc(2026, 11, 23), utc(2026, 11, 28))
    afternoon = Override(
        "Lucy.Brennan@Partnership.example.org",
        "primary",
        utc(2026, 11, 24, 13),
        utc(2026, 11, 24, 17),
    )
    duty = duty_at(example, [afternoon, week], utc(2026, 11, 24, 14))
    assert (duty.primary, duty.backup) == (LUCY, LUCY)
    assert duty.levels() == (LUCY, None, RUTH)


def test_on_a_closure_day_nobody_is_on_duty_unless_an_override_says_so(example: Rota) -> None:
    christmas = utc(2026, 12, 25, 10)
    duty = duty_at(example, [], christmas)
    assert not duty.in_hours and duty.levels() == (None, None, RUTH)
    cover = Override(SAM, "primary", utc(2026, 12, 25, 9), utc(2026, 12, 25, 17))
    covered = duty_at(example, [cover], christmas)
    assert not covered.in_hours and covered.levels() == (SAM, None, RUTH)


def test_naive_times_are_refused() -> None:
    rota = make_rota(shift("Mon", "08:00", "18:00", ADA))
    with pytest.raises(ValueError, match="naive"):
        duty_at(rota, [], datetime(2026, 11, 23, 10))
    with pytest.raises(ValueError, match="aware"):
        Override(ADA, "primary", datetime(2026, 11, 23, 10), utc(2026, 11, 23, 12))


# --- Next opening -------------------------------------------------------------------------------


def test_next_opening_is_now_in_hours_and_monday_morning_over_a_weekend(example: Rota) -> None:
    tuesday = local(2026, 11, 24, 9, 30)
    assert next_opening(example, tuesday) == utc(2026, 11, 24, 9, 30)
    assert next_opening(example, utc(2026, 11, 27, 18)) == utc(2026, 11, 30, 8)
    assert next_opening(example, utc(2026, 11, 28, 3)) == utc(2026, 11, 30, 8)


def test_next_opening_skips_the_christmas_closure(example: Rota) -> None:
    assert next_opening(example, utc(2026, 12, 23, 18)) == utc(2027, 1, 4, 8)
    assert next_opening(example, utc(2026, 12, 30, 10)) == utc(2027, 1, 4, 8)


# --- Gaps ---------------------------------------------------------------------------------------


def test_a_weekday_without_a_shift_is_a_gap() -> None:
    rota = make_rota(shift("Mon-Thu", "08:00", "18:00", ADA, BEN))
    gaps = find_gaps(rota, [], utc(2026, 11, 30), 7)
    assert gaps == [Gap(utc(2026, 12, 4, 8), utc(2026, 12, 4, 18), "no primary on duty")]


def test_a_gap_is_closed_by_an_override_and_ignored_on_closure_days() -> None:
    rota = make_rota(shift("Mon-Thu", "08:00", "18:00", ADA), closures="[2026-12-04]")
    assert find_gaps(rota, [], utc(2026, 11, 30), 7) == []
    rota = make_rota(shift("Mon-Thu", "08:00", "18:00", ADA))
    cover = Override(BEN, "primary", utc(2026, 12, 4, 8), utc(2026, 12, 4, 12))
    gaps = find_gaps(rota, [cover], utc(2026, 12, 4, 7, 50), 1)
    assert gaps == [Gap(utc(2026, 12, 4, 12), utc(2026, 12, 4, 18), "no primary on duty")]


def test_an_unreachable_primary_is_a_gap_merged_across_days(example: Rota) -> None:
    gaps = find_gaps(example, [], utc(2026, 11, 30), 7, reachable=lambda email: email != LUCY)
    reason = f"primary {LUCY} is not reachable (no linked chat identity)"
    assert gaps == [
        Gap(utc(2026, 12, 2, 8), utc(2026, 12, 2, 18), reason),
        Gap(utc(2026, 12, 3, 8), utc(2026, 12, 3, 18), reason),
    ]
    lunch = make_rota(
        shift("Mon", "08:00", "12:00", ADA),
        shift("Mon", "12:00", "18:00", ADA, BEN),
        hours=('{days: Mon, from: "08:00", to: "18:00"}',),
    )
    merged = find_gaps(lunch, [], utc(2026, 11, 30, 10, 7), 1, reachable=lambda email: False)
    assert [(g.starts_at, g.ends_at) for g in merged] == [
        (utc(2026, 11, 30, 10, 7), utc(2026, 11, 30, 18))
    ]


# --- File errors --------------------------------------------------------------------------------

GOOD = f"""\
timezone: Europe/London
fallback: {DEE}
hotline_hours:
  - {WEEKDAYS}
pattern:
  - {shift("Mon-Wed", "08:00", "18:00", ADA)}
  - {shift("Thu-Fri", "08:00", "18:00", BEN)}
closures:
  - 2026-12-25
"""


def broken(line: int, text: str) -> list[str]:
    lines = GOOD.splitlines()
    lines[line - 1] = text
    with pytest.raises(DataError) as caught:
        parse_rota_text("\n".join(lines), "rota.yaml")
    return caught.value.problems


def test_the_good_file_parses_even_with_unquoted_times() -> None:
    rota = parse_rota_text(GOOD.replace('"', ""), "rota.yaml")  # YAML 1.1 reads 18:00 as 1080
    assert rota.pattern[0].span.end.hour == 18 and len(rota.closures) == 1


@pytest.mark.parametrize(
    ("line", "text", "expected"),
    [
        (1, "timezone: Europe/Londres", "rota.yaml:1: timezone: unknown timezone 'Europe/Londres'"),
        (2, "fallback:", "rota.yaml:2: fallback: missing"),
        (
            4,
            '  - {days: Mon-Funday, from: "08:00", to: "18:00"}',
            "rota.yaml:4: hotline_hours.days: unknown day 'Funday'",
        ),
        (
            4,
            '  - {days: Mon-Fri, from: "8am", to: "18:00"}',
            "rota.yaml:4: hotline_hours.from: '8am' is not a time",
        ),
        (
            7,
            f"  - {shift('Thu-Fri', '18:00', '08:00', BEN)}",
            "rota.yaml:7: pattern.from: 18:00 is not before to 08:00",
        ),
        (
            7,
            f"  - {shift('Wed-Fri', '08:00', '18:00', BEN)}",
            "rota.yaml:7: pattern: Wed-Fri 08:00-18:00 overlaps the shift Mon-Wed 08:00-18:00 on line 6",
        ),
        (
            7,
            f"  - {shift('Thu-Fri', '08:00', '18:00', 'ben')}",
            "rota.yaml:7: pattern.primary: 'ben' is not an email address",
        ),
        (9, "  - 2026-02-30", "rota.yaml:9: closures.date: '2026-02-30' is not a date"),
    ],
)
def test_a_problem_names_its_line_and_field(line: int, text: str, expected: str) -> None:
    problems = broken(line, text)
    assert len(problems) == 1 and problems[0].startswith(expected), problems


def test_every_problem_is_reported_at_once_in_file_order() -> None:
    text = GOOD.replace("Europe/London", "Mars/Olympus").replace("Mon-Wed", "Mon-Funday")
    text = text.replace("2026-12-25", "{from: 2027-01-02, to: 2027-01-01}") + "colour: red\n"
    with pytest.raises(DataError) as caught:
        parse_rota_text(text, "rota.yaml")
    assert [p.split(": ")[0:2] for p in caught.value.problems] == [
        ["rota.yaml:1", "timezone"],
        ["rota.yaml:6", "pattern.days"],
        ["rota.yaml:9", "closures.to"],
        ["rota.yaml:10", "colour"],
    ]


def test_a_missing_file_and_bad_yaml_are_data_errors() -> None:
    with pytest.raises(DataError, match="no such file"):
        parse_rota(DATA / "example" / "no-such-rota.yaml")
    with pytest.raises(DataError, match=r"rota.yaml:2: bad YAML: mapping values are not allowed"):
        parse_rota_text("timezone: UTC\nfallback: a: b\n", "rota.yaml")


# --- Clock changes (Europe/London: 2027-03-28 01:00 -> 02:00, 2026-10-25 02:00 -> 01:00) -----


def test_local_times_on_the_march_change_map_to_the_right_instants() -> None:
    rota = make_rota(
        shift("Sun", "00:00", "02:00", ADA),
        shift("Sun", "02:00", "24:00", BEN),
        hours=(ALL_SUNDAY,),
    )
    early = duty_at(rota, [], local(2027, 3, 28, 0, 30))
    assert (early.at, early.primary) == (utc(2027, 3, 28, 0, 30), ADA)
    # 01:30 never shows on the clocks; Python reads it with the offset from before the jump (GMT),
    # which is the instant the clocks read 02:30 BST, so it belongs to the later shift.
    skipped = duty_at(rota, [], local(2027, 3, 28, 1, 30))
    assert (skipped.at, skipped.primary) == (utc(2027, 3, 28, 1, 30), BEN)
    assert duty_at(rota, [], utc(2027, 3, 28, 0, 59)).primary == ADA
    assert duty_at(rota, [], utc(2027, 3, 28, 1)).primary == BEN


def test_local_times_on_the_october_change_map_to_the_right_instants() -> None:
    rota = make_rota(
        shift("Sun", "00:00", "01:00", BEN),
        shift("Sun", "01:00", "02:00", ADA),
        shift("Sun", "02:00", "24:00", BEN),
        hours=(ALL_SUNDAY,),
    )
    early = duty_at(rota, [], local(2026, 10, 25, 0, 30))
    assert (early.at, early.primary) == (utc(2026, 10, 24, 23, 30), BEN)
    first = duty_at(rota, [], local(2026, 10, 25, 1, 30, fold=0))  # BST
    second = duty_at(rota, [], local(2026, 10, 25, 1, 30, fold=1))  # GMT, an hour later
    assert (first.at, first.primary, first.in_hours) == (utc(2026, 10, 25, 0, 30), ADA, True)
    assert (second.at, second.primary, second.in_hours) == (utc(2026, 10, 25, 1, 30), ADA, True)
    assert duty_at(rota, [], utc(2026, 10, 25, 2)).primary == BEN


@pytest.mark.parametrize(
    ("sunday", "hours"),
    [(date(2027, 3, 28), 23), (date(2026, 10, 25), 25), (date(2026, 11, 29), 24)],
)
def test_a_sunday_all_day_shift_lasts_as_long_as_the_day(sunday: date, hours: int) -> None:
    rota = make_rota(shift("Sun", "00:00", "24:00", ADA), hours=(ALL_SUNDAY,))
    start = datetime.combine(sunday, time(), UTC) - timedelta(hours=3)
    samples = [start + timedelta(minutes=15 * n) for n in range(4 * 30)]
    covered = [t for t in samples if duty_at(rota, [], t).primary == ADA]
    assert len(covered) == 4 * hours
    assert covered[0] == datetime.combine(sunday, time(), LONDON).astimezone(UTC)
    # With nobody on the rota, the whole Sunday is one gap of the same length.
    empty = make_rota(shift("Mon", "08:00", "18:00", ADA), hours=(ALL_SUNDAY,))
    (gap,) = find_gaps(empty, [], start, 2)
    assert gap.ends_at - gap.starts_at == timedelta(hours=hours)


def test_next_opening_across_the_march_change_is_0700_utc() -> None:
    rota = make_rota(shift("Mon-Fri", "08:00", "18:00", ADA))
    assert next_opening(rota, utc(2027, 3, 26, 18)) == utc(2027, 3, 29, 7)  # 08:00 BST


def test_next_opening_in_the_example_skips_easter_across_the_march_change(example: Rota) -> None:
    assert next_opening(example, utc(2027, 3, 25, 18)) == utc(2027, 3, 30, 7)


def test_hours_starting_inside_a_skipped_or_repeated_hour_open_on_time() -> None:
    skipped = make_rota(
        shift("Mon", "08:00", "18:00", ADA), hours=('{days: Sun, from: "01:30", to: "03:00"}',)
    )
    # 01:30 never happens on 2027-03-28: the hotline opens when the clocks jump to 02:00 BST.
    assert next_opening(skipped, utc(2027, 3, 27, 12)) == utc(2027, 3, 28, 1)
    repeated = make_rota(
        shift("Mon", "08:00", "18:00", ADA), hours=('{days: Sun, from: "01:30", to: "01:45"}',)
    )
    # At 01:50 BST the first 01:30-01:45 is over; the second comes round at 01:30 GMT.
    assert next_opening(repeated, utc(2026, 10, 25, 0, 50)) == utc(2026, 10, 25, 1, 30)
