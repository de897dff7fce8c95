"""The dispatcher against a real database and the real knowledge base."""

import asyncio
import re
import sqlite3
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from bot.conversation.dispatcher import Dispatcher, DispatcherConfig
from bot.core import texts
from bot.core.types import IncomingMessage, Reply
from bot.escalation.cues_file import load_detector
from bot.escalation.learned import load_urgency
from bot.knowledge import KnowledgeBase, MatchResult
from bot.knowledge.embedding import Embedder, default_model_dir
from bot.knowledge.language import load_lexicon
from bot.store import Database, upgrade
from bot.store.models import (
    AnswerFeedback,
    HotlineRequest,
    Identity,
    Person,
    QuestionLog,
    RequestKind,
    RequestStatus,
)
from tests.conftest import DATA, EMBEDDING_CACHE, make_deps, rebuild_postgres
from tests.factories import make_person

PHONE = "020 7946 0000"
REFERENCE = re.compile(r"HL-\d{4}-\d{4,}")


def make_dispatcher(db: Database, kb: KnowledgeBase, **config: int) -> Dispatcher:
    deps = make_deps(kb, load_detector(DATA, load_lexicon(DATA / "language")))
    return Dispatcher(db, deps, DispatcherConfig(**config))


async def say(
    d: Dispatcher, person: Person, text: str | None = None, action: str | None = None
) -> Reply:
    replies = await d.handle(
        IncomingMessage("console", person.email, person.email, text=text, action=action)
    )
    assert len(replies) == 1
    return replies[0]


async def count(db: Database, model: type) -> int:
    async with db.session() as s:
        return await s.scalar(select(func.count()).select_from(model)) or 0


def action(reply: Reply, prefix: str) -> str:
    return next(b.action for b in reply.buttons if b.action.startswith(prefix))


async def test_a_member_gets_an_answer_and_their_feedback_is_stored(
    db: Database, kb: KnowledgeBase
) -> None:
    d, member = make_dispatcher(db, kb), await make_person(db)
    reply = await say(d, member, "How much does membership cost?")
    entry = kb.entry("membership-cost")
    assert entry is not None and reply.text.startswith(entry.answer)
    assert [b.label for b in reply.buttons] == [texts.HELPFUL, texts.NOT_HELPFUL]
    thanks = await say(d, member, action=reply.buttons[1].action)
    assert thanks.text == texts.THANKS_NOT_HELPFUL
    async with db.session() as s:
        log = (await s.scalars(select(QuestionLog))).one()
        feedback = (await s.scalars(select(AnswerFeedback))).one()
    assert (log.band.value, log.matched_id, log.text) == (
        "answer",
        "membership-cost",
        "How much does membership cost?",
    )
    assert (feedback.helpful, feedback.faq_id, feedback.question_id) == (
        False,
        "membership-cost",
        log.id,
    )


async def test_changing_your_mind_on_feedback_keeps_one_row(
    db: Database, kb: KnowledgeBase
) -> None:
    d, member = make_dispatcher(db, kb), await make_person(db)
    reply = await say(d, member, "How much does membership cost?")
    await say(d, member, action=reply.buttons[1].action)
    await say(d, member, action=reply.buttons[0].action)
    async with db.session() as s:
        rows = (await s.scalars(select(AnswerFeedback))).all()
    assert [r.helpful for r in rows] == [True]


async def test_an_unknown_question_is_offered_to_the_team_and_logged_with_a_reference(
    db: Database, kb: KnowledgeBase
) -> None:
    d, member = make_dispatcher(db, kb), await make_person(db)
    reply = await say(d, member, "what colour should we paint the staffroom radiators")
    assert reply.text == texts.UNKNOWN_QUESTION
    passed = await say(d, member, action=action(reply, "pass:"))
    reference = REFERENCE.search(passed.text)
    assert reference is not None
    again = await say(d, member, action=action(reply, "pass:"))
    assert REFERENCE.search(again.text) is not None and reference.group() in again.text
    async with db.session() as s:
        request = (await s.scalars(select(HotlineRequest))).one()
        log = (await s.scalars(select(QuestionLog))).one()
    assert request.reference == reference.group()
    assert (request.kind, request.status, request.person_id) == (
        RequestKind.SUPPORT,
        RequestStatus.OPEN,
        member.id,
    )
    assert request.text == log.text and log.passed_on and request.question_id == log.id


async def test_declining_to_pass_on_opens_nothing(db: Database, kb: KnowledgeBase) -> None:
    d, member = make_dispatcher(db, kb), await make_person(db)
    reply = await say(d, member, "what colour should we paint the staffroom radiators")
    assert (await say(d, member, action=action(reply, "nopass:"))).text == texts.OK_NOT_PASSED
    assert await count(db, HotlineRequest) == 0


async def test_an_unsure_match_offers_suggestions_that_answer_when_pressed(
    db: Database, kb: KnowledgeBase
) -> None:
    d, member = make_dispatcher(db, kb), await make_person(db)
    reply = await say(d, member, "coaching")
    assert reply.text == texts.SUGGEST
    picks = [b for b in reply.buttons if b.action.startswith("ans:")]
    assert 1 <= len(picks) <= 3
    assert reply.buttons[-1].label == texts.NONE_OF_THESE
    chosen = picks[0].action.rsplit(":", 1)[1]
    answer = await say(d, member, action=picks[0].action)
    entry = kb.entry(chosen)
    assert entry is not None and answer.text.startswith(entry.answer)
    async with db.session() as s:
        assert (await s.scalars(select(QuestionLog))).one().chosen_id == chosen


async def test_human_command_opens_a_support_request(db: Database, kb: KnowledgeBase) -> None:
    d, member = make_dispatcher(db, kb), await make_person(db)
    reply = await say(d, member, "/human please call me about our budget")
    assert REFERENCE.search(reply.text)
    async with db.session() as s:
        assert (
            await s.scalars(select(HotlineRequest))
        ).one().text == "please call me about our budget"


async def test_an_unknown_sender_gets_instructions_and_nothing_is_stored(
    db: Database, kb: KnowledgeBase
) -> None:
    d = make_dispatcher(db, kb)
    stranger = await make_person(db, linked=False)
    for message in ("How much does membership cost?", "/human help"):
        reply = await say(d, stranger, message)
        assert reply.text == texts.UNKNOWN_SENDER.format(phone=PHONE)
        assert reply.buttons == ()
    assert await count(db, QuestionLog) == 0
    assert await count(db, HotlineRequest) == 0


@pytest.mark.parametrize("message", ["", "   \n\t ", "\x00\x01\u200b"])
async def test_empty_messages_get_a_prompt(db: Database, kb: KnowledgeBase, message: str) -> None:
    d, member = make_dispatcher(db, kb), await make_person(db)
    assert (await say(d, member, message)).text == texts.EMPTY
    assert await count(db, QuestionLog) == 0


async def test_a_10000_character_message_is_refused_politely(
    db: Database, kb: KnowledgeBase
) -> None:
    d, member = make_dispatcher(db, kb), await make_person(db)
    reply = await say(d, member, "help " * 2000)
    assert reply.text.startswith("That message is too long for me (9,999 characters")
    assert await count(db, QuestionLog) == 0


@pytest.mark.parametrize(
    "message",
    [
        "'; DROP TABLE question_log; --",
        "<b>bold</b> & <!channel> ofsted",
        "أين تقرير أوفستد؟ 🙏",
        "ofsted\x1b[31m rang",
    ],
)
async def test_hostile_or_unusual_text_is_stored_verbatim_and_matched_safely(
    db: Database, kb: KnowledgeBase, message: str
) -> None:
    d, member = make_dispatcher(db, kb), await make_person(db)
    reply = await say(d, member, message)
    assert reply.text
    async with db.session() as s:
        stored = (await s.scalars(select(QuestionLog))).one().text
    assert stored == "".join(ch for ch in message if ch != "\x1b").strip()


async def test_a_sender_over_the_rate_limit_is_asked_to_wait(
    db: Database, kb: KnowledgeBase
) -> None:
    d, member = make_dispatcher(db, kb, rate_limit=3), await make_person(db)
    replies = [await say(d, member, "How much does membership cost?") for _ in range(4)]
    assert replies[-1].text == texts.SLOW_DOWN
    assert await count(db, QuestionLog) == 3


async def test_buttons_from_someone_elses_question_or_forged_ones_are_refused(
    db: Database, kb: KnowledgeBase
) -> None:
    d = make_dispatcher(db, kb)
    alice, bob = await make_person(db), await make_person(db)
    reply = await say(d, alice, "what colour should we paint the staffroom radiators")
    for forged in (action(reply, "pass:"), "pass:abc", "ans:1:no-such-entry", "fb:", "zzz:1"):
        assert (await say(d, bob, action=forged)).text == texts.STALE_BUTTON
    assert await count(db, HotlineRequest) == 0


async def test_a_database_failure_gets_the_phone_number_not_the_error(
    db: Database, kb: KnowledgeBase
) -> None:
    d, member = make_dispatcher(db, kb), await make_person(db)
    cascade = "" if db.is_sqlite else " CASCADE"
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP TABLE answer_feedback"))
            await conn.execute(text(f"DROP TABLE question_log{cascade}"))
        reply = await say(d, member, "How much does membership cost?")
        assert reply.text == texts.STORE_DOWN.format(phone=PHONE)
        assert "question_log" not in reply.text
    finally:
        if not db.is_sqlite:
            await db.dispose()
            await rebuild_postgres(db.url.render_as_string(hide_password=False))


async def test_help_and_unknown_commands(db: Database, kb: KnowledgeBase) -> None:
    d, member = make_dispatcher(db, kb), await make_person(db)
    assert "/human" in (await say(d, member, "/help")).text
    assert (await say(d, member, "/frobnicate now")).text.startswith(
        "I don't know the command /frobnicate."
    )


@pytest.mark.skipif(default_model_dir() is None, reason="the embedding model is not installed")
async def test_a_new_question_runs_the_model_once_for_the_matcher_and_the_urgency_check(
    db: Database, kb: KnowledgeBase, embedder: Embedder
) -> None:
    urgency = load_urgency(DATA, load_lexicon(DATA / "language"), embedder, EMBEDDING_CACHE)
    deps = replace(
        make_deps(kb, load_detector(DATA, load_lexicon(DATA / "language"))),
        urgency=urgency,
        embedder=embedder,
    )
    d = Dispatcher(db, deps, DispatcherConfig())
    member = await make_person(db)
    before = embedder.computed
    # new to the model's cache in every run (the embedder is shared by the whole session)
    await say(d, member, f"who pays for the boiler service at {member.email} this year")
    assert embedder.computed == before + 1
    await say(d, member, "/help")  # commands never run the model
    assert embedder.computed == before + 1


@dataclass
class WriterLookup:
    """A platform's profile look-up that, like a slow users.info, runs while other work goes
    on: here, another write. Inside the message's transaction it would wait on SQLite's write
    turn that the dispatcher holds, and time out; before it, it goes straight through."""

    db: Database
    email: str
    asked: list[str] = field(default_factory=list)

    async def email_of(self, user_id: str) -> str | None:
        async with asyncio.timeout(5), self.db.session() as session:
            await session.execute(text("SELECT 1"))
        self.asked.append(user_id)
        return self.email


async def test_a_platform_look_up_runs_outside_the_message_transaction(
    db: Database, kb: KnowledgeBase
) -> None:
    member = await make_person(db, linked=False)
    lookup = WriterLookup(db, member.email)
    deps = make_deps(kb, load_detector(DATA, load_lexicon(DATA / "language")))
    d = Dispatcher(db, deps, DispatcherConfig(), profiles={"slack": lookup})
    message = IncomingMessage("slack", "D1", "U123", text="how do i book a course")
    await d.handle(message)
    assert lookup.asked == ["U123"]
    async with db.session() as session:
        linked = await session.scalar(
            select(Identity).where(Identity.channel == "slack", Identity.external_id == "U123")
        )
    assert linked is not None and linked.person_id == member.id
    await d.handle(message)
    assert lookup.asked == ["U123"]  # a linked sender is not looked up again


async def test_a_question_is_matched_before_its_transaction_takes_the_write_lock(
    tmp_path: Path, kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Matching (and the model behind it) runs before the transaction: another process can
    write the whole time the question is read."""
    path = tmp_path / "hotline.db"
    url = f"sqlite+aiosqlite:///{path}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    member = await make_person(db)
    writable: list[bool] = []
    match = KnowledgeBase.match

    def probe(self: KnowledgeBase, text: str) -> MatchResult:
        other = sqlite3.connect(path, isolation_level=None, timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")  # fails at once while a writer holds the lock
            other.execute("ROLLBACK")
            writable.append(True)
        except sqlite3.OperationalError:
            writable.append(False)
        finally:
            other.close()
        return match(self, text)

    monkeypatch.setattr(KnowledgeBase, "match", probe)
    try:
        reply = await say(make_dispatcher(db, kb), member, "How much does membership cost?")
    finally:
        await db.dispose()
    assert reply.buttons  # answered
    assert writable == [True]
