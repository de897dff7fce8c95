"""The README's two-terminal demo on the example data, at the hours a new user tries it: a weekday
morning (the primary on the rota has it) and a Sunday evening (held; "It can't wait" reaches the
fallback, who acknowledges). Terminals are console identities, as `hotline chat --as` links them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.conversation.dispatcher import Dispatcher, DispatcherConfig
from bot.core import texts
from bot.core.types import IncomingMessage, Reply
from bot.delivery.outbox import deliver_due
from bot.directory import link_identity, person_by_email
from bot.directory.importer import import_directory
from bot.escalation.rota_store import import_rota
from bot.escalation.urgency import UrgencyDetector
from bot.knowledge import KnowledgeBase
from bot.store import Database
from tests.conftest import make_deps
from tests.fakes import FakeClock, RecordingSender

EXAMPLE = Path(__file__).resolve().parents[2] / "data" / "example"
HEAD = "amara.okafor@stmarys.example.org"  # `make run`'s default
SAM = "sam.adeyemi@partnership.example.org"  # primary on Mondays and Tuesdays
RUTH = "ruth.green@partnership.example.org"  # the fallback


@pytest.mark.parametrize(
    ("now", "duty"),
    [
        (datetime(2026, 11, 30, 10, 15, tzinfo=UTC), SAM),  # Monday morning: in hours
        (datetime(2026, 11, 29, 19, 30, tzinfo=UTC), RUTH),  # Sunday evening: out of hours
    ],
)
async def test_the_two_terminal_demo_works_at_any_hour(
    db: Database, kb: KnowledgeBase, urgency: UrgencyDetector, now: datetime, duty: str
) -> None:
    await import_directory(db, EXAMPLE / "directory.yaml")
    await import_rota(db, EXAMPLE / "rota.yaml")
    async with db.session() as session:
        for email in (HEAD, duty):  # each opened a terminal: `make run CHAT_AS=...`
            person = await person_by_email(session, email)
            assert person is not None
            await link_identity(session, person, "console", email, chat_id=email)
    clock = FakeClock(now)
    dispatcher = Dispatcher(db, make_deps(kb, urgency, clock), DispatcherConfig())
    terminals = RecordingSender()

    async def type_(email: str, text: str | None = None, action: str | None = None) -> Reply:
        replies = await dispatcher.handle(
            IncomingMessage("console", email, email, text=text, action=action)
        )
        await deliver_due(db, {"console": terminals}, clock)
        return replies[-1]

    logged = await type_(HEAD, "/emergency Ofsted just rang")
    if duty == RUTH:  # held until Monday; the README says to press "It can't wait"
        assert "Monday 30 November at 08:00" in logged.text
        assert terminals.to(RUTH) == []
        (cant_wait,) = logged.buttons
        logged = await type_(HEAD, action=cant_wait.action)
    assert "alerting the" in logged.text
    (ping,) = terminals.to(duty)
    acknowledge = next(b for b in ping.buttons if b.label == texts.ACKNOWLEDGE)
    await type_(duty, action=acknowledge.action)
    told = terminals.to(HEAD)[-1].text
    assert "has your request" in told
    assert ("Sam Adeyemi" if duty == SAM else "Ruth Green") in told
