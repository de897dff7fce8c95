"""The weekly job on a controlled clock: nothing before 07:30, one run per kind and week at
07:30 (also in a clock-change week), a late start inside the grace period catches up, a later
one does not; and FAQ changes are tracked across reloads, with the first sync as a baseline."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

from bot.digest.faq_changes import sync_faq_versions
from bot.digest.weekly import make_weekly_job
from bot.knowledge import KnowledgeBase, build_index
from bot.knowledge.language import load_lexicon
from tests.conftest import DATA
from tests.digest.conftest import LONDON, Digests, member


async def test_the_job_runs_each_week_once_at_0730_local_time(d: Digests) -> None:
    head = await member(d.db)
    d.config = replace(d.config, send_empty=True)  # no example content in March: send anyway
    kicks: list[int] = []
    job = make_weekly_job(d.db, d.kb, d.config, d.clock, after_queued=lambda: kicks.append(1))

    d.clock.now = datetime(2027, 3, 22, 7, 29, tzinfo=LONDON)  # the Monday before BST starts
    assert await job() == []
    d.clock.now = datetime(2027, 3, 22, 7, 30, tzinfo=LONDON)
    assert {r.week for r in await job()} == {date(2027, 3, 22)}
    d.clock.now = datetime(2027, 3, 22, 9, 0, tzinfo=LONDON)  # a restart the same morning
    await job()
    d.clock.now = datetime(2027, 3, 29, 7, 30, tzinfo=LONDON)  # clocks went forward on Sunday
    assert {r.week for r in await job()} == {date(2027, 3, 29)}

    runs = await d.runs()
    assert sorted((r.week, r.kind.value) for r in runs) == [
        (date(2027, 3, 22), "member"),
        (date(2027, 3, 22), "staff"),
        (date(2027, 3, 29), "member"),
        (date(2027, 3, 29), "staff"),
    ]
    member_runs = [r for r in runs if r.kind.value == "member"]
    assert [r.queued for r in member_runs] == [1, 1]  # one queued delivery per week
    assert [r.as_of.astimezone(LONDON).time().isoformat() for r in member_runs] == ["07:30:00"] * 2
    assert kicks and head.id


async def test_a_process_down_at_0730_catches_up_within_the_grace_period_only(
    d: Digests,
) -> None:
    await member(d.db)
    read: list[KnowledgeBase] = []

    def current() -> KnowledgeBase:  # a process's knowledge base as its FAQ files change
        read.append(d.kb)
        return d.kb

    job = make_weekly_job(d.db, current, d.config, d.clock)
    d.clock.now = datetime(2026, 10, 26, 11, 0, tzinfo=LONDON)  # clocks went back on Sunday
    assert {r.week for r in await job()} == {date(2026, 10, 26)}
    assert len(read) == 1  # the knowledge base of the moment the job runs
    d.clock.now = datetime(2026, 11, 2, 13, 0, tzinfo=LONDON)  # 5.5 hours late: too late
    assert await job() == []
    assert {r.week for r in await d.runs()} == {date(2026, 10, 26)}


async def test_faq_changes_are_tracked_across_reloads_after_a_baseline(d: Digests) -> None:
    first = await sync_faq_versions(d.db, d.kb.index.entries, d.clock() - timedelta(days=30))
    assert first.baseline and (first.added, first.changed) == (0, 0)
    entries = list(d.kb.index.entries)
    entries[0] = replace(entries[0], answer=entries[0].answer + " Updated for 2027.")
    entries.append(replace(entries[1], id="brand-new-entry", question="Is there a new answer?"))
    edited = KnowledgeBase(build_index(entries, load_lexicon(DATA / "language")))
    changed = await sync_faq_versions(d.db, edited.index.entries, d.clock() - timedelta(days=2))
    assert (changed.baseline, changed.added, changed.changed) == (False, 1, 1)
    again = await sync_faq_versions(d.db, edited.index.entries, d.clock() - timedelta(days=1))
    assert (again.added, again.changed) == (0, 0)

    head = await member(d.db)
    d.kb = edited
    await d.run_week()
    text = d.inbox(head)[0]
    assert "New: Is there a new answer?" in text
    assert f"Updated: {entries[0].question[:60]}" in text
    assert text.count("\n• New: ") + text.count("\n• Updated: ") == 2
