"""Erasing a person (the right to erasure), keeping the partnership's records true.

What goes: their linked chat accounts, invitation codes and console sign-in links and sessions
(deleted); their feedback (deleted); the texts of their questions and of their requests (the
request's text, notes, replies, its timeline's texts, the messages sent about it: redacted with
"[removed at the person's request on DATE]", redaction.py); the texts of every message sent to
them, and the address or chat they went to (on their requests too, so a reply typed later
reaches nobody); pending messages to them (cancelled); the digest (turned off). The person row
stays, anonymised: named "a former member of <their school>" (or "a former member"), an email no
one has ("erased-<id>@erased.invalid"), no phone, job title or working hours, inactive,
`erased_at` set. So their requests still count in reports, by school and
category, and read "a former member of St Mary's".

Someone still on the duty rota (a shift, the fallback, a chain, a cover now or later) is refused
until replaced: the rota is escalation's (bot/commands/privacy_rights.py looks), passed in here
as `on_rota` so that no caller can forget it.

Erasing again: the audit entry ("erase", subject "person #ID", never the name or email in clear)
keeps a salted SHA-256 of the erased email (a fresh random salt per entry), so that a second
`erase EMAIL` (or `export EMAIL`) can say "erased on DATE" without the address being kept. Anyone
holding the database could test a guessed address against it, one entry at a time; nobody can
read the address back from it.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bot.core.errors import UserFacingError
from bot.directory.audit import Actor, record
from bot.directory.identities import unlink_accounts
from bot.privacy.redaction import ERASURE, marker, redact_question, redact_request
from bot.store.models import (
    AnswerFeedback,
    AuditEntry,
    ConsoleLink,
    ConsoleSession,
    HotlineRequest,
    Identity,
    InviteCode,
    OutboundMessage,
    OutboxStatus,
    Person,
    QuestionLog,
    School,
)

ACTION = "erase"
HASH = "sha256"
ERASED_DOMAIN = "erased.invalid"  # .invalid never resolves (RFC 2606): nothing is ever sent
DIGEST_OFF = "off"  # bot/digest/subscriptions.OFF (bot.privacy may not import bot.digest)

# Where the person is still on the duty rota ("primary on Mon-Fri 08:00-18:00", ...): empty
# when they are on it nowhere now or later.
OnRota = Callable[[AsyncSession, Person], Awaitable[list[str]]]


def placeholder(person_id: int) -> str:
    """The email an erased person's row holds: unique, and no one's."""
    return f"erased-{person_id}@{ERASED_DOMAIN}"


def former_name(school: School | None) -> str:
    return f"a former member of {school.name}" if school is not None else "a former member"


def _digest(salt: str, email: str) -> str:
    return hashlib.sha256(f"{salt}:{email.strip().lower()}".encode()).hexdigest()


def email_token(email: str) -> str:
    """What the audit entry keeps of the address: a salted hash, to recognise it again."""
    salt = secrets.token_hex(8)
    return f"{HASH}:{salt}:{_digest(salt, email)}"


def _matches(detail: str, email: str) -> bool:
    for word in detail.split():
        scheme, _, rest = word.partition(":")
        salt, _, digest = rest.partition(":")
        if scheme == HASH and digest and secrets.compare_digest(digest, _digest(salt, email)):
            return True
    return False


async def erased_on(session: AsyncSession, email: str) -> datetime | None:
    """When the person who had this email was erased (None: nobody with it was)."""
    rows = await session.execute(
        select(AuditEntry.at, AuditEntry.detail)
        .where(AuditEntry.action == ACTION)
        .order_by(AuditEntry.at.desc())
    )
    return next((at for at, detail in rows if _matches(detail, email)), None)


@dataclass(frozen=True)
class Plan:
    """What an erasure removes, counted (shown before it is done, recorded after)."""

    accounts: int
    questions: int
    feedback: int
    requests: int
    messages: int
    pending: int  # of the messages, those not sent yet (cancelled)
    invites: int
    console: int  # sign-in links and sessions
    held: int = 0  # of the requests, those under a legal hold: their texts are kept

    def lines(self) -> list[str]:
        lines = [
            f"delete {self.accounts} linked chat account(s)",
            f"delete {self.invites} invitation code(s) and {self.console} console sign-in(s)",
            f"redact {self.questions} question(s) and delete {self.feedback} feedback answer(s)",
            f"redact the texts of {self.requests - self.held} request(s), keeping them for the "
            "records",
            f"redact {self.messages} message(s) sent to them, cancelling {self.pending} not sent",
            "turn the digest off and anonymise the directory record",
        ]
        if self.held:
            lines.insert(
                4,
                f"keep the texts of {self.held} request(s) under a legal hold as they are "
                "(hotline privacy release REF, then erase again, to remove them)",
            )
        return lines

    def detail(self) -> str:
        return (
            f"accounts {self.accounts}, questions {self.questions}, feedback {self.feedback}, "
            f"requests {self.requests} ({self.held} held, kept), messages {self.messages} "
            f"({self.pending} cancelled), invites {self.invites}, console {self.console}"
        )


PENDING = (OutboxStatus.PENDING, OutboxStatus.SENDING)


async def _count(session: AsyncSession, column: InstrumentedAttribute[int | None], pid: int) -> int:
    return await session.scalar(select(func.count()).where(column == pid)) or 0


async def plan(session: AsyncSession, person: Person) -> Plan:
    """What erasing `person` would do, counted."""
    pid = person.id
    pending = await session.scalar(
        select(func.count()).where(
            OutboundMessage.person_id == pid, OutboundMessage.status.in_(PENDING)
        )
    )
    return Plan(
        accounts=await _count(session, Identity.person_id, pid),
        questions=await _count(session, QuestionLog.person_id, pid),
        feedback=await _count(session, AnswerFeedback.person_id, pid),
        requests=await _count(session, HotlineRequest.person_id, pid),
        messages=await _count(session, OutboundMessage.person_id, pid),
        pending=pending or 0,
        held=await session.scalar(
            select(func.count()).where(
                HotlineRequest.person_id == pid, HotlineRequest.hold_reason.is_not(None)
            )
        )
        or 0,
        invites=await _count(session, InviteCode.person_id, pid),
        console=await _count(session, ConsoleLink.person_id, pid)
        + await _count(session, ConsoleSession.person_id, pid),
    )


def refuse_if_erased(person: Person, email: str) -> None:
    if person.erased_at is not None:
        raise AlreadyErasedError(email, person.erased_at)


class AlreadyErasedError(UserFacingError):
    """Erasing again: nothing left to do (the command says so and succeeds)."""

    def __init__(self, email: str, at: datetime) -> None:
        super().__init__(f"{email}: already erased on {at:%Y-%m-%d}")
        self.at = at


async def check_rota(session: AsyncSession, person: Person, on_rota: OnRota, email: str) -> None:
    duties = await on_rota(session, person)
    if duties:
        raise UserFacingError(
            f"{email}: {person.name} is still on the duty rota ({'; '.join(duties)}); "
            "replace them (hotline rota import FILE, hotline rota unoverride ID) and erase again"
        )


async def erase_person(
    session: AsyncSession,
    person: Person,
    actor: Actor,
    now: datetime,
    on_rota: OnRota,
    tz: tzinfo = UTC,
) -> Plan:
    """Erase `person` (see the module's docstring); what was done, counted. The caller commits:
    everything, the audit entry included, happens in its one transaction."""
    # Read again under a row lock: a second erasure of the same person at the same moment waits
    # for this one, then finds them erased.
    await session.refresh(person, with_for_update=True)
    email = person.email
    refuse_if_erased(person, email)
    await check_rota(session, person, on_rota, email)
    done = await plan(session, person)
    text = marker(now.astimezone(tz).date(), ERASURE)
    pid = person.id

    await unlink_accounts(session, person)
    await session.execute(delete(InviteCode).where(InviteCode.person_id == pid))
    await session.execute(delete(ConsoleSession).where(ConsoleSession.person_id == pid))
    await session.execute(delete(ConsoleLink).where(ConsoleLink.person_id == pid))

    await session.execute(delete(AnswerFeedback).where(AnswerFeedback.person_id == pid))
    for question in await session.scalars(select(QuestionLog).where(QuestionLog.person_id == pid)):
        redact_question(question, text, now)
    requests = await session.scalars(select(HotlineRequest).where(HotlineRequest.person_id == pid))
    for request in list(requests):
        # A legal hold outweighs the erasure (the record may be needed for a legal claim): its
        # texts stay until the hold is released; the person's directory record still goes.
        if request.hold_reason is None:
            await redact_request(session, request, text, now)
        # Where their conversation was (a private chat's id is their account's): a reply
        # typed later reaches nobody.
        request.chat_id = placeholder(pid)
        request.thread_ref = None

    await session.execute(
        update(OutboundMessage)
        .where(OutboundMessage.person_id == pid, OutboundMessage.status.in_(PENDING))
        .values(status=OutboxStatus.CANCELLED, last_error="erased")
    )
    held = select(HotlineRequest.id).where(
        HotlineRequest.person_id == pid, HotlineRequest.hold_reason.is_not(None)
    )
    await session.execute(  # the address or chat they were sent to goes with the text
        update(OutboundMessage)
        .where(OutboundMessage.person_id == pid)
        .values(chat_id=placeholder(pid))
    )
    await session.execute(  # the texts too, but those about a request under a legal hold
        update(OutboundMessage)
        .where(
            OutboundMessage.person_id == pid,
            or_(OutboundMessage.request_id.is_(None), OutboundMessage.request_id.not_in(held)),
        )
        .values(text=text)
    )

    school = await session.get(School, person.school_id) if person.school_id else None
    person.name = former_name(school)
    person.email = placeholder(pid)
    person.phone = None
    person.job_title = None
    person.working_hours = None
    person.email_after_minutes = None
    person.safeguarding = False
    person.digest_subscribed = False
    person.digest_channel = DIGEST_OFF
    person.active = False
    person.erased_at = now
    record(
        session,
        actor,
        ACTION,
        f"person #{pid}",
        about=pid,
        detail=f"{done.detail()}; email {email_token(email)}",
        at=now,
    )
    await session.flush()
    return done
