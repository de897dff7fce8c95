"""What start-up loads, and in which order (bot/cli.py, bot/loading.py, bot/commands/chat.py):
`hotline ask` imports only what it uses; each command line imports only its own command module;
a restarted worker takes the escalation steps already due before it loads anything else. Nothing
here is timed (bench/startup.py measures)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli import GROUPS, build_parser
from bot.escalation.urgency import UrgencyDetector
from bot.knowledge import KnowledgeBase
from bot.store import Database, upgrade
from bot.store.models import HotlineRequest, OutboundMessage, utcnow
from tests.conftest import DATA, ROOT, run_hotline
from tests.factories import make_learned
from tests.handlers.test_start_order import BACKUP, _due_emergency

# Libraries `hotline ask` on the words alone must not load: each costs a tenth of a second or
# more, and the command needs none of them.
NOT_FOR_ASK = (
    "sqlalchemy",
    "alembic",
    "aiosqlite",
    "asyncpg",
    "telegram",
    "slack_bolt",
    "slack_sdk",
    "aiohttp",
    "uvicorn",
    "starlette",
    "numpy",
    "onnxruntime",
    "bot.app",
    "bot.conversation",
    "bot.handlers",
)
ASK = """
import json, sys
from bot.cli import main
code = main(["ask", "--json", "what do we pay to be in the zorblax club"])
loaded = sorted({m for m in sys.modules for n in NAMES if m == n or m.startswith(n + ".")})
print(json.dumps({"code": code, "loaded": loaded}))
"""


def _ask_in_a_fresh_process(env: dict[str, str]) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", f"NAMES = {NOT_FOR_ASK!r}\n{ASK}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**env, "DATA_DIR": str(DATA), "EMBEDDING_MODEL_DIR": "off"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    answer, report = result.stdout.strip().splitlines()
    return {"answer": json.loads(answer), **json.loads(report)}


async def _teach(url: str) -> None:
    db = Database(url)
    try:
        await make_learned(db, "membership-cost", "what do we pay to be in the zorblax club")
    finally:
        await db.dispose()


@pytest.mark.parametrize("database", ["none", "migrated"])
def test_ask_imports_only_what_it_uses(tmp_path: Path, database: str) -> None:
    path = tmp_path / "hotline.db"
    url = f"sqlite+aiosqlite:///{path}"
    if database == "migrated":  # with a learned phrasing, read without SQLAlchemy
        upgrade(url)
        asyncio.run(_teach(url))
    env = {**os.environ, "DATABASE_URL": url, "EMBEDDING_CACHE_DIR": str(tmp_path / "cache")}
    for _ in range(2):  # compiling the cache, then reading it
        ran = _ask_in_a_fresh_process(env)
        assert ran["code"] == 0
        assert ran["loaded"] == [], f"hotline ask loaded {ran['loaded']}"
        answer = ran["answer"]
        assert isinstance(answer, dict)
        if database == "migrated":
            assert answer["answer_id"] == "membership-cost"
    assert not path.exists() or database == "migrated"  # never created


def _subcommands(parser: argparse.ArgumentParser) -> set[str]:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {name for action in actions for name in action.choices}


def test_every_command_is_routed_to_the_module_that_declares_it() -> None:
    every = _subcommands(build_parser())
    assert every == set(GROUPS)
    for module in set(GROUPS.values()):
        declared = _subcommands(build_parser(module))
        assert declared == {name for name, home in GROUPS.items() if home == module}, module


def test_a_command_line_imports_only_its_command_module() -> None:
    script = (
        "import sys\nfrom bot.cli import parse\nparse(['rota', 'show'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('bot.commands.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['bot.commands.common', 'bot.commands.rota']"


def test_help_and_errors_still_name_every_command() -> None:
    for args in (["--help"], ["-h", "ask"], ["--bogus", "ask"], ["nonsense"]):
        result = run_hotline(*args)
        text = result.stdout + result.stderr
        assert all(name in text for name in ("ask", "faq", "serve", "digest", "rota")), args


async def test_a_restarted_worker_sweeps_before_it_loads_the_knowledge_base(
    db: Database, db_url: str, kb: KnowledgeBase, urgency: UrgencyDetector, tmp_path: Path
) -> None:
    """A worker whose FAQ files are broken still takes the step that fell due while it was down
    (and says so) before it refuses the files."""
    reference = await _due_emergency(db, kb, urgency)
    broken = tmp_path / "data"
    shutil.copytree(DATA / "faq", broken / "faq")
    (broken / "faq" / "zz.yaml").write_text("- id: only-question\n  question: Q?\n")
    result = run_hotline(
        "worker", env={"DATABASE_URL": db_url, "DATA_DIR": str(broken), "LOG_LEVEL": "INFO"}
    )
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert "first sweep: 1 due escalation steps taken" in lines[0]
    assert lines[-1].startswith("zz.yaml: entry only-question:")
    async with db.session() as session:
        request = await session.scalar(
            select(HotlineRequest).where(HotlineRequest.reference == reference)
        )
        assert request is not None and request.next_escalation_at is not None
        assert request.next_escalation_at > utcnow()  # the step was taken, the next one set
        to_backup = await session.scalars(
            select(OutboundMessage.text).where(
                OutboundMessage.request_id == request.id, OutboundMessage.chat_id == str(BACKUP)
            )
        )
        assert [text for text in to_backup if reference in text], "no ping for the backup"
