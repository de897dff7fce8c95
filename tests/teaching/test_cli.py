"""`hotline faq teach / gaps / export-learned / check` and `ask` as the office runs them: fresh
processes on both databases; and a running bot that answers a phrasing taught from the command
line without a restart."""

import asyncio
import socket
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bot.app import open_bot
from bot.config import load_settings
from bot.core import texts
from bot.core.types import Band, IncomingMessage
from bot.knowledge import KnowledgeBase
from bot.knowledge.schema import KNOWN_FIELDS
from bot.store import Database
from bot.store.models import AnswerFeedback, LearnedPhrasing, Person, QuestionLog, utcnow
from tests.conftest import DATA, run_hotline
from tests.factories import make_learned, make_person
from tests.teaching import clash_with

MINIBUS = "can the partnership lend us a minibus for the summer trip"
TAUGHT_TO = "membership-brokering-support"


def answer_of(kb: KnowledgeBase, entry_id: str) -> str:
    entry = kb.entry(entry_id)
    assert entry is not None
    return entry.answer


def errors(stderr: str) -> list[str]:
    """What the command said was wrong: stderr without the log's warnings (such as which
    matcher runs)."""
    return [line for line in stderr.splitlines() if not line.startswith("WARNING ")]


async def learned(db: Database) -> list[tuple[str, str, int | None]]:
    async with db.session() as s:
        rows = await s.scalars(select(LearnedPhrasing).order_by(LearnedPhrasing.id))
        return [(r.entry_id, r.text, r.taught_by_id) for r in rows]


async def test_faq_teach_stores_a_phrasing_that_ask_then_answers(
    db: Database, db_url: str, kb: KnowledgeBase
) -> None:
    env = {"DATABASE_URL": db_url}
    assert kb.match(MINIBUS).answer_id != TAUGHT_TO
    entry = kb.entry(TAUGHT_TO)
    assert entry is not None

    taught = run_hotline("faq", "teach", f"  {MINIBUS} ", TAUGHT_TO, env=env)

    assert taught.returncode == 0, taught.stderr
    assert taught.stdout.splitlines()[0] == texts.TEACH_DONE.format(
        text=MINIBUS, entry_id=TAUGHT_TO, question=entry.question
    )
    assert await learned(db) == [(TAUGHT_TO, MINIBUS, None)]
    asked = run_hotline("ask", "--json", MINIBUS, env=env)
    assert asked.returncode == 0, asked.stderr
    assert '"answer_id": "membership-brokering-support"' in asked.stdout
    again = run_hotline("faq", "teach", MINIBUS.upper() + "?", TAUGHT_TO, env=env)
    assert again.returncode == 0
    assert again.stdout.strip() == texts.TEACH_KNOWN.format(
        text=MINIBUS.upper() + "?", entry_id=TAUGHT_TO
    )
    elsewhere = run_hotline("faq", "teach", MINIBUS, "membership-join", env=env)
    assert elsewhere.returncode == 1
    assert errors(elsewhere.stderr) == [
        texts.TEACH_OTHER_ENTRY.format(text=MINIBUS, owner=TAUGHT_TO)
    ]
    assert len(await learned(db)) == 1


async def test_faq_teach_holds_a_phrasing_that_changes_other_answers_unless_forced(
    db: Database, db_url: str, kb: KnowledgeBase
) -> None:
    env = {"DATABASE_URL": db_url}
    attendance = kb.entry("ops-attendance")
    assert attendance is not None
    clashing = clash_with(attendance.question)

    held = run_hotline("faq", "teach", clashing, "ops-falling-rolls", env=env)

    assert held.returncode == 1
    lines = held.stdout.splitlines()
    assert lines[0] == texts.TEACH_HELD.format(text=clashing, entry_id="ops-falling-rolls")
    assert f'- "{attendance.question}" (a phrasing of ops-attendance) would ' in held.stdout
    assert lines[-1] == texts.TEACH_HELD_CLI
    assert await learned(db) == []

    forced = run_hotline("faq", "teach", clashing, "ops-falling-rolls", "--force", env=env)

    assert forced.returncode == 0, forced.stderr
    assert texts.TEACH_CHANGES in forced.stdout.splitlines()
    assert f'- "{attendance.question}" (a phrasing of ops-attendance) now ' in forced.stdout
    assert await learned(db) == [("ops-falling-rolls", clashing, None)]


def test_faq_teach_refuses_bad_input_in_one_line_before_touching_the_database(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    # The database is not even there: bad input is refused first, and nothing is created.
    env = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'none.db'}",
        "MAX_MESSAGE_CHARS": "100",
    }
    cases = [
        ((MINIBUS, "no-such-entry"), "There is no FAQ entry 'no-such-entry'."),
        (("  ?! ", TAUGHT_TO), texts.TEACH_EMPTY),
        (("", TAUGHT_TO), texts.TEACH_EMPTY),
        (("x" * 101, TAUGHT_TO), texts.TEACH_TOO_LONG.format(length=101, limit=100)),
    ]
    for args, expected in cases:
        result = run_hotline("faq", "teach", *args, env=env)
        assert result.returncode == 1, args
        assert errors(result.stderr) == [expected], args
        assert result.stdout == ""
    misspelt = run_hotline("faq", "teach", MINIBUS, "membership-cots", env=env)
    assert misspelt.returncode == 1
    [line] = errors(misspelt.stderr)
    assert line.startswith("There is no FAQ entry 'membership-cots'. Did you mean ")
    assert not (tmp_path / "none.db").exists()


async def log(
    db: Database,
    person: Person,
    text: str,
    band: Band,
    *,
    days_ago: float = 1,
    chosen: str | None = None,
    not_helpful: str | None = None,
) -> None:
    when = utcnow() - timedelta(days=days_ago)
    async with db.session() as s:
        row = QuestionLog(
            person_id=person.id,
            channel="console",
            text=text,
            band=band,
            matched_id=not_helpful,
            chosen_id=chosen,
            score=0.1,
            passed_on=False,
            created_at=when,
        )
        s.add(row)
        await s.flush()
        if not_helpful is not None:
            s.add(
                AnswerFeedback(
                    question_id=row.id,
                    person_id=person.id,
                    faq_id=not_helpful,
                    helpful=False,
                    created_at=when,
                )
            )


async def test_faq_gaps_lists_unanswered_and_unhelpful_questions_most_frequent_first(
    db: Database, db_url: str
) -> None:
    member = await make_person(db)
    for days_ago, text in enumerate(
        ("Can we  borrow a minibus", "can we borrow a MINIBUS", "Can we borrow a minibus?"), 1
    ):
        await log(db, member, text, Band.UNKNOWN, days_ago=days_ago / 10)
    await log(db, member, "where is the staff car park", Band.UNKNOWN)
    await log(db, member, "help with trip paperwork", Band.SUGGEST, days_ago=2)
    await log(db, member, "Help with trip paperwork!", Band.SUGGEST, days_ago=3)
    await log(db, member, "help with trip paperwork", Band.SUGGEST, chosen="cpd-book")  # chosen
    await log(db, member, "how do I book a course", Band.ANSWER)  # answered
    await log(db, member, "what about the old question", Band.UNKNOWN, days_ago=40)  # too old
    await log(db, member, "taught already", Band.UNKNOWN)
    await log(db, member, "how much do we pay", Band.ANSWER, not_helpful="membership-cost")
    await log(
        db, member, "How much do WE pay?", Band.ANSWER, days_ago=2, not_helpful="membership-cost"
    )
    await log(db, member, "how do i leave", Band.ANSWER, not_helpful="membership-leave")
    await make_learned(db, "cpd-book", "taught already")

    result = run_hotline("faq", "gaps", "--days", "30", env={"DATABASE_URL": db_url})

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Unanswered questions in the last 30 days, most asked first:",
        "    3  Can we borrow a minibus",
        "    2  help with trip paperwork",
        "    1  where is the staff car park",
        "Answers marked not helpful in the last 30 days, most often first:",
        "    2  how much do we pay  (answered with membership-cost)",
        "    1  how do i leave  (answered with membership-leave)",
        "Left out: 1 taught since (learned or now in the FAQ files).",
        'Teach one with: hotline faq teach "QUESTION" ENTRY-ID',
    ]
    recent = run_hotline("faq", "gaps", "--days", "1", env={"DATABASE_URL": db_url})
    assert "help with trip paperwork" not in recent.stdout
    assert "    3  Can we borrow a minibus" in recent.stdout


async def test_faq_gaps_on_a_quiet_hotline_says_so(db: Database, db_url: str) -> None:
    result = run_hotline("faq", "gaps", env={"DATABASE_URL": db_url})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "No unanswered questions in the last 30 days.",
        "No answers marked not helpful in the last 30 days.",
    ]


async def test_export_learned_writes_yaml_in_the_faq_schemas_terms(
    db: Database, db_url: str, kb: KnowledgeBase, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": db_url}
    for text, entry_id in (
        (MINIBUS, TAUGHT_TO),
        ("who insures the minibus we hire", TAUGHT_TO),
        ("what's the price of joining", "membership-join"),
    ):
        assert run_hotline("faq", "teach", text, entry_id, env=env).returncode == 0
    join = kb.entry("membership-join")
    assert join is not None and join.alternatives
    # one the office has already copied into the files
    await make_learned(db, "membership-join", join.alternatives[0])
    out = tmp_path / "learned.yaml"

    written = run_hotline("faq", "export-learned", "--out", str(out), env=env)

    assert written.returncode == 0, written.stderr
    assert written.stdout.strip() == (
        f"3 learned phrasings for 2 entries written to {out} (1 already in the FAQ files left out)"
    )
    items = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert items == [
        {"id": TAUGHT_TO, "alternatives": [MINIBUS, "who insures the minibus we hire"]},
        {"id": "membership-join", "alternatives": ["what's the price of joining"]},
    ]
    for item in items:
        assert set(item) <= KNOWN_FIELDS and kb.entry(item["id"]) is not None
    text = out.read_text(encoding="utf-8")
    assert f"# membership.yaml: {join.question}" in text
    printed = run_hotline("faq", "export-learned", env=env)
    assert printed.returncode == 0 and yaml.safe_load(printed.stdout) == items


async def test_faq_check_counts_learned_phrasings_and_still_passes(
    db: Database, db_url: str
) -> None:
    env = {"DATABASE_URL": db_url}
    assert run_hotline("faq", "teach", MINIBUS, TAUGHT_TO, env=env).returncode == 0

    checked = run_hotline("faq", "check", env=env)

    assert checked.returncode == 0, checked.stderr
    lines = checked.stdout.splitlines()
    assert lines[0].endswith("entries, all valid")
    assert [line for line in lines if "learned" in line] == [
        "1 learned phrasing in the database (for 1 entry; `hotline faq export-learned` lists them)"
    ]


def test_faq_check_without_a_usable_database_says_so_and_passes(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = run_hotline(
        "faq", "check", env={"DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:{port}/x"}
    )
    assert down.returncode == 0
    [note] = [line for line in down.stdout.splitlines() if "learned" in line]
    assert note.startswith("learned phrasings could not be read: ")
    assert f"127.0.0.1:{port}" in note

    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()  # a database file nobody migrated
    unmigrated = run_hotline("faq", "check", env={"DATABASE_URL": f"sqlite:///{empty}"})
    assert unmigrated.returncode == 0
    assert [line for line in unmigrated.stdout.splitlines() if "learned" in line] == [
        f"learned phrasings could not be read: the database file {empty} is not migrated: "
        "run `hotline db upgrade`"
    ]

    missing = tmp_path / "missing.db"
    quiet = run_hotline("faq", "check", env={"DATABASE_URL": f"sqlite:///{missing}"})
    assert quiet.returncode == 0 and "learned" not in quiet.stdout
    assert not missing.exists()  # checking the files never creates a database

    broken = tmp_path / "data" / "faq"
    broken.mkdir(parents=True)
    (broken / "a.yaml").write_text("- id: x\n  question: [\n", encoding="utf-8")
    failed = run_hotline(
        "faq", "check", str(broken.parent), env={"DATABASE_URL": f"sqlite:///{empty}"}
    )
    assert failed.returncode == 1
    assert [line for line in failed.stdout.splitlines() if "learned" in line] == []


@pytest.mark.postgres
@pytest.mark.parametrize("unmigrated_url", ["postgresql"], indirect=True)
def test_faq_check_on_a_postgres_database_never_migrated_says_so_and_passes(
    unmigrated_url: str,
) -> None:
    """An unmigrated PostgreSQL database, as the unmigrated SQLite file in the test above."""
    checked = run_hotline("faq", "check", env={"DATABASE_URL": unmigrated_url})
    assert checked.returncode == 0, checked.stderr
    u = make_url(unmigrated_url)
    assert [line for line in checked.stdout.splitlines() if "learned" in line] == [
        f"learned phrasings could not be read: the database {u.database} on "
        f"{u.host}:{u.port or 5432} is not migrated: run `hotline db upgrade`"
    ]


async def test_a_running_bot_answers_a_phrasing_taught_from_the_command_line(
    db: Database, db_url: str, kb: KnowledgeBase
) -> None:
    member = await make_person(db)
    settings = load_settings(database_url=db_url, data_dir=DATA, learned_refresh_s=0.2)
    message = IncomingMessage("console", member.email, member.email, text=MINIBUS)
    async with open_bot(settings, background=False) as runtime:
        [before] = await runtime.dispatcher.handle(message)
        assert not before.text.startswith(answer_of(kb, TAUGHT_TO))

        taught = await asyncio.to_thread(
            run_hotline, "faq", "teach", MINIBUS, TAUGHT_TO, env={"DATABASE_URL": db_url}
        )
        assert taught.returncode == 0, taught.stderr
        await asyncio.sleep(0.3)  # LEARNED_REFRESH_S

        [after] = await runtime.dispatcher.handle(message)
        assert after.text.startswith(answer_of(kb, TAUGHT_TO))
