"""Escalation speed: from a member's /emergency to the first staff ping handed to the channel,
and how late level-2 pings fire against their deadline. SQLite and PostgreSQL.

    python bench/escalation.py [--requests 200] [--postgres URL | --no-postgres]

Uses the real dispatcher, outbox, sender loop and APScheduler sweeper in one process, with a
recording channel at the edge. PostgreSQL's public schema at URL is dropped and recreated.
A benchmark: it prints figures, it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select, text

from bot.background import Background
from bot.conversation import Dispatcher, DispatcherConfig, IncomingMessage
from bot.conversation.context import Deps
from bot.conversation.ports import SendResult, Sent
from bot.conversation.types import Reply
from bot.escalation.policy import EscalationConfig
from bot.escalation.rota import parse_rota_text
from bot.escalation.urgency import load_detector
from bot.knowledge import load_knowledge_base
from bot.knowledge.language import load_lexicon
from bot.store import Database, upgrade
from bot.store.models import HotlineRequest, Identity, Person, Role, RotaVersion, School

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
ROTA = """timezone: Europe/London
hotline_hours:
  - {days: Mon-Sun, from: '00:00', to: '24:00'}
fallback: fallback@p.example.org
pattern:
  - days: Mon-Sun
    from: '00:00'
    to: '24:00'
    primary: primary@p.example.org
    backup: backup@p.example.org
"""


class StampingChannel:
    """Records when each message was handed to it; wakes the benchmark on every primary ping."""

    channel = "console"

    def __init__(self, watch: str) -> None:
        self.watch = watch
        self.times: dict[str, list[tuple[float, str]]] = {}
        self.arrived = asyncio.Event()

    async def send(self, chat_id: str, reply: Reply) -> SendResult:
        self.times.setdefault(chat_id, []).append((time.perf_counter(), reply.text))
        if chat_id == self.watch:
            self.arrived.set()
        return Sent()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def seed(db: Database, members: int) -> list[str]:
    async with db.session() as s:
        school = School(code="bench", name="Bench School", phase="primary")
        s.add(school)
        await s.flush()
        people = [
            Person(email=f"{r}@p.example.org", name=r.title(), role=Role.STAFF, active=True)
            for r in ("primary", "backup", "fallback")
        ]
        people += [
            Person(
                email=f"m{n}@s.example.org",
                name=f"Member {n}",
                role=Role.MEMBER,
                school_id=school.id,
                active=True,
            )
            for n in range(members)
        ]
        s.add_all(people)
        await s.flush()
        s.add_all(
            Identity(person_id=p.id, channel="console", external_id=p.email, chat_id=p.email)
            for p in people
        )
        rota = parse_rota_text(ROTA, "bench")
        s.add(RotaVersion(source="bench", content=json.dumps(rota.to_json())))
    return [f"m{n}@s.example.org" for n in range(members)]


async def run(url: str, requests: int, deps: Deps) -> None:
    db = Database(url)
    emails = await seed(db, requests)
    primary = "primary@p.example.org"
    channel = StampingChannel(primary)
    config = replace(deps.escalation, ack_timeout=timedelta(seconds=2))
    background = Background(
        db, config, {"console": channel}, sweep_interval_s=0.5, deliver_interval_s=0.5
    )
    live = replace(deps, escalation=config, on_queued=background.kick)
    dispatcher = Dispatcher(db, live, DispatcherConfig(hotline_phone="0", rate_limit=10_000))
    background.start()
    latencies: list[float] = []
    try:
        for email in emails:
            channel.arrived.clear()
            started = time.perf_counter()
            message = IncomingMessage("console", email, email, text="/emergency flood in the hall")
            await dispatcher.handle(message)
            await asyncio.wait_for(channel.arrived.wait(), 10)
            latencies.append((channel.times[primary][-1][0] - started) * 1000)
        await asyncio.sleep(config.ack_timeout.total_seconds() + 2.0)
        async with db.session() as s:
            deadlines = {
                r.reference: r.created_at + config.ack_timeout
                for r in await s.scalars(select(HotlineRequest))
            }
    finally:
        await background.stop()
    backup = channel.times.get("backup@p.example.org", [])
    # perf_counter and wall clock: convert each ping's wall time through the offset between them
    offset = time.time() - time.perf_counter()
    lateness = []
    for stamp, body in backup:
        reference = body.split()[1]
        if reference in deadlines:
            lateness.append(stamp + offset - deadlines[reference].timestamp())
    name = "SQLite" if db.is_sqlite else "PostgreSQL"
    print(
        f"{name}: message to first ping, {len(latencies)} requests: "
        f"p50 {statistics.median(latencies):.1f} ms  p99 {pct(latencies, 0.99):.1f} ms  "
        f"max {max(latencies):.1f} ms"
    )
    if lateness:
        print(
            f"{name}: level-2 ping after its deadline, {len(lateness)} pings (sweep every 0.5 s): "
            f"p50 {statistics.median(lateness):.2f} s  p99 {pct(lateness, 0.99):.2f} s  "
            f"max {max(lateness):.2f} s"
        )
    await db.dispose()


async def reset_postgres(url: str) -> None:
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await db.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--no-postgres", action="store_true")
    args = ap.parse_args()
    kb = load_knowledge_base(DATA)
    deps = Deps(
        kb=kb,
        urgency=load_detector(DATA, load_lexicon(DATA / "language")),
        escalation=EscalationConfig(),
        hotline_phone="0",
        timezone=ZoneInfo("Europe/London"),
    )
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        upgrade(url)
        asyncio.run(run(url, args.requests, deps))
    if not args.no_postgres:
        asyncio.run(reset_postgres(args.postgres))
        upgrade(args.postgres)
        asyncio.run(run(args.postgres, args.requests, deps))


if __name__ == "__main__":
    main()
