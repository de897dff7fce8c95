"""The retention policy applied on both databases with a controlled clock (`now` passed in):
each kind at its boundary a day before and after, what redaction leaves (the rows, the counts of
the reports) and takes (every copy of the member's words), legal holds, open requests, the dry
run, and the nightly run claimed once per day across processes."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.background import Background
from bot.directory.audit import Actor
from bot.escalation.policy import EscalationConfig
from bot.escalation.reports import report_between
from bot.privacy.holds import hold, release
from bot.privacy.policy import DEFAULTS
from bot.privacy.redaction import marker
from bot.privacy.retention import Summary, apply, plan, run_for_day
from bot.store import Database
from bot.store.models import (
    AnswerFeedback,
    AuditEntry,
    HotlineRequest,
    OutboundMessage,
    OutboxStatus,
    ProcessedUpdate,
    QuestionLog,
    RequestKind,
    RetentionRun,
)
from tests.factories import make_person
from tests.privacy.retention_rows import (
    NOW,
    Made,
    add_message,
    add_question,
    add_request,
    days_ago,
    texts_of,
)

LONDON = ZoneInfo("Europe/London")
MARKER = marker(NOW.date())


async def redacted(db: Database, made: Made) -> bool:
    async with db.session() as session:
        request = await session.get_one(HotlineRequest, made.id)
        return request.redacted_at is not None


@pytest.mark.parametrize(
    ("kind", "category", "days"),
    [
        (RequestKind.SUPPORT, None, 365),
        (RequestKind.EMERGENCY, "safeguarding", 6 * 365),
        (RequestKind.EMERGENCY, "allegation", 6 * 365),
        (RequestKind.EMERGENCY, "premises", 2 * 365),
        (RequestKind.EMERGENCY, None, 2 * 365),
    ],
)
async def test_a_resolved_request_is_redacted_a_day_after_its_period_not_a_day_before(
    db: Database, kind: RequestKind, category: str | None, days: int
) -> None:
    member = await make_person(db)
    after = await add_request(db, member, resolved_days_ago=days + 1, kind=kind, category=category)
    before = await add_request(db, member, resolved_days_ago=days - 1, kind=kind, category=category)
    exactly = await add_request(db, member, resolved_days_ago=days, kind=kind, category=category)

    done = await apply(db, DEFAULTS, NOW)

    assert await redacted(db, after)
    assert await texts_of(db, after) == []  # request, note, timeline, pings and question
    assert not await redacted(db, before)
    assert not await redacted(db, exactly)  # kept its full period: not yet
    # the ping of each was settled more than 30 days ago: redacted under the outbox's period
    assert len(await texts_of(db, before)) == 6
    assert sum(done.counts[k] for k in done.references) == 1
    assert [r for refs in done.references.values() for r in refs] == [after.reference]


async def test_redaction_keeps_the_row_and_writes_the_dated_marker(db: Database) -> None:
    member = await make_person(db)
    made = await add_request(
        db, member, resolved_days_ago=800, kind=RequestKind.EMERGENCY, category="media"
    )
    await apply(db, DEFAULTS, NOW)
    async with db.session() as session:
        request = await session.get_one(HotlineRequest, made.id)
        question = await session.get_one(QuestionLog, request.question_id)
        assert (request.text, request.resolution_note, question.text) == (MARKER,) * 3
        assert request.category == "media"
        assert request.school_id == member.school_id
        assert request.resolved_at == days_ago(800)
        assert request.redacted_at == NOW
        assert question.redacted_at == NOW


async def test_the_reports_count_the_same_before_and_after_redaction(db: Database) -> None:
    member = await make_person(db)
    for days, kind, category in [
        (400, RequestKind.SUPPORT, None),
        (800, RequestKind.EMERGENCY, "premises"),
        (800, RequestKind.EMERGENCY, "media"),
        (30, RequestKind.EMERGENCY, "safeguarding"),
    ]:
        await add_request(db, member, resolved_days_ago=days, kind=kind, category=category)
    start, end = days_ago(1000), NOW

    async with db.session() as session:
        before, _ = await report_between(session, start, end)
    done = await apply(db, DEFAULTS, NOW)
    async with db.session() as session:
        after, _ = await report_between(session, start, end)

    assert done.counts["support_requests"] == 1
    assert done.counts["emergencies"] == 2
    assert before.total == 4
    assert before.reached == {2: 4}  # the level-2 pings still count
    assert after == before


async def test_an_open_or_acknowledged_request_is_never_touched(db: Database) -> None:
    member = await make_person(db)
    waiting = await add_request(db, member, resolved_days_ago=None, acknowledged=False)
    taken = await add_request(db, member, resolved_days_ago=None, acknowledged=True)
    # opened ten days ago: make them years old
    async with db.session() as session:
        for made in (waiting, taken):
            request = await session.get_one(HotlineRequest, made.id)
            request.created_at = days_ago(3000)
    done = await apply(db, DEFAULTS, NOW + timedelta(days=4000))
    assert len(await texts_of(db, waiting)) == 5  # no resolved event: the rest all kept
    assert len(await texts_of(db, taken)) == 5
    assert done.total == 0


async def test_a_held_request_is_never_redacted_and_is_after_release(db: Database) -> None:
    member = await make_person(db)
    made = await add_request(db, member, resolved_days_ago=500)
    async with db.session() as session:
        await hold(session, made.reference, "claim by a parent", Actor(None, None, "cli"), NOW)

    assert (await plan_of(db)).total == 0
    done = await apply(db, DEFAULTS, NOW)
    assert done.total == 0
    assert len(await texts_of(db, made)) == 7  # its pings and its question too

    async with db.session() as session:
        await release(session, made.reference, Actor(None, None, "cli"), NOW)
    done = await apply(db, DEFAULTS, NOW)
    assert done.references["support_requests"] == [made.reference]
    assert await texts_of(db, made) == []


async def plan_of(db: Database) -> Summary:
    async with db.session() as session:
        return await plan(session, DEFAULTS, NOW)


async def test_the_dry_run_finds_what_apply_does_and_changes_nothing(db: Database) -> None:
    member = await make_person(db)
    old = await add_request(db, member, resolved_days_ago=400)
    await add_request(db, member, resolved_days_ago=100)
    await add_question(db, member, 91)
    await add_question(db, member, 89)
    await add_message(db, status=OutboxStatus.SENT, sent_days_ago=31)

    async with db.session() as session:
        due = await plan(session, DEFAULTS, NOW)
    async with db.session() as session:
        again = await plan(session, DEFAULTS, NOW)
    assert len(await texts_of(db, old)) == 7
    assert again.counts == due.counts  # the first plan changed nothing
    assert due.counts["support_requests"] == 1
    assert due.references["support_requests"] == [old.reference]
    assert due.counts["questions"] == 1
    # the digest, and the pings of both requests (settled over 30 days ago, requests resolved)
    assert due.counts["outbox"] == 3

    done = await apply(db, DEFAULTS, NOW)
    assert done.counts == due.counts
    assert done.references == due.references
    async with db.session() as session:
        assert (await plan(session, DEFAULTS, NOW)).total == 0


async def test_questions_at_their_boundary_and_feedback_kept(db: Database) -> None:
    member = await make_person(db)
    old = await add_question(db, member, 91)
    young = await add_question(db, member, 89)
    async with db.session() as session:
        session.add(
            AnswerFeedback(question_id=old, person_id=member.id, faq_id="join", helpful=True)
        )
    # a question that opened a request stays while its request does (resolved 100 days ago)
    kept = await add_request(db, member, resolved_days_ago=100)

    done = await apply(db, DEFAULTS, NOW)

    assert done.counts["questions"] == 1
    async with db.session() as session:
        assert (await session.get_one(QuestionLog, old)).text == MARKER
        assert (await session.get_one(QuestionLog, old)).band.value == "answer"
        assert "asked 89 days ago" in (await session.get_one(QuestionLog, young)).text
        assert await session.scalar(select(func.count(AnswerFeedback.id))) == 1
    assert len(await texts_of(db, kept)) == 6


async def test_settled_outbox_rows_are_redacted_after_30_days_and_kept(db: Database) -> None:
    sent_after = await add_message(db, status=OutboxStatus.SENT, sent_days_ago=31)
    sent_before = await add_message(db, status=OutboxStatus.SENT, sent_days_ago=29)
    refused = await add_message(db, status=OutboxStatus.UNREACHABLE, created_days_ago=31)
    cancelled_young = await add_message(db, status=OutboxStatus.CANCELLED, created_days_ago=29)
    waiting = await add_message(db, status=OutboxStatus.PENDING, created_days_ago=90)

    done = await apply(db, DEFAULTS, NOW)

    assert done.counts["outbox"] == 2
    async with db.session() as session:
        rows = {m.id: m for m in (await session.scalars(select(OutboundMessage))).all()}
    assert len(rows) == 5  # digest status counts them: none deleted
    assert rows[sent_after].text == rows[refused].text == MARKER
    assert rows[refused].status is OutboxStatus.UNREACHABLE
    for kept in (sent_before, cancelled_young, waiting):
        assert rows[kept].text == "the weekly digest, addressed to Someone"


async def test_processed_updates_and_the_audit_log_are_deleted_after_their_days(
    db: Database,
) -> None:
    async with db.session() as session:
        session.add_all(
            [
                ProcessedUpdate(
                    channel="telegram", update_id="1", received_at=NOW - timedelta(hours=25)
                ),
                ProcessedUpdate(
                    channel="telegram", update_id="2", received_at=NOW - timedelta(hours=23)
                ),
                AuditEntry(
                    action="view", subject="HL-2020-0001", at=days_ago(6 * 365 + 1), via="cli"
                ),
                AuditEntry(
                    action="view", subject="HL-2020-0002", at=days_ago(6 * 365 - 1), via="cli"
                ),
            ]
        )
    done = await apply(db, DEFAULTS, NOW)
    assert done.counts["processed_updates"] == 1
    assert done.counts["audit_log"] == 1
    async with db.session() as session:
        assert list(await session.scalars(select(ProcessedUpdate.update_id))) == ["2"]
        assert list(await session.scalars(select(AuditEntry.subject))) == ["HL-2020-0002"]


async def test_apply_works_through_every_batch(db: Database) -> None:
    member = await make_person(db)
    made = [await add_request(db, member, resolved_days_ago=400) for _ in range(7)]
    done = await apply(db, DEFAULTS, NOW, batch=3)
    assert done.counts["support_requests"] == 7
    assert sorted(done.references["support_requests"]) == sorted(m.reference for m in made)
    for m in made:
        assert await texts_of(db, m) == []


async def test_the_nightly_run_is_claimed_once_per_day_across_processes(
    db_url: str, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """Two processes at 02:30: one claims the day and applies the policy, the other skips
    without an error. Two databases' connections stand for the two processes."""
    member = await make_person(db)
    made = await add_request(db, member, resolved_days_ago=400)
    other = Database(db_url)
    caplog.set_level(logging.INFO)
    try:
        results = await asyncio.gather(
            run_for_day(db, DEFAULTS, NOW, LONDON), run_for_day(other, DEFAULTS, NOW, LONDON)
        )
    finally:
        await other.dispose()

    ran = [r for r in results if r is not None]
    assert len(ran) == 1
    assert ran[0].references["support_requests"] == [made.reference]
    assert not [r for r in caplog.records if r.levelno > logging.INFO]
    async with db.session() as session:
        runs = list(await session.scalars(select(RetentionRun)))
        audit = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "retention"))
        )
    assert [(r.day, r.finished_at) for r in runs] == [(NOW.date(), NOW)]
    assert json.loads(runs[0].summary)["support_requests"] == 1
    assert made.words not in runs[0].summary
    assert [(a.via, a.subject, a.actor_id) for a in audit] == [("system", "2026-11-29", None)]
    # the same day later on: already done; the next day: runs (finding nothing new)
    assert await run_for_day(db, DEFAULTS, NOW + timedelta(hours=5), LONDON) is None
    tomorrow = await run_for_day(db, DEFAULTS, NOW + timedelta(days=1), LONDON)
    assert tomorrow is not None and tomorrow.total == 0


async def test_the_background_job_reads_the_policy_file_and_runs_once_a_day(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    member = await make_person(db)
    made = await add_request(db, member, resolved_days_ago=200)  # inside the default year
    (tmp_path / "retention.yaml").write_text("support_requests: 180\n")
    loops = Background(
        db,
        EscalationConfig(),
        {},
        sweep_interval_s=60,
        clock=lambda: NOW,
        retention=(tmp_path, LONDON),
    )
    done = await loops.retention_now()
    assert done is not None and done.references["support_requests"] == [made.reference]
    assert await loops.retention_now() is None  # today's run is done

    (tmp_path / "retention.yaml").write_text("support_requests: soon\n")
    tomorrow = Background(
        db,
        EscalationConfig(),
        {},
        sweep_interval_s=60,
        clock=lambda: NOW + timedelta(days=1),
        retention=(tmp_path, LONDON),
    )
    assert await tomorrow.retention_now() is None
    assert "support_requests: 'soon' is not a whole number of days" in caplog.text
    async with db.session() as session:
        assert await session.scalar(select(func.count(RetentionRun.id))) == 1  # not claimed


async def test_the_job_is_scheduled_at_half_past_two_in_the_partnerships_time(
    db: Database, tmp_path: Path
) -> None:
    loops = Background(
        db, EscalationConfig(), {}, sweep_interval_s=60, retention=(tmp_path, LONDON)
    )
    loops.start()
    try:
        assert loops._scheduler is not None
        job = loops._scheduler.get_job("retention")
        local = job.next_run_time.astimezone(LONDON)
        assert (local.hour, local.minute) == (2, 30)
    finally:
        await loops.stop()


async def test_the_hourly_clean_up_of_update_ids_follows_the_policy_file(
    db: Database, tmp_path: Path
) -> None:
    async with db.session() as session:
        for hours in (23, 47, 49):
            session.add(
                ProcessedUpdate(
                    channel="telegram",
                    update_id=str(hours),
                    received_at=NOW - timedelta(hours=hours),
                )
            )
    (tmp_path / "retention.yaml").write_text("processed_updates: 2\n")
    loops = Background(
        db,
        EscalationConfig(),
        {},
        sweep_interval_s=60,
        clock=lambda: NOW,
        retention=(tmp_path, LONDON),
    )
    await loops.forget_old_deliveries()
    async with db.session() as session:
        assert sorted(await session.scalars(select(ProcessedUpdate.update_id))) == ["23", "47"]
    (tmp_path / "retention.yaml").write_text("processed_updates: -1\n")  # refused: the default
    await loops.forget_old_deliveries()
    async with db.session() as session:
        assert list(await session.scalars(select(ProcessedUpdate.update_id))) == ["23"]
