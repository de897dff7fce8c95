"""A person's copy of their data (the right of access): everything the hotline holds about them,
as JSON (data.json) and a readable summary (summary.html), into a folder or a zip.

What it holds: their directory record, their linked chat accounts, the questions they asked and
their feedback on answers, their requests with each request's timeline, the messages the bot
sent them (digests and the rest: channel, status, times, text; for a message about someone
else's request, such as a ping to staff quoting a member, not its text) and the audit entries
about them or by them. It is read and written in one transaction with the audit entry
("export") that records it, so the entry exists exactly when the copy was written.

An erased person (erase.py) is no longer found by their email: their copy holds nothing more.
"""

from __future__ import annotations

import enum
import json
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.core.errors import UserFacingError
from bot.directory.audit import Actor, record
from bot.store.models import (
    AnswerFeedback,
    AuditEntry,
    HotlineRequest,
    Identity,
    OutboundMessage,
    Person,
    QuestionLog,
    RequestEvent,
    School,
)

DATA_FILE = "data.json"
SUMMARY_FILE = "summary.html"

Json = dict[str, Any]

# A message to staff about someone else's request (a ping quoting the member) is listed, its
# text left out: that text is the other person's.
OTHERS_TEXT = "[about another person's request: its text is theirs, not included]"


def _value(value: object) -> object:
    """A column's value as JSON: times in ISO 8601 (UTC), enums by their value."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _row(row: object, *columns: str) -> Json:
    return {c: _value(getattr(row, c)) for c in columns}


async def _names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    """Who someone mentioned by id is (staff who acted on a request, audit actors)."""
    if not ids:
        return {}
    rows = await session.execute(select(Person.id, Person.name).where(Person.id.in_(ids)))
    return dict(rows.all())


async def _references(session: AsyncSession, ids: set[int | None]) -> dict[int, str | None]:
    if not ids:
        return {}
    rows = await session.execute(
        select(HotlineRequest.id, HotlineRequest.reference).where(HotlineRequest.id.in_(ids))
    )
    return dict(rows.all())


async def gather(session: AsyncSession, person: Person, now: datetime) -> Json:
    """Everything held about `person`, as JSON-ready data."""
    identities = await session.scalars(
        select(Identity).where(Identity.person_id == person.id).order_by(Identity.id)
    )
    questions = await session.scalars(
        select(QuestionLog).where(QuestionLog.person_id == person.id).order_by(QuestionLog.id)
    )
    feedback = await session.scalars(
        select(AnswerFeedback)
        .where(AnswerFeedback.person_id == person.id)
        .order_by(AnswerFeedback.id)
    )
    requests = list(
        await session.scalars(
            select(HotlineRequest)
            .where(HotlineRequest.person_id == person.id)
            .options(selectinload(HotlineRequest.school))
            .order_by(HotlineRequest.id)
        )
    )
    events = list(
        await session.scalars(
            select(RequestEvent)
            .where(RequestEvent.request_id.in_([r.id for r in requests]))
            .order_by(RequestEvent.at, RequestEvent.id)
        )
    )
    messages = list(
        await session.scalars(
            select(OutboundMessage)
            .where(OutboundMessage.person_id == person.id)
            .order_by(OutboundMessage.created_at, OutboundMessage.id)
        )
    )
    audit = list(
        await session.scalars(
            select(AuditEntry)
            .where(or_(AuditEntry.subject_person_id == person.id, AuditEntry.actor_id == person.id))
            .order_by(AuditEntry.at, AuditEntry.id)
        )
    )
    names = await _names(
        session,
        {e.person_id for e in events if e.person_id is not None}
        | {r.acknowledged_by_id for r in requests if r.acknowledged_by_id is not None}
        | {r.resolved_by_id for r in requests if r.resolved_by_id is not None}
        | {a.actor_id for a in audit if a.actor_id is not None},
    )
    own = {r.id: r.reference for r in requests}
    others = await _references(
        session, {m.request_id for m in messages if m.request_id not in (None, *own)}
    )
    school = await session.get(School, person.school_id) if person.school_id else None
    return {
        "exported_at": now.isoformat(),
        "person": {
            **_row(person, "id", "email", "name", "role", "job_title", "phone"),
            "school": None if school is None else {"code": school.code, "name": school.name},
            **_row(
                person,
                "working_hours",
                "active",
                "digest_subscribed",
                "digest_channel",
                "email_after_minutes",
                "safeguarding",
                "created_at",
            ),
        },
        "linked_accounts": [
            _row(i, "channel", "external_id", "chat_id", "reachable", "created_at")
            for i in identities
        ],
        "questions": [
            _row(
                q,
                "id",
                "created_at",
                "channel",
                "text",
                "band",
                "matched_id",
                "chosen_id",
                "score",
                "passed_on",
                "redacted_at",
            )
            for q in questions
        ],
        "feedback": [_row(f, "question_id", "faq_id", "helpful", "created_at") for f in feedback],
        "requests": [
            {
                **_row(r, "reference", "kind", "status", "category", "channel"),
                "school": r.school.name if r.school is not None else None,
                **_row(r, "text", "created_at", "acknowledged_at"),
                "acknowledged_by": names.get(r.acknowledged_by_id or 0),
                **_row(r, "resolved_at"),
                "resolved_by": names.get(r.resolved_by_id or 0),
                **_row(r, "resolution_note", "redacted_at"),
                "timeline": [
                    {
                        **_row(e, "at", "kind", "detail"),
                        "by": names.get(e.person_id or 0),
                    }
                    for e in events
                    if e.request_id == r.id
                ],
            }
            for r in requests
        ],
        "messages": [
            {
                **_row(m, "dedupe_key", "channel", "status", "created_at", "sent_at"),
                "text": m.text if m.request_id is None or m.request_id in own else OTHERS_TEXT,
                "request": own.get(m.request_id or 0) or others.get(m.request_id or 0),
            }
            for m in messages
        ],
        "audit_about_them": [
            {
                **_row(a, "at", "action", "subject", "detail", "via"),
                "by": names.get(a.actor_id or 0),
            }
            for a in audit
            if a.subject_person_id == person.id
        ],
        "audit_by_them": [
            _row(a, "at", "action", "subject", "detail", "via")
            for a in audit
            if a.actor_id == person.id
        ],
    }


def render_summary(data: Json) -> str:
    """The readable summary: the same data as data.json, as an HTML page (autoescaped)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    environment = Environment(
        loader=PackageLoader("bot.privacy", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return environment.get_template("export_summary.html").render(data=data)


def check_destination(out: Path) -> None:
    """Refuse to write over anything: an existing zip, or a folder with files in it."""
    if out.suffix.lower() == ".zip":
        if out.exists():
            raise UserFacingError(f"{out}: already exists; choose a new file name for the copy")
        if not out.parent.is_dir():
            raise UserFacingError(f"{out.parent}: no such folder for the zip")
    elif out.exists():
        if not out.is_dir():
            raise UserFacingError(f"{out}: is a file; give a folder or a name ending in .zip")
        if any(out.iterdir()):
            raise UserFacingError(f"{out}: the folder is not empty; choose an empty or new one")


def write_copy(data: Json, out: Path) -> list[str]:
    """data.json and summary.html into the folder `out` (made when missing) or the zip `out`;
    the names of the files written."""
    check_destination(out)
    files = {
        DATA_FILE: json.dumps(data, indent=2, ensure_ascii=False) + "\n",
        SUMMARY_FILE: render_summary(data),
    }
    zipped = out.suffix.lower() == ".zip"
    try:
        if zipped:
            with zipfile.ZipFile(out, "x", compression=zipfile.ZIP_DEFLATED) as archive:
                for name, text in files.items():
                    archive.writestr(name, text)
        else:
            out.mkdir(parents=True, exist_ok=True)
            for name, text in files.items():
                (out / name).write_text(text, encoding="utf-8")
    except OSError as exc:
        if zipped:
            out.unlink(missing_ok=True)  # no half-written zip left behind
        raise UserFacingError(f"{out}: cannot write the copy ({exc.strerror or exc})") from None
    return list(files)


@dataclass(frozen=True)
class Exported:
    person_id: int
    name: str
    counts: dict[str, int]  # records per section (linked_accounts, questions, requests, ...)


async def export_person(
    session: AsyncSession, person: Person, out: Path, actor: Actor, now: datetime
) -> Exported:
    """Write `person`'s copy to `out` and record the export in the audit log (the subject is the
    person's id, never their email, so an erasure later leaves no address behind)."""
    check_destination(out)  # before reading anything
    data = await gather(session, person, now)
    write_copy(data, out)
    counts = {k: len(v) for k, v in data.items() if isinstance(v, list)}
    record(
        session,
        actor,
        "export",
        f"person #{person.id}",
        about=person.id,
        detail=", ".join(f"{k.replace('_', ' ')} {n}" for k, n in counts.items()),
        at=now,
    )
    await session.flush()
    return Exported(person.id, person.name, counts)
