"""The weekly digest by email, on real databases: a member with no chat account gets it as a
multipart email with one-click unsubscribe headers and escaped content; /digest email|chat|off
changes how it comes; an address the server refused for good shows in the run's status and is
not written to again; `hotline digest preview --format email` writes the .eml from a fresh
process; and a run to 50 members goes through the real outbox, EmailSender and an SMTP server
that answers some 450s and a 550, each delivered exactly once except the refused one."""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from bot.conversation.context import Context, Deps
from bot.conversation.digest_commands import SUBSCRIPTION
from bot.core import texts
from bot.core.ports import Unreachable
from bot.core.types import Band, IncomingMessage, Reply
from bot.digest.content_store import add_from_chat
from bot.digest.delivery import Progress, send_run
from bot.digest.email_message import EmailSetup
from bot.digest.runs import unreachable_people
from bot.digest.unsubscribe import check_token, email_secret
from bot.digest.weekly import prepare_week
from bot.store.models import (
    ContentKind,
    OutboundMessage,
    OutboxStatus,
    Person,
    QuestionLog,
    Role,
    utcnow,
)
from tests.conftest import DATA, PHONE, run_hotline
from tests.digest.conftest import LONDON, SCHEDULED, WEEK, Digests, digest_config, member
from tests.fakes import RecordingSender

PARTNERSHIP = "Tower Hamlets Schools"
PUBLIC = "https://hotline.test"


@dataclass(frozen=True)
class Links:
    """The settings that sign unsubscribe links (what bot/config.py's Settings provide)."""

    email_secret: str | None = "an-email-secret-for-the-tests-0123456789"
    console_secret: str | None = None
    embedding_cache_dir: Path = Path(".cache/none")
    served_over_https: bool = True


LINKS = Links()


def setup() -> EmailSetup:
    key = email_secret(LINKS)
    assert key is not None
    return EmailSetup(
        f"{PARTNERSHIP} <digest@hotline.test>", "hotline.test", PARTNERSHIP, PUBLIC, key
    )


def with_email(d: Digests) -> Digests:
    d.config = digest_config(email=setup())
    return d


async def send_week(d: Digests, mail: RecordingSender, week: date = WEEK) -> list[Progress]:
    runs = await prepare_week(d.db, d.kb, d.config, week, d.clock())
    senders = {"console": d.channel, "email": mail}
    return [await send_run(d.db, run, senders, d.clock, sleep=d.sleep) for run in runs]


def parsed(text: str) -> EmailMessage:
    message = email.message_from_string(text, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def part(message: EmailMessage, kind: str) -> str:
    body = message.get_body((kind,))
    assert body is not None and isinstance(body, EmailMessage)
    content: str = body.get_content()
    return content


async def news(d: Digests, title: str, text: str) -> None:
    async with d.db.session() as session:
        await add_from_chat(
            session,
            ContentKind.NEWS,
            {"title": title, "text": text, "date": SCHEDULED - timedelta(days=1)},
            LONDON,
            SCHEDULED - timedelta(days=1),
            None,
            "test",
        )


async def say(d: Digests, deps: Deps, person: Person, rest: str) -> str:
    handler = {c.name: c.run for c in SUBSCRIPTION}["/digest"]
    async with d.db.session() as session:
        row = await session.get(Person, person.id)
        assert row is not None
        message = IncomingMessage("console", person.email, person.email, text=f"/digest {rest}")
        replies: list[Reply] = await handler(deps, Context(session, row, message, d.clock()), rest)
    assert len(replies) == 1
    return replies[0].text


async def test_a_member_with_no_chat_account_gets_it_by_email(d: Digests) -> None:
    with_email(d)
    await news(
        d,
        "<script>alert('x')</script> Snow & ice",
        "Roads <b>closed</b>; see [the map](https://example.org/snow?a=1&b=2)",
    )
    linked = await member(d.db)
    unlinked = await member(d.db, linked=False)
    mail = RecordingSender(channel="email")

    member_run, _ = (p.counts for p in await send_week(d, mail))

    assert len(d.inbox(linked)) == 1 and not mail.to(linked.email)  # chat, as before
    assert d.inbox(unlinked) == []
    (reply,) = mail.to(unlinked.email)
    assert (member_run.sent, member_run.emailed, member_run.no_channel) == (2, 1, 0)
    async with d.db.session() as session:
        row = await session.scalar(
            select(OutboundMessage).where(OutboundMessage.channel == "email")
        )
    assert row is not None and row.chat_id == unlinked.email and row.identity_id is None
    assert row.dedupe_key == f"digest:{member_run.run_id}:{unlinked.id}"
    assert row.text == reply.text and "\r\n" in row.text  # SMTP's line ends

    message = parsed(reply.text)
    assert message.get_content_type() == "multipart/alternative"
    assert message["From"] == f"{PARTNERSHIP} <digest@hotline.test>"
    assert message["To"] == unlinked.email
    assert message["Subject"] == f"{PARTNERSHIP}: this week (Mon 30 Nov)"
    assert message["Message-ID"] == f"<digest.{member_run.run_id}.{unlinked.id}@hotline.test>"
    assert message["Date"] is not None
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = str(message["List-Unsubscribe"])
    assert unsubscribe.startswith(f"<{PUBLIC}/email/unsubscribe/") and unsubscribe.endswith(">")
    assert "=?" not in reply.text.split("\r\n\r\n", 1)[0]  # no header in encoded words
    token = urlsplit(unsubscribe.strip("<>")).path.rsplit("/", 1)[1]
    assert check_token(setup().secret, token, utcnow()).person_id == unlinked.id

    plain, html = part(message, "plain"), part(message, "html")
    assert "<script>alert('x')</script> Snow & ice" in plain
    assert "the map <https://example.org/snow?a=1&b=2>" in plain
    assert PHONE in plain and "/digest chat" in plain and unsubscribe.strip("<>") in plain
    assert "<script" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Snow &amp; ice" in html
    assert "Roads &lt;b&gt;closed&lt;/b&gt;" in html
    assert '<a href="https://example.org/snow?a=1&amp;b=2"' in html
    assert f'<a href="{unsubscribe.strip("<>")}"' in html
    assert PHONE in html and "/digest chat" in html


async def test_digest_email_then_chat_then_off_from_chat(d: Digests, deps: Deps) -> None:
    with_email(d)
    head = await member(d.db)
    assert (await say(d, deps, head, "")).startswith("You get the weekly digest in chat while")
    assert await say(d, deps, head, "email") == texts.DIGEST_NOW_EMAIL.format(email=head.email)
    assert (await say(d, deps, head, "")).startswith("You get the weekly digest by email")
    assert (await say(d, deps, head, "fax")).startswith("Usage: /digest email")
    mail = RecordingSender(channel="email")

    await send_week(d, mail)
    assert len(mail.to(head.email)) == 1 and d.inbox(head) == []

    assert await say(d, deps, head, "chat") == texts.DIGEST_NOW_CHAT
    assert await say(d, deps, head, "off") == texts.DIGEST_NOW_OFF
    assert (await say(d, deps, head, "")) == texts.DIGEST_SHOW_OFF
    async with d.db.session() as session:
        row = await session.get(Person, head.id)
        assert row is not None
        assert (row.digest_subscribed, row.digest_channel) == (False, "off")
    d.clock.advance(days=7)
    member_run, _ = (p.counts for p in await send_week(d, mail, WEEK + timedelta(days=7)))
    assert member_run.queued == 0 and len(mail.to(head.email)) == 1 and d.inbox(head) == []

    assert await say(d, deps, head, "chat") == texts.DIGEST_NOW_CHAT  # subscribes again
    assert (await say(d, deps, head, "")) == texts.DIGEST_SHOW_CHAT.format(
        email=head.email, usage=texts.DIGEST_CHANNEL_USAGE
    )


async def test_a_refused_address_shows_in_status_and_is_not_written_to_again(
    d: Digests,
) -> None:
    with_email(d)
    gone = await member(d.db, linked=False)
    staff = await member(d.db, role=Role.STAFF, linked=False, job_title="Adviser")
    async with d.db.session() as session:  # something for the staff digest to report
        session.add(
            QuestionLog(
                channel="console",
                text="minibus <hire>?",
                band=Band.UNKNOWN,
                score=0.0,
                created_at=d.clock() - timedelta(days=2),
            )
        )
    mail = RecordingSender(channel="email", script=[Unreachable("550 5.1.1 no such user")])

    member_run, staff_run = (p.counts for p in await send_week(d, mail))

    assert (member_run.unreachable, member_run.emailed, member_run.sent) == (1, 1, 0)
    assert await unreachable_people(d.db, member_run.run_id) == [(gone.email, "email")]
    assert staff_run.sent == 1
    staff_mail = parsed(mail.to(staff.email)[0].text)
    assert staff_mail["Subject"].startswith(f"{PARTNERSHIP}: the hotline week")
    assert texts.STAFF_DIGEST_FOOTER not in part(staff_mail, "plain")  # it has its own link
    assert "minibus <hire>?" in part(staff_mail, "plain")
    assert "minibus &lt;hire&gt;?" in part(staff_mail, "html")

    d.clock.advance(days=7)
    again, _ = (p.counts for p in await send_week(d, mail, WEEK + timedelta(days=7)))
    assert (again.queued, again.no_channel) == (0, 1)  # not written to after a 550


def test_preview_as_email_writes_the_eml_from_a_fresh_process(example_db: Path) -> None:
    from bot.cli import main

    head = "amara.okafor@stmarys.example.org"
    assert main(["news", "import", str(DATA / "example" / "news.yaml")]) == 0
    assert main(["events", "import", str(DATA / "example" / "events.yaml")]) == 0
    assert main(["digest", "channel", head, "email"]) == 0
    out = example_db / "digest.eml"
    env = {
        "EMAIL_SECRET": "a-secret-for-the-preview-0123456789",
        "PARTNERSHIP_NAME": PARTNERSHIP,
        "PUBLIC_URL": "https://hotline.example.org",
        "EMAIL_FROM": "Hotline <digest@hotline.example.org>",
    }
    args = ("digest", "preview", "--as", head, "--week", "2026-12-02", "--format", "email")
    done = run_hotline(*args, "--out", str(out), env=env)
    assert done.returncode == 0, done.stderr
    assert f"email:{head}" in done.stdout and f"# written to {out}" in done.stdout
    message = email.message_from_bytes(out.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert message["From"] == f"{PARTNERSHIP} <digest@hotline.example.org>"
    assert message["To"] == head
    assert message["Message-ID"].startswith("<digest.preview.")
    assert str(message["List-Unsubscribe"]).startswith(
        "<https://hotline.example.org/email/unsubscribe/"
    )
    assert "Primary Headteachers" in part(message, "plain")
    assert "Primary Headteachers&#39; Network" in part(message, "html")

    bare = run_hotline(*args, env=env)  # no --out: the message alone on stdout
    assert bare.returncode == 0 and bare.stdout.startswith("From: "), bare.stderr
    chat = run_hotline("digest", "preview", "--as", head, "--week", "2026-12-02", env=env)
    assert chat.stdout.startswith("# member digest for Amara Okafor") and "From:" not in chat.stdout


async def test_fifty_members_by_email_through_smtp_each_once_but_the_refused(
    d: Digests,
) -> None:
    from sqlalchemy import insert

    from bot.handlers.email import EmailSender, SmtpServer
    from bot.store.models import School
    from tests.fake_smtp import FakeSmtp

    with_email(d)
    async with d.db.session() as session:
        school = School(code="smtp-school", name="SMTP Primary", phase="primary")
        session.add(school)
        await session.flush()
        await session.execute(
            insert(Person),
            [
                {
                    "email": f"head{n}@smtp.example.org",
                    "name": f"Head {n}",
                    "role": Role.MEMBER,
                    "job_title": "Headteacher",
                    "school_id": school.id,
                    "active": True,
                    "digest_subscribed": True,
                }
                for n in range(50)
            ],
        )
    gone = "head7@smtp.example.org"
    async with FakeSmtp() as smtp:
        smtp.answer("550 5.1.1 No such user", recipients={gone})
        smtp.answer("450 4.2.1 Mailbox busy", times=3)
        smtp.answer("451 4.3.0 Try again later", at="DATA", times=1)
        sender = EmailSender(
            "Hotline <digest@hotline.test>",
            smtp=SmtpServer(host=smtp.host, port=smtp.port, tls="none", timeout_s=5.0),
        )
        try:
            runs = await prepare_week(d.db, d.kb, d.config, WEEK, d.clock())
            progress = [
                await send_run(d.db, run, {"email": sender}, d.clock, sleep=d.sleep) for run in runs
            ]
        finally:
            await sender.aclose()

    member_run = progress[0].counts
    assert (member_run.queued, member_run.emailed) == (50, 50)
    assert (member_run.sent, member_run.unreachable, member_run.waiting) == (49, 1, 0)
    received = [r for m in smtp.messages for r in m.rcpt_tos]
    assert sorted(received) == sorted(f"head{n}@smtp.example.org" for n in range(50) if n != 7)
    assert len(smtp.refused) == 1 + 3 + 1 + 0  # the 550 once: never retried
    assert await unreachable_people(d.db, member_run.run_id) == [(gone, "email")]
    first = smtp.to("head0@smtp.example.org")[0]
    assert first.mail_from == "digest@hotline.test"
    assert first.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert first.message.get_body(("html",)) is not None
    assert str(first.message["List-Unsubscribe"]).startswith(f"<{PUBLIC}/email/unsubscribe/")


async def test_list_unsubscribe_reaches_the_smtp_server_as_composed(d: Digests) -> None:
    """Mail clients read List-Unsubscribe as <URL>: re-folded into RFC 2047 encoded words
    (=?utf-8?q?...) on the way out, it would no longer be a URL to them."""
    from bot.handlers.email import EmailSender, SmtpServer
    from tests.fake_smtp import FakeSmtp

    with_email(d)
    person = await member(d.db, linked=False)
    async with FakeSmtp() as smtp:
        sender = EmailSender(
            "Hotline <digest@hotline.test>",
            smtp=SmtpServer(host=smtp.host, port=smtp.port, tls="none", timeout_s=5.0),
        )
        try:
            for run in await prepare_week(d.db, d.kb, d.config, WEEK, d.clock()):
                await send_run(d.db, run, {"email": sender}, d.clock, sleep=d.sleep)
        finally:
            await sender.aclose()
    (received,) = smtp.to(person.email)
    async with d.db.session() as session:
        queued = await session.scalar(
            select(OutboundMessage.text).where(OutboundMessage.person_id == person.id)
        )
    assert queued is not None
    header = next(line for line in queued.split("\r\n") if line.startswith("List-Unsubscribe:"))
    raw_headers = received.data.split(b"\r\n\r\n", 1)[0].decode()
    assert header in raw_headers.split("\r\n")


def test_the_migration_turns_off_who_unsubscribed_and_subscribes_who_had_no_account(
    unmigrated_url: str,
) -> None:
    import asyncio

    from sqlalchemy import text

    from bot.store import Database, upgrade

    upgrade(unmigrated_url, "0010")
    people = [  # id, subscribed, active, linked
        (1, True, True, True),  # linked and subscribed: unchanged
        (2, False, True, True),  # linked, then unsubscribed: off
        (3, False, True, False),  # never linked: could not get it until now; subscribed (email)
        (4, False, False, False),  # inactive: left alone
    ]

    async def run(work: str) -> list[tuple[int, bool, str | None]]:
        db = Database(unmigrated_url)
        try:
            async with db.session() as session:
                if work == "insert":
                    for person_id, subscribed, active, linked in people:
                        await session.execute(
                            text(
                                "INSERT INTO people (id, email, name, role, active, "
                                "digest_subscribed, created_at) VALUES (:id, :email, 'P', "
                                "'member', :active, :subscribed, :at)"
                            ),
                            {
                                "id": person_id,
                                "email": f"p{person_id}@example.org",
                                "active": active,
                                "subscribed": subscribed,
                                "at": utcnow(),
                            },
                        )
                        if linked:
                            await session.execute(
                                text(
                                    "INSERT INTO identities (person_id, channel, external_id, "
                                    "reachable, created_at) VALUES (:id, 'console', :ext, :yes, "
                                    ":at)"
                                ),
                                {
                                    "id": person_id,
                                    "ext": f"p{person_id}",
                                    "yes": True,
                                    "at": utcnow(),
                                },
                            )
                    return []
                rows = await session.execute(
                    text("SELECT id, digest_subscribed, digest_channel FROM people ORDER BY id")
                )
                return [(int(i), bool(s), c) for i, s, c in rows.all()]
        finally:
            await db.dispose()

    asyncio.run(run("insert"))
    upgrade(unmigrated_url)
    assert asyncio.run(run("select")) == [
        (1, True, None),
        (2, False, "off"),
        (3, True, None),
        (4, False, None),
    ]


def test_cli_send_by_email_then_status_shows_the_refused_address(
    example_db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`digest send` with no SMTP_HOST writes each email as a .eml file; a row the sender marked
    unreachable (a 550) shows in `digest status`, like an unreachable chat."""
    import asyncio
    import os

    from sqlalchemy import update

    from bot.cli import main
    from bot.store import Database

    head = "amara.okafor@stmarys.example.org"
    folder = example_db / "outbox"
    monkeypatch.setenv("EMAIL_OUTBOX_DIR", str(folder))
    monkeypatch.setenv("EMAIL_SECRET", "a-secret-for-the-cli-test-0123456789")
    assert main(["events", "import", str(DATA / "example" / "events.yaml")]) == 0
    assert main(["digest", "channel", head, "default"]) == 0
    assert main(["digest", "channel", head, "email"]) == 0
    assert main(["digest", "channel", head, "email"]) == 0
    assert capsys.readouterr().out.splitlines()[-3:] == [
        f"{head}: digest default",
        f"{head}: digest email",
        f"{head}: digest email (already)",
    ]
    assert main(["digest", "subscribers"]) == 0
    assert (
        f"{head}  Amara Okafor  member  St Mary's CE Primary School  no chat account  "
        "digest: email" in capsys.readouterr().out
    )
    assert main(["digest", "send", "--week", "2026-11-23", "--kind", "member"]) == 0
    summary = capsys.readouterr().out.splitlines()[-2]
    assert summary.startswith("member digest, week of 23 Nov 2026: ")
    files = sorted(folder.glob("*.eml"))
    emailed = len(files)
    assert emailed >= 1 and f"{emailed} of " in summary
    written = email.message_from_bytes(
        next(f for f in files if head.encode() in f.read_bytes()).read_bytes(),
        policy=email.policy.default,
    )
    assert written["To"] == head and written["List-Unsubscribe-Post"]

    async def refuse() -> None:  # as the sender records a 550 for that address
        db = Database(os.environ["DATABASE_URL"])
        try:
            async with db.session() as session:
                await session.execute(
                    update(OutboundMessage)
                    .where(OutboundMessage.chat_id == head)
                    .values(status=OutboxStatus.UNREACHABLE, last_error="550 5.1.1")
                )
        finally:
            await db.dispose()

    asyncio.run(refuse())
    assert main(["digest", "status"]) == 0
    status = capsys.readouterr().out
    assert f"unreachable (member 2026-11-23): {head} on email" in status
    assert "by email (member 2026-11-23): " in status
