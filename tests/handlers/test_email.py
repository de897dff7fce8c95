"""Email through the outbox to a real SMTP server (aiosmtpd on 127.0.0.1, tests/fake_smtp.py),
sent by aiosmtplib: a message arrives intact; 4xx replies, hangs and a stopped server are retried
and delivered once; 550 is unreachable, recorded and not retried; other 5xx are not blamed on
the address; connections are reused up to the limit; the throttle spaces sends; STARTTLS,
implicit TLS and login work; without a server each message is a .eml file; every process has
the sender."""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.channels import open_platforms
from bot.config import load_settings
from bot.core.ports import RetryLater, Sent, Unreachable
from bot.core.types import Reply
from bot.delivery.outbox import backoff, deliver_due, enqueue
from bot.handlers.email import EmailSender, SmtpServer, masked
from bot.handlers.throttle import Throttle
from bot.store import Database
from bot.store.models import Identity, OutboundMessage, OutboxStatus, utcnow
from tests.conftest import DATA
from tests.factories import make_person
from tests.fake_smtp import FakeSmtp, tls_certificate

FROM = "Northside Partnership <hotline@northside.example>"
ENVELOPE_FROM = "hotline@northside.example"
AMY = "amy@school.example"
GONE = "gone@school.example"


def compose(to: str, n: int = 0) -> EmailMessage:
    """A digest-like email as the composer builds it: plain and HTML, one-click unsubscribe."""
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = FROM
    msg["To"] = to
    msg["Subject"] = f"This week at the partnership – café evening #{n}"
    msg["Date"] = format_datetime(datetime(2026, 11, 30, 7, 30).astimezone())
    msg["Message-ID"] = make_msgid(idstring=f"digest{n}", domain="northside.example")
    msg["List-Unsubscribe"] = f"<https://hotline.example/unsubscribe/tok{n}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(f"News\n\nThe café evening is on Thursday. Message {n}.\n")
    msg.add_alternative(
        f"<html><body><h1>News</h1><p>The café evening is on <b>Thursday</b>. "
        f"Message {n}.</p></body></html>\n",
        subtype="html",
    )
    return msg


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def after(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def queue(db: Database, to: str, msg: EmailMessage, key: str, **more: int) -> None:
    async with db.session() as session:
        added = await enqueue(
            session,
            key=key,
            channel="email",
            chat_id=to,
            reply=Reply(msg.as_string()),
            now=utcnow() - timedelta(seconds=1),
            **more,  # type: ignore[arg-type]
        )
    assert added


async def row(db: Database, key: str) -> OutboundMessage:
    async with db.session() as session:
        found = await session.scalar(
            select(OutboundMessage).where(OutboundMessage.dedupe_key == key)
        )
        assert found is not None
        return found


@pytest.fixture
async def smtp() -> AsyncIterator[FakeSmtp]:
    async with FakeSmtp() as server:
        yield server


def smtp_sender(
    smtp: FakeSmtp, connections: int = 1, throttle: Throttle | None = None, **server: object
) -> EmailSender:
    config = SmtpServer(host=smtp.host, port=smtp.port, tls="none", timeout_s=5.0)
    config = dataclasses.replace(config, **server)  # type: ignore[arg-type]
    return EmailSender(FROM, smtp=config, connections=connections, throttle=throttle)


def same_content(got: EmailMessage, sent: EmailMessage) -> None:
    for header in (
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
    ):
        # a long Message-ID is folded onto its own line; Python reads that back with the
        # line's leading space
        assert str(got[header]).strip() == str(sent[header]).strip(), header
    assert got.get_content_type() == "multipart/alternative"
    for kind in ("plain", "html"):
        got_part, sent_part = got.get_body((kind,)), sent.get_body((kind,))
        assert got_part is not None and sent_part is not None
        # SMTP carries lines ending CRLF (RFC 5321); the words are the same
        got_text = got_part.get_content().replace("\r\n", "\n")
        assert got_text == sent_part.get_content()


# Through the outbox, on both databases


async def test_an_email_goes_through_the_outbox_and_arrives_intact(
    db: Database, smtp: FakeSmtp
) -> None:
    msg = compose(AMY)
    await queue(db, AMY, msg, "digest:1:amy")
    sender = smtp_sender(smtp)
    try:
        assert await deliver_due(db, {"email": sender}) == 1
    finally:
        await sender.aclose()
    [got] = smtp.messages
    assert got.mail_from == ENVELOPE_FROM
    assert got.rcpt_tos == (AMY,)
    same_content(got.message, msg)
    sent = await row(db, "digest:1:amy")
    assert sent.status is OutboxStatus.SENT
    assert sent.sent_ref == msg["Message-ID"]
    assert sent.attempts == 1


@pytest.mark.parametrize(
    ("at", "reply"),
    [
        ("RCPT", "450 4.2.1 Mailbox busy, try later"),
        ("RCPT", "452 4.2.2 Over quota for now"),
        ("MAIL", "421 4.3.2 Service shutting down"),  # the server hangs up after it
        ("DATA", "451 4.3.0 Local error, try later"),
    ],
)
async def test_a_temporary_refusal_is_retried_and_delivered_once(
    db: Database, smtp: FakeSmtp, at: str, reply: str
) -> None:
    smtp.answer(reply, at=at, times=1)
    msg = compose(AMY)
    await queue(db, AMY, msg, "k")
    sender, clock = smtp_sender(smtp), Clock()
    try:
        assert await deliver_due(db, {"email": sender}, clock) == 0
        waiting = await row(db, "k")
        assert waiting.status is OutboxStatus.PENDING
        assert waiting.last_error is not None and waiting.last_error.startswith(reply[:3])
        assert await deliver_due(db, {"email": sender}, clock) == 0  # backing off: not yet due
        clock.after(backoff(1).total_seconds())
        assert await deliver_due(db, {"email": sender}, clock) == 1
        clock.after(3600)
        assert await deliver_due(db, {"email": sender}, clock) == 0
    finally:
        await sender.aclose()
    assert len(smtp.refused) == 1
    [got] = smtp.messages  # once
    same_content(got.message, msg)
    done = await row(db, "k")
    assert (done.status, done.attempts, done.last_error) == (OutboxStatus.SENT, 2, None)


async def test_550_marks_the_address_unreachable_and_is_not_retried(
    db: Database, smtp: FakeSmtp
) -> None:
    smtp.answer(f"550 5.1.1 <{GONE}>: Recipient address rejected", recipients={GONE})
    person = await make_person(db, email=GONE, channel="email", external_id=GONE)
    async with db.session() as session:
        identity = await session.scalar(select(Identity).where(Identity.person_id == person.id))
        assert identity is not None
        identity_id = identity.id
    await queue(db, GONE, compose(GONE, 1), "gone", person_id=person.id, identity_id=identity_id)
    await queue(db, AMY, compose(AMY, 2), "amy")
    sender, clock = smtp_sender(smtp), Clock()
    try:
        assert await deliver_due(db, {"email": sender}, clock) == 1
        for _ in range(3):
            clock.after(3600)
            assert await deliver_due(db, {"email": sender}, clock) == 0
    finally:
        await sender.aclose()
    assert [m.rcpt_tos for m in smtp.messages] == [(AMY,)]
    assert len(smtp.refused) == 1  # asked once, never again
    assert smtp.connections == 1  # a refused recipient does not cost the connection
    gone = await row(db, "gone")
    assert gone.status is OutboxStatus.UNREACHABLE
    assert gone.attempts == 1
    assert gone.last_error is not None and gone.last_error.startswith("550 recipient refused")
    assert GONE not in gone.last_error  # addresses are masked in errors (and so in logs)
    async with db.session() as session:
        marked = await session.get(Identity, identity_id)
        assert marked is not None and marked.reachable is False


async def test_a_hung_server_times_out_and_the_message_is_retried(
    db: Database, smtp: FakeSmtp
) -> None:
    smtp.hang(at="DATA", times=1)
    msg = compose(AMY)
    await queue(db, AMY, msg, "k")
    sender, clock = smtp_sender(smtp, timeout_s=0.5), Clock()
    try:
        assert await deliver_due(db, {"email": sender}, clock) == 0
        assert smtp.hung == 1
        waiting = await row(db, "k")
        assert (waiting.status, waiting.last_error) == (OutboxStatus.PENDING, "SMTP timeout")
        clock.after(backoff(1).total_seconds())
        assert await deliver_due(db, {"email": sender}, clock) == 1
    finally:
        await sender.aclose()
    [got] = smtp.messages
    same_content(got.message, msg)
    assert got.connection == 2  # the hung connection was dropped, a new one opened
    assert (await row(db, "k")).status is OutboxStatus.SENT


async def test_a_stopped_server_is_retried_until_it_is_back(db: Database, smtp: FakeSmtp) -> None:
    await queue(db, AMY, compose(AMY, 1), "first")
    sender, clock = smtp_sender(smtp), Clock()
    try:
        assert await deliver_due(db, {"email": sender}, clock) == 1  # a connection is kept open
        await smtp.stop()
        await queue(db, AMY, compose(AMY, 2), "second")
        for attempt in (1, 2):  # the dropped connection, then connection refused
            assert await deliver_due(db, {"email": sender}, clock) == 0
            waiting = await row(db, "second")
            assert (waiting.status, waiting.attempts) == (OutboxStatus.PENDING, attempt)
            assert waiting.last_error is not None
            assert waiting.last_error.startswith("SMTP connection failed")
            clock.after(backoff(attempt).total_seconds())
        await smtp.start()  # the same port
        assert await deliver_due(db, {"email": sender}, clock) == 1
    finally:
        await sender.aclose()
    assert [str(m.message["Message-ID"]).strip() for m in smtp.messages] == [
        (await row(db, "first")).sent_ref,
        (await row(db, "second")).sent_ref,
    ]
    assert (await row(db, "second")).status is OutboxStatus.SENT


async def test_a_kept_connection_found_closed_is_replaced_at_once(
    db: Database, smtp: FakeSmtp
) -> None:
    """A relay's idle timeout closes the kept connection just as the next message starts: it
    goes on a new connection at once. A new connection that drops is retried later."""
    await queue(db, AMY, compose(AMY, 1), "first")
    sender, clock = smtp_sender(smtp), Clock()
    try:
        assert await deliver_due(db, {"email": sender}, clock) == 1
        smtp.drop(at="MAIL", times=1)
        await queue(db, AMY, compose(AMY, 2), "second")
        assert await deliver_due(db, {"email": sender}, clock) == 1  # no retry later needed
        assert (await row(db, "second")).attempts == 1
        await smtp.drop_connections()  # noticed: the next message opens a new one itself
        smtp.drop(at="MAIL", times=1)  # and that one drops too
        await queue(db, AMY, compose(AMY, 3), "third")
        assert await deliver_due(db, {"email": sender}, clock) == 0
        third = await row(db, "third")
        assert (third.status, third.attempts) == (OutboxStatus.PENDING, 1)
        assert third.last_error is not None and "SMTPServerDisconnected" in third.last_error
        clock.after(backoff(1).total_seconds())
        assert await deliver_due(db, {"email": sender}, clock) == 1
    finally:
        await sender.aclose()
    assert smtp.dropped == 2
    assert [m.connection for m in smtp.messages] == [1, 2, 4]
    assert (await row(db, "second")).status is OutboxStatus.SENT


async def test_one_connection_carries_at_most_the_configured_messages(
    db: Database, smtp: FakeSmtp
) -> None:
    for n in range(7):
        await queue(
            db, f"member{n}@school.example", compose(f"member{n}@school.example", n), f"k{n}"
        )
    sender = smtp_sender(smtp, messages_per_connection=3)
    try:
        assert await deliver_due(db, {"email": sender}) == 7
    finally:
        await sender.aclose()
    assert sorted(smtp.per_connection().values()) == [1, 3, 3]
    assert smtp.connections == sender.connections_opened == 3
    assert await smtp.all_closed()  # every one said QUIT (the worn ones and, at close, the last)


async def test_several_connections_share_the_load_and_the_limit(
    db: Database, smtp: FakeSmtp
) -> None:
    for n in range(20):
        await queue(
            db, f"member{n}@school.example", compose(f"member{n}@school.example", n), f"k{n}"
        )
    sender = smtp_sender(smtp, connections=4, messages_per_connection=5)
    try:
        assert await deliver_due(db, {"email": sender}) == 20
    finally:
        await sender.aclose()
    assert len(smtp.messages) == 20
    assert len({m.rcpt_tos for m in smtp.messages}) == 20
    assert max(smtp.per_connection().values()) <= 5
    assert smtp.connections >= 4


async def test_the_throttle_spaces_the_sends(db: Database, smtp: FakeSmtp) -> None:
    """A clock of the test's own: the throttle sleeps it forward, so the count of seconds it
    waited is exact whatever the machine's speed."""
    now = [0.0]
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds
        await asyncio.sleep(0)

    per_second, messages = 5.0, 11
    throttle = Throttle(per_second, 0.0, clock=lambda: now[0], sleep=sleep)
    for n in range(messages):
        await queue(
            db, f"member{n}@school.example", compose(f"member{n}@school.example", n), f"k{n}"
        )
    sender = smtp_sender(smtp, connections=4, throttle=throttle)
    try:
        assert await deliver_due(db, {"email": sender}) == messages
    finally:
        await sender.aclose()
    assert len(smtp.messages) == messages
    # the first goes at once, each later one a fifth of a second after the one before
    assert now[0] == pytest.approx((messages - 1) / per_second)
    assert len(sleeps) >= messages - 1


async def test_without_a_server_each_email_is_an_eml_file(db: Database, tmp_path: Path) -> None:
    folder = tmp_path / "email-outbox"
    msgs = [compose(AMY, n) for n in range(2)]
    for n, msg in enumerate(msgs):
        await queue(db, AMY, msg, f"k{n}")
    sender = EmailSender(FROM, outbox_dir=folder)
    assert await deliver_due(db, {"email": sender}) == 2
    files = sorted(folder.iterdir())
    assert [f.suffix for f in files] == [".eml", ".eml"]  # no temporary file left behind
    by_id = {}
    for path in files:
        parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        by_id[str(parsed["Message-ID"]).strip()] = parsed
        stamp, _, rest = path.stem.partition("-")
        assert stamp.endswith("Z") and len(stamp) == len("20261130T073000123456Z")
        assert "digest" in rest and "northside.example" in rest
    for n, msg in enumerate(msgs):
        same_content(by_id[str(msg["Message-ID"])], msg)
        assert (await row(db, f"k{n}")).sent_ref == msg["Message-ID"]


# The sender alone, against the real server: how each reply maps to an outcome


@pytest.mark.parametrize(
    ("at", "reply", "outcome"),
    [
        ("RCPT", "550 5.1.1 No such user", Unreachable),
        ("RCPT", "551 5.1.6 User has moved", Unreachable),
        ("RCPT", "553 5.1.3 Bad address syntax", Unreachable),
        ("RCPT", "554 5.7.1 Relay access denied", RetryLater),  # about us, not the address
        ("RCPT", "530 5.7.0 Authentication required", RetryLater),
        ("RCPT", "450 4.2.1 Mailbox busy", RetryLater),
        ("MAIL", "553 5.7.1 Sender address not allowed", RetryLater),
        ("MAIL", "451 4.3.0 Try later", RetryLater),
        ("DATA", "554 5.0.0 Transaction failed", RetryLater),
        ("DATA", "552 5.3.4 Message too big", RetryLater),
        ("DATA", "550 5.1.1 No such user here", Unreachable),
        ("DATA", "550 5.7.1 Rejected as spam", RetryLater),
        ("DATA", "421 4.3.2 Closing", RetryLater),
    ],
)
async def test_each_reply_maps_to_an_outcome(
    smtp: FakeSmtp, at: str, reply: str, outcome: type[RetryLater | Unreachable]
) -> None:
    smtp.answer(reply, at=at)
    sender = smtp_sender(smtp)
    try:
        result = await sender.send(AMY, Reply(compose(AMY).as_string()))
    finally:
        await sender.aclose()
    assert type(result) is outcome
    assert result.error.startswith(reply[:3])
    assert smtp.refused == [(at, () if at == "MAIL" else (AMY,), reply)]
    assert smtp.messages == []


async def test_login_with_the_configured_user(smtp: FakeSmtp) -> None:
    async with FakeSmtp(credentials=("hotline", "s3cret pass")) as guarded:
        good = smtp_sender(guarded, username="hotline", password="s3cret pass")
        wrong = smtp_sender(guarded, username="hotline", password="guess")
        anonymous = smtp_sender(guarded)
        try:
            assert isinstance(await good.send(AMY, Reply(compose(AMY).as_string())), Sent)
            refused = await wrong.send(AMY, Reply(compose(AMY, 1).as_string()))
            assert isinstance(refused, RetryLater) and "login refused" in refused.error
            unauthenticated = await anonymous.send(AMY, Reply(compose(AMY, 2).as_string()))
            assert isinstance(unauthenticated, RetryLater)
            assert unauthenticated.error.startswith("530")
        finally:
            for sender in (good, wrong, anonymous):
                await sender.aclose()
        assert guarded.logins == ["hotline"]
        assert [m.login for m in guarded.messages] == ["hotline"]


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
async def test_tls_then_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tls: str) -> None:
    certificate = tls_certificate(tmp_path)
    async with FakeSmtp(credentials=("hotline", "pw"), tls=tls, certificate=certificate) as guarded:
        untrusted = smtp_sender(guarded, tls=tls, username="hotline", password="pw")
        try:
            refused = await untrusted.send(AMY, Reply(compose(AMY, 1).as_string()))
        finally:
            await untrusted.aclose()
        assert isinstance(refused, RetryLater), refused  # the certificate is not trusted
        assert "SMTP connection failed" in refused.error
        assert guarded.messages == [] and guarded.logins == []
        monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # now it is
        sender = smtp_sender(guarded, tls=tls, username="hotline", password="pw")
        try:
            assert isinstance(await sender.send(AMY, Reply(compose(AMY).as_string())), Sent)
        finally:
            await sender.aclose()
        assert guarded.logins == ["hotline"]
        [got] = guarded.messages
        assert got.login == "hotline" and got.rcpt_tos == (AMY,)


async def test_starttls_against_a_server_without_it_is_retried_not_blamed(smtp: FakeSmtp) -> None:
    sender = smtp_sender(smtp, tls="starttls")
    try:
        result = await sender.send(AMY, Reply(compose(AMY).as_string()))
    finally:
        await sender.aclose()
    assert isinstance(result, RetryLater)
    assert smtp.messages == []


async def test_an_edit_sends_nothing(smtp: FakeSmtp) -> None:
    sender = smtp_sender(smtp)
    assert await sender.edit(AMY, "<old@id>", Reply(compose(AMY).as_string())) == Sent("<old@id>")
    assert smtp.connections == 0 and smtp.messages == []


async def test_a_message_without_message_id_gets_one(smtp: FakeSmtp) -> None:
    msg = compose(AMY)
    del msg["Message-ID"]
    sender = smtp_sender(smtp)
    try:
        result = await sender.send(AMY, Reply(msg.as_string()))
    finally:
        await sender.aclose()
    assert isinstance(result, Sent) and result.ref
    [got] = smtp.messages
    assert str(got.message["Message-ID"]).strip() == result.ref
    assert result.ref.endswith("@northside.example>")


def test_server_text_is_masked() -> None:
    assert masked("550 5.1.1 <a.b@x.org>: no such user  here") == (
        "550 5.1.1 <address>: no such user here"
    )
    assert "c@d.e" not in masked("user c@d.e unknown")


# Every process has the sender


async def test_every_process_has_an_email_sender(
    smtp: FakeSmtp, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "mail"
    base = {
        "data_dir": DATA,
        "email_from": FROM,
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'h.db'}",
    }
    with caplog.at_level(logging.INFO, logger="bot.channels"):
        async with open_platforms(load_settings(**base, email_outbox_dir=folder)) as platforms:
            files = platforms.senders["email"]
            assert isinstance(files, EmailSender) and files.smtp is None
            assert isinstance(await files.send(AMY, Reply(compose(AMY).as_string())), Sent)
    assert len(list(folder.glob("*.eml"))) == 1
    assert [
        r.getMessage() for r in caplog.records if "emails are written to" in r.getMessage()
    ] == [f"no SMTP_HOST: emails are written to {folder.resolve()}"]
    settings = load_settings(**base, **smtp.settings(smtp_max_per_second=50))
    async with open_platforms(settings) as platforms:
        relay = platforms.senders["email"]
        assert isinstance(relay, EmailSender) and relay.smtp is not None
        assert isinstance(await relay.send(AMY, Reply(compose(AMY).as_string())), Sent)
        assert smtp.open_connections == 1  # kept open for the next message
    assert await smtp.all_closed()  # closed with the platforms
    assert [m.rcpt_tos for m in smtp.messages] == [(AMY,)]
    assert smtp.messages[0].mail_from == ENVELOPE_FROM
