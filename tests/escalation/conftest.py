"""A small partnership for escalation tests: one member, three staff on the rota, a fallback,
a dispatcher on a fake clock, and a recording channel at the edge."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.conversation.context import Deps
from bot.conversation.dispatcher import Dispatcher, DispatcherConfig
from bot.core.types import IncomingMessage, Reply
from bot.delivery.outbox import deliver_due
from bot.escalation.policy import EscalationConfig
from bot.escalation.sweeper import sweep
from bot.escalation.urgency import UrgencyDetector
from bot.knowledge import KnowledgeBase
from bot.store import Database
from bot.store.models import Person, Role
from tests.factories import make_person, make_rota, rota_yaml
from tests.fakes import FakeClock, RecordingSender

PHONE = "020 7946 0000"
OOH_PHONE = "020 7946 0999"  # the example local authority's out-of-hours team
TIMEOUT = timedelta(minutes=10)
LONDON = ZoneInfo("Europe/London")
WAKE = "[safeguarding, serious-incident, premises]"  # as the example rota


@dataclass
class Partnership:
    db: Database
    clock: FakeClock
    channel: RecordingSender
    dispatcher: Dispatcher
    deps: Deps
    member: Person
    primary: Person
    backup: Person
    fallback: Person
    last: list[Reply] = field(default_factory=list)

    async def say(
        self,
        person: Person,
        text: str | None = None,
        action: str | None = None,
        reply_to_text: str | None = None,
    ) -> Reply:
        message = IncomingMessage("console", person.email, person.email, text=text, action=action)
        if reply_to_text is not None:  # as Telegram gives a reply: the earlier message's text
            message = replace(message, reply_to="1", reply_to_text=reply_to_text)
        replies = await self.dispatcher.handle(message)
        # A button may first answer on the pressed message (edit); the last reply is the answer.
        assert 1 <= len(replies) <= 2, replies
        self.last = replies
        return replies[-1]

    async def deliver(self) -> int:
        return await deliver_due(self.db, {"console": self.channel}, self.clock)

    async def sweep(self) -> int:
        return await sweep(self.db, self.deps.escalation, self.clock)

    async def make_member(self, name: str) -> Person:
        return await make_person(self.db, name=name)

    async def office_hours_rota(
        self,
        staff: tuple[Person, Person, Person] | None = None,
        wake: str | None = WAKE,
    ) -> None:
        """Hotline hours Monday to Friday, 08:00 to 18:00, like the example rota; `staff` are
        the primary, backup and fallback (this partnership's by default)."""
        primary, backup, fallback = staff or (self.primary, self.backup, self.fallback)
        await make_rota(
            self.db,
            rota_yaml(
                primary.email,
                backup.email,
                fallback.email,
                hours="{days: Mon-Fri, from: '08:00', to: '18:00'}",
                pattern_days="Mon-Fri",
                pattern_from="08:00",
                pattern_to="18:00",
                wake=wake,
            ),
        )

    def inbox(self, person: Person) -> list[str]:
        return [r.text for r in self.channel.to(person.email)]


@pytest.fixture(name="p")
async def partnership(db: Database, kb: KnowledgeBase, urgency: UrgencyDetector) -> Partnership:
    member = await make_person(db, name="Mo Member")
    primary = await make_person(db, role=Role.STAFF, name="Pat Primary")
    backup = await make_person(db, role=Role.STAFF, name="Bea Backup")
    fallback = await make_person(db, role=Role.ADMIN, name="Fay Fallback")
    await make_rota(db, rota_yaml(primary.email, backup.email, fallback.email, wake=WAKE))
    clock = FakeClock()
    config = EscalationConfig(
        ack_timeout=TIMEOUT, staff_chats=(("console", "#staff"),), hotline_phone=PHONE
    )
    deps = Deps(
        kb=kb,
        urgency=urgency,
        escalation=config,
        hotline_phone=PHONE,
        timezone=LONDON,
        clock=clock,
        out_of_hours_phone=OOH_PHONE,
    )
    dispatcher = Dispatcher(db, deps, DispatcherConfig())
    return Partnership(
        db, clock, RecordingSender(), dispatcher, deps, member, primary, backup, fallback
    )
