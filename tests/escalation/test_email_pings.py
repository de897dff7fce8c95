"""Emergencies and support by email (issue 14), on both databases: a chat ping not acknowledged
within the staff member's minutes is emailed through a real SMTP server (aiosmtpd) and can be
acknowledged from the email's signed link; acknowledging in chat first cancels it; staff with no
chat account are emailed at once; forged, reused or expired links change nothing; a GET changes
nothing; EMAIL_ACK=console links to the console; a support reply to a member with no chat
account goes by email."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from email.message import EmailMessage
from types import SimpleNamespace
from typing import cast

import httpx
import pytest
from sqlalchemy import select, update

from bot.app import Bot
from bot.conversation.dispatcher import Dispatcher, DispatcherConfig
from bot.core import texts
from bot.delivery.outbox import deliver_due
from bot.escalation.ack_links import make_token
from bot.escalation.email_pings import EmailPings
from bot.handlers.email import EmailSender, SmtpServer
from bot.store.models import (
    AuditEntry,
    HotlineRequest,
    Identity,
    OutboundMessage,
    OutboxStatus,
    Person,
    RequestKind,
    RequestStatus,
)
from bot.web import build_web_app
from tests.escalation.conftest import Partnership
from tests.factories import make_person
from tests.fake_smtp import FakeSmtp

PUBLIC = "https://hotline.test"
SECRET = b"k" * 32
EMERGENCY = "/emergency a child has disclosed abuse & is frightened to go home"
LINK = re.compile(r"https://hotline\.test/ack/(\S+)")


@dataclass
class Mail:
    p: Partnership
    smtp: FakeSmtp
    sender: EmailSender
    http: httpx.AsyncClient

    async def deliver(self) -> int:
        return await deliver_due(
            self.p.db, {"console": self.p.channel, "email": self.sender}, self.p.clock
        )

    def to(self, person: Person) -> list[EmailMessage]:
        return [r.message for r in self.smtp.to(person.email)]


def with_email(p: Partnership, ack: str = "link") -> None:
    setup = EmailPings("Hotline <hotline@hotline.test>", PUBLIC, SECRET, timedelta(minutes=2), ack)
    p.deps = replace(p.deps, escalation=replace(p.deps.escalation, email=setup))
    p.dispatcher = Dispatcher(p.db, p.deps, DispatcherConfig())


@pytest.fixture(name="m")
async def mail(p: Partnership) -> AsyncIterator[Mail]:
    with_email(p)
    async with FakeSmtp() as smtp:
        sender = EmailSender(
            "Hotline <hotline@hotline.test>",
            smtp=SmtpServer(host=smtp.host, port=smtp.port, tls="none", timeout_s=5.0),
        )
        app = build_web_app(1_000_000, bot=cast(Bot, SimpleNamespace(db=p.db, deps=p.deps)))
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url=PUBLIC) as http:
                yield Mail(p, smtp, sender, http)
        finally:
            await sender.aclose()


def plain(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def html(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


async def emergency(p: Partnership) -> HotlineRequest:
    await p.say(p.member, EMERGENCY)
    async with p.db.session() as s:
        return (
            await s.scalars(
                select(HotlineRequest).where(HotlineRequest.kind == RequestKind.EMERGENCY)
            )
        ).one()


async def state(p: Partnership, request: HotlineRequest) -> tuple[RequestStatus, int | None, int]:
    async with p.db.session() as s:
        row = await s.get(HotlineRequest, request.id)
        assert row is not None
        audits = len(list(await s.scalars(select(AuditEntry))))
        return row.status, row.acknowledged_by_id, audits


async def email_rows(p: Partnership) -> list[tuple[str, OutboxStatus]]:
    async with p.db.session() as s:
        rows = await s.scalars(
            select(OutboundMessage)
            .where(OutboundMessage.channel == "email")
            .order_by(OutboundMessage.id)
        )
        return [(r.chat_id, r.status) for r in rows]


async def test_an_unacknowledged_ping_falls_to_email_and_is_acknowledged_from_its_link(
    m: Mail,
) -> None:
    p = m.p
    request = await emergency(p)
    await m.deliver()
    assert p.inbox(p.primary)  # chat first
    p.clock.advance(minutes=1, seconds=59)
    await m.deliver()
    assert m.smtp.messages == []  # nothing emailed before the minutes are up
    p.clock.advance(seconds=1)
    await m.deliver()
    (message,) = m.to(p.primary)
    assert re.fullmatch(
        rf"\[{request.reference}\] safeguarding emergency at School \d+", message["Subject"]
    )
    text = plain(message)
    assert "frightened to go home" in text and "Mo Member" in text
    assert "abuse &amp; is frightened" in html(message)  # escaped in the HTML part
    found = LINK.search(text)
    assert found is not None
    token = found[1]

    before = await state(p, request)
    page = await m.http.get(f"/ack/{token}")
    assert page.status_code == 200 and f"Acknowledge {request.reference}" in page.text
    assert '<form method="post">' in page.text
    assert await state(p, request) == before  # a GET changes nothing
    assert before[0] is RequestStatus.OPEN

    done = await m.http.post(f"/ack/{token}")
    assert done.status_code == 200 and "acknowledged" in done.text
    status, owner, audits = await state(p, request)
    assert (status, owner, audits) == (RequestStatus.ACKNOWLEDGED, p.primary.id, before[2] + 1)
    async with p.db.session() as s:
        entry = (await s.scalars(select(AuditEntry))).one()
        assert (entry.action, entry.via, entry.actor_id) == ("acknowledge", "email", p.primary.id)
    await m.deliver()
    assert f"{p.primary.name} from the Partnership has your request" in p.inbox(p.member)[-1]
    edited = [reply for chat, _ref, reply in p.channel.edits if chat == p.primary.email]
    assert edited and "Acknowledged by Pat Primary" in edited[0].text and not edited[0].buttons

    again = await m.http.post(f"/ack/{token}")  # single use
    assert again.status_code == 409 and "already acknowledged by you" in again.text
    assert await state(p, request) == (status, owner, audits)


async def test_acknowledging_in_chat_before_the_minutes_cancels_the_email(m: Mail) -> None:
    p = m.p
    request = await emergency(p)
    await m.deliver()
    p.clock.advance(minutes=1)
    ack = await p.say(p.primary, action=f"ack:{request.id}")
    assert ack.text == texts.YOU_ACKNOWLEDGED.format(reference=request.reference)
    assert await email_rows(p) == [(p.primary.email, OutboxStatus.CANCELLED)]
    p.clock.advance(minutes=10)
    await m.deliver()
    assert m.smtp.messages == []


async def test_a_persons_own_minutes_win_over_the_deployments(m: Mail) -> None:
    p = m.p
    async with p.db.session() as s:
        await s.execute(
            update(Person).where(Person.id == p.primary.id).values(email_after_minutes=5)
        )
    await emergency(p)
    p.clock.advance(minutes=4, seconds=59)
    await m.deliver()
    assert m.smtp.messages == []
    p.clock.advance(seconds=1)
    await m.deliver()
    assert len(m.to(p.primary)) == 1


async def test_staff_with_no_chat_account_are_emailed_at_once(m: Mail) -> None:
    p = m.p
    nochat = await make_person(p.db, name="Nia No-Chat", role=p.primary.role, linked=False)
    await p.office_hours_rota(staff=(nochat, p.backup, p.fallback))
    request = await emergency(p)
    await m.deliver()
    (message,) = m.to(nochat)  # at once, no minutes to wait
    assert "Bea Backup" in plain(message)  # who else has been pinged
    assert p.inbox(p.backup)  # the chain went on to the next step in chat
    assert m.to(p.backup) == []
    p.clock.advance(minutes=2)
    await m.deliver()
    assert len(m.to(p.backup)) == 1
    assert request.reference in message["Subject"]


async def test_an_emergency_with_nobody_reachable_by_chat_goes_to_email_at_once(m: Mail) -> None:
    p = m.p
    people = [
        await make_person(p.db, name=f"Off Chat {n}", role=p.primary.role, linked=False)
        for n in range(3)
    ]
    await p.office_hours_rota(staff=(people[0], people[1], people[2]))
    await emergency(p)
    await m.deliver()
    assert sorted(r for msg in m.smtp.messages for r in msg.rcpt_tos) == sorted(
        q.email for q in people
    )


async def test_forged_expired_and_stale_links_are_refused_and_change_nothing(m: Mail) -> None:
    p = m.p
    request = await emergency(p)
    before = await state(p, request)
    good = make_token(SECRET, request.id, p.primary.id, p.clock())
    forged = good[:-1] + ("A" if good[-1] != "A" else "B")
    other = make_token(b"x" * 32, request.id, p.primary.id, p.clock())
    ids = good.split(".")
    someone_else = ".".join([ids[0], str(p.backup.id), *ids[2:]])
    for token in (forged, other, someone_else):
        for method in ("GET", "POST"):
            answer = await m.http.request(method, f"/ack/{token}")
            assert answer.status_code == 403, (token, method)
            assert "not valid" in answer.text
    for bad in ("nothing", "1.2.3", f"{good}x"):
        assert (await m.http.post(f"/ack/{bad}")).status_code in (400, 403, 404)
    expired = make_token(SECRET, request.id, p.primary.id, p.clock() - timedelta(days=8))
    answer = await m.http.post(f"/ack/{expired}")
    assert answer.status_code == 400 and "expired" in answer.text
    assert await state(p, request) == before
    # A link for a member (not staff) is refused too.
    member = make_token(SECRET, request.id, p.member.id, p.clock())
    assert (await m.http.post(f"/ack/{member}")).status_code == 400
    assert await state(p, request) == before
    # Resolved in chat: the link expires with the request.
    await p.say(p.backup, f"/resolve {request.reference} spoke to the school, all safe")
    resolved = await state(p, request)
    answer = await m.http.post(f"/ack/{good}")
    assert answer.status_code == 409 and "already resolved" in answer.text
    assert await state(p, request) == resolved


async def test_a_link_after_someone_else_acknowledged_says_who(m: Mail) -> None:
    p = m.p
    request = await emergency(p)
    token = make_token(SECRET, request.id, p.primary.id, p.clock())
    await p.say(p.backup, f"/ack {request.reference}")
    before = await state(p, request)
    answer = await m.http.post(f"/ack/{token}")
    assert answer.status_code == 409 and "already acknowledged by Bea Backup" in answer.text
    assert await state(p, request) == before


async def test_with_email_ack_console_the_link_opens_the_console(m: Mail) -> None:
    p = m.p
    with_email(p, ack="console")
    request = await emergency(p)
    p.clock.advance(minutes=2)
    await m.deliver()
    (message,) = m.to(p.primary)
    text = plain(message)
    assert f"{PUBLIC}/console/requests/{request.reference}" in text
    assert "sign in" in text and "/ack/" not in text and "/ack/" not in html(message)


async def test_a_support_reply_to_a_member_without_chat_goes_by_email(m: Mail) -> None:
    p = m.p
    unknown = await p.say(p.member, "can the partnership lend us a minibus for the summer trip")
    await p.say(
        p.member, action=next(b.action for b in unknown.buttons if b.action.startswith("pass:"))
    )
    async with p.db.session() as s:
        request = (
            await s.scalars(
                select(HotlineRequest).where(HotlineRequest.kind == RequestKind.SUPPORT)
            )
        ).one()
        await s.execute(
            update(Identity).where(Identity.person_id == p.member.id).values(reachable=False)
        )
    await m.deliver()
    chat_before = len(p.inbox(p.member))
    sent = await p.say(p.primary, f"/reply {request.reference} Try the borough's <transport> pool.")
    assert sent.text == texts.REPLY_SENT_BY_EMAIL.format(reference=request.reference)
    await m.deliver()
    (message,) = m.to(p.member)
    assert request.reference in message["Subject"]
    assert "Try the borough's <transport> pool." in plain(message)
    assert "&lt;transport&gt;" in html(message)
    assert len(p.inbox(p.member)) == chat_before  # nothing to the unreachable chat


async def test_a_support_reply_to_a_member_with_chat_stays_in_chat(m: Mail) -> None:
    p = m.p
    unknown = await p.say(p.member, "can the partnership lend us a minibus for the summer trip")
    await p.say(
        p.member, action=next(b.action for b in unknown.buttons if b.action.startswith("pass:"))
    )
    async with p.db.session() as s:
        request = (
            await s.scalars(
                select(HotlineRequest).where(HotlineRequest.kind == RequestKind.SUPPORT)
            )
        ).one()
    sent = await p.say(p.primary, f"/reply {request.reference} Try the transport pool.")
    assert sent.text == texts.REPLY_SENT.format(reference=request.reference)
    await m.deliver()
    assert "transport pool" in p.inbox(p.member)[-1]
    assert m.smtp.messages == []
