"""Kill and restart: how soon the due pings a SIGKILLed `hotline worker` left behind are sent by
the worker started after it, and how many messages go twice or never. SQLite and PostgreSQL.

    python -m bench.kill_restart [--runs 3] [--pings 300] [--digests 200] [--delay 0.05,0.2]
                                 [--seed 12] [--postgres URL | --no-postgres] [--no-sqlite]

Each kill point starts from a fresh database holding `--pings` due staff pings (outbox rows
about an open emergency, queued with the outbox's own `enqueue_many` as the escalation's pings
are: request, person and identity set, so they are claimed before the rest; one staff chat
each, so the sends run at the outbox's CONCURRENCY) and `--digests` due digest-like rows (no
request) behind them. A real `hotline worker` (a subprocess: TelegramSender, Throttle, outbox,
sender loop) sends them to the fake Telegram Bot API (tests/handlers/fake_telegram.py, in this
process), which answers each sendMessage after a delay drawn from `--delay` seconds, so sends
are in flight at any moment; a send the fake received takes effect even if the sender dies
before the answer, as on Telegram. The Telegram throttle is set above what that delay allows,
so the platform's rate limit plays no part.

Once the fake has accepted K of the pings (a tenth, half, nine tenths, and a random fraction;
`--runs` times each, each run with its own random one), the worker is killed with SIGKILL (no
clean-up of any kind) and a new one is started at once. Measured, per kill point:
- for each ping the fake had not accepted at the kill, the seconds from starting the new
  process (interpreter start-up, settings, knowledge base and the platforms included) to the
  fake first accepting it (p50 and max; a send from the killed worker that landed after the
  kill counts the little it took after the restart); separately the max of the pings the
  killed worker held under a lease (claimed, not recorded as sent, including those in flight:
  sent again once the lease, 3 s renewed every second, runs out, bot/delivery/outbox.py, at the
  sender loop's next poll, every second, bot/background.py);
- duplicates: messages the fake accepted more than once (pings and digests), against the
  outbox's CONCURRENCY (the sends in flight at once: the most a kill may repeat);
- losses: pings (and digests) the fake never accepted within a minute of the restart.
Also shown: the pings left unsent at the kill, how many of them the killed worker held and how
many were in flight (received by the fake, not yet answered), and when the new worker's first
sendMessage arrived.

Targets (issue 12): every due ping sent <= 5 s after the restart, duplicates <= the outbox
concurrency (16), losses 0. Printed as PASS / MISS per database over all kill points. On
PostgreSQL each kill point is in a database of its own, created on URL's server and dropped
afterwards (bench/scratch_db.py); the database named in URL is not touched. The fake runs in
this process, on the same shared cores as the workers. A benchmark: it prints figures, it
asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, insert, select

from bench.scratch_db import scratch_database
from bot.commands.common import run_fast
from bot.core.types import Reply
from bot.delivery.outbox import CONCURRENCY, Outgoing, enqueue_many
from bot.store import Database, upgrade
from bot.store.models import (
    HotlineRequest,
    Identity,
    OutboundMessage,
    OutboxStatus,
    Person,
    RequestKind,
    RequestStatus,
    Role,
)
from tests.handlers.fake_telegram import FakeTelegram

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
TOKEN = "123:TEST"
MEMBER_CHAT = 600_000
STAFF_BASE = 700_000  # ping n goes to staff chat STAFF_BASE + n
DIGEST_BASE = 800_000  # digest n to member chat DIGEST_BASE + n
TARGET_S = 5.0
KILL_POINTS = (("early", 0.1), ("halfway", 0.5), ("late", 0.9))
START_DEADLINE_S = 120.0  # a first worker that sends nothing in this long has failed
SETTLE_DEADLINE_S = 60.0  # after the restart: what is not accepted by then is lost
POLL_S = 0.005
# A sendMessage the killed worker wrote just before the kill can reach the fake's handler a few
# milliseconds after it (this process is busy starting the new worker then). Calls arriving this
# soon after the kill are the killed worker's: no new process imports the bot, opens the database
# and sends in so little time (its first send comes over a second later here).
STRAGGLER_S = 0.25


async def seed(url: str, pings: int, digests: int) -> None:
    """A member with `pings` open emergencies, each with its primary's ping due on Telegram to
    a staff member of its own, and `digests` due digest rows for other members."""
    now = datetime.now(UTC)
    db = Database(url)
    try:
        async with db.session() as s:
            member = await s.scalar(
                insert(Person)
                .returning(Person.id)
                .values(email="member@k.example.org", name="Mo Member", role=Role.MEMBER)
            )
            staff = list(
                await s.scalars(
                    insert(Person).returning(Person.id, sort_by_parameter_order=True),
                    [
                        {
                            "email": f"staff{n}@k.example.org",
                            "name": f"Staff {n}",
                            "role": Role.STAFF,
                        }
                        for n in range(pings)
                    ],
                )
            )
            identities = list(
                await s.scalars(
                    insert(Identity).returning(Identity.id, sort_by_parameter_order=True),
                    [
                        {
                            "person_id": person,
                            "channel": "telegram",
                            "external_id": str(STAFF_BASE + n),
                            "chat_id": str(STAFF_BASE + n),
                            "reachable": True,
                        }
                        for n, person in enumerate(staff)
                    ],
                )
            )
            requests = list(
                await s.scalars(
                    insert(HotlineRequest).returning(
                        HotlineRequest.id, sort_by_parameter_order=True
                    ),
                    [
                        {
                            "reference": f"HL-K{n:05d}",
                            "kind": RequestKind.EMERGENCY,
                            "status": RequestStatus.OPEN,
                            "person_id": member,
                            "channel": "telegram",
                            "chat_id": str(MEMBER_CHAT),
                            "text": f"burst pipe flooding block {n}",
                            "level": 1,
                            "steps": 1,
                            "next_escalation_at": None,  # the sweeper leaves them be
                        }
                        for n in range(pings)
                    ],
                )
            )
            items = [
                Outgoing(
                    key=f"ping:{request}:1:{identity}",  # as policy.send_to_identities keys them
                    channel="telegram",
                    chat_id=str(STAFF_BASE + n),
                    reply=Reply(
                        f"HOTLINE HL-K{n:05d} (primary duty officer): burst pipe flooding "
                        f"block {n}. Please acknowledge."
                    ),
                    person_id=person,
                    identity_id=identity,
                    request_id=request,
                )
                for n, (person, identity, request) in enumerate(
                    zip(staff, identities, requests, strict=True)
                )
            ]
            items += [
                Outgoing(
                    key=f"digest:kill:{n}",
                    channel="telegram",
                    chat_id=str(DIGEST_BASE + n),
                    reply=Reply(f"Your weekly digest, member {n}: spring term network dates."),
                )
                for n in range(digests)
            ]
            await enqueue_many(s, items, now)
    finally:
        await db.dispose()


@dataclass
class Worker:
    name: str
    process: subprocess.Popen[bytes]
    stderr_path: Path

    def running(self) -> bool:
        return self.process.poll() is None

    def said(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")[-3000:]

    def kill(self) -> None:
        if self.running():
            self.process.kill()
        self.process.wait(timeout=30)


def start_worker(name: str, url: str, fake: FakeTelegram, folder: Path) -> Worker:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DATA_DIR": str(DATA),
        "TELEGRAM_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "TELEGRAM_MAX_PER_SECOND": "1000",
        "TELEGRAM_CHAT_INTERVAL_S": "0",
        "PLATFORM_TIMEOUT_S": "5",
        "LOG_LEVEL": "WARNING",
    }
    stdout_path, stderr_path = folder / f"{name}.stdout", folder / f"{name}.stderr"
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "worker"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
    return Worker(name, process, stderr_path)


async def wait_until(
    condition: Callable[[], bool], deadline_s: float, alive: Worker | None = None
) -> bool:
    """Poll `condition` until it holds (True) or the deadline passes (False); a worker in
    `alive` that exits first is a failure of the bench's set-up, not a figure."""
    deadline = time.monotonic() + deadline_s
    while not condition():
        if alive is not None and not alive.running():
            raise SystemExit(f"{alive.name} exited ({alive.process.returncode}):\n{alive.said()}")
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(POLL_S)
    return True


async def unsettled(db: Database) -> int:
    async with db.session() as s:
        n = await s.scalar(
            select(func.count())
            .select_from(OutboundMessage)
            .where(
                OutboundMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]),
                OutboundMessage.channel != "email",  # ping emails wait minutes on purpose
            )
        )
    return int(n or 0)


@dataclass(frozen=True)
class Point:
    database: str
    run: int
    label: str
    pings: int
    kill_after: int
    accepted_at_kill: int
    in_flight: int  # pings received by the fake at the kill, not yet answered
    latencies: list[float]  # per ping unsent at the kill: restart to first acceptance, seconds
    held_latencies: list[float]  # of those, the ones the killed worker held under a lease
    first_send_s: float | None  # restart to the new worker's first sendMessage arriving
    duplicates: int
    losses: int
    settled: bool

    def line(self) -> str:
        lat = self.latencies
        held = self.held_latencies
        first = f"{self.first_send_s:.2f} s" if self.first_send_s is not None else "never"
        return (
            f"{self.database:<10} run {self.run} {self.label:<13} kill after "
            f"{self.accepted_at_kill}/{self.pings} pings: {len(lat)} unsent ({len(held)} held by "
            f"it, {self.in_flight} of them in flight); restart to sent p50 "
            f"{_fmt(statistics.median(lat) if lat else None)} max {_fmt(max(lat, default=None))}"
            f" (held max {_fmt(max(held, default=None))}); first send {first}; duplicates "
            f"{self.duplicates}; losses {self.losses}"
            + ("" if self.settled else "; outbox NOT settled")
        )


def _fmt(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.2f} s"


async def kill_point(
    database: str,
    url: str,
    run: int,
    label: str,
    fraction: float,
    args: argparse.Namespace,
    folder: Path,
) -> Point:
    await seed(url, args.pings, args.digests)
    ping_chats = [STAFF_BASE + n for n in range(args.pings)]
    all_chats = ping_chats + [DIGEST_BASE + n for n in range(args.digests)]
    kill_after = min(args.pings - 1, max(1, round(args.pings * fraction)))
    db = Database(url)
    async with FakeTelegram(token=TOKEN, send_delay_s=args.delay, seed=args.seed + run) as fake:
        answered = fake.answered_at()
        first = start_worker(f"{database}-{run}-{label}-first", url, fake, folder)
        second: Worker | None = None
        try:
            started = await wait_until(
                lambda: sum(1 for c in ping_chats if c in answered) >= kill_after,
                START_DEADLINE_S,
                first,
            )
            if not started:
                raise SystemExit(f"{first.name} sent too little in time:\n{first.said()}")
            first.process.send_signal(signal.SIGKILL)
            killed_at = restarted_at = time.monotonic()
            second = start_worker(f"{database}-{run}-{label}-second", url, fake, folder)
            first.kill()  # reap it
            accepted_before = {
                c for c in ping_chats if c in answered and answered[c][0] <= killed_at
            }
            everything = await wait_until(
                lambda: all(c in answered for c in all_chats), SETTLE_DEADLINE_S, second
            )
            settled = False
            if everything:
                deadline = time.monotonic() + SETTLE_DEADLINE_S
                while time.monotonic() < deadline:
                    if await unsettled(db) == 0:
                        settled = True
                        break
                    await asyncio.sleep(0.2)
            second.process.send_signal(signal.SIGTERM)
            await wait_until(lambda: second is None or not second.running(), 30.0)
        finally:
            first.kill()
            if second is not None:
                second.kill()
        sends = fake.calls_to("sendMessage")
        from_killed = {c.params.get("chat_id") for c in sends if c.at <= killed_at + STRAGGLER_S}
        in_flight = len((from_killed & set(ping_chats)) - accepted_before)
        after = [c.at - restarted_at for c in sends if c.at > killed_at + STRAGGLER_S]
        first_send = min(after) if after else None
        per_chat = {c: len(answered.get(c, [])) for c in all_chats}
    async with db.session() as s:
        attempts = dict(
            (await s.execute(select(OutboundMessage.chat_id, OutboundMessage.attempts))).all()
        )
    await db.dispose()
    unsent = [c for c in ping_chats if c not in accepted_before]
    latencies, held = [], []
    for c in unsent:
        if c not in answered:
            continue
        took = max(0.0, answered[c][0] - restarted_at)  # its first acceptance: after the kill
        latencies.append(took)
        if attempts.get(str(c), 0) >= 2:  # claimed by the killed worker and again after it
            held.append(took)
    return Point(
        database=database,
        run=run,
        label=label,
        pings=args.pings,
        kill_after=kill_after,
        accepted_at_kill=len(accepted_before),
        in_flight=in_flight,
        latencies=latencies,
        held_latencies=held,
        first_send_s=first_send,
        duplicates=sum(n - 1 for n in per_chat.values() if n > 1),
        losses=sum(1 for n in per_chat.values() if n == 0),
        settled=settled,
    )


def summary(database: str, points: list[Point]) -> list[str]:
    if not points:
        return []
    latencies = [t for p in points for t in p.latencies]
    worst = max(latencies, default=0.0)
    late = sum(1 for t in latencies if t > TARGET_S)
    duplicates = max(p.duplicates for p in points)
    losses = sum(p.losses for p in points)
    firsts = [p.first_send_s for p in points if p.first_send_s is not None]

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    return [
        f"{database} summary, {len(points)} kill points, {len(latencies)} pings unsent at a kill:",
        f"  restart to sent: p50 {_fmt(statistics.median(latencies) if latencies else None)}, "
        f"max {_fmt(worst)}; per kill point max "
        + ", ".join(f"{max(p.latencies, default=0.0):.2f}" for p in points)
        + f"; {late} later than {TARGET_S:g} s: {verdict(worst <= TARGET_S)} (<= {TARGET_S:g} s)",
        f"  restart to the new worker's first send: p50 "
        f"{_fmt(statistics.median(firsts) if firsts else None)}, "
        f"max {_fmt(max(firsts, default=None))}",
        f"  duplicates per kill point: max {duplicates} ("
        + ", ".join(str(p.duplicates) for p in points)
        + f"): {verdict(duplicates <= CONCURRENCY)} (<= {CONCURRENCY}, the outbox concurrency)",
        f"  losses: {losses}: {verdict(losses == 0)} (0)",
    ]


def plan(runs: int, seed: int) -> list[tuple[int, str, float]]:
    """(run, label, fraction) for every kill point: the fixed ones and a random one per run."""
    rng = random.Random(seed)
    points = []
    for run in range(1, runs + 1):
        fraction = rng.uniform(0.05, 0.95)
        for label, at in (*KILL_POINTS, (f"random {fraction:.2f}", fraction)):
            points.append((run, label, at))
    return points


async def on_sqlite(args: argparse.Namespace, folder: Path) -> list[Point]:
    points = []
    for n, (run, label, fraction) in enumerate(plan(args.runs, args.seed)):
        url = f"sqlite+aiosqlite:///{folder}/kill-{n}.db"
        await asyncio.to_thread(upgrade, url)
        points.append(await kill_point("SQLite", url, run, label, fraction, args, folder))
        print(points[-1].line(), flush=True)
    return points


async def on_postgres(args: argparse.Namespace, folder: Path) -> list[Point]:
    points = []
    for run, label, fraction in plan(args.runs, args.seed):
        async with scratch_database(args.postgres) as url:
            point = await kill_point("PostgreSQL", url, run, label, fraction, args, folder)
        points.append(point)
        print(points[-1].line(), flush=True)
    return points


def delay_range(raw: str) -> tuple[float, float]:
    try:
        low, high = (float(part) for part in raw.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a range like 0.05,0.2") from None
    if not 0 <= low <= high:
        raise argparse.ArgumentTypeError(f"{raw!r}: need 0 <= low <= high")
    return low, high


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="times each kill point is repeated")
    ap.add_argument("--pings", type=int, default=300)
    ap.add_argument("--digests", type=int, default=200, help="digest rows behind the pings")
    ap.add_argument(
        "--delay", type=delay_range, default=(0.05, 0.2), help="the fake's answer delay, s"
    )
    ap.add_argument("--seed", type=int, default=12, help="for the random kill points")
    ap.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--no-sqlite", action="store_true")
    args = ap.parse_args()
    if args.runs < 1 or args.pings < 2 or args.digests < 0:
        ap.error("--runs >= 1, --pings >= 2, --digests >= 0")
    print(
        f"{args.pings} pings and {args.digests} digests due; the fake answers each send after "
        f"{args.delay[0]:g}-{args.delay[1]:g} s; outbox concurrency {CONCURRENCY}",
        flush=True,
    )
    results: dict[str, list[Point]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if not args.no_sqlite:
            results["SQLite"] = run_fast(on_sqlite(args, Path(tmp)))
        if not args.no_postgres:
            results["PostgreSQL"] = run_fast(on_postgres(args, Path(tmp)))
    for database, points in results.items():
        print("\n".join(summary(database, points)), flush=True)


if __name__ == "__main__":
    main()
