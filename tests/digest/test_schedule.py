"""The schedule: 07:30 London every Monday, once, across the clock changes; catching up a
missed run within the grace period; the job registered with coalescing and a grace time."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.app import digest_config
from bot.config import load_settings
from bot.core.errors import ConfigError
from bot.digest.schedule import (
    JOB_ID,
    add_digest_job,
    check_cron,
    due_fire_time,
    due_week,
    fire_times,
    scheduled_time,
    trigger,
    week_of,
)
from tests.conftest import DATA

LONDON = ZoneInfo("Europe/London")
CRON = trigger("30 7 * * mon", LONDON)
GRACE = timedelta(hours=5)


@pytest.mark.parametrize(
    ("start", "change"),
    [
        (datetime(2027, 3, 15, tzinfo=UTC), date(2027, 3, 28)),  # BST starts Sun 28 Mar 2027
        (datetime(2026, 10, 12, tzinfo=UTC), date(2026, 10, 25)),  # BST ends Sun 25 Oct 2026
    ],
)
def test_fires_at_0730_local_once_a_week_across_the_clock_change(
    start: datetime, change: date
) -> None:
    fires = fire_times(CRON, start, 4)
    local = [f.astimezone(LONDON) for f in fires]
    assert [(t.weekday(), t.hour, t.minute) for t in local] == [(0, 7, 30)] * 4
    weeks = [week_of(f, LONDON) for f in fires]
    assert len(set(weeks)) == 4 and weeks == sorted(weeks)
    assert all(b - a == timedelta(days=7) for a, b in itertools.pairwise(weeks))
    # The UTC hour moves by one across the change: the digest follows the wall clock.
    before = [f for f in fires if f.date() < change]
    after = [f for f in fires if f.date() > change]
    utc_hours = ({f.astimezone(UTC).hour for f in before}, {f.astimezone(UTC).hour for f in after})
    assert before and after and len(utc_hours[0]) == len(utc_hours[1]) == 1
    assert utc_hours[0] != utc_hours[1]


def test_due_only_within_the_grace_period_after_a_scheduled_time() -> None:
    monday = datetime(2027, 3, 29, 7, 30, tzinfo=LONDON)  # the first Monday of summer time
    assert due_fire_time(CRON, monday - timedelta(minutes=1), GRACE) is None
    assert due_fire_time(CRON, monday, GRACE) == monday
    assert due_fire_time(CRON, monday + timedelta(hours=4), GRACE) == monday
    assert due_fire_time(CRON, monday + timedelta(hours=6), GRACE) is None
    assert due_week(CRON, LONDON, monday + timedelta(hours=1), GRACE) == date(2027, 3, 29)


def test_week_of_and_scheduled_time_use_the_local_date() -> None:
    # 23:30 UTC on Sunday 29 Mar 2027 is already Monday 00:30 in London.
    assert week_of(datetime(2027, 3, 28, 23, 30, tzinfo=UTC), LONDON) == date(2027, 3, 29)
    assert scheduled_time(date(2026, 12, 2), CRON, LONDON) == datetime(
        2026, 11, 30, 7, 30, tzinfo=LONDON
    )


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        ("30 7 * *", "five fields"),
        ("30 7 * * 1", "weekday as a name"),
        ("99 7 * * mon", "not a crontab"),
    ],
)
def test_bad_cron_is_refused_with_a_reason(expr: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_cron(expr)
    with pytest.raises(ConfigError, match="DIGEST_CRON"):
        load_settings(digest_cron=expr, data_dir=DATA)


async def test_job_is_added_with_coalescing_grace_and_a_start_up_run() -> None:
    settings = load_settings(data_dir=DATA, digest_misfire_grace_s=3 * 3600)
    scheduler = AsyncIOScheduler(timezone=UTC)
    calls: list[int] = []

    async def job() -> None:
        calls.append(1)

    now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    add_digest_job(scheduler, job, digest_config(settings), now=now)
    added = scheduler.get_job(JOB_ID)
    assert added is not None
    assert added.coalesce is True and added.misfire_grace_time == 3 * 3600
    assert added.max_instances == 1
    assert added.next_run_time == now  # runs at start-up; the job decides whether a week is due
    after = added.trigger.get_next_fire_time(None, now)
    assert after.astimezone(LONDON) == datetime(2026, 12, 7, 7, 30, tzinfo=LONDON)
