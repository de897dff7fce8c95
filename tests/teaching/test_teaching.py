"""The teaching core against real databases and real knowledge bases: conflicts, the export,
concurrent teachers, and the live holder's cost on the message path."""

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml
from sqlalchemy import event

from bot.conversation.dispatcher import Dispatcher, DispatcherConfig
from bot.core.types import IncomingMessage
from bot.escalation.urgency import UrgencyDetector
from bot.knowledge import KnowledgeBase, build_index
from bot.knowledge.language import load_lexicon
from bot.store import Database
from bot.teaching.conflicts import find_conflicts
from bot.teaching.learned import Learned, read_learned, version_of
from bot.teaching.live import LiveKnowledge
from bot.teaching.reports import export_yaml
from bot.teaching.teach import Status, teach
from tests.conftest import DATA, make_deps
from tests.factories import make_entry, make_learned, make_person


@pytest.fixture
def rooms() -> KnowledgeBase:
    entries = [
        make_entry("course-booking", "How do I book a place on a course?"),
        make_entry(
            "room-booking",
            "How do I book a meeting room?",
            alternatives=("reserve a room for a meeting",),
        ),
        make_entry("lunch", "What is for lunch today?"),
    ]
    return KnowledgeBase(build_index(entries, load_lexicon(DATA / "language")))


def test_a_phrasing_that_moves_another_entrys_own_phrasing_is_a_conflict(
    rooms: KnowledgeBase,
) -> None:
    assert rooms.match("How do I book a meeting room?").answer_id == "room-booking"
    clashing = "how do i book a meeting room please"
    after = rooms.with_phrasings({"course-booking": [clashing]})

    [conflict] = find_conflicts(rooms, after, "course-booking", clashing)

    assert (conflict.text, conflict.owner) == ("How do I book a meeting room?", "room-booking")
    assert conflict.before.answer_id == "room-booking"
    assert conflict.describe(done=False).startswith(
        '"How do I book a meeting room?" (a phrasing of room-booking) would '
    )
    assert conflict.describe(done=False).endswith("instead of room-booking")
    harmless = "what's on the menu"
    assert (
        find_conflicts(rooms, rooms.with_phrasings({"lunch": [harmless]}), "lunch", harmless) == ()
    )


def test_the_export_names_entries_that_left_the_files(rooms: KnowledgeBase) -> None:
    rows = [
        Learned(1, "lunch", "what's on the menu"),
        Learned(2, "gone-entry", "an old wording"),
        Learned(3, "room-booking", "Reserve a room for a meeting"),  # in the files already
    ]
    export = export_yaml(rows, rooms, datetime(2026, 12, 7, 9, 30, tzinfo=UTC))
    assert (export.phrasings, export.entries, export.already_in_files) == (2, 2, 1)
    assert "# not in data/faq/ any more" in export.text
    assert yaml.safe_load(export.text) == [
        {"id": "lunch", "alternatives": ["what's on the menu"]},
        {"id": "gone-entry", "alternatives": ["an old wording"]},
    ]
    assert yaml.safe_load(export_yaml([], rooms, datetime.now(UTC)).text) == []


async def test_two_staff_teaching_the_same_wording_at_once_store_it_once(
    db: Database, rooms: KnowledgeBase
) -> None:
    live = LiveKnowledge(rooms)

    async def one() -> Status:
        async with db.session() as session:
            taught = await teach(session, live, "lunch", "what's on the menu", max_chars=4000)
            return taught.status

    outcomes = await asyncio.gather(one(), one(), one())

    assert sorted(outcomes) == [Status.KNOWN, Status.KNOWN, Status.TAUGHT]
    async with db.session() as session:
        rows = await read_learned(session)
    assert [(r.entry_id, r.text) for r in rows] == [("lunch", "what's on the menu")]


@pytest.fixture
def statements(db: Database) -> Iterator[list[str]]:
    """Every SQL statement the engine runs from now on."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    yield seen
    event.remove(db.engine.sync_engine, "before_cursor_execute", record)


class Ticks:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


async def test_the_learned_table_is_looked_at_once_per_interval_not_per_message(
    db: Database, kb: KnowledgeBase, urgency: UrgencyDetector, statements: list[str]
) -> None:
    ticks = Ticks()
    live = LiveKnowledge(kb, refresh_s=5.0, clock=ticks)
    dispatcher = Dispatcher(
        db,
        replace(make_deps(kb, urgency), kb=live),
        DispatcherConfig(),
    )
    member = await make_person(db)
    statements.clear()

    def looks() -> int:
        return sum(s.startswith("SELECT") and "learned_phrasings" in s for s in statements)

    for _ in range(5):
        ticks.now += 0.5
        await dispatcher.handle(
            IncomingMessage("console", member.email, member.email, text="how do I book a course")
        )
    assert looks() == 1  # the first message looked; the next four within 5 s did not
    await make_learned(db, "cpd-book", "sign us up for training", key="k" * 64)
    ticks.now += 5.0
    await dispatcher.handle(
        IncomingMessage("console", member.email, member.email, text="sign us up for training")
    )
    assert looks() == 3  # the version, then (changed) the rows
    async with db.session() as session:
        rows = await read_learned(session)
    assert live.version == version_of(rows)
    assert live.match("sign us up for training").answer_id == "cpd-book"
