"""The knowledge page: try a question as the bot reads it, the knowledge gaps with Teach, and a
new FAQ entry drafted into DATA_DIR/faq.

- Try: the running bot's live knowledge base (learned phrasings included, refreshed as the
  dispatcher refreshes it) and urgency detector read the question, as for a chat message and
  `hotline ask --json`; what a member would be sent is the dispatcher's own reply.
- Gaps: bot/teaching/reports.py `gaps_since`, as `hotline faq gaps`. Teach goes through
  bot/teaching/teach.py `teach` with the same checks as /teach and `hotline faq teach`: stored
  and installed in this process at once, in every other within LiveKnowledge's refresh. A
  phrasing that would change other answers is held (409) with the changes listed and a
  "Teach anyway" button, as in chat.
- Draft (its own page, /console/knowledge/draft, whose "Question" is not Try's): the form's
  fields are checked, then bot/teaching/drafts.py checks the FAQ folder with the new file exactly as
  `hotline faq check` does, writes it atomically, and this process's knowledge base is read
  again at once (other processes notice the changed folder within LiveKnowledge's refresh).
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.console.common import (
    Signed,
    actor,
    back_to,
    bot_of,
    form_of,
    now_of,
    page,
    staff_only,
    text_field,
)
from bot.conversation.dispatcher import clean_text
from bot.conversation.emergency import urgent_prompt
from bot.core import texts
from bot.core.errors import StoreUnavailableError, UserFacingError
from bot.core.types import Band, Reply
from bot.digest.faq_changes import sync_knowledge_base
from bot.directory.audit import record
from bot.knowledge.matcher import MatchResult
from bot.knowledge.schema import ID_PATTERN, MAX_ANSWER_CHARS, FaqEntry
from bot.store.models import QuestionLog
from bot.teaching.conflicts import outcome
from bot.teaching.drafts import Draft, categories_of, check_draft, save_draft
from bot.teaching.learned import normalised
from bot.teaching.live import LiveKnowledge
from bot.teaching.reports import Gap, gaps_since
from bot.teaching.teach import Status, Teaching, check_text, known_entry, teach

log = logging.getLogger(__name__)

PATH = "/console/knowledge"
DAYS = (7, 30, 90, 365)
DEFAULT_DAYS = 30
SHOWN_GAPS = 50  # of each kind; the rest are counted
CLOSEST = 3  # entries offered first in a gap's Teach list
QUESTION_CHARS = 300
ALTERNATIVES = 100
ALTERNATIVE_CHARS = 300

# One draft at a time in this process (check and write together), a lock per event loop.
_drafting: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _draft_lock() -> asyncio.Lock:
    return _drafting.setdefault(asyncio.get_running_loop(), asyncio.Lock())


def _live(request: Request) -> LiveKnowledge:
    return bot_of(request).dispatcher.kb


async def _refreshed(request: Request) -> LiveKnowledge:
    """The live knowledge base, refreshed as the dispatcher refreshes it before a message."""
    bot = bot_of(request)
    live = _live(request)
    try:
        await live.refresh(bot.db)
    except (StoreUnavailableError, SQLAlchemyError, OSError):
        log.warning("learned phrasings not refreshed", exc_info=True)
    return live


# Try a question


@dataclass(frozen=True)
class Tried:
    """What the bot makes of a question, and what it would send."""

    result: MatchResult
    urgent: bool
    category: str | None
    urgency_score: float
    answer: dict[str, str] | None
    suggestions: list[dict[str, str]]
    member_steps: list[Reply]
    staff_reply: Reply
    as_json: str  # the object `hotline ask --json` prints


def _read(request: Request, live: LiveKnowledge, text: str) -> Tried:
    bot = bot_of(request)
    result = live.match(text)
    urgency = bot.deps.urgency.detect(text)
    # The dispatcher's own reply to a question (a question log not stored: its buttons are shown,
    # never pressed).
    unsaved = QuestionLog(id=0, text=text)
    reply = bot.dispatcher.reply_for(result, unsaved)
    steps = [urgent_prompt(unsaved), reply] if urgency.urgent else [reply]
    answer = None
    if result.answer_id:
        entry = live.entry(result.answer_id)
        answer = {
            "id": result.answer_id,
            "question": entry.question if entry else "",
            "answer": entry.answer if entry else "",
        }
    suggestions = []
    for s in result.suggestions:
        entry = live.entry(s.id)
        suggestions.append(
            {"id": s.id, "question": entry.question if entry else "", "score": f"{s.score:.3f}"}
        )
    payload: dict[str, Any] = result.as_json()
    payload["urgency"] = {"urgent": urgency.urgent, "category": urgency.category}
    return Tried(
        result,
        urgency.urgent,
        urgency.category,
        urgency.score,
        answer,
        suggestions,
        steps,
        reply,
        json.dumps(payload, ensure_ascii=False),
    )


async def _try(
    request: Request, live: LiveKnowledge, raw: str, errors: dict[str, str]
) -> Tried | None:
    limit = bot_of(request).dispatcher.config.max_message_chars
    text = text_field({"q": clean_text(raw)}, "q", errors, label="Question", max_chars=limit)
    if "q" in errors:
        return None
    if text.startswith("/"):
        errors["q"] = "The bot reads a message starting with / as a chat command, not a question."
        return None
    return await asyncio.to_thread(_read, request, live, text)


# Gaps


@dataclass
class GapRow:
    kind: str  # "u" unanswered, "n" not helpful
    n: int
    text: str
    count: int
    last_asked: str
    answered_with: str | None
    closest: list[tuple[str, str]]
    key: str = ""
    error: str = ""
    chosen: str = ""


@dataclass
class Gaps:
    days: int
    unanswered: list[GapRow] = field(default_factory=list)
    not_helpful: list[GapRow] = field(default_factory=list)
    more_unanswered: int = 0
    more_not_helpful: int = 0
    taught: int = 0


def _closest(live: LiveKnowledge, text: str) -> list[str]:
    result = live.match(text)
    ids = [*([result.answer_id] if result.answer_id else []), *(s.id for s in result.suggestions)]
    return list(dict.fromkeys(ids))[:CLOSEST]


async def _gaps(request: Request, live: LiveKnowledge, days: int) -> Gaps:
    bot = bot_of(request)
    since = now_of(request) - timedelta(days=days)
    async with bot.db.reading() as session:
        found = await gaps_since(session, since, live.base)
    tz = bot.deps.timezone

    def rows(kind: str, gaps: tuple[Gap, ...]) -> list[GapRow]:
        out = []
        for n, gap in enumerate(gaps[:SHOWN_GAPS], start=1):
            closest = []
            for entry_id in _closest(live, gap.text):
                entry = live.entry(entry_id)
                if entry is not None:
                    closest.append((entry_id, f"{entry_id}: {entry.question}"))
            out.append(
                GapRow(
                    kind,
                    n,
                    gap.text,
                    gap.count,
                    gap.last_asked.astimezone(tz).strftime("%d %b %Y %H:%M"),
                    gap.answered_with,
                    closest,
                    normalised(gap.text),
                )
            )
        return out

    unanswered, not_helpful = await asyncio.to_thread(
        lambda: (rows("u", found.unanswered), rows("n", found.not_helpful))
    )
    return Gaps(
        days,
        unanswered,
        not_helpful,
        max(0, len(found.unanswered) - SHOWN_GAPS),
        max(0, len(found.not_helpful) - SHOWN_GAPS),
        found.taught,
    )


def _days(raw: str | None, errors: dict[str, str]) -> int:
    if raw is None or raw == "":
        return DEFAULT_DAYS
    if raw.isdigit() and int(raw) in DAYS:
        return int(raw)
    errors["days"] = "Choose one of the periods offered."
    return DEFAULT_DAYS


# The page


def _notice(request: Request, live: LiveKnowledge) -> str | None:
    """The message after a Teach or a draft (303 back here): ids only in the address, never a
    member's words."""
    params = request.query_params
    done = params.get("done")
    entry_id = params.get("entry", "")[:60]
    entry = live.entry(entry_id)
    if entry is None or done not in ("taught", "known", "drafted"):
        return None
    if done == "known":
        return f"Already known: that wording is a phrasing of {entry.id}. Nothing changed."
    if done == "drafted":
        return (
            f"Entry {entry.id} ({entry.question}) saved in {entry.source} and loaded: the bot "
            "answers with it now. Try it below."
        )
    line = f"Taught: that wording → {entry.id} ({entry.question})."
    still = params.get("still")
    if still:
        line += " " + texts.TEACH_STILL.format(outcome=still[:60])
    else:
        line += " " + texts.TEACH_ANSWERS
    changed = params.get("changed", "")
    if changed.isdigit() and int(changed):
        line += f" It changed the answer to {changed} phrasing(s) of other entries."
    return line


async def _render(
    request: Request,
    signed: Signed,
    status: int = 200,
    *,
    errors: dict[str, str] | None = None,
    taught: Teaching | None = None,
    teach_error: tuple[str, str, str] | None = None,
    days: int | None = None,
) -> Response:
    errors = dict(errors or {})
    live = await _refreshed(request)
    question = request.query_params.get("q") if status == 200 else None
    tried = await _try(request, live, question, errors) if question is not None else None
    if days is None:
        days = _days(request.query_params.get("days"), errors)
    gaps = await _gaps(request, live, days)
    general_teach_error = ""
    if teach_error is not None:
        key, chosen, message_text = teach_error
        rows = [r for r in (*gaps.unanswered, *gaps.not_helpful) if r.key == key]
        for row in rows:
            row.error, row.chosen = message_text, chosen
        if not rows:
            general_teach_error = message_text
    options = [(e.id, f"{e.id}: {e.question}") for e in sorted_entries(live)]
    if status == 200 and "days" in errors:
        status = 400
    if status == 200 and "q" in errors:
        status = 400
    return page(
        "knowledge.html",
        status,
        title="Knowledge",
        signed=signed,
        current=PATH,
        notice=_notice(request, live) if status == 200 else None,
        errors=errors,
        question=question or "",
        tried=tried,
        band_words=BAND_WORDS,
        gaps=gaps,
        days_options=[(str(d), f"the last {d} days") for d in DAYS],
        entry_options=options,
        taught=taught,
        taught_lines=_lines(taught) if taught else [],
        general_teach_error=general_teach_error,
        default_days=DEFAULT_DAYS,
    )


def sorted_entries(live: LiveKnowledge) -> list[FaqEntry]:
    return sorted(live.index.entries, key=lambda e: e.id)


BAND_WORDS = {
    Band.ANSWER.value: "Answer: the bot answers with one entry",
    Band.SUGGEST.value: "Suggest: the bot offers the closest entries to choose from",
    Band.UNKNOWN.value: "Unknown: the bot does not know, and offers to pass it to the team",
}


def _lines(taught: Teaching) -> list[str]:
    return taught.lines(
        held_hint="Press Teach anyway to store it all the same, or choose another entry."
    )


async def knowledge(request: Request, signed: Signed) -> Response:
    return await _render(request, signed)


# Teach


async def teach_gap(request: Request, signed: Signed) -> Response:
    bot = bot_of(request)
    form = await form_of(request)
    errors: dict[str, str] = {}
    days = _days(form.get("days"), errors)
    text = form.get("text", "")
    entry_id = form.get("entry", "").strip()
    force = form.get("force") == "1"
    live = _live(request)
    limit = bot.dispatcher.config.max_message_chars
    key = normalised(text)
    # Bad input is refused before the database is asked anything (as `hotline faq teach`).
    try:
        if not entry_id:
            raise UserFacingError("Choose the entry that should have answered.")
        check_text(text, limit)
        known_entry(live.base, entry_id)
    except UserFacingError as exc:
        return await _render(request, signed, 400, teach_error=(key, entry_id, str(exc)), days=days)
    refused: str | None = None
    async with bot.db.session() as session:
        try:
            taught: Teaching | None = await teach(
                session,
                live,
                entry_id,
                text,
                max_chars=limit,
                taught_by=signed.person.id,
                force=force,
            )
        except UserFacingError as exc:  # the wording is another entry's already
            taught, refused = None, str(exc)
        if taught is not None and taught.status is Status.TAUGHT:
            detail = f"{len(taught.conflicts)} other answers changed" if taught.conflicts else ""
            record(
                session,
                actor(request, signed),
                "teach",
                taught.entry.id,
                detail=f"forced: {detail}" if force and detail else detail,
            )
            await session.commit()
    # Answered once the session is over (the page reads the database again).
    if taught is None:
        return await _render(
            request, signed, 409, teach_error=(key, entry_id, refused or ""), days=days
        )
    if taught.status is Status.HELD:
        return await _render(request, signed, 409, taught=taught, days=days)
    if taught.status is Status.KNOWN:
        return back_to(f"{PATH}?{urlencode({'done': 'known', 'entry': taught.entry.id})}")
    if taught.kb is not None and taught.version is not None:
        live.install(taught.kb, taught.version)  # durable first; then every message here uses it
    log.info("console teach person=%d entry=%s", signed.person.id, taught.entry.id)
    params = {"done": "taught", "entry": taught.entry.id}
    result = taught.result
    if result is not None and not (
        result.band is Band.ANSWER and result.answer_id == taught.entry.id
    ):
        params["still"] = outcome(result)
    if taught.conflicts:
        params["changed"] = str(len(taught.conflicts))
    if days != DEFAULT_DAYS:
        params["days"] = str(days)
    return back_to(f"{PATH}?{urlencode(params)}")


# Draft a new entry


def _draft_of(form: dict[str, str], errors: dict[str, str]) -> Draft:
    def clean(name: str) -> dict[str, str]:
        return {name: clean_text(form.get(name, "").replace("\r\n", "\n"))}

    entry_id = text_field(clean("id"), "id", errors, label="Id", max_chars=50).lower()
    if "id" not in errors and not ID_PATTERN.match(entry_id):
        errors["id"] = (
            "Use 2 to 50 lower-case letters, digits and hyphens, starting with a letter or digit."
        )
    question = " ".join(
        text_field(
            clean("question"), "question", errors, label="Question", max_chars=QUESTION_CHARS
        ).split()
    )
    answer = text_field(
        clean("answer"), "answer", errors, label="Answer", max_chars=MAX_ANSWER_CHARS
    )
    category = text_field(clean("category"), "category", errors, label="Category", max_chars=60)
    lines = [" ".join(line.split()) for line in clean("alternatives")["alternatives"].split("\n")]
    alternatives = tuple(dict.fromkeys(line for line in lines if line))
    if len(alternatives) > ALTERNATIVES:
        errors["alternatives"] = f"At most {ALTERNATIVES} other phrasings ({len(alternatives)})."
    elif any(len(a) > ALTERNATIVE_CHARS for a in alternatives):
        errors["alternatives"] = f"Each phrasing can be at most {ALTERNATIVE_CHARS} characters."
    return Draft(entry_id, question, answer, category, alternatives)


CHECK_FAILED = "The FAQ folder does not pass its check with this entry, so nothing was saved:"


def _draft_page(
    request: Request,
    signed: Signed,
    status: int = 200,
    *,
    errors: dict[str, str] | None = None,
    draft: dict[str, str] | None = None,
    problems: tuple[str, ...] = (),
    problems_head: str = CHECK_FAILED,
) -> Response:
    bot = bot_of(request)
    entries = sorted_entries(_live(request))
    categories = categories_of(bot.settings.data_dir, {e.category for e in entries})
    return page(
        "knowledge_draft.html",
        status,
        title="Draft a new entry",
        signed=signed,
        current=PATH,
        errors=errors or {},
        draft=draft or {},
        draft_problems=problems,
        problems_head=problems_head,
        folder=str(bot.settings.data_dir / "faq"),
        category_options=[("", "Choose a category"), *((c, c) for c in categories)],
        limits={"question": QUESTION_CHARS, "answer": MAX_ANSWER_CHARS},
    )


async def draft_form(request: Request, signed: Signed) -> Response:
    return _draft_page(request, signed)


async def draft_entry(request: Request, signed: Signed) -> Response:
    bot = bot_of(request)
    form = await form_of(request)
    errors: dict[str, str] = {}
    draft = _draft_of(form, errors)
    shown = {name: form.get(name, "") for name in ("id", "question", "answer", "category")}
    shown["alternatives"] = form.get("alternatives", "")
    if errors:
        return _draft_page(request, signed, 400, errors=errors, draft=shown)
    data_dir = bot.settings.data_dir
    now = now_of(request)
    note = (
        f"Drafted in the staff console by {signed.person.name}, {now:%Y-%m-%d %H:%M} UTC. "
        "Checked with `hotline faq check`."
    )
    live = _live(request)
    async with _draft_lock():
        checked = await asyncio.to_thread(check_draft, data_dir, draft, note)
        if not checked.ok:
            return _draft_page(
                request, signed, 400, errors=checked.fields, draft=shown, problems=checked.other
            )
        try:
            path = await asyncio.to_thread(save_draft, data_dir, draft, note)
        except OSError as exc:
            log.error("FAQ draft not written entry=%s: %s", draft.id, exc.strerror)
            return _draft_page(
                request,
                signed,
                500,
                draft=shown,
                problems=(f"{draft.filename} could not be written: {exc.strerror}.",),
                problems_head="Nothing was saved:",
            )
        # Loaded here (or by a message's refresh a moment ago, which found the new file first).
        await live.reload_files(bot.db)
    async with bot.db.session() as session:
        record(session, actor(request, signed), "faq entry add", draft.id, detail=path.name)
        await session.commit()
    log.info("console FAQ entry added person=%d entry=%s", signed.person.id, draft.id)
    if live.entry(draft.id) is None:
        return _draft_page(
            request,
            signed,
            500,
            draft=shown,
            problems=(
                f"{path.name} was written but the knowledge base could not be read again: "
                "run hotline faq check.",
            ),
            problems_head="Saved, but not loaded:",
        )
    await sync_knowledge_base(bot.db, live.base)  # the digest's "new guidance" lists it
    return back_to(f"{PATH}?{urlencode({'done': 'drafted', 'entry': draft.id})}")


def routes() -> list[BaseRoute]:
    return [
        Route(PATH, staff_only(knowledge), methods=["GET"]),
        Route(f"{PATH}/teach", staff_only(teach_gap, post=True), methods=["POST"]),
        Route(f"{PATH}/draft", staff_only(draft_form), methods=["GET"]),
        Route(f"{PATH}/draft", staff_only(draft_entry, post=True), methods=["POST"]),
    ]
