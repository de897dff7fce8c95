"""Webhook throughput: Telegram updates posted to the web app (`hotline serve`, a real uvicorn
process), FAQ questions from many linked members, replies reaching a fake Bot API. Beside it, in
the same run and through the same harness, a bare python-telegram-bot echo bot
(bench/echo_bot.py).

    python -m bench.throughput [--messages 1000] [--postgres URL | --no-postgres]
                               [--matcher words|embeddings] [--questions kb|new]

Two figures per server:
- throughput: `--messages` updates posted with 64 in flight; messages a second from the first
  post to the last reply;
- latency at a steady `--rate` messages a second (100) for `--messages` messages: post to reply,
  p50 / p99.
`--matcher words` runs the bot without the embedding model (EMBEDDING_MODEL_DIR=off), for the
cost of the embeddings beside it. `--questions new` (the default) sends questions in new wording
(bench/data/faq-unseen.jsonl), each made unique with a number, so no answer comes from a cache as
none would for real members; `kb` sends the FAQ's own questions over and over.
Each message comes from its own member, so the one-a-second-per-chat throttle never waits;
the bot's overall Telegram limit is raised out of the way (the platform limit is not what is
measured here). A benchmark: it prints figures, it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp

from bench.scratch_db import scratch_database
from bot.directory import link_identity
from bot.knowledge import load_knowledge_base
from bot.store import Database, upgrade_engine
from bot.store.models import Person, Role, School
from tests.handlers.fake_telegram import FakeTelegram
from tests.handlers.payloads import tg_text_update

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
SECRET = "bench-secret"
HEADER = "X-Telegram-Bot-Api-Secret-Token"
USER_BASE = 10_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def seed(url: str, members: int) -> None:
    db = Database(url)
    await upgrade_engine(db.engine)
    try:
        async with db.session() as session:
            school = School(code="bench", name="Bench School", phase="primary")
            session.add(school)
            await session.flush()
            for n in range(members):
                person = Person(
                    email=f"m{n}@bench.example.org",
                    name=f"Member {n}",
                    role=Role.MEMBER,
                    school_id=school.id,
                    active=True,
                )
                session.add(person)
                await session.flush()
                user = str(USER_BASE + n)
                await link_identity(session, person, "telegram", user, chat_id=user)
    finally:
        await db.dispose()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc): a figure that other load on
    the machine does not change, unlike messages a second."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def server(command: list[str], env: dict[str, str]) -> Iterator[int]:
    proc = subprocess.Popen(command, env={**os.environ, **env}, cwd=ROOT)
    try:
        yield proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


async def wait_healthy(http: aiohttp.ClientSession, base: str) -> None:
    for _ in range(300):
        try:
            async with http.get(f"{base}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"server at {base} did not become healthy")


class Harness:
    def __init__(self, tg: FakeTelegram, http: aiohttp.ClientSession, base: str) -> None:
        self.tg, self.http, self.base = tg, http, base
        self.posted: dict[int, float] = {}
        self.before = tg.accepted

    async def post(self, update_id: int, user: int, question: str) -> None:
        self.posted[user] = time.monotonic()
        async with self.http.post(
            f"{self.base}/telegram/webhook",
            json=tg_text_update(update_id, user, question),
            headers={HEADER: SECRET},
        ) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"webhook answered {response.status}")

    def latencies(self) -> list[float]:
        first: dict[int, float] = {}
        for call in self.tg.calls_to("sendMessage"):
            chat = call.params.get("chat_id")
            if isinstance(chat, int) and chat in self.posted and chat not in first:
                first[chat] = call.at
        return [first[c] - self.posted[c] for c in first]

    async def wait_replies(self, n: int) -> None:
        await self.tg.wait_for(
            lambda: self.tg.accepted >= self.before + n, timeout=120, what=f"{n} replies"
        )


async def measure(
    label: str,
    tg: FakeTelegram,
    base: str,
    questions: list[str],
    messages: int,
    pid: int,
    rate_per_s: float = 100,
) -> tuple[float, list[float]]:
    offset = 0
    async with aiohttp.ClientSession() as http:
        await wait_healthy(http, base)
        # Warm up (imports, connection pools, the first queries).
        warm = Harness(tg, http, base)
        await asyncio.gather(
            *(
                warm.post(offset + n, USER_BASE + n, questions[n % len(questions)])
                for n in range(20)
            )
        )
        await warm.wait_replies(20)

        flat_out = Harness(tg, http, base)
        gate = asyncio.Semaphore(64)
        cpu_before = cpu_seconds(pid)
        start = time.monotonic()

        async def one(n: int) -> None:
            async with gate:
                user = USER_BASE + 20 + n
                text = questions[(20 + n) % len(questions)]
                await flat_out.post(offset + 100 + n, user, text)

        await asyncio.gather(*(one(n) for n in range(messages)))
        await flat_out.wait_replies(messages)
        last = max(c.at for c in tg.calls_to("sendMessage"))
        rate = messages / (last - start)
        cpu_ms = (cpu_seconds(pid) - cpu_before) / messages * 1000

        steady = Harness(tg, http, base)
        tasks = []
        start = time.monotonic()
        for n in range(messages):
            user = USER_BASE + 20 + messages + n
            due = start + n / rate_per_s
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            tasks.append(
                asyncio.create_task(
                    # other questions than the flat-out phase's: no embedding comes from a cache
                    steady.post(
                        offset + 100 + messages + n,
                        user,
                        questions[(20 + messages + n) % len(questions)],
                    )
                )
            )
        await asyncio.gather(*tasks)
        await steady.wait_replies(messages)
        latencies = steady.latencies()
    print(
        f"{label:<28} throughput {rate:7.1f} msg/s   at {rate_per_s:g} msg/s: "
        f"p50 {statistics.median(latencies) * 1000:6.1f} ms  "
        f"p99 {pct(latencies, 0.99) * 1000:6.1f} ms   server CPU {cpu_ms:4.1f} ms/msg",
        flush=True,
    )
    return rate, latencies


def questions_for(kind: str, count: int) -> list[str]:
    if kind == "kb":
        return [e.question for e in load_knowledge_base(DATA).index.entries]
    lines = (ROOT / "bench" / "data" / "faq-unseen.jsonl").read_text("utf-8").splitlines()
    pool = [json.loads(line)["query"] for line in lines if line.strip()]
    return [f"{pool[n % len(pool)]} ({n})" for n in range(count)]


async def run_one(label: str, command: list[str], env: dict[str, str], args: Any) -> float:
    kb_questions = questions_for(args.questions, 3 * args.messages + 200)
    async with FakeTelegram() as tg:
        port = free_port()
        full_env = {
            **env,
            "TELEGRAM_TOKEN": "123:TEST",
            "TELEGRAM_API_BASE_URL": tg.base_url,
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "LOG_LEVEL": "WARNING",
            "DATA_DIR": str(DATA),
        }
        with server(command, full_env) as pid:
            rate, _ = await measure(
                label, tg, f"http://127.0.0.1:{port}", kb_questions, args.messages, pid, args.rate
            )
    return rate


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument(
        "--postgres",
        default="postgresql+asyncpg://postgres@127.0.0.1/test",
        help="the server to create (and then drop) a database of the bench's own on",
    )
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--matcher", choices=("words", "embeddings"), default="embeddings")
    parser.add_argument("--questions", choices=("kb", "new"), default="new")
    parser.add_argument("--rate", type=float, default=100, help="the steady rate, messages/s")
    args = parser.parse_args()
    members = 20 + 2 * args.messages
    bot_env = {"TELEGRAM_MAX_PER_SECOND": "100000", "TELEGRAM_CHAT_INTERVAL_S": "1.0"}
    if args.matcher == "words":
        bot_env["EMBEDDING_MODEL_DIR"] = "off"
    hotline = [sys.executable, "-m", "bot", "serve"]

    bare = await run_one(
        "bare python-telegram-bot", [sys.executable, "bench/echo_bot.py"], {}, args
    )
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        await seed(url, members)
        ours = await run_one("hotline, SQLite", hotline, {**bot_env, "DATABASE_URL": url}, args)
        print(f"{'':<28} {ours / bare:.2f} of the bare bot's throughput", flush=True)
    if not args.no_postgres:
        async with scratch_database(args.postgres) as url:
            await seed(url, members)
            ours = await run_one(
                "hotline, PostgreSQL", hotline, {**bot_env, "DATABASE_URL": url}, args
            )
        print(f"{'':<28} {ours / bare:.2f} of the bare bot's throughput", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
