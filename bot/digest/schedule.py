"""When the digest goes: a crontab expression in the partnership's timezone (DIGEST_CRON).

The trigger arithmetic is APScheduler 3's `CronTrigger`, which works in local wall-clock time, so
"30 7 * * mon" is 07:30 in London both sides of the March and October clock changes. Everything
here except `add_digest_job` is pure and takes the moment as an argument, so tests drive it with
a controlled clock.

APScheduler's misfire grace only helps a scheduler that was running (its in-memory job store
forgets a missed run on restart), so `add_digest_job` also runs the job at start-up and the job
asks `due_fire_time`: a process that comes back at 09:00 on Monday sends the 07:30 digest at
once. The run row, unique per (kind, week), makes that safe when another process already did.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from bot.digest.runs import DigestConfig

JOB_ID = "weekly-digest"


def check_cron(expr: str) -> None:
    """Raise ValueError with a readable reason when `expr` is not a usable crontab line."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(
            f"{expr!r} needs five fields: minute hour day month weekday, e.g. '30 7 * * mon'"
        )
    if re.search(r"\d", fields[4]):
        # APScheduler 3 reads 0 as Monday where crontab reads it as Sunday: refuse the ambiguity.
        raise ValueError(f"{expr!r}: write the weekday as a name (mon, tue, ...), not a number")
    try:
        CronTrigger.from_crontab(expr, timezone=ZoneInfo("UTC"))
    except ValueError as exc:
        raise ValueError(f"{expr!r} is not a crontab expression: {exc}") from None


def trigger(expr: str, tz: ZoneInfo) -> CronTrigger:
    check_cron(expr)
    return CronTrigger.from_crontab(expr, timezone=tz)


def week_of(moment: datetime, tz: ZoneInfo) -> date:
    """The Monday (local date) of the week `moment` falls in: a run's identity."""
    local = moment.astimezone(tz).date()
    return local - timedelta(days=local.weekday())


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def scheduled_time(week: date, cron: CronTrigger, tz: ZoneInfo) -> datetime:
    """When the digest of `week` is due: the first fire time in that week (Monday 00:00 local
    onwards), or Monday 00:00 if the expression never fires that week."""
    start = datetime.combine(monday(week), time(0), tzinfo=tz)
    fire: datetime | None = cron.get_next_fire_time(None, start)
    if fire is None or fire >= start + timedelta(days=7):
        return start
    return fire


def due_fire_time(cron: CronTrigger, now: datetime, grace: timedelta) -> datetime | None:
    """The scheduled time `now` belongs to, if one passed at most `grace` ago: the digest is due."""
    fire: datetime | None = cron.get_next_fire_time(None, now - grace)
    return fire if fire is not None and fire <= now else None


def due_week(cron: CronTrigger, tz: ZoneInfo, now: datetime, grace: timedelta) -> date:
    """The week a run started now belongs to: that of the scheduled time it is catching up on
    (with a Sunday 23:00 schedule, a late start at 01:00 on Monday is still Sunday's week)."""
    return week_of(due_fire_time(cron, now, grace) or now, tz)


def fire_times(cron: CronTrigger, start: datetime, count: int) -> list[datetime]:
    """The next `count` fire times from `start`, as the scheduler would compute them."""
    times: list[datetime] = []
    previous: datetime | None = None
    now = start
    for _ in range(count):
        fire: datetime | None = cron.get_next_fire_time(previous, now)
        if fire is None:
            break
        times.append(fire)
        previous, now = fire, fire
    return times


def add_digest_job(
    scheduler: AsyncIOScheduler,
    job: Callable[[], Awaitable[object]],
    config: DigestConfig,
    now: datetime | None = None,
) -> None:
    """Add the weekly job on DIGEST_CRON, and run it once at start-up as well.

    The start-up run is how a process that was down at 07:30 still sends that morning (the job,
    `weekly.make_weekly_job`, asks `due_fire_time` whether a scheduled time passed within the
    grace period) and how a run interrupted by a restart is resumed. The job is idempotent per
    week, so running it when nothing is due costs one query.
    """
    tz, grace = config.tz, config.grace
    scheduler.add_job(
        job,
        config.cron,
        id=JOB_ID,
        name="weekly digest",
        replace_existing=True,
        max_instances=1,
        coalesce=True,  # after a long outage: one digest, not one per missed week
        misfire_grace_time=max(1, int(grace.total_seconds())),  # None would mean no limit
        next_run_time=now or datetime.now(tz),
    )
