"""Every module imports, and every `hotline` command starts, in a fresh interpreter.

The rest of the suite imports everything into one process, where an import cycle stays hidden
(whatever imported first broke the cycle). Here each module and each command starts alone, as
`hotline X` and `python -m bot` do. The commands that read the database run on SQLite and on
PostgreSQL (like every database test: tests/conftest.py); the rest need no database.
"""

from __future__ import annotations

import argparse
import asyncio
import pkgutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import pytest

import bot
from bot.cli import build_parser
from tests.conftest import DATA, ROOT, run_hotline, truncate_url

T = TypeVar("T")
R = TypeVar("R")

MEMBER = "amara.okafor@stmarys.example.org"


def in_parallel(work: Callable[[T], R], items: Iterable[T]) -> list[R]:
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(work, items))


def last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else "(nothing on stderr)"


def modules() -> list[str]:
    return sorted(
        m.name
        for m in pkgutil.walk_packages(bot.__path__, "bot.")
        if not m.name.startswith("bot.store.migrations") and m.name != "bot.__main__"
    )


def test_every_module_imports_on_its_own() -> None:
    def load(module: str) -> tuple[str, subprocess.CompletedProcess[str]]:
        result = subprocess.run(
            [sys.executable, "-c", f"import {module}"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
        return module, result

    names = modules()
    assert "bot.cli" in names and "bot.conversation.dispatcher" in names
    failures = [
        f"{module}: {last_line(result.stderr)}"
        for module, result in in_parallel(load, names)
        if result.returncode != 0
    ]
    assert not failures, "\n".join(failures)


def test_python_m_bot_starts() -> None:
    result = run_hotline("--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: hotline")


def commands(parser: argparse.ArgumentParser) -> Iterator[tuple[str, ...]]:
    """Every subcommand, groups and leaves, as argument tuples (`("rota", "show")`)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen: set[int] = set()
            for name, sub in action.choices.items():
                if id(sub) in seen:  # an alias
                    continue
                seen.add(id(sub))
                yield (name,)
                yield from ((name, *rest) for rest in commands(sub))


def test_every_command_has_help() -> None:
    every = list(commands(build_parser()))
    assert ("requests", "show") in every and ("digest", "preview") in every

    def help_of(command: tuple[str, ...]) -> str | None:
        result = run_hotline(*command, "--help")
        usage = f"usage: hotline {' '.join(command)}"
        if result.returncode != 0 or not result.stdout.startswith(usage):
            return f"{' '.join(command)}: exit {result.returncode}: {last_line(result.stderr)}"
        return None

    problems = [problem for problem in in_parallel(help_of, every) if problem]
    assert not problems, "\n".join(problems)


@dataclass(frozen=True)
class Example:
    env: dict[str, str]
    reference: str


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def example(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Example:
    """A migrated database (a new SQLite file, or the session's PostgreSQL one emptied) with the
    example directory and rota, and one emergency opened from the console, all made by `hotline`
    itself."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('fresh') / 'x.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        asyncio.run(truncate_url(url))
    env = {"DATABASE_URL": url, "DATA_DIR": str(DATA)}
    for setup in (
        ("db", "upgrade"),
        ("directory", "import", str(DATA / "example" / "directory.yaml")),
        ("rota", "import", str(DATA / "example" / "rota.yaml")),
    ):
        result = run_hotline(*setup, env=env)
        assert result.returncode == 0, result.stderr
    chat = run_hotline("chat", "--as", MEMBER, stdin="/emergency test\n/quit\n", env=env)
    assert chat.returncode == 0, chat.stderr
    reference = chat.stdout.split("(reference ", 1)[1].split(")", 1)[0]
    assert reference.startswith("HL-")
    return Example(env, reference)


def test_read_only_commands_run_against_a_fresh_database(example: Example) -> None:
    ref = example.reference
    # arguments, exit status, something the output (or the one line of error) must contain
    expected: list[tuple[tuple[str, ...], int, str]] = [
        (("requests", "list"), 0, ref),
        (("requests", "list", "--open"), 0, ref),
        (("requests", "show", ref), 0, f"{ref} (emergency"),
        (("requests", "show", "HL-2099-9999"), 1, "no request 'HL-2099-9999'"),
        (("rota", "show"), 0, "level 3 fallback:"),
        (("rota", "check"), 1, "no linked chat account"),  # staff have not linked accounts
        (("report", "--from", "2026-01-01", "--to", "2026-12-31"), 0, "Hotline requests"),
        (("digest", "status"), 0, "no digest runs yet"),
        (("digest", "subscribers"), 0, "subscribed"),
        (("digest", "preview", "--as", MEMBER, "--week", "2026-11-30"), 0, "Amara Okafor"),
        (("faq", "check"), 0, "all valid"),
        (("ask", "ofsted just rang", "--json"), 0, '"answer_id": "ofsted-call-received"'),
    ]

    def check(case: tuple[tuple[str, ...], int, str]) -> str | None:
        args, status, shown = case
        result = run_hotline(*args, env=example.env)
        errors = [line for line in result.stderr.splitlines() if line.strip()]
        if (
            result.returncode != status
            or shown not in result.stdout + result.stderr
            or len(errors) > 1
            or "Traceback" in result.stderr
        ):
            return f"{' '.join(args)}: exit {result.returncode}: {last_line(result.stderr)}"
        return None

    problems = [problem for problem in in_parallel(check, expected) if problem]
    assert not problems, "\n".join(problems)
