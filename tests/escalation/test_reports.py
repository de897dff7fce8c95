"""The governors' figures from real requests: counts, times to acknowledge and resolve, levels."""

from datetime import timedelta

from sqlalchemy import select, update

from bot.digest.gather import staff_week
from bot.escalation.reports import percentiles, report_between
from bot.store.models import HotlineRequest, Identity
from tests.escalation.conftest import Partnership


def test_percentiles_of_nothing_and_of_a_few() -> None:
    assert percentiles([]) == (None, None)
    assert percentiles([4.0, 1.0, 3.0, 2.0]) == (2.5, 4.0)


async def test_report_counts_times_and_levels(p: Partnership) -> None:
    start = p.clock.now
    await p.say(p.member, "/emergency burst pipe flooding the hall")
    async with p.db.session() as s:
        first = (await s.scalars(select(HotlineRequest))).one()
    p.clock.advance(minutes=4)
    await p.say(p.primary, f"/ack {first.reference}")
    p.clock.advance(minutes=26)
    await p.say(p.primary, f"/resolve {first.reference} plumber came")
    other = await p.make_member("Olu Other")
    await p.say(other, "/emergency a journalist is at the gates asking about the incident")
    p.clock.advance(minutes=11)
    await p.sweep()  # the second request reaches level 2 unacknowledged
    async with p.db.session() as s:
        report, _ = await report_between(s, start, p.clock.now + timedelta(seconds=1))
    assert report.total == 2
    assert report.by_category == {"premises": 1, "media": 1}
    assert report.ack_minutes == (4.0, 4.0)
    assert report.resolve_minutes == (30.0, 30.0)
    assert report.reached == {2: 1}


async def test_a_skipped_level_is_not_counted_as_reached(p: Partnership) -> None:
    async with p.db.session() as s:
        await s.execute(
            update(Identity).where(Identity.person_id == p.backup.id).values(reachable=False)
        )
    start = p.clock.now
    await p.say(p.member, "/emergency burst pipe flooding the hall")
    p.clock.advance(minutes=11)
    await p.sweep()  # level 2 has nobody reachable: skipped, the fallback is pinged
    async with p.db.session() as s:
        request = (await s.scalars(select(HotlineRequest))).one()
        end = p.clock.now + timedelta(seconds=1)
        report, _ = await report_between(s, start, end)
        week = await staff_week(s, p.deps.kb, start, end)
    assert request.level == 3
    assert report.reached == {3: 1}
    assert week.report.reached == {3: 1}
