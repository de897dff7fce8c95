"""Escalation speed: from a member's /emergency to the first staff ping handed to the channel,
and how late level-2 pings fire against their deadline. SQLite and PostgreSQL.

    python -m bench.escalation [--requests 200] [--postgres URL | --no-postgres]

Uses the real dispatcher, outbox, sender loop and APScheduler sweeper in one process, with a
recording channel at the edge. On PostgreSQL each phase runs in a database of its own, created
on URL's server and dropped afterwards (bench/scratch_db.py); the database in URL is not touched.
A benchmark: it prints figures, it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bench.scratch_db import scratch_database
from bot.background import Background
from bot.conversation.context import Deps
from bot.conversation.dispatcher import Dispatcher, DispatcherConfig
from bot.core.ports import SendResult, Sent
from bot.core.types import IncomingMessage, Reply
from bot.escalation.cues_file import load_detector
from bot.escalation.policy import EscalationConfig
from bot.escalation.rota_file import parse_rota_text
from bot.knowledge import load_knowledge_base
from bot.knowledge.language import load_lexicon
from bot.store import Database, upgrade
from bot.store.models import HotlineRequest, Identity, RotaVersion
from tests.factories import seed_staff_and_members

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

    async def edit(self, chat_id: str, ref: str, reply: Reply) -> SendResult:
        return Sent(ref)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def seed(db: Database, members: int) -> list[str]:
    async with db.session() as s:
        people = await seed_staff_and_members(s, members)
        s.add_all(
            Identity(person_id=p.id, channel="console", external_id=p.email, chat_id=p.email)
            for p in people
        )
        rota = parse_rota_text(ROTA, "bench")
        s.add(RotaVersion(source="bench", content=json.dumps(rota.to_json())))
    return [f"m{n}@s.example.org" for n in range(members)]


async def first_pings(url: str, requests: int, deps: Deps) -> list[float]:
    """Milliseconds from handing /emergency to the dispatcher to the ping reaching the channel."""
    db = Database(url)
    emails = await seed(db, requests)
    primary = "primary@p.example.org"
    channel = StampingChannel(primary)
    background = Background(db, deps.escalation, {"console": channel}, sweep_interval_s=15)
    live = replace(deps, on_queued=background.kick)
    dispatcher = Dispatcher(db, live, DispatcherConfig(rate_limit=10_000))
    background.start()
    latencies: list[float] = []
    try:
        for email in emails:
            channel.arrived.clear()
            started = time.perf_counter()
            message = IncomingMessage("console", email, email, text="/emergency flood in the hall")
            replies = await dispatcher.handle(message)
            if "HL-" not in replies[0].text:
                raise SystemExit(f"not logged: {replies[0].text}")
            await asyncio.wait_for(channel.arrived.wait(), 10)
            latencies.append((channel.times[primary][-1][0] - started) * 1000)
    finally:
        await background.stop()
        await db.dispose()
    return latencies


async def level_two_lateness(url: str, requests: int, deps: Deps, sweep_s: float) -> list[float]:
    """Seconds between each level-1 deadline and its level-2 ping reaching the channel."""
    db = Database(url)
    emails = await seed(db, requests)
    channel = StampingChannel("backup@p.example.org")
    config = replace(deps.escalation, ack_timeout=timedelta(seconds=3))
    background = Background(db, config, {"console": channel}, sweep_interval_s=sweep_s)
    live = replace(deps, escalation=config, on_queued=background.kick)
    dispatcher = Dispatcher(db, live, DispatcherConfig(rate_limit=10_000))
    background.start()
    try:
        for n, email in enumerate(emails):
            message = IncomingMessage(
                "console", email, email, text=f"/emergency flood in block {n}"
            )
            await dispatcher.handle(message)
            await asyncio.sleep(0.02)  # spread the deadlines over the sweep interval
        await asyncio.sleep(config.ack_timeout.total_seconds() + sweep_s + 2.0)
        async with db.session() as s:
            deadlines = {
                r.reference: r.created_at + config.ack_timeout
                for r in await s.scalars(select(HotlineRequest))
            }
    finally:
        await background.stop()
        await db.dispose()
    offset = time.time() - time.perf_counter()  # channel stamps are perf_counter; deadlines wall
    lateness = []
    for stamp, body in channel.times.get("backup@p.example.org", []):
        reference = body.split()[1]
        if "backup duty officer" in body and reference in deadlines:
            lateness.append(stamp + offset - deadlines[reference].timestamp())
    return lateness


def report(name: str, latencies: list[float], lateness: list[float], sweep_s: float) -> None:
    print(
        f"{name}: message to first ping, {len(latencies)} requests: "
        f"p50 {statistics.median(latencies):.1f} ms  p99 {pct(latencies, 0.99):.1f} ms  "
        f"max {max(latencies):.1f} ms"
    )
    print(
        f"{name}: level-2 ping after its deadline, {len(lateness)} pings "
        f"(sweep every {sweep_s} s): "
        f"p50 {statistics.median(lateness):.2f} s  p99 {pct(lateness, 0.99):.2f} s  "
        f"max {max(lateness):.2f} s"
    )


async def run(
    make_url: Callable[[str], Awaitable[str]], requests: int, deps: Deps, sweep_s: float
) -> None:
    latencies = await first_pings(await make_url("first"), requests, deps)
    lateness = await level_two_lateness(await make_url("second"), 50, deps, sweep_s)
    report(
        "SQLite" if "sqlite" in await make_url("name") else "PostgreSQL",
        latencies,
        lateness,
        sweep_s,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--sweep", type=float, default=1.0, help="sweep interval for the level-2 run")
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

        async def sqlite_url(phase: str) -> str:
            url = f"sqlite+aiosqlite:///{tmp}/{phase}.db"
            if phase != "name":
                await asyncio.to_thread(upgrade, url)
            return url

        asyncio.run(run(sqlite_url, args.requests, deps, args.sweep))
    if not args.no_postgres:

        async def on_postgres() -> None:
            async with AsyncExitStack() as scratch:

                async def postgres_url(phase: str) -> str:
                    if phase == "name":
                        return "postgresql"
                    return await scratch.enter_async_context(scratch_database(args.postgres))

                await run(postgres_url, args.requests, deps, args.sweep)

        asyncio.run(on_postgres())


if __name__ == "__main__":
    main()
