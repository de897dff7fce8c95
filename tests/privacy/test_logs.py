"""Logs never hold message text: realistic scenarios run through the real bot with every `bot.*`
logger at DEBUG, each text the members and staff send carrying a unique marker, and no captured
log record (its formatted message, or the exception and traceback it carries) holds a marker.

Two harnesses: the escalation partnership (the dispatcher, outbox and sweeper on a fake clock,
tests/escalation/conftest.py) for the whole life of requests, and the web app with the real
python-telegram-bot and Slack stacks against fake platform servers (tests/handlers/conftest.py)
for the channels' own log lines. Other libraries' loggers stay at WARNING, as `hotline run` and
`hotline serve` leave them (bot/commands/chat.py, follow_log_level); their records at WARNING
and above are scanned too."""

from __future__ import annotations

import logging
import secrets

import pytest
from sqlalchemy import select, text

from bot.core import texts
from bot.knowledge import KnowledgeBase
from bot.store import Database
from bot.store.models import HotlineRequest, RequestKind, RequestStatus
from tests.escalation.conftest import TIMEOUT, Partnership
from tests.escalation.conftest import partnership as partnership  # the fixture "p"
from tests.handlers.conftest import STAFF_GROUP, Stack
from tests.handlers.conftest import stack as stack  # the fixture "s"
from tests.handlers.payloads import slack_dm_event, slack_event_body, tg_callback_update
from tests.handlers.payloads import tg_text_update as tg_text

MEMBER, PRIMARY = 1001, 2001  # the handlers stack's Telegram users


class Markers:
    """Unique words to put in the texts a scenario sends, remembered to look for in the logs."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def __call__(self, text: str) -> str:
        marker = f"zq-{secrets.token_hex(5)}"
        self.sent.append(marker)
        return f"{text} {marker}"


def capture(caplog: pytest.LogCaptureFixture) -> None:
    """Every `bot.*` logger at DEBUG, everything else at WARNING (as in production)."""
    caplog.set_level(logging.WARNING)
    caplog.set_level(logging.DEBUG, logger="bot")  # last: the capturing handler at DEBUG too


def leaks(caplog: pytest.LogCaptureFixture, markers: Markers) -> list[str]:
    """Each captured record's formatted line (message, exception and traceback, stack) that
    holds a marker."""
    formatter = logging.Formatter("%(levelname)s %(name)s: %(message)s")
    found = []
    for record in caplog.records:
        line = formatter.format(record)
        if record.exc_info and record.exc_info[1] is not None:
            line += f"\n{record.exc_info[1]!r}"
        found += [f"{marker} in {line}" for marker in markers.sent if marker in line]
    return found


def bot_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("bot.")]


async def request_of(p: Partnership, kind: RequestKind) -> HotlineRequest:
    async with p.db.session() as s:
        return (await s.scalars(select(HotlineRequest).where(HotlineRequest.kind == kind))).one()


async def test_the_life_of_questions_and_requests_leaves_no_text_in_the_logs(
    p: Partnership, kb: KnowledgeBase, caplog: pytest.LogCaptureFixture
) -> None:
    capture(caplog)
    mark = Markers()
    entry = kb.entry("membership-cost")
    assert entry is not None
    # A question answered from the FAQ, and the member's feedback on it.
    answered = await p.say(p.member, mark(entry.question))
    assert "Was this helpful?" in answered.text
    await p.say(p.member, action=next(b.action for b in answered.buttons))

    # A question the FAQ cannot answer, passed on; a staff reply; a follow-up from the member.
    unknown = await p.say(p.member, mark("can the partnership lend us a minibus for the trip"))
    await p.say(p.member, action=next(b.action for b in unknown.buttons if "pass:" in b.action))
    support = await request_of(p, RequestKind.SUPPORT)
    await p.deliver()
    sent = await p.say(p.primary, mark(f"/reply {support.reference} try the transport pool"))
    assert sent.text == texts.REPLY_SENT.format(reference=support.reference)
    asked = await p.say(p.member, mark("thanks, and could we borrow chairs too"))
    add = next(b.action for b in asked.buttons if b.label.endswith(str(support.reference)))
    await p.say(p.member, action=add)
    await p.deliver()
    await p.say(p.primary, mark(f"/resolve {support.reference} pointed them to the pool"))
    await p.deliver()
    assert any(mark.sent[2] in text for text in p.inbox(p.member)), "the reply reached them"

    # An emergency: opened, pinged, escalated, acknowledged, noted, resolved with a note.
    await p.say(p.member, mark("/emergency a child has disclosed abuse and is frightened"))
    emergency = await request_of(p, RequestKind.EMERGENCY)
    await p.deliver()
    p.clock.advance(seconds=TIMEOUT.total_seconds() + 60)
    await p.sweep()
    await p.deliver()
    await p.say(p.backup, action=f"ack:{emergency.id}")
    await p.say(p.member, mark("she is with the head now"))  # a follow-up while it is open
    for action in (b.action for b in p.last[-1].buttons):
        if action.startswith("add:"):
            await p.say(p.member, action=action)
            break
    await p.say(p.backup, mark(f"/note {emergency.reference} called the LADO, advice given"))
    await p.say(p.backup, mark(f"/resolve {emergency.reference} referred to children's services"))
    await p.deliver()
    await p.say(p.member, mark("/human please ring me about the referral"))
    await p.deliver()

    # The texts really went where texts go: the note and resolution are on the request.
    done = await request_of(p, RequestKind.EMERGENCY)
    assert done.status is RequestStatus.RESOLVED and mark.sent[-2] in (done.resolution_note or "")
    assert len(bot_lines(caplog)) >= 5, "the scenario's own log lines were captured"
    assert any(line.startswith("emergency request=") for line in bot_lines(caplog))
    assert leaks(caplog, mark) == []


async def test_the_chat_platforms_log_no_text(
    s: Stack, kb: KnowledgeBase, caplog: pytest.LogCaptureFixture
) -> None:
    capture(caplog)
    mark = Markers()
    entry = kb.entry("cpd-book")
    assert entry is not None
    await s.telegram(tg_text(1, MEMBER, mark(entry.question)))
    roof = mark("/emergency the roof has come off the hall")
    await s.telegram(tg_text(2, MEMBER, roof))
    await s.telegram(tg_text(2, MEMBER, roof))  # redelivered: dropped, and logged as such
    await s.deliver()
    pings = [
        (n, m)
        for n, m in enumerate(s.tg.sent_to(PRIMARY), start=1)
        if "reply_markup" in m and "ack:" in str(m["reply_markup"])
    ]
    ((ping_id, ping),) = pings
    assert mark.sent[1] in ping["text"], "the ping carries the member's text"
    ack = next(
        b["callback_data"]
        for row in ping["reply_markup"]["inline_keyboard"]
        for b in row
        if b["callback_data"].startswith("ack:")
    )
    await s.telegram(
        tg_callback_update(3, PRIMARY, ack, ping_id, message_text=ping["text"], first_name="Sam")
    )
    await s.telegram(tg_text(4, PRIMARY, mark("/note HL-0000-0000 nothing to see")))
    await s.telegram(
        tg_text(5, STAFF_GROUP, mark("chatter in the staff group"), chat_id=STAFF_GROUP)
    )
    await s.slack(slack_event_body(slack_dm_event("USTAFF", mark("what is a network?")), "EvL1"))
    await s.slack(slack_event_body(slack_dm_event("UNKNOWN", mark("who are you?")), "EvL2"))
    # Bolt answers Slack at once and handles the event after: wait for both answers.
    await s.sl.wait_for_messages("DUSTAFF", 1)
    await s.sl.wait_for_messages("DUNKNOWN", 1)
    await s.deliver()

    logged = bot_lines(caplog)
    assert "redelivery dropped channel=telegram update=2" in logged
    assert "unknown sender channel=slack" in logged
    assert leaks(caplog, mark) == []


# The question log refuses every write, as a full disk or a lost connection would mid-statement.
REFUSE = {
    "sqlite": [
        "CREATE TRIGGER zq_refuse BEFORE INSERT ON question_log "
        "BEGIN SELECT RAISE(ABORT, 'disk trouble'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION zq_refuse() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'disk trouble'; END $$",
        "CREATE TRIGGER zq_refuse BEFORE INSERT ON question_log "
        "FOR EACH ROW EXECUTE FUNCTION zq_refuse()",
    ],
}
ALLOW = {
    "sqlite": ["DROP TRIGGER zq_refuse"],
    "postgresql": ["DROP TRIGGER zq_refuse ON question_log", "DROP FUNCTION zq_refuse()"],
}


async def _run(db: Database, statements: list[str]) -> None:
    async with db.engine.begin() as conn:
        for statement in statements:
            await conn.execute(text(statement))


async def test_a_database_failure_logs_no_text(
    p: Partnership, caplog: pytest.LogCaptureFixture
) -> None:
    """The traceback of a failed write is logged (the operator needs it); the values the
    statement carried are not."""
    capture(caplog)
    mark = Markers()
    dialect = "sqlite" if p.db.is_sqlite else "postgresql"
    await _run(p.db, REFUSE[dialect])
    try:
        reply = await p.say(p.member, mark("How much does membership cost?"))
    finally:
        await _run(p.db, ALLOW[dialect])
    assert reply.text == texts.STORE_DOWN.format(phone=p.deps.hotline_phone)
    (failure,) = [r for r in caplog.records if r.getMessage().startswith("store failure")]
    assert failure.exc_info is not None and "disk trouble" in caplog.text
    assert leaks(caplog, mark) == []


def test_the_scan_finds_a_text_in_a_message_or_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The check itself can fail: a marker in a log line, or only in an exception's text."""
    capture(caplog)
    mark = Markers()
    said, failed = mark("in a message"), mark("in an exception")
    logging.getLogger("bot.test").debug("received %s", said)
    try:
        raise ValueError(failed)
    except ValueError:
        logging.getLogger("bot.test").exception("something failed")
    logging.getLogger("other.library").info("not emitted: %s", mark("below WARNING"))
    assert [line.split(" in ")[0] for line in leaks(caplog, mark)] == mark.sent[:2]
