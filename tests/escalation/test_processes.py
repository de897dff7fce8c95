"""Faults with real processes: a worker killed with SIGKILL mid-escalation and started again, and
two workers on one PostgreSQL. Workers run `hotline worker`, which prints each console message it
delivers as a JSON line; the tests count those lines, so "exactly once" is checked at the edge.

Nothing here waits for the clock. The acknowledgement timeout is an hour, so no step falls due by
itself during a test: the test makes a request's next step due by moving its timer in the
database (what the hour passing would do), then waits for what the workers report: the JSON
line of a ping, the outbox rows recorded as sent (tests/processes.py)."""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.conversation.dispatcher import Dispatcher, DispatcherConfig
from bot.core.types import IncomingMessage
from bot.escalation.urgency import UrgencyDetector
from bot.knowledge import KnowledgeBase
from bot.store import Database
from bot.store.models import HotlineRequest, OutboundMessage, OutboxStatus, Person, Role, utcnow
from tests.conftest import make_deps, truncate
from tests.factories import make_escalations_due, make_person, make_rota, rota_yaml
from tests.processes import Hotline, start, until

TIMEOUT = timedelta(hours=1)
SWEEP_S = 0.2
PRIMARY, BACKUP = "primary duty officer", "backup duty officer"


@dataclass(frozen=True)
class Raised:
    """An emergency opened by a member: its row and its reference (in every ping's text)."""

    id: int
    reference: str


class Workers:
    """`hotline worker` processes, killed after the test whatever happened."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started: list[Hotline] = []

    async def start(self, url: str) -> Hotline:
        name = f"worker-{len(self.started) + 1}"
        env = {
            "DATABASE_URL": url,
            "ESCALATION_TIMEOUT_S": str(TIMEOUT.total_seconds()),
            "SWEEP_INTERVAL_S": str(SWEEP_S),
        }
        worker = start(name, ["worker"], env, self.folder)
        self.started.append(worker)
        await until(
            lambda: {"worker": "started"} in worker.json_lines(), f"{name} to start", alive=[worker]
        )
        return worker


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    started = Workers(tmp_path / "workers")
    yield started
    for worker in started.started:
        worker.kill()


def delivered(workers: Iterable[Hotline]) -> list[dict[str, Any]]:
    """Every message the workers printed as delivered."""
    return [m for w in workers for m in w.json_lines() if "chat_id" in m]


def pings(workers: Iterable[Hotline], to: Person, level: str, raised: Raised) -> list[str]:
    """The texts of the pings for `raised` at `level` that reached `to`."""
    return [
        str(m["text"])
        for m in delivered(workers)
        if m["chat_id"] == to.email and f"HOTLINE {raised.reference} ({level})" in str(m["text"])
    ]


async def _setup(db: Database) -> tuple[Person, Person, Person]:
    member = await make_person(db, name="Mo Member")
    primary = await make_person(db, role=Role.STAFF, name="Pat Primary")
    backup = await make_person(db, role=Role.STAFF, name="Bea Backup")
    fallback = await make_person(db, role=Role.ADMIN, name="Fay Fallback")
    await make_rota(db, rota_yaml(primary.email, backup.email, fallback.email))
    return member, primary, backup


async def _raise(
    db: Database, kb: KnowledgeBase, urgency: UrgencyDetector, member: Person, text: str
) -> Raised:
    """An emergency from the chat: the primary's ping queued, the backup's step an hour away."""
    deps = make_deps(kb, urgency, ack_timeout=TIMEOUT)
    dispatcher = Dispatcher(db, deps, DispatcherConfig())
    replies = await dispatcher.handle(
        IncomingMessage("console", member.email, member.email, text=f"/emergency {text}")
    )
    assert "HL-" in replies[0].text
    async with db.session() as s:
        request = (
            await s.scalars(select(HotlineRequest).order_by(HotlineRequest.id.desc()))
        ).first()
    assert request is not None and request.reference is not None
    assert request.next_escalation_at is not None and request.next_escalation_at > utcnow()
    return Raised(request.id, request.reference)


async def timer(db: Database, raised: Raised) -> datetime | None:
    async with db.session() as s:
        request = await s.get(HotlineRequest, raised.id)
    assert request is not None
    return request.next_escalation_at


async def make_due(db: Database, *raised: Raised) -> None:
    """What the hour passing does: the requests' next steps are due."""
    async with db.session() as s:
        await make_escalations_due(s, *(r.id for r in raised))


async def settled(db: Database, *raised: Raised) -> bool:
    """Every message queued for these requests is recorded as sent (none waiting or leased)."""
    async with db.session() as s:
        waiting = await s.scalar(
            select(func.count())
            .select_from(OutboundMessage)
            .where(
                OutboundMessage.request_id.in_([r.id for r in raised]),
                OutboundMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]),
                # not the ping emails, due minutes later unless acknowledged (email_pings.py)
                OutboundMessage.dedupe_key.not_like("pingmail:%"),
            )
        )
    return waiting == 0


@pytest.mark.parametrize("restart", ["before the deadline", "after the deadline"])
async def test_a_killed_worker_resumes_the_escalation_exactly_once(
    db: Database,
    db_url: str,
    kb: KnowledgeBase,
    urgency: UrgencyDetector,
    workers: Workers,
    restart: str,
) -> None:
    member, primary, backup = await _setup(db)
    flood = await _raise(db, kb, urgency, member, "burst pipe flooding the hall")
    first = await workers.start(db_url)
    await until(
        lambda: pings([first], primary, PRIMARY, flood), "the primary's ping", first, alive=[first]
    )
    await until(lambda: settled(db, flood), "the ping recorded as sent", first, alive=[first])
    assert await first.stopped(signal.SIGKILL) == -signal.SIGKILL  # no clean-up of any kind
    left = await timer(db, flood)

    if restart == "after the deadline":
        await make_due(db, flood)
        second = await workers.start(db_url)
    else:
        # Another emergency, its backup's step due at once, shows that the restarted worker has
        # swept: that sweep must pass over the flood, whose step is not due yet.
        other = await make_person(db, name="Olu Other")
        gas = await _raise(db, kb, urgency, other, "strong smell of gas in the kitchen")
        await make_due(db, gas)
        second = await workers.start(db_url)
        await until(lambda: pings([second], backup, BACKUP, gas), "a sweep", second, alive=[second])
        assert pings([first, second], backup, BACKUP, flood) == []
        assert await timer(db, flood) == left  # where the killed worker left it
        await make_due(db, flood)

    await until(
        lambda: pings([second], backup, BACKUP, flood), "the backup's ping", second, alive=[second]
    )
    await until(lambda: settled(db, flood), "the ping recorded as sent", second, alive=[second])
    assert await second.stopped() == 0, second.output()
    assert len(pings([first, second], primary, PRIMARY, flood)) == 1, first.output()
    assert len(pings([first, second], backup, BACKUP, flood)) == 1, second.output()


@pytest.mark.postgres
async def test_two_workers_on_one_postgres_send_every_ping_once(
    postgres_url: str, kb: KnowledgeBase, urgency: UrgencyDetector, workers: Workers
) -> None:
    db = Database(postgres_url)
    await truncate(db)
    try:
        member, primary, backup = await _setup(db)
        others = [await make_person(db, name=f"Member {n}") for n in range(11)]
        both = [await workers.start(postgres_url), await workers.start(postgres_url)]
        raised = [
            await _raise(db, kb, urgency, person, f"flood in block {n}")
            for n, person in enumerate([member, *others])
        ]
        await until(
            lambda: all(pings(both, primary, PRIMARY, r) for r in raised),
            "every primary's ping",
            alive=both,
        )
        await until(lambda: settled(db, *raised), "the pings recorded as sent", alive=both)
        await make_due(db, *raised)  # twelve steps due at once, both workers sweeping
        await until(
            lambda: all(pings(both, backup, BACKUP, r) for r in raised),
            "every backup's ping",
            alive=both,
        )
        await until(lambda: settled(db, *raised), "the pings recorded as sent", alive=both)
        for worker in both:
            assert await worker.stopped() == 0, worker.output()
        sent = Counter((str(m["chat_id"]), str(m["text"])) for m in delivered(both))
        assert sent, "nothing was delivered"
        assert max(sent.values()) == 1, [k for k, v in sent.items() if v > 1]
        levels = Counter(
            "backup" if BACKUP in text else "primary" if PRIMARY in text else "other"
            for _, text in sent
        )
        assert (levels["primary"], levels["backup"]) == (12, 12)
    finally:
        await db.dispose()
