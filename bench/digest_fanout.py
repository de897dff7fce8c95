"""Digest fan-out: one week's member digest to 10,000 members, through the real `hotline digest
send` (a subprocess: the sender, Throttle, outbox, on uvloop), on Telegram against the fake Bot
API, which answers 2% of sends 429 (retry after 1 s) and blocks 1% of chats (403, for good), or
(`--email`) by email to members with no chat account, against the fake SMTP server, which answers
2% of RCPT TOs 450 (mailbox busy) and refuses 1% of the addresses for good (550).

    python -m bench.digest_fanout [--email] [--members 10000] [--limit N | --telegram-limit]
                                  [--runs N] [--processes 1,2,4]
                                  [--postgres URL | --no-postgres] [--no-sqlite] [--profile DIR]

Telegram: the configured limit is 1,000 a second by default, to keep the run short;
`--telegram-limit` uses Telegram's real 30 a second (about six minutes per database for 10,000
members; a smaller `--members`, e.g. 2000, is allowed, but the start-up and preparation then
weigh more in the whole-command rate). The per-chat interval is Telegram's one second (each
member gets one message; 429s wait it).
Email (`--email`): the limit is 50 messages a second by default (SMTP_MAX_PER_SECOND; the
issue's figure, about 3.5 minutes per database for 10,000 members); the members have no chat
account, so each digest goes to m<N>@bench.example.org, as a signed multipart email (an
EMAIL_SECRET of the bench's own, PUBLIC_URL https://hotline.bench.test), over plain SMTP on
127.0.0.1 with the default SMTP_MESSAGES_PER_CONNECTION.
`--runs N` repeats each database (and process count) N times, a fresh database each time
(default: 3 by email, 1 on Telegram), and prints a summary line per database: min / median /
max of the rate over the sending window as a fraction of the limit.
`--processes 1,2,4` runs, on PostgreSQL, N `hotline digest send` at once against the same run
for each N (a fresh database for each N; the outbox's leases and dedupe share the work), each
process limited to the limit / N (TELEGRAM_MAX_PER_SECOND or SMTP_MAX_PER_SECOND), so that
together they are held to the limit; SQLite always runs one process.
Printed per run:
- rate, twice, as a fraction of the limit: accepted messages over the sending window (first
  sendMessage to the last, or first RCPT TO to the last accepted email, across all
  processes), and over the
  whole command (from starting the first process to the exit of the last: interpreter
  start-up, settings, knowledge base and the run's preparation included); beside each, every
  attempt (sendMessage requests, or RCPT TOs: refusals use up the limit too, so accepted
  messages alone can reach at most about 0.97 of it);
- the fake's busiest one-second window (accepted, and all attempts): must not be above the
  limit (the throttle spaces the attempts as they leave; by email the fake times the RCPT TO,
  a connection and a MAIL FROM later, so their jitter shows here);
- duplicates (chats or addresses with more than one accepted digest; must be 0), losses
  (members neither sent nor recorded unreachable, or recorded sent without the fake accepting;
  must be 0), unreachable (recorded 403s or 5xx refusals, against the chats the fake blocked or
  the addresses it refused for good), and by email the 450s answered;
- CPU per accepted message: user + system seconds of the `digest send` process(es), in all
  (the interpreter's start-up and the run's preparation included; with --profile, py-spy's
  too) and from the first attempt on (sending alone: sampled from /proc every 0.1 s, so
  Linux only and not with --profile), and the bench process's own (the fake server) beside it.
  CPU does not depend on the machine's other load the way the rates do: on a busy machine read
  it beside them.
The fake servers run in this process (on uvloop where installed, as the real servers are not
on this machine at all), so on a small machine they share the cores with the senders.
`--profile DIR` runs each command under py-spy and writes DIR/[email-]<database>[-<N>.<i>]
[-run<R>].txt (raw stacks). On PostgreSQL each run is in a database of its own, created on
URL's server and dropped afterwards (bench/scratch_db.py); the database named in URL is not
touched. A benchmark: it prints figures, it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
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
from tests.fake_smtp import FakeSmtp
from tests.handlers.fake_telegram import FakeTelegram

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
LONDON = ZoneInfo("Europe/London")
TOKEN = "123:TEST"
USER_BASE = 100_000
RATE_429 = 0.02
RATE_403 = 0.01
# by email: 450 (mailbox busy) to 2% of RCPT TOs, 550 for good to 1% of the addresses
RATE_450 = 0.02
RATE_550 = 0.01
LABEL = "bench"  # the members' addresses: m<N>@bench.example.org
EMAIL_SECRET = "bench-email-secret-0123456789abcdef01234"  # 40 characters, the bench's own
TELEGRAM_LIMIT = 1000.0
EMAIL_LIMIT = 50.0
# settings the bench process may have that would change what the senders do
FOREIGN = ("TELEGRAM_TOKEN", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SMTP_USERNAME", "SMTP_PASSWORD")


def last_week() -> date:
    """A week whose 07:30 has passed: `digest send` refuses weeks that have not started."""
    return monday(datetime.now(LONDON).date() - timedelta(days=7))


async def seed(url: str, members: int, week: date, *, linked: bool = True) -> None:
    """Members in bulk, each subscribed and linked on Telegram (or, `linked=False`, on no chat
    at all, so that the digest goes by email), and one news item for every audience, so every
    member has something to read."""
    db = Database(url)
    try:
        async with db.session() as s:
            await seed_digest_members(s, members, USER_BASE, week, LABEL, linked=linked)
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


def cpu_s(who: int) -> float:
    """User + system CPU seconds so far of this process (RUSAGE_SELF) or of its children that
    have been waited for (RUSAGE_CHILDREN)."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class Ran:
    """What running the `digest send` processes took."""

    started: float  # monotonic time the first process was started
    wall_s: float
    senders_cpu_s: float  # the processes' own CPU (RUSAGE_CHILDREN delta)
    bench_cpu_s: float  # this process's meanwhile: the fake server and the event loop
    # (monotonic time, the processes' CPU seconds so far), every SAMPLE_S while they ran, from
    # /proc (empty where there is none, or under py-spy, whose own CPU it would be)
    cpu_samples: list[tuple[float, float]]

    def sending_cpu_s(self, first_send: float) -> float | None:
        """The processes' CPU from the last sample before `first_send` to their exit: the
        sending alone, without start-up and preparation."""
        before = [cpu for at, cpu in self.cpu_samples if at <= first_send]
        return self.senders_cpu_s - before[-1] if before else None


SAMPLE_S = 0.1
TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a running process, from /proc/PID/stat (None without)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # after the command name, which may have spaces
    return (int(fields[11]) + int(fields[12])) * TICK_S  # utime, stime: fields 14 and 15


async def sample_cpu(pids: list[int], into: list[tuple[float, float]]) -> None:
    """Append (time, CPU seconds of `pids` together) every SAMPLE_S until cancelled."""
    while pids:
        now, each = time.monotonic(), [proc_cpu_s(pid) for pid in pids]
        if any(cpu is None for cpu in each):
            return
        into.append((now, sum(cpu for cpu in each if cpu is not None)))
        await asyncio.sleep(SAMPLE_S)


async def run_senders(
    name: str,
    week: date,
    env: dict[str, str],
    processes: int,
    profile: Path | None,
    suffix: str,
) -> Ran:
    """Start `processes` `digest send` at once (under py-spy with `profile`) and wait for all;
    a failed one ends the bench with its output."""
    command = [sys.executable, "-m", "bot", "digest", "send"]
    command += ["--week", week.isoformat(), "--kind", "member"]
    commands = []
    for n in range(processes):
        one = command
        if profile is not None:
            spy = Path(sys.executable).with_name("py-spy")
            which = f"-{processes}.{n + 1}" if processes > 1 else ""
            out = profile / f"{name.lower()}{which}{suffix}.txt"
            one = [str(spy), "record", "-f", "raw", "-r", "200", "-o", str(out), "--", *one]
        commands.append(one)
    children, own = cpu_s(resource.RUSAGE_CHILDREN), cpu_s(resource.RUSAGE_SELF)
    started = time.monotonic()
    running = [
        await asyncio.create_subprocess_exec(
            *one, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE
        )
        for one in commands
    ]
    samples: list[tuple[float, float]] = []
    sampling = asyncio.create_task(
        sample_cpu([p.pid for p in running] if profile is None else [], samples)
    )
    outputs = await asyncio.gather(*(p.communicate() for p in running))
    wall = time.monotonic() - started
    sampling.cancel()
    ran = Ran(
        started=started,
        wall_s=wall,
        senders_cpu_s=cpu_s(resource.RUSAGE_CHILDREN) - children,
        bench_cpu_s=cpu_s(resource.RUSAGE_SELF) - own,
        cpu_samples=samples,
    )
    for process, (output, _) in zip(running, outputs, strict=True):
        if process.returncode != 0:
            raise SystemExit(f"digest send failed ({process.returncode}): {output.decode()}")
    return ran


def base_env(url: str) -> dict[str, str]:
    """The bench's environment for `digest send`, less any platform or SMTP login of its own."""
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN}
    return env | {
        "DATABASE_URL": url,
        "DATA_DIR": str(DATA),
        "LOG_LEVEL": "WARNING",
    }


async def outbox(url: str, channel: str) -> list[tuple[str, OutboxStatus]]:
    """(chat id, status) of every outbox row on `channel`."""
    db = Database(url)
    try:
        async with db.session() as s:
            rows = await s.execute(
                select(OutboundMessage.chat_id, OutboundMessage.status).where(
                    OutboundMessage.channel == channel
                )
            )
            return [(chat, status) for chat, status in rows.all()]
    finally:
        await db.dispose()


SETTLED = {OutboxStatus.SENT, OutboxStatus.UNREACHABLE}


def count_losses(
    recipients: Sequence[str], status: dict[str, OutboxStatus], accepted: Counter[str]
) -> int:
    """Members whose row is neither sent nor unreachable, or sent without the fake accepting."""
    return sum(
        1
        for who in recipients
        if status.get(who) not in SETTLED
        or (status[who] is OutboxStatus.SENT and accepted[who] == 0)
    )


@dataclass(frozen=True)
class Figures:
    name: str
    channel: str  # "telegram" or "email"
    members: int
    limit: float
    processes: int
    wall_s: float
    startup_s: float
    window_s: float
    requests: int  # sendMessage requests, or RCPT TOs
    accepted: int
    busiest_accepted: int
    busiest_requests: int
    over_limit: int
    refused_temporary: int  # 429s, or 450s
    duplicates: int
    losses: int
    unreachable: int
    blocked: int  # chats the fake blocked, or addresses it refused for good
    unreachable_mismatched: int  # recorded unreachable xor refused for good (email)
    failed: int
    senders_cpu_s: float
    sending_cpu_s: float | None  # the senders' CPU from the first attempt on (None: unknown)
    bench_cpu_s: float

    @property
    def window_fraction(self) -> float:
        return self.accepted / self.window_s / self.limit

    @property
    def command_fraction(self) -> float:
        return self.accepted / self.wall_s / self.limit

    def lines(self) -> list[str]:
        each = f"{self.processes} processes at {self.limit / self.processes:g}/s each"
        who = each if self.processes > 1 else "1 process"
        email = self.channel == "email"
        per = 1000 / max(self.accepted, 1)
        sending = (
            f" (sending alone {self.sending_cpu_s:.1f} s = {per * self.sending_cpu_s:.2f} ms)"
            if self.sending_cpu_s is not None
            else ""
        )
        return [
            f"{self.name}{' by email' if email else ''}: {self.members} members, limit "
            f"{self.limit:g}/s ({who}); command {self.wall_s:.1f} s (start-up and preparation "
            f"{self.startup_s:.1f} s, sending {self.window_s:.1f} s)",
            self._rate("sending window", self.window_s),
            self._rate("whole command", self.wall_s),
            self._attempts(),
            f"  busiest second: {self.busiest_accepted} accepted, {self.busiest_requests} "
            f"{'RCPT TOs' if email else 'requests'} (limit {self.limit:g}); {self.over_limit} "
            f"{'RCPT TOs' if email else 'requests'} had more than the limit in the second "
            "ending at them",
            f"  duplicates {self.duplicates}  losses {self.losses}  unreachable "
            f"{self.unreachable} (fake {'refused for good' if email else 'blocked'} "
            f"{self.blocked}"
            + (f", {self.unreachable_mismatched} not the same" if email else "")
            + f")  failed {self.failed}",
            f"  CPU per accepted message: digest send {self.senders_cpu_s:.1f} s = "
            f"{per * self.senders_cpu_s:.2f} ms{sending}; bench process (fake server) "
            f"{self.bench_cpu_s:.1f} s = {per * self.bench_cpu_s:.2f} ms",
        ]

    def _attempts(self) -> str:
        other = self.requests - self.accepted - self.refused_temporary
        if self.channel == "email":
            return (
                f"  RCPT TO: {self.requests} ({self.accepted} accepted, {self.refused_temporary} "
                f"answered 450, {other} answered 550 or not followed by an accepted DATA)"
            )
        return (
            f"  sendMessage: {self.requests} ({self.accepted} accepted, {self.refused_temporary} "
            f"answered 429, {other} answered 403)"
        )

    def _rate(self, over: str, seconds: float) -> str:
        rate, requests = self.accepted / seconds, self.requests / seconds
        attempts = "RCPT TOs" if self.channel == "email" else "requests"
        return (
            f"  rate over the {over} ({seconds:.1f} s): {rate:.1f} accepted/s = "
            f"{rate / self.limit:.3f} of the limit; {requests:.1f} {attempts}/s = "
            f"{requests / self.limit:.3f}"
        )


async def fan_out(
    name: str,
    url: str,
    members: int,
    limit: float,
    processes: int,
    profile: Path | None,
    suffix: str = "",
) -> Figures:
    """Seed `members` linked on Telegram, run `processes` `digest send` at once (limit /
    processes each) and count what the fake Bot API saw and the outbox recorded."""
    week = last_week()
    await seed(url, members, week)
    async with FakeTelegram(token=TOKEN) as fake:
        fake.random_faults(rate_429=RATE_429, rate_403=RATE_403, seed=5)
        env = base_env(url) | {
            "TELEGRAM_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": fake.base_url,
            "TELEGRAM_MAX_PER_SECOND": repr(limit / processes),
            "TELEGRAM_CHAT_INTERVAL_S": "1",
            "PLATFORM_TIMEOUT_S": "5",
        }
        ran = await run_senders(name, week, env, processes, profile, suffix)
        sends = fake.calls_to("sendMessage")
        if not sends:
            raise SystemExit("digest send sent nothing")
        times = [c.at for c in sends]
        accepted = sum(1 for c in sends if c.outcome == "ok")
        per_chat = Counter({str(chat): n for chat, n in fake.sends_per_chat().items()})
        blocked = len(fake.blocked)
        window = max(max(times) - min(times), 1e-6)
        startup = min(times) - ran.started
        refused_429 = sum(1 for c in sends if c.outcome == "429")
        busiest_accepted = fake.max_rate(1.0)
        request_windows = windows(times)
    status = dict(await outbox(url, "telegram"))
    by_status = Counter(status.values())
    return Figures(
        name=name,
        channel="telegram",
        members=members,
        limit=limit,
        processes=processes,
        wall_s=ran.wall_s,
        startup_s=startup,
        window_s=window,
        requests=len(sends),
        accepted=accepted,
        busiest_accepted=busiest_accepted,
        busiest_requests=max(request_windows),
        over_limit=sum(1 for n in request_windows if n > limit),
        refused_temporary=refused_429,
        duplicates=sum(1 for n in per_chat.values() if n > 1),
        losses=count_losses([str(USER_BASE + n) for n in range(members)], status, per_chat),
        unreachable=by_status[OutboxStatus.UNREACHABLE],
        blocked=blocked,
        unreachable_mismatched=0,
        failed=by_status[OutboxStatus.FAILED],
        senders_cpu_s=ran.senders_cpu_s,
        sending_cpu_s=ran.sending_cpu_s(min(times)),
        bench_cpu_s=ran.bench_cpu_s,
    )


async def fan_out_email(
    name: str,
    url: str,
    members: int,
    limit: float,
    processes: int,
    profile: Path | None,
    suffix: str = "",
) -> Figures:
    """Seed `members` with no chat account, run `processes` `digest send` at once (limit /
    processes each) against the fake SMTP server and count what it accepted and refused and
    what the outbox recorded."""
    week = last_week()
    await seed(url, members, week, linked=False)
    async with FakeSmtp() as smtp:
        smtp.random_faults(temporary=RATE_450, permanent=RATE_550, seed=5)
        env = base_env(url) | {
            "SMTP_HOST": smtp.host,
            "SMTP_PORT": str(smtp.port),
            "SMTP_TLS": "none",
            "SMTP_MAX_PER_SECOND": repr(limit / processes),
            "EMAIL_FROM": "Bench Partnership <digest@bench.test>",
            "EMAIL_SECRET": EMAIL_SECRET,
            "PUBLIC_URL": "https://hotline.bench.test",
        }
        ran = await run_senders(f"email-{name}", week, env, processes, profile, suffix)
        if not smtp.rcpt_at:
            raise SystemExit("digest send sent no email")
        accepted_at = [m.at for m in smtp.messages]
        first = min(smtp.rcpt_at)
        window = max(max(accepted_at, default=first) - first, 1e-6)
        per_address = Counter(r.lower() for m in smtp.messages for r in m.rcpt_tos)
        refused_450 = sum(1 for *_, reply in smtp.refused if reply.startswith("450"))
        doomed = set(smtp.doomed)
        request_windows = windows(smtp.rcpt_at)
        accepted_windows = windows(accepted_at)
        requests = len(smtp.rcpt_at)
    rows = await outbox(url, "email")
    status = {chat.lower(): st for chat, st in rows}
    by_status = Counter(status.values())
    unreachable = {chat for chat, st in status.items() if st is OutboxStatus.UNREACHABLE}
    addresses = [f"m{n}@{LABEL}.example.org" for n in range(members)]
    return Figures(
        name=name,
        channel="email",
        members=members,
        limit=limit,
        processes=processes,
        wall_s=ran.wall_s,
        startup_s=first - ran.started,
        window_s=window,
        requests=requests,
        accepted=len(accepted_at),
        busiest_accepted=max(accepted_windows, default=0),
        busiest_requests=max(request_windows),
        over_limit=sum(1 for n in request_windows if n > limit),
        refused_temporary=refused_450,
        duplicates=sum(1 for n in per_address.values() if n > 1),
        losses=count_losses(addresses, status, per_address),
        unreachable=len(unreachable),
        blocked=len(doomed),
        unreachable_mismatched=len(unreachable ^ doomed),
        failed=by_status[OutboxStatus.FAILED],
        senders_cpu_s=ran.senders_cpu_s,
        sending_cpu_s=ran.sending_cpu_s(first),
        bench_cpu_s=ran.bench_cpu_s,
    )


FanOut = Callable[..., Coroutine[Any, Any, Figures]]


def summary(runs: list[Figures]) -> str:
    """min / median / max of the rate fractions of repeated runs of one database."""
    first = runs[0]

    def spread(values: list[float], digits: int = 3) -> str:
        low, middle, high = min(values), statistics.median(values), max(values)
        return f"{low:.{digits}f} / {middle:.{digits}f} / {high:.{digits}f}"

    who = f", {first.processes} processes" if first.processes > 1 else ""
    per_message = [1000 * f.senders_cpu_s / max(f.accepted, 1) for f in runs]
    alone = [
        1000 * f.sending_cpu_s / max(f.accepted, 1) for f in runs if f.sending_cpu_s is not None
    ]
    return (
        f"{first.name}{' by email' if first.channel == 'email' else ''}{who}, {len(runs)} runs "
        f"at {first.limit:g}/s, accepted as a fraction of the limit, min / median / max: "
        f"sending window {spread([f.window_fraction for f in runs])}; whole command "
        f"{spread([f.command_fraction for f in runs])}; duplicates "
        f"{sum(f.duplicates for f in runs)}, losses {sum(f.losses for f in runs)}; digest "
        f"send's CPU per accepted message {spread(per_message, 2)} ms"
        + (f" (sending alone {spread(alone, 2)} ms)" if alone else "")
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
    ap.add_argument("--email", action="store_true", help="by email to members with no chat account")
    ap.add_argument("--members", type=int, default=10_000)
    limit = ap.add_mutually_exclusive_group()
    limit.add_argument(
        "--limit",
        type=float,
        help=f"messages a second (Telegram: {TELEGRAM_LIMIT:g}, scaled; email: {EMAIL_LIMIT:g})",
    )
    limit.add_argument(
        "--telegram-limit", action="store_true", help="Telegram's own 30 a second (slow)"
    )
    ap.add_argument(
        "--runs", type=int, help="runs of each database, each fresh (default: email 3, else 1)"
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
    if args.email and args.telegram_limit:
        ap.error("--telegram-limit is for the Telegram mode; by email give --limit")
    if args.limit is not None:
        per_second = float(args.limit)
    else:
        per_second = 30.0 if args.telegram_limit else EMAIL_LIMIT if args.email else TELEGRAM_LIMIT
    if per_second <= 0:
        ap.error("--limit must be more than 0")
    if args.members < 1:
        ap.error("--members must be 1 or more")
    runs = args.runs if args.runs is not None else 3 if args.email else 1
    if runs < 1:
        ap.error("--runs must be 1 or more")
    if args.profile is not None:
        if not Path(sys.executable).with_name("py-spy").exists():
            ap.error(f"--profile needs py-spy beside {sys.executable} (pip install py-spy)")
        args.profile.mkdir(parents=True, exist_ok=True)
    fan: FanOut = fan_out_email if args.email else fan_out

    def one(name: str, url: str, processes: int, run: int) -> Figures:
        suffix = f"-run{run}" if runs > 1 else ""
        figures = run_fast(
            fan(name, url, args.members, per_second, processes, args.profile, suffix)
        )
        print("\n".join(figures.lines()), flush=True)
        return figures

    results: list[Figures] = []
    if not args.no_sqlite:
        done = []
        for run in range(1, runs + 1):
            with tempfile.TemporaryDirectory() as tmp:
                url = f"sqlite+aiosqlite:///{tmp}/fanout.db"
                upgrade(url)
                done.append(one("SQLite", url, 1, run))
        results += done
        if runs > 1:
            print(summary(done), flush=True)
    if not args.no_postgres:
        for processes in args.processes:
            done = []
            for run in range(1, runs + 1):
                with scratch_postgres(args.postgres) as url:
                    done.append(one("PostgreSQL", url, processes, run))
            results += done
            if runs > 1:
                print(summary(done), flush=True)
    sweep = [f for f in results if f.name == "PostgreSQL"]
    if len({f.processes for f in sweep}) > 1:
        print(f"PostgreSQL, accepted over the sending window as a fraction of {per_second:g}/s:")
        for f in sweep:
            print(
                f"  {f.processes} process{'es' if f.processes > 1 else ''}: "
                f"{f.window_fraction:.3f} (whole command {f.command_fraction:.3f}); "
                f"duplicates {f.duplicates}, losses {f.losses}",
                flush=True,
            )


if __name__ == "__main__":
    main()
