"""A partnership for digest tests: the example news and events imported, subscribed members on
the console channel, a fake clock at the scheduled time, and a recording channel at the edge."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.digest.content import parse_file
from bot.digest.content_store import import_records
from bot.digest.delivery import Progress, send_run
from bot.digest.runs import DigestConfig
from bot.digest.schedule import trigger
from bot.digest.subscriptions import subscribe
from bot.digest.weekly import prepare_week
from bot.knowledge import KnowledgeBase
from bot.store import Database
from bot.store.models import ContentKind, DigestRun, Person, Role, School
from tests.conftest import DATA, PHONE
from tests.factories import make_person
from tests.fakes import FakeClock, RecordingSender

LONDON = ZoneInfo("Europe/London")
WEEK = date(2026, 11, 30)
SCHEDULED = datetime(2026, 11, 30, 7, 30, tzinfo=LONDON)


def digest_config(**overrides: object) -> DigestConfig:
    values: dict[str, object] = {
        "tz": LONDON,
        "hotline_phone": PHONE,
        "cron": trigger("30 7 * * mon", LONDON),
        "grace": timedelta(hours=5),
    }
    values.update(overrides)
    return DigestConfig(**values)  # type: ignore[arg-type]


async def import_examples(db: Database) -> None:
    for name, kind in (("news.yaml", ContentKind.NEWS), ("events.yaml", ContentKind.EVENT)):
        records = parse_file(DATA / "example" / name, kind, LONDON)
        await import_records(db, records, name)


async def member(
    db: Database,
    *,
    phase: str = "primary",
    job_title: str = "Headteacher",
    subscribed: bool = True,
    linked: bool = True,
    role: Role = Role.MEMBER,
) -> Person:
    person = await make_person(db, role=role, linked=linked)
    async with db.session() as session:
        row = await session.get(Person, person.id)
        assert row is not None
        row.job_title = job_title
        if row.school_id is not None:
            school = await session.get(School, row.school_id)
            assert school is not None
            school.phase = phase
        if subscribed:
            await subscribe(session, row)
    return person


async def _short_real_sleep(_seconds: float) -> None:
    await asyncio.sleep(0.005)


@dataclass
class Digests:
    db: Database
    kb: KnowledgeBase
    clock: FakeClock
    channel: RecordingSender
    config: DigestConfig

    async def sleep(self, seconds: float) -> None:
        self.clock.advance(seconds=seconds)

    async def run_week(
        self,
        week: date = WEEK,
        channel: RecordingSender | None = None,
        db: Database | None = None,
        real_sleep: bool = False,
    ) -> list[Progress]:
        """What `hotline digest send` does: prepare both kinds, then send until settled.

        Waiting moves the fake clock, unless `real_sleep`: two runners sharing one fake clock
        would otherwise age each other's claims (outbox.LEASE) in a few milliseconds."""
        db = db or self.db
        runs = await prepare_week(db, self.kb, self.config, week, self.clock())
        sleep = _short_real_sleep if real_sleep else self.sleep
        return [
            await send_run(db, run, {"console": channel or self.channel}, self.clock, sleep=sleep)
            for run in runs
        ]

    async def runs(self) -> list[DigestRun]:
        async with self.db.session() as session:
            return list(await session.scalars(select(DigestRun).order_by(DigestRun.id)))

    def inbox(self, person: Person) -> list[str]:
        return [r.text for r in self.channel.to(person.email)]


@pytest.fixture
async def d(db: Database, kb: KnowledgeBase) -> Digests:
    await import_examples(db)
    return Digests(
        db, kb, FakeClock(SCHEDULED.astimezone(LONDON)), RecordingSender(), digest_config()
    )
