"""The console's knowledge page (bot/console/knowledge_page.py): try a question as the bot reads
it, the knowledge gaps with Teach (bot/teaching/teach.py, as /teach and `hotline faq teach`),
and a new FAQ entry drafted into DATA_DIR/faq, checked like `hotline faq check` and loaded
without a restart. The bot runs on a copy of the data folder (the repository's data/ is never
written), on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import json
import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from bot.app import open_bot
from bot.config import load_settings
from bot.console.security import COOKIE, sign_session
from bot.core import texts
from bot.core.types import IncomingMessage
from bot.escalation.urgency import UrgencyDetector
from bot.knowledge import KnowledgeBase, check_faq_dir, load_knowledge_base
from bot.knowledge.embedding import Embedder
from bot.store import Database
from bot.store.models import AuditEntry, LearnedPhrasing, QuestionLog, Role
from bot.teaching.live import LiveKnowledge
from bot.web import build_web_app
from tests.conftest import DATA, EMBEDDING_CACHE, make_deps, run_hotline
from tests.console.conftest import SECRET, Clock, Console
from tests.factories import make_person, make_rota, rota_yaml
from tests.teaching import clash_with

PAGE = "/console/knowledge"
MINIBUS = "can the partnership lend us a minibus for the summer trip"
TAUGHT_TO = "membership-brokering-support"
FORUM = "What is the Chairs of Governors' Forum and who can attend?"
DRAFT = {
    "id": "ops-minibus-hire",
    "question": "Can we borrow a minibus for a school trip?",
    "answer": "The Partnership does not lend vehicles. Ask the borough's transport team.",
    "category": "operations",
    "alternatives": "minibus for a school trip\r\nhire a minibus\r\n\r\nhire a minibus\r\n",
}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A copy of the data folder, for the bot to read and the page to write into."""
    copy = tmp_path / "data"
    shutil.copytree(DATA, copy)
    return copy


@pytest.fixture
def copied_kb(data_dir: Path, embedder: Embedder | None) -> KnowledgeBase:
    return load_knowledge_base(data_dir, embedder, EMBEDDING_CACHE)


@pytest.fixture(name="c")
async def console_on_a_copy(
    db: Database, db_url: str, data_dir: Path, copied_kb: KnowledgeBase, urgency: UrgencyDetector
) -> AsyncIterator[Console]:
    """tests/console/conftest.py's bench, with DATA_DIR a copy of data/."""
    staff = await make_person(db, role=Role.STAFF, name="Sam Adeyemi")
    admin = await make_person(db, role=Role.ADMIN, name="Ruth Green")
    member = await make_person(db, name="Amara Okafor")
    await make_rota(db, rota_yaml(staff.email, None, admin.email))
    clock = Clock()
    settings = load_settings(
        database_url=db_url, data_dir=data_dir, public_url="http://hotline.test"
    )
    deps = replace(make_deps(copied_kb, urgency, clock=clock), public_url=settings.public_url)
    async with open_bot(settings, deps=deps, background=False) as bot:
        app = build_web_app(1_000_000, bot=bot, console_secret=SECRET)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hotline.test") as http:
            yield Console(db, bot, http, clock, staff, admin, member)


async def learned(db: Database) -> list[tuple[str, str, int | None]]:
    async with db.session() as session:
        rows = await session.scalars(select(LearnedPhrasing).order_by(LearnedPhrasing.id))
        return [(r.entry_id, r.text, r.taught_by_id) for r in rows]


async def audit(db: Database) -> list[tuple[str, str, int | None, str]]:
    async with db.session() as session:
        rows = await session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(r.action, r.subject, r.actor_id, r.detail) for r in rows]


async def count(db: Database, model: type) -> int:
    async with db.session() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


def text_of(page: httpx.Response) -> str:
    return html.unescape(page.text)


def field_error(page: httpx.Response, field_id: str) -> str:
    """The message beside a field (linked to it by aria-describedby); the form macros' fields
    are "f-NAME" with "err-NAME"."""
    error_id = f"err-{field_id.removeprefix('f-')}"
    assert re.search(
        rf'id="{field_id}"[^>]*aria-invalid="true" aria-describedby="[^"]*\b{error_id}"', page.text
    ), f"{field_id} is not marked invalid"
    found = re.search(rf'<p class="field-error" id="{error_id}">([^<]*)</p>', page.text)
    assert found is not None, f"no message beside {field_id}"
    return html.unescape(found.group(1))


def faq_files(data_dir: Path) -> list[str]:
    return sorted(p.name for p in (data_dir / "faq").iterdir())


# Try a question


async def test_try_shows_band_answer_scores_and_urgency_as_ask_json(c: Console) -> None:
    async with await c.signed_in(c.staff) as http:
        page = await http.get(PAGE, params={"q": FORUM})
        assert page.status_code == 200
        shown = text_of(page)
        expected = c.bot.dispatcher.kb.match(FORUM)
        assert expected.band.value == "answer" and expected.answer_id == "governors-chairs-forum"
        assert "What the bot would do" in shown
        assert '<span class="badge band-answer">answer</span>' in page.text
        assert f"{expected.score:.3f}" in shown
        entry = c.bot.dispatcher.kb.entry("governors-chairs-forum")
        assert entry is not None
        assert "governors-chairs-forum" in shown and entry.answer in shown
        for s in expected.suggestions:
            assert f'<th scope="row">{s.id}</th>' in page.text and f"{s.score:.3f}" in shown
        assert "not urgent" in shown and texts.HELPFUL in shown  # the answer's buttons
        json_text = re.search(r"<pre>(.*?)</pre>", page.text, re.S)
        assert json_text is not None
        payload = json.loads(html.unescape(json_text.group(1)))
        assert payload["band"] == "answer" and payload["answer_id"] == "governors-chairs-forum"
        assert payload["urgency"] == {"urgent": False, "category": None}

        urgent = await http.get(PAGE, params={"q": "a pupil has disclosed abuse to me right now"})
        assert urgent.status_code == 200
        shown = text_of(urgent)
        assert "⚠ urgent" in shown and texts.SOUNDS_URGENT in shown
        assert texts.ALERT_NOW in shown and texts.JUST_ANSWER in shown

        unknown = await http.get(PAGE, params={"q": "do you sell llama food"})
        assert '<span class="badge band-unknown">unknown</span>' in unknown.text
        assert texts.UNKNOWN_QUESTION in text_of(unknown)
        assert texts.SEND_TO_TEAM in text_of(unknown)
    assert await count(c.db, AuditEntry) == 0  # trying changes nothing


async def test_try_refuses_an_empty_a_too_long_or_a_command_question(c: Console) -> None:
    limit = c.bot.settings.max_message_chars
    async with await c.signed_in(c.staff) as http:
        cases = [
            ("   ", "Question is needed."),
            ("x" * (limit + 1), f"Question is too long ({limit + 1} characters; at most {limit})."),
            ("/help", "The bot reads a message starting with / as a chat command"),
        ]
        for question, message in cases:
            page = await http.get(PAGE, params={"q": question})
            assert page.status_code == 400, question
            assert field_error(page, "f-q").startswith(message)
            assert "What the bot would do" not in page.text


# Gaps and Teach


async def _ask_unanswered(c: Console) -> None:
    for _ in range(2):
        assert await c.chat(c.member, MINIBUS) == texts.UNKNOWN_QUESTION


async def test_a_gap_asked_in_chat_is_taught_from_the_page_and_answered_everywhere(
    c: Console, db_url: str, data_dir: Path
) -> None:
    await _ask_unanswered(c)
    async with await c.signed_in(c.staff) as http:
        page = await http.get(PAGE)
        assert page.status_code == 200
        row = re.search(
            rf"<th scope=\"row\"[^>]*>{MINIBUS}</th>\s*<td[^>]*>(\d+)</td>\s*<td[^>]*>([^<]+)</td>",
            page.text,
        )
        assert row is not None, "the gap is not listed"
        assert row.group(1) == "2"  # asked twice
        assert re.fullmatch(r"\d\d \w{3} \d{4} \d\d:\d\d", row.group(2))
        # Each row's field and button say which question they are for (words for screen readers).
        assert (
            f'<label for="entry-u1">Entry<span class="visually-hidden"> for “{MINIBUS}”'
            in page.text
        )
        assert f'<button type="submit">Teach<span class="visually-hidden"> “{MINIBUS}”' in page.text

        taught = await http.post(
            f"{PAGE}/teach",
            data={"csrf": c.csrf(page.text), "text": MINIBUS, "entry": TAUGHT_TO, "days": "30"},
        )
        assert taught.status_code == 303
        assert taught.headers["location"].startswith(f"{PAGE}?done=taught&entry={TAUGHT_TO}")
        assert MINIBUS.split()[0] not in taught.headers["location"]  # no member's words in URLs
        assert await learned(c.db) == [(TAUGHT_TO, MINIBUS, c.staff.id)]
        assert await audit(c.db) == [("teach", TAUGHT_TO, c.staff.id, "")]

        after = await http.get(taught.headers["location"])
        assert f"Taught: that wording → {TAUGHT_TO}" in text_of(after)
        assert f'<th scope="row">{MINIBUS}</th>' not in after.text  # no longer a gap
        assert "Left out: 1 taught since" in after.text

        tried = await http.get(PAGE, params={"q": MINIBUS})
        assert '<span class="badge band-answer">answer</span>' in tried.text
        assert f"<strong>{TAUGHT_TO}</strong>" in tried.text

        # Taught again: already known; to another entry: refused, saying whose it is.
        again = await http.post(
            f"{PAGE}/teach",
            data={"csrf": c.csrf(page.text), "text": MINIBUS.upper(), "entry": TAUGHT_TO},
        )
        assert again.status_code == 303 and "done=known" in again.headers["location"]
        followed = await http.get(again.headers["location"])
        assert f"Already known: that wording is a phrasing of {TAUGHT_TO}" in followed.text
        elsewhere = await http.post(
            f"{PAGE}/teach",
            data={"csrf": c.csrf(page.text), "text": MINIBUS, "entry": "membership-join"},
        )
        assert elsewhere.status_code == 409
        assert texts.TEACH_OTHER_ENTRY.format(text=MINIBUS, owner=TAUGHT_TO) in text_of(elsewhere)
    assert len(await learned(c.db)) == 1
    assert len(await audit(c.db)) == 1

    # The member asking again in chat gets the answer; so does `hotline ask` in a fresh process.
    entry = c.bot.dispatcher.kb.entry(TAUGHT_TO)
    assert entry is not None
    assert (await c.chat(c.member, MINIBUS)).startswith(entry.answer)
    asked = run_hotline(
        "ask", "--json", MINIBUS, env={"DATABASE_URL": db_url, "DATA_DIR": str(data_dir)}
    )
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["answer_id"] == TAUGHT_TO


async def test_a_phrasing_that_changes_other_answers_is_held_until_taught_anyway(
    c: Console,
) -> None:
    attendance = c.bot.dispatcher.kb.entry("ops-attendance")
    assert attendance is not None
    clashing = clash_with(attendance.question)
    async with await c.signed_in(c.staff) as http:
        page = await http.get(PAGE)
        held = await http.post(
            f"{PAGE}/teach",
            data={"csrf": c.csrf(page.text), "text": clashing, "entry": "ops-falling-rolls"},
        )
        assert held.status_code == 409
        shown = text_of(held)
        assert texts.TEACH_HELD.format(text=clashing, entry_id="ops-falling-rolls") in shown
        assert f'"{attendance.question}" (a phrasing of ops-attendance) would ' in shown
        assert '<button type="submit" class="danger">Teach anyway</button>' in held.text
        assert await learned(c.db) == [] and await audit(c.db) == []

        forced = await http.post(
            f"{PAGE}/teach",
            data={
                "csrf": c.csrf(held.text),
                "text": clashing,
                "entry": "ops-falling-rolls",
                "force": "1",
            },
        )
        assert forced.status_code == 303 and "changed=" in forced.headers["location"]
    assert await learned(c.db) == [("ops-falling-rolls", clashing, c.staff.id)]
    [(action, subject, who, detail)] = await audit(c.db)
    assert (action, subject, who) == ("teach", "ops-falling-rolls", c.staff.id)
    assert detail.startswith("forced: ")


async def test_teach_refuses_bad_input_beside_the_gap_and_stores_nothing(c: Console) -> None:
    await _ask_unanswered(c)
    limit = c.bot.settings.max_message_chars
    async with await c.signed_in(c.staff) as http:
        page = await http.get(PAGE)
        token = c.csrf(page.text)
        cases = [
            ({"text": MINIBUS, "entry": ""}, "Choose the entry that should have answered."),
            ({"text": MINIBUS, "entry": "no-such-entry"}, "There is no FAQ entry 'no-such-entry'."),
            ({"text": MINIBUS, "entry": "membership-cots"}, "There is no FAQ entry"),
        ]
        for form, message in cases:
            refused = await http.post(f"{PAGE}/teach", data={"csrf": token, **form})
            assert refused.status_code == 400, form
            assert field_error(refused, "entry-u1").startswith(message), form
        for text, message in [
            ("  ?! ", texts.TEACH_EMPTY),
            ("x" * (limit + 1), texts.TEACH_TOO_LONG.format(length=limit + 1, limit=limit)),
        ]:
            refused = await http.post(
                f"{PAGE}/teach", data={"csrf": token, "text": text, "entry": TAUGHT_TO}
            )
            assert refused.status_code == 400
            assert message in text_of(refused)
        bad_days = await http.get(PAGE, params={"days": "12"})
        assert bad_days.status_code == 400
        assert field_error(bad_days, "f-days") == "Choose one of the periods offered."
    assert await learned(c.db) == [] and await audit(c.db) == []


async def test_gaps_include_answers_marked_not_helpful_within_the_chosen_window(
    c: Console,
) -> None:
    assert texts.ANSWER_FOOTER in await c.chat(c.member, FORUM)
    question_id = await _last_question_id(c)
    await c.bot.dispatcher.handle(
        IncomingMessage(
            "console", c.member.email, c.member.email, action=f"fb:{question_id}:0", text=""
        )
    )
    async with await c.signed_in(c.staff) as http:
        page = await http.get(PAGE, params={"days": "7"})
        assert page.status_code == 200
        row = re.search(
            rf"<th scope=\"row\"[^>]*>{re.escape(FORUM)}</th>\s*<td[^>]*>([^<]+)</td>\s*<td[^>]*>(\d+)</td>",
            text_of(page),
        )
        assert row is not None, "the not-helpful answer is not listed"
        assert row.group(1) == "governors-chairs-forum" and row.group(2) == "1"
        assert '<label for="entry-n1">Entry<span class="visually-hidden"> for “' in page.text
        assert '<option value="7" selected>' in page.text


async def _last_question_id(c: Console) -> int:
    async with c.db.session() as session:
        found: int | None = await session.scalar(select(func.max(QuestionLog.id)))
    assert found is not None
    return found


# Draft a new entry


async def test_a_drafted_entry_is_checked_written_and_answered_without_a_restart(
    c: Console, db_url: str, data_dir: Path, copied_kb: KnowledgeBase
) -> None:
    elsewhere = LiveKnowledge(copied_kb)  # another process's knowledge, loaded before
    before = faq_files(data_dir)
    async with await c.signed_in(c.staff) as http:
        assert (
            '<a href="/console/knowledge/draft">Draft a new entry</a>'
            in (await http.get(PAGE)).text
        )
        page = await http.get(f"{PAGE}/draft")
        assert page.status_code == 200
        for label in ("Id", "Question", "Answer", "Category", "Other phrasings (one per line)"):
            assert f">{label}</label>" in page.text, label
        assert '<option value="operations">operations</option>' in page.text
        saved = await http.post(f"{PAGE}/draft", data={"csrf": c.csrf(page.text), **DRAFT})
        assert saved.status_code == 303, text_of(saved)
        assert saved.headers["location"] == f"{PAGE}?done=drafted&entry=ops-minibus-hire"
        done = await http.get(saved.headers["location"])
        assert (
            "Entry ops-minibus-hire" in text_of(done)
            and "console-ops-minibus-hire.yaml" in done.text
        )

        tried = await http.get(PAGE, params={"q": DRAFT["question"]})
        assert '<span class="badge band-answer">answer</span>' in tried.text
        assert "<strong>ops-minibus-hire</strong>" in tried.text

    assert faq_files(data_dir) == sorted([*before, "console-ops-minibus-hire.yaml"])
    assert not list((data_dir / "faq").glob(".*"))  # no temporary file left
    entries, problems = check_faq_dir(data_dir / "faq")
    assert problems == []
    [entry] = [e for e in entries if e.id == "ops-minibus-hire"]
    assert entry.question == DRAFT["question"] and entry.answer == DRAFT["answer"]
    assert entry.category == "operations"
    assert entry.alternatives == ("minibus for a school trip", "hire a minibus")
    assert not (DATA / "faq" / "console-ops-minibus-hire.yaml").exists()
    assert await audit(c.db) == [
        ("faq entry add", "ops-minibus-hire", c.staff.id, "console-ops-minibus-hire.yaml")
    ]

    # The member is answered with it in chat, another process notices the changed folder, and
    # `hotline ask` in a fresh process answers with it.
    assert (await c.chat(c.member, DRAFT["question"])).startswith(DRAFT["answer"])
    assert elsewhere.entry("ops-minibus-hire") is None
    assert await elsewhere.refresh(c.db, force=True)
    assert elsewhere.match(DRAFT["question"]).answer_id == "ops-minibus-hire"
    asked = run_hotline(
        "ask", "--json", DRAFT["question"], env={"DATABASE_URL": db_url, "DATA_DIR": str(data_dir)}
    )
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["answer_id"] == "ops-minibus-hire"


async def test_an_invalid_draft_is_refused_beside_its_fields_and_nothing_is_written(
    c: Console, data_dir: Path
) -> None:
    before = {p.name: p.read_bytes() for p in (data_dir / "faq").iterdir()}
    async with await c.signed_in(c.staff) as http:
        token = c.csrf((await http.get(f"{PAGE}/draft")).text)
        cases: list[tuple[dict[str, str], str, str]] = [
            ({"id": "ops-attendance"}, "f-id", "The id ops-attendance is already used"),
            ({"id": "Bad Id!"}, "f-id", "Use 2 to 50 lower-case letters"),
            ({"id": ""}, "f-id", "Id is needed."),
            ({"question": "  "}, "f-question", "Question is needed."),
            ({"answer": ""}, "f-answer", "Answer is needed."),
            ({"answer": "x" * 3501}, "f-answer", "Answer is too long"),
            ({"category": ""}, "f-category", "Category is needed."),
            ({"category": "weather"}, "f-category", "Unknown category 'weather'"),
            ({"alternatives": "x" * 301}, "f-alternatives", "Each phrasing can be at most"),
        ]
        for change, field_id, message in cases:
            refused = await http.post(f"{PAGE}/draft", data={"csrf": token, **DRAFT, **change})
            assert refused.status_code == 400, change
            assert field_error(refused, field_id).startswith(message), change
            # What was typed comes back in the form.
            if "question" not in change:
                assert html.escape(DRAFT["question"], quote=True) in refused.text
    assert {p.name: p.read_bytes() for p in (data_dir / "faq").iterdir()} == before
    assert await count(c.db, AuditEntry) == 0


async def test_a_draft_is_refused_when_the_folder_already_fails_its_check(
    c: Console, data_dir: Path
) -> None:
    broken = data_dir / "faq" / "zz-broken.yaml"
    broken.write_text("- id: x\n  question: [\n", encoding="utf-8")
    async with await c.signed_in(c.staff) as http:
        token = c.csrf((await http.get(f"{PAGE}/draft")).text)
        refused = await http.post(f"{PAGE}/draft", data={"csrf": token, **DRAFT})
    assert refused.status_code == 400
    assert "The FAQ folder does not pass its check" in refused.text
    assert "zz-broken.yaml: bad YAML at line" in text_of(refused)
    assert not (data_dir / "faq" / "console-ops-minibus-hire.yaml").exists()
    assert await count(c.db, AuditEntry) == 0
    # The running bot notices the changed folder, refuses the broken files (logged) and keeps
    # answering from what it had.
    live = c.bot.dispatcher.kb
    assert not await live.refresh(c.db, force=True)
    assert live.match(FORUM).answer_id == "governors-chairs-forum"
    assert texts.ANSWER_FOOTER in await c.chat(c.member, FORUM)


# Who may use the page


async def test_the_page_is_for_signed_in_staff_and_admins_and_forms_need_their_token(
    c: Console, data_dir: Path
) -> None:
    await _ask_unanswered(c)
    for path in (PAGE, f"{PAGE}/draft"):
        anonymous = await c.http.get(path)
        assert anonymous.status_code == 303 and anonymous.headers["location"] == "/console/signin"
    for path, form in (
        (f"{PAGE}/teach", {"text": MINIBUS, "entry": TAUGHT_TO}),
        (
            f"{PAGE}/draft",
            DRAFT,
        ),
    ):
        assert (await c.http.post(path, data={"csrf": "x", **form})).status_code == 403
    async with c.client() as forged:
        forged.cookies.set(
            COOKIE,
            sign_session(SECRET, "a-session-nobody-started-0123456789"),
            domain="hotline.test",
            path="/console",
        )
        assert (await forged.get(PAGE)).status_code == 303
        assert (await forged.post(f"{PAGE}/draft", data=DRAFT)).status_code == 403

    async with await c.signed_in(c.admin) as http:
        page = await http.get(PAGE)
        assert page.status_code == 200 and MINIBUS in page.text
        assert (await http.get(f"{PAGE}/draft")).status_code == 200
    async with await c.signed_in(c.staff) as http:
        page = await http.get(PAGE)
        no_token = await http.post(f"{PAGE}/teach", data={"text": MINIBUS, "entry": TAUGHT_TO})
        wrong = await http.post(f"{PAGE}/draft", data={"csrf": "x" * 43, **DRAFT})
        foreign = await http.post(
            f"{PAGE}/teach",
            data={"csrf": c.csrf(page.text), "text": MINIBUS, "entry": TAUGHT_TO},
            headers={"origin": "https://evil.test"},
        )
        assert (no_token.status_code, wrong.status_code, foreign.status_code) == (403, 403, 403)
    assert await learned(c.db) == []
    assert not (data_dir / "faq" / "console-ops-minibus-hire.yaml").exists()
    assert await count(c.db, AuditEntry) == 0
