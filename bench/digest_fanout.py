"""Digest fan-out: one week's member digest to 10,000 members linked on Telegram, through the
real `hotline digest send` (a subprocess: TelegramSender, Throttle, outbox, on uvloop) against the
fake Bot API, which answers 2% of sends 429 (retry after 1 s) and blocks 1% of chats (403, for
good).

    python -m bench.digest_fanout [--members 10000] [--limit 1000 | --telegram-limit]
                                  [--processes 1,2,4] [--postgres URL | --no-postgres]
                                  [--no-sqlite] [--profile DIR]

The configured limit is 1,000 a second by default, to keep the run short; `--telegram-limit`
uses Telegram's real 30 a second (about six minutes per database for 10,000 members; a smaller
`--members`, e.g. 2000, is allowed, but the start-up and preparation then weigh more in the
whole-command rate). The per-chat interval is Telegram's one second (each member gets one
message; 429s wait it).
`--processes 1,2,4` runs, on PostgreSQL, N `hotline digest send` at once against the same run
for each N (a fresh database for each N; the outbox's leases and dedupe share the work), each
process limited to the limit / N (TELEGRAM_MAX_PER_SECOND), so that together they are held to
the limit; SQLite always runs one process.
Printed per database (and per process count):
- rate, twice, as a fraction of the limit: accepted messages over the sending window (first
  sendMessage to the last, across all processes), and over the whole command (from starting the
  first process to the exit of the last: interpreter start-up, settings, knowledge base and the
  run's preparation included); beside each, every sendMessage request (429s and 403s use up the
  limit too, so accepted messages alone can reach at most about 0.97 of it);
- the fake's busiest one-second window (accepted, and all requests): never above the limit;
- duplicates (chats with more than one accepted digest; must be 0), losses (members neither
  sent nor recorded unreachable, or recorded sent without the platform accepting; must be 0),
  unreachable (recorded 403s, against the chats the fake blocked).
The fake Bot API runs in this process (on uvloop where installed, as Telegram's servers are not
on this machine at all), so on a small machine it shares the cores with the senders.
`--profile DIR` runs each command under py-spy and writes DIR/<database>[-<N>.<i>].txt (raw
stacks). On PostgreSQL each run is in a database of its own, created on URL's server and dropped
afterwards (bench/scratch_db.py); the database named in URL is not touched. A benchmark: it
prints figures, it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bench.scratch_db import scratch_postgres
from bot.commands.common import run_fast
from bot.digest.schedule import monday
from bot.store import Database, upgrade
from bot.store.models import (
    OutboundMessage,
    OutboxStatus,
)
from tests.factories import seed_digest_members
from tests.handlers.fake_telegram import FakeTelegram

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
LONDON = ZoneInfo("Europe/London")
TOKEN = "123:TEST"
USER_BASE = 100_000
RATE_429 = 0.02
RATE_403 = 0.01


def last_week() -> date:
    """A week whose 07:30 has passed: `digest send` refuses weeks that have not started."""
    return monday(datetime.now(LONDON).date() - timedelta(days=7))


async def seed(url: str, members: int, week: date) -> None:
    """Members in bulk, each linked on Telegram and subscribed, and one news item for every
    audience, so every member has something to read."""
    db = Database(url)
    try:
        async with db.session() as s:
            await seed_digest_members(s, members, USER_BASE, week, "bench")
    finally:
        await db.dispose()


def windows(times: list[float], window_s: float = 1.0) -> list[int]:
    """For each event, how many events fell in the `window_s` ending at it (itself included);
    the largest is FakeTelegram.max_rate."""
    ordered = sorted(times)
    counts, start = [], 0
    for end, at in enumerate(ordered):
        while at - ordered[start] >= window_s:
            start += 1
        counts.append(end - start + 1)
    return counts


@dataclass(frozen=True)
class Figures:
    name: str
    members: int
    limit: float
    processes: int
    wall_s: float
    startup_s: float
    window_s: float
    requests: int
    accepted: int
    busiest_accepted: int
    busiest_requests: int
    over_limit: int
    refused_429: int
    duplicates: int
    losses: int
    unreachable: int
    blocked: int
    failed: int

    def lines(self) -> list[str]:
        each = f"{self.processes} processes at {self.limit / self.processes:g}/s each"
        who = each if self.processes > 1 else "1 process"
        return [
            f"{self.name}: {self.members} members, limit {self.limit:g}/s ({who}); command "
            f"{self.wall_s:.1f} s (start-up and preparation "
            f"{self.startup_s:.1f} s, sending {self.window_s:.1f} s)",
            self._rate("sending window", self.window_s),
            self._rate("whole command", self.wall_s),
            f"  sendMessage: {self.requests} ({self.accepted} accepted, {self.refused_429} "
            f"answered 429, {self.requests - self.accepted - self.refused_429} answered 403)",
            f"  busiest second: {self.busiest_accepted} accepted, {self.busiest_requests} "
            f"requests (limit {self.limit:g}); {self.over_limit} requests had more than the "
            "limit in the second ending at them",
            f"  duplicates {self.duplicates}  losses {self.losses}  unreachable "
            f"{self.unreachable} (fake blocked {self.blocked})  failed {self.failed}",
        ]

    def _rate(self, over: str, seconds: float) -> str:
        rate, requests = self.accepted / seconds, self.requests / seconds
        return (
            f"  rate over the {over} ({seconds:.1f} s): {rate:.1f} accepted/s = "
            f"{rate / self.limit:.3f} of the limit; {requests:.1f} requests/s = "
            f"{requests / self.limit:.3f}"
        )


async def fan_out(
    name: str, url: str, members: int, limit: float, processes: int, profile: Path | None
) -> Figures:
    """Seed `members`, run `processes` `digest send` at once (limit / processes each) and count
    what the fake Bot API saw and the outbox recorded."""
    week = last_week()
    await seed(url, members, week)
    async with FakeTelegram(token=TOKEN) as fake:
        fake.random_faults(rate_429=RATE_429, rate_403=RATE_403, seed=5)
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "DATA_DIR": str(DATA),
            "TELEGRAM_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": fake.base_url,
            "TELEGRAM_MAX_PER_SECOND": repr(limit / processes),
            "TELEGRAM_CHAT_INTERVAL_S": "1",
            "PLATFORM_TIMEOUT_S": "5",
            "LOG_LEVEL": "WARNING",
        }
        command = [sys.executable, "-m", "bot", "digest", "send"]
        command += ["--week", week.isoformat(), "--kind", "member"]
        commands = []
        for n in range(processes):
            one = command
            if profile is not None:
                spy = Path(sys.executable).with_name("py-spy")
                suffix = f"-{processes}.{n + 1}" if processes > 1 else ""
                out = profile / f"{name.lower()}{suffix}.txt"
                one = [str(spy), "record", "-f", "raw", "-r", "200", "-o", str(out), "--", *one]
            commands.append(one)
        started = time.monotonic()
        running = [
            await asyncio.create_subprocess_exec(
                *one, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE
            )
            for one in commands
        ]
        outputs = await asyncio.gather(*(p.communicate() for p in running))
        wall = time.monotonic() - started
        for process, (output, _) in zip(running, outputs, strict=True):
            if process.returncode != 0:
                raise SystemExit(f"digest send failed ({process.returncode}): {output.decode()}")
        sends = fake.calls_to("sendMessage")
        if not sends:
            raise SystemExit(f"digest send sent nothing: {outputs[0][0].decode()}")
        times = [c.at for c in sends]
        accepted = sum(1 for c in sends if c.outcome == "ok")
        per_chat = fake.sends_per_chat()
        blocked = len(fake.blocked)
        window = max(max(times) - min(times), 1e-6)
        startup = min(times) - started
        refused_429 = sum(1 for c in sends if c.outcome == "429")
        busiest_accepted = fake.max_rate(1.0)
        request_windows = windows(times)
    db = Database(url)
    try:
        async with db.session() as s:
            rows = (await s.execute(select(OutboundMessage.chat_id, OutboundMessage.status))).all()
    finally:
        await db.dispose()
    status = {int(chat): st for chat, st in rows}
    settled = {OutboxStatus.SENT, OutboxStatus.UNREACHABLE}
    losses = sum(
        1
        for n in range(members)
        if status.get(USER_BASE + n) not in settled
        or (status[USER_BASE + n] is OutboxStatus.SENT and per_chat.get(USER_BASE + n, 0) == 0)
    )
    by_status = Counter(status.values())
    return Figures(
        name=name,
        members=members,
        limit=limit,
        processes=processes,
        wall_s=wall,
        startup_s=startup,
        window_s=window,
        requests=len(sends),
        accepted=accepted,
        busiest_accepted=busiest_accepted,
        busiest_requests=max(request_windows),
        over_limit=sum(1 for n in request_windows if n > limit),
        refused_429=refused_429,
        duplicates=sum(1 for n in per_chat.values() if n > 1),
        losses=losses,
        unreachable=by_status[OutboxStatus.UNREACHABLE],
        blocked=blocked,
        failed=by_status[OutboxStatus.FAILED],
    )


def process_counts(raw: str) -> list[int]:
    try:
        counts = [int(part) for part in raw.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a list like 1,2,4") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{raw!r}: each count must be 1 or more")
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--members", type=int, default=10_000)
    limit = ap.add_mutually_exclusive_group()
    limit.add_argument("--limit", type=float, default=1000.0, help="messages a second (scaled)")
    limit.add_argument(
        "--telegram-limit", action="store_true", help="Telegram's own 30 a second (slow)"
    )
    ap.add_argument(
        "--processes",
        type=process_counts,
        default=[1],
        metavar="N[,N...]",
        help="senders at once on PostgreSQL, the limit shared between them (default 1)",
    )
    ap.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument("--profile", type=Path, metavar="DIR", help="record py-spy raw stacks here")
    args = ap.parse_args()
    per_second = 30.0 if args.telegram_limit else float(args.limit)
    if args.members < 1:
        ap.error("--members must be 1 or more")
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    results: list[Figures] = []
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{tmp}/fanout.db"
            upgrade(url)
            results.append(
                run_fast(fan_out("SQLite", url, args.members, per_second, 1, args.profile))
            )
            print("\n".join(results[-1].lines()), flush=True)
    if not args.no_postgres:
        for processes in args.processes:
            with scratch_postgres(args.postgres) as url:
                results.append(
                    run_fast(
                        fan_out(
                            "PostgreSQL", url, args.members, per_second, processes, args.profile
                        )
                    )
                )
            print("\n".join(results[-1].lines()), flush=True)
    sweep = [f for f in results if f.name == "PostgreSQL"]
    if len(sweep) > 1:
        print(f"PostgreSQL, accepted over the sending window as a fraction of {per_second:g}/s:")
        for f in sweep:
            print(
                f"  {f.processes} process{'es' if f.processes > 1 else ''}: "
                f"{f.accepted / f.window_s / f.limit:.3f} (whole command "
                f"{f.accepted / f.wall_s / f.limit:.3f}); duplicates {f.duplicates}, "
                f"losses {f.losses}",
                flush=True,
            )


if __name__ == "__main__":
    main()
