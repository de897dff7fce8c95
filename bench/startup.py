"""Start-up: how long `hotline ask` takes, and how soon a restarted process takes and pings an
escalation step that fell due while it was down.

    python -m bench.startup [--runs 3] [--question TEXT] [--skip-ask | --skip-restart]

1. `hotline ask QUESTION`: wall time from starting the process to its exit, on a SQLite file of
   the bench's own, migrated and holding one learned phrasing (as a deployment's hotline.db
   does; `ask` reads it), in four settings, interleaved, `--runs` times each:
   - words alone (EMBEDDING_MODEL_DIR=off) or with the model (the installed package's);
   - cold: the compiled knowledge index and urgency cues (`*.compiled`) removed from the cache
     folder first, so `ask` compiles and writes them; warm: read back. The model's phrasing
     vectors and urgency weights (slow to make once, and not this bench's subject) stay in the
     folder for both; they are copied from the repository's .cache/hotline when there.
   Each setting twice: with the bytecode this environment has (PYTHONDONTWRITEBYTECODE=1 here:
   the bot's own modules are compiled from source at every start, as a checkout run this way
   always is) and with bytecode cached, as an installed package has it (PYTHONPYCACHEPREFIX in
   a folder of the bench's own, written by an unmeasured first run).
2. Restart to first sweep: `hotline worker`, `run` and `serve` each started on a SQLite file in
   which an emergency's next step (its backup duty officer) is past due, the staff on a fake
   Telegram (tests/handlers/fake_telegram.py; getMe answered at once). Measured from just
   before the process is started to
   - "first sweep": its log line `first sweep: N due escalation steps taken` (the step taken and
     committed, the backup's ping queued): the target's figure;
   - "ping": the backup's ping arriving at the fake Telegram (sendMessage received), which also
     waits for the rest of start-up up to the sender loop (the knowledge base and, with it,
     the model), still before the platform's set-up calls.
   With the words alone and with the model, interleaved, `--runs` times each.

Each run's figure is printed, then the median. The machine's other load makes single figures
noisy. A benchmark: it prints figures, it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.conversation.context import Deps
from bot.conversation.dispatcher import Dispatcher, DispatcherConfig
from bot.core.ports import SendResult, Sent
from bot.core.types import IncomingMessage, Reply
from bot.delivery.outbox import deliver_due
from bot.escalation.cues_file import load_detector
from bot.escalation.policy import EscalationConfig
from bot.escalation.rota_store import import_rota
from bot.knowledge import load_knowledge_base
from bot.knowledge.language import load_lexicon
from bot.store import Database, upgrade
from bot.store.models import (
    HotlineRequest,
    Identity,
    LearnedPhrasing,
    utcnow,
)
from bot.teaching.learned import normalised, text_key
from tests.factories import make_escalations_due, seed_staff_and_members
from tests.handlers.fake_telegram import FakeTelegram

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
REPO_CACHE = ROOT / ".cache" / "hotline"
QUESTION = "when does our membership run out"
LEARNED = ("membership-leave", "when does our membership run out")
TOKEN = "123:TEST"
SECRET = "bench-webhook-secret"
TIMEOUT = timedelta(hours=1)  # no step falls due by itself during the bench
PRIMARY, BACKUP = 2001, 2002
DEADLINE_S = 120.0  # a process that has not swept by then is reported as stuck
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


def hotline() -> list[str]:
    script = Path(sys.executable).with_name("hotline")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot"]


def child_env(db_url: str, cache: Path, model: bool, pycache: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "EMBEDDING_MODEL_DIR"}
    env |= {"DATABASE_URL": db_url, "DATA_DIR": str(DATA), "EMBEDDING_CACHE_DIR": str(cache)}
    if not model:
        env["EMBEDDING_MODEL_DIR"] = "off"
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def summary(label: str, values: list[float], unit: str = "s") -> str:
    runs = "  ".join(f"{v:5.2f}" for v in values)
    median = statistics.median(values) if values else float("nan")
    return f"  {label:<44} {runs}   median {median:.2f} {unit}"


# --- 1. hotline ask ---------------------------------------------------------------------------


async def _teach(url: str) -> None:
    db = Database(url)
    try:
        async with db.session() as session:
            entry_id, text = LEARNED
            key = normalised(text)
            session.add(
                LearnedPhrasing(
                    entry_id=entry_id, text=text, normalised=key, text_key=text_key(key)
                )
            )
    finally:
        await db.dispose()


@dataclass(frozen=True)
class AskSetting:
    model: bool
    warm: bool
    bytecode: bool

    @property
    def label(self) -> str:
        words = "with the model" if self.model else "words alone"
        return f"{words}, {'warm' if self.warm else 'cold'} cache"


def ask_once(setting: AskSetting, env: dict[str, str], cache: Path, question: str) -> float:
    if not setting.warm:
        for compiled in cache.glob("*.compiled"):
            compiled.unlink()
    started = time.perf_counter()
    result = subprocess.run(
        [*hotline(), "ask", question],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"hotline ask failed ({setting.label}):\n{result.stderr}")
    return elapsed


def bench_ask(runs: int, question: str, folder: Path) -> None:
    url = f"sqlite+aiosqlite:///{folder / 'ask.db'}"
    upgrade(url)
    asyncio.run(_teach(url))
    caches = {model: folder / f"cache-{'model' if model else 'words'}" for model in (False, True)}
    for cache in caches.values():
        cache.mkdir()
        for kept in (*REPO_CACHE.glob("*.npy"), *REPO_CACHE.glob("*.npz")):
            shutil.copy2(kept, cache / kept.name)
    pycache = folder / "pycache"
    settings = [
        AskSetting(model, warm, bytecode)
        for bytecode in (False, True)
        for model in (False, True)
        for warm in (False, True)
    ]
    envs = {
        s: child_env(url, caches[s.model], s.model, pycache if s.bytecode else None)
        for s in settings
    }
    for setting in settings:  # unmeasured: model vectors, bytecode, anything else first-time
        ask_once(replace(setting, warm=True), envs[setting], caches[setting.model], question)
    times: dict[AskSetting, list[float]] = {s: [] for s in settings}
    for _ in range(runs):
        for setting in settings:
            times[setting].append(ask_once(setting, envs[setting], caches[setting.model], question))
    print(
        f'hotline ask "{question}" ({runs} runs each, interleaved; wall time from process start '
        "to exit)"
    )
    for bytecode in (False, True):
        if bytecode:
            print("  bytecode cached (PYTHONPYCACHEPREFIX), as an installed package has it:")
        else:
            dont = os.environ.get("PYTHONDONTWRITEBYTECODE") or "unset"
            print(f"  bytecode as this environment has it (PYTHONDONTWRITEBYTECODE={dont}):")
        for setting in settings:
            if setting.bytecode == bytecode:
                print(summary(setting.label, times[setting]))
    print("  target: <= 0.5 s (words alone, warm)")


# --- 2. restart to first sweep ----------------------------------------------------------------


class Accept:
    """A sender that takes everything: the pings already out before the restart."""

    channel = "telegram"

    async def send(self, chat_id: str, reply: Reply) -> SendResult:
        return Sent("1")

    async def edit(self, chat_id: str, ref: str, reply: Reply) -> SendResult:
        return Sent(ref)


async def seed(db: Database, members: int, folder: Path) -> None:
    async with db.session() as session:
        people = await seed_staff_and_members(session, members)
        staff = {"primary": PRIMARY, "backup": BACKUP, "fallback": 2003}
        for n, person in enumerate(people):
            chat = str(staff.get(person.email.split("@")[0], 5000 + n))
            session.add(
                Identity(person_id=person.id, channel="telegram", external_id=chat, chat_id=chat)
            )
    rota = folder / "rota.yaml"
    rota.write_text(ROTA, encoding="utf-8")
    await import_rota(db, rota)


def bench_deps() -> Deps:
    kb = load_knowledge_base(DATA)
    return Deps(
        kb=kb,
        urgency=load_detector(DATA, load_lexicon(DATA / "language")),
        escalation=EscalationConfig(ack_timeout=TIMEOUT),
        hotline_phone="020 7946 0000",
        timezone=ZoneInfo("Europe/London"),
    )


async def due_emergency(db: Database, deps: Deps, member: int) -> str:
    """An emergency whose primary was pinged and whose backup's step is past due; its
    reference."""
    chat = str(5003 + member)
    dispatcher = Dispatcher(db, deps, DispatcherConfig(rate_limit=10_000))
    replies = await dispatcher.handle(
        IncomingMessage("telegram", chat, chat, text=f"/emergency flood in block {member}")
    )
    if "HL-" not in replies[0].text:
        raise SystemExit(f"no emergency opened: {replies[0].text}")
    await deliver_due(db, {"telegram": Accept()}, utcnow)
    async with db.session() as session:
        request = await session.scalar(
            select(HotlineRequest).order_by(HotlineRequest.id.desc()).limit(1)
        )
        assert request is not None
        reference = str(request.reference)
        await make_escalations_due(session, request.id)
    return reference


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Restart:
    sweep: float | None = None
    ping: float | None = None


async def restart_once(
    command: str, env: dict[str, str], tg: FakeTelegram, reference: str
) -> Restart:
    env = {
        **env,
        "TELEGRAM_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": tg.base_url,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_CHAT_INTERVAL_S": "0",
        "ESCALATION_TIMEOUT_S": str(TIMEOUT.total_seconds()),
        "LOG_LEVEL": "INFO",
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
    }
    figures = Restart()
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        *hotline(),
        command,
        env=env,
        cwd=ROOT,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    said: list[str] = []

    async def watch_log() -> None:
        assert process.stderr is not None
        async for raw in process.stderr:
            line = raw.decode(errors="replace")
            said.append(line)
            if figures.sweep is None and "first sweep:" in line:
                figures.sweep = time.monotonic() - started

    def pinged() -> float | None:
        for call in tg.calls_to("sendMessage"):
            if call.params.get("chat_id") == BACKUP and reference in str(call.params.get("text")):
                return call.at - started
        return None

    reader = asyncio.create_task(watch_log())
    try:
        while time.monotonic() - started < DEADLINE_S and process.returncode is None:
            figures.ping = pinged()
            if figures.ping is not None and figures.sweep is not None:
                break
            await asyncio.sleep(0.005)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()
        await reader
    if figures.sweep is None or figures.ping is None:
        print(f"  {command}: no first sweep or ping; it said:\n{''.join(said)[-3000:]}")
    return figures


async def bench_restart(runs: int, folder: Path) -> None:
    url = f"sqlite+aiosqlite:///{folder / 'restart.db'}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    commands = ("worker", "run", "serve")
    settings = [(command, model) for model in (False, True) for command in commands]
    await seed(db, (runs + 1) * len(settings), folder)
    deps = replace(bench_deps(), escalation=EscalationConfig(ack_timeout=TIMEOUT))
    cache = folder / "cache-restart"
    cache.mkdir()
    for kept in (*REPO_CACHE.glob("*.npy"), *REPO_CACHE.glob("*.npz")):
        shutil.copy2(kept, cache / kept.name)
    results: dict[tuple[str, bool], list[Restart]] = {s: [] for s in settings}
    member = 0
    try:
        async with FakeTelegram(token=TOKEN) as tg:
            for run in range(runs + 1):  # the first round warms the caches, unmeasured
                for command, model in settings:
                    reference = await due_emergency(db, deps, member)
                    member += 1
                    env = child_env(url, cache, model, None)
                    figures = await restart_once(command, env, tg, reference)
                    if run:
                        results[(command, model)].append(figures)
    finally:
        await db.dispose()
    print(
        f"restart to first sweep ({runs} runs each, interleaved; from process start; an "
        "escalation step due, staff on a fake Telegram)"
    )
    for command, model in settings:
        label = f"{command}, {'with the model' if model else 'words alone'}"
        found = results[(command, model)]
        print(summary(f"{label}: first sweep", [f.sweep for f in found if f.sweep is not None]))
        print(summary(f"{label}: ping at Telegram", [f.ping for f in found if f.ping is not None]))
    print("  target: first sweep <= 1 s")


@contextmanager
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="hotline-startup-") as name:
        yield Path(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--question", default=QUESTION)
    parser.add_argument("--skip-ask", action="store_true")
    parser.add_argument("--skip-restart", action="store_true")
    args = parser.parse_args()
    with scratch() as folder:
        if not args.skip_ask:
            bench_ask(args.runs, args.question, folder)
        if not args.skip_restart:
            asyncio.run(bench_restart(args.runs, folder))


if __name__ == "__main__":
    main()
