"""Emergencies and support by email: the staff ping email, and a support reply by email.

The rule for staff: chat first, then email. When an escalation step pings someone in chat, an
email outbox row is queued in the same transaction, due N minutes later (`next_attempt_at`;
N = the person's `email_after_minutes`, else STAFF_EMAIL_AFTER_MIN). The sender loop does not
claim it before then; acknowledging (or resolving, or replying to) the request cancels every
such row still pending (status "cancelled"), so an acknowledged ping is never emailed. A step's
people with no reachable chat account at all are emailed at once (due now). One ping email per
person per request (dedupe key `pingmail:REQUEST:PERSON`): a repeated step does not email again.

The email (channel "email", chat_id the address, text the whole RFC 5322 message): subject
"[HL-2026-0042] safeguarding emergency at St Mary's", a plain text and an HTML part (every
piece of text escaped), the reference, school, category, member, phone, the member's text, who
else has been pinged, and an Acknowledge link: signed and single use (ack_links.py), or, with
EMAIL_ACK=console, the request's page in the staff console (sign-in needed).

Nothing here is active without `EscalationConfig.email` (bot/loading.py sets it from the
settings; None when no email link can be signed).
"""

from __future__ import annotations

import email.policy
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from html import escape

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import texts
from bot.core.types import Reply
from bot.delivery.outbox import enqueue
from bot.escalation.ack_links import ack_url, console_url, make_token
from bot.store.models import (
    HotlineRequest,
    Identity,
    OutboundMessage,
    OutboxStatus,
    Person,
    School,
)

POLICY = email.policy.SMTP.clone(max_line_length=998)
PREFIX = "pingmail"
CHANNEL = "email"


@dataclass(frozen=True)
class EmailPings:
    """What emailing staff and members needs of the settings."""

    sender: str  # the From line: "The Partnership <hotline@example.org>"
    public_url: str
    secret: bytes  # signs the Acknowledge links
    after: timedelta = timedelta(minutes=2)  # STAFF_EMAIL_AFTER_MIN
    ack: str = "link"  # "link" | "console"

    @property
    def domain(self) -> str:
        return parseaddr(self.sender)[1].rpartition("@")[2] or "localhost"


def email_pings(
    email_from: str, partnership: str, public_url: str, secret: bytes, after_min: int, ack: str
) -> EmailPings:
    address = parseaddr(email_from)[1] or "hotline@localhost"
    return EmailPings(
        formataddr((partnership, address)),
        public_url,
        secret,
        timedelta(minutes=after_min),
        ack,
    )


def _message(
    setup: EmailPings, to: str, subject: str, key: str, now: datetime, plain: str, html: str
) -> str:
    message = EmailMessage(policy=POLICY)
    message["From"] = setup.sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = f"<{key}@{setup.domain}>"
    message.set_content(plain, cte="quoted-printable")
    message.add_alternative(html, subtype="html", cte="quoted-printable")
    return message.as_string()


def _html(title: str, rows: Sequence[tuple[str, str]], text: str, footer: str) -> str:
    cells = "".join(
        f'<tr><th scope="row" align="left">{escape(k)}</th><td>{escape(v)}</td></tr>'
        for k, v in rows
    )
    body = escape(text).replace("\n", "<br>\n")
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head><body>"
        f"<h1>{escape(title)}</h1><table>{cells}</table>"
        f"<blockquote>{body}</blockquote>{footer}</body></html>\n"
    )


@dataclass(frozen=True)
class PingFacts:
    reference: str
    category: str
    school: str
    member: str
    phone: str
    text: str
    others: tuple[str, ...]  # the names of the other people pinged so far


def ping_email(
    setup: EmailPings, facts: PingFacts, request_id: int, person: Person, now: datetime
) -> str:
    """The whole ping email for one staff member, as the outbox stores it."""
    if setup.ack == "console":
        link = console_url(setup.public_url, facts.reference)
        action = "Open the request in the staff console (sign in first) to acknowledge it"
    else:
        link = ack_url(setup.public_url, make_token(setup.secret, request_id, person.id, now))
        action = "Acknowledge"
    subject = f"[{facts.reference}] {facts.category} emergency at {facts.school}"
    others = ", ".join(facts.others) or "nobody else yet"
    rows = [
        ("Reference", facts.reference),
        ("Category", facts.category),
        ("School", facts.school),
        ("From", f"{facts.member} ({facts.phone})"),
        ("Also pinged", others),
    ]
    plain = (
        f"{subject}\n\n"
        + "\n".join(f"{k}: {v}" for k, v in rows)
        + f"\n\nMessage:\n{facts.text}\n\n{action}: {link}\n\n"
        "Nobody has acknowledged this in chat yet. The first to acknowledge owns it; the "
        "member is told.\n"
    )
    footer = (
        f'<p><a href="{escape(link, quote=True)}">{escape(action)}</a></p>'
        "<p>Nobody has acknowledged this in chat yet. The first to acknowledge owns it; the "
        "member is told.</p>"
    )
    html = _html(subject, rows, facts.text, footer)
    return _message(
        setup, person.email, subject, f"{PREFIX}.{request_id}.{person.id}", now, plain, html
    )


async def _facts(session: AsyncSession, request: HotlineRequest, others: list[str]) -> PingFacts:
    member = await session.get(Person, request.person_id)
    school = await session.get(School, request.school_id) if request.school_id else None
    return PingFacts(
        request.reference or "",
        request.category or "urgent",
        school.name if school else "no school",
        member.name if member else "unknown",
        member.phone if member and member.phone else "no phone on file",
        request.text,
        tuple(others),
    )


async def _reachable_people(session: AsyncSession, people_ids: Sequence[int]) -> set[int]:
    rows = await session.scalars(
        select(Identity.person_id).where(
            Identity.person_id.in_(list(people_ids)), Identity.reachable.is_(True)
        )
    )
    return set(rows)


async def pinged_so_far(session: AsyncSession, request: HotlineRequest) -> set[int]:
    """Everyone pinged for the request so far, in chat or by email."""
    rows = await session.scalars(
        select(OutboundMessage.person_id)
        .where(
            OutboundMessage.request_id == request.id,
            or_(
                OutboundMessage.dedupe_key.like("ping:%"),
                OutboundMessage.dedupe_key.like(f"{PREFIX}:%"),
            ),
        )
        .distinct()
    )
    return {r for r in rows if r is not None}


async def queue_ping_emails(
    session: AsyncSession,
    request: HotlineRequest,
    emails: Sequence[str],
    now: datetime,
    setup: EmailPings,
) -> int:
    """An email to each active person among `emails` (a step's targets): due after their
    minutes when they have a reachable chat account (pinged there already), at once when they
    have none. Returns how many were queued (none twice for one person and request)."""
    if not emails:
        return 0
    people = list(
        await session.scalars(
            select(Person)
            .where(Person.email.in_(list(dict.fromkeys(emails))), Person.active.is_(True))
            .order_by(Person.id)
        )
    )
    if not people:
        return 0
    by_chat = await _reachable_people(session, [p.id for p in people])
    pinged = await pinged_so_far(session, request) | {p.id for p in people}
    names = {
        p.id: p.name
        for p in await session.scalars(select(Person).where(Person.id.in_(list(pinged))))
    }
    queued = 0
    for person in people:
        others = [names[i] for i in sorted(pinged) if i != person.id and i in names]
        facts = await _facts(session, request, others)
        if person.id in by_chat:
            minutes = person.email_after_minutes
            due = now + (timedelta(minutes=minutes) if minutes is not None else setup.after)
        else:
            due = now
        added = await enqueue(
            session,
            key=f"{PREFIX}:{request.id}:{person.id}",
            channel=CHANNEL,
            chat_id=person.email,
            reply=Reply(ping_email(setup, facts, request.id, person, now)),
            person_id=person.id,
            request_id=request.id,
            now=due,
        )
        queued += int(added)
    return queued


async def cancel_ping_emails(session: AsyncSession, request: HotlineRequest) -> None:
    """The request has an owner now: ping emails not yet sent are not to be sent."""
    await session.execute(
        update(OutboundMessage)
        .where(
            OutboundMessage.request_id == request.id,
            OutboundMessage.dedupe_key.like(f"{PREFIX}:{request.id}:%"),
            OutboundMessage.status == OutboxStatus.PENDING,
        )
        .values(status=OutboxStatus.CANCELLED, last_error="acknowledged before it was due")
        .execution_options(synchronize_session=False)
    )


# Support replies by email


async def member_by_email(
    session: AsyncSession,
    request: HotlineRequest,
    staff: Person,
    text: str,
    key: str,
    now: datetime,
    setup: EmailPings | None,
    timezone: tzinfo,
) -> bool | None:
    """A staff reply for a member with no reachable chat account goes to their email. None:
    they have a chat account (reply there); True: the email was queued; False: no email could
    be made (the caller falls back to the request's chat)."""
    member = await session.get(Person, request.person_id)
    if member is None:
        return False
    if await _reachable_people(session, [member.id]):
        return None
    if setup is None or not member.email or not member.active:
        return False
    reference = request.reference or ""
    subject = f"[{reference}] A reply from the hotline"
    intro = texts.STAFF_REPLY.format(name=staff.name, reference=request.reference, text="")
    at = now.astimezone(timezone).strftime("%d %b %Y %H:%M")
    plain = f"{intro.rstrip()}\n\n{text}\n\n({at})\n"
    rows = [("Reference", reference), ("From", staff.name), ("Sent", at)]
    html = _html(subject, rows, text, "")
    message = _message(setup, member.email, subject, key.replace(":", "."), now, plain, html)
    return await enqueue(
        session,
        key=key,
        channel=CHANNEL,
        chat_id=member.email,
        reply=Reply(message),
        person_id=member.id,
        request_id=request.id,
        now=now,
    )
