"""`hotline` processes for the tests that start, kill and restart them.

Each process writes its stdout and stderr to files of its own, which the test reads by path at
any time, while the process runs or after it was killed, so a failure can always show what the
process said. A test waits with `until` for something a process reports (a line it printed, a
row it wrote), under one generous deadline that only turns a hang into a failure; it never waits
a fixed time, and nothing is asserted about how long anything took.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DATA, ROOT

# Start-up (loading the model, migrations checked) and a busy shared machine fit many times over.
DEADLINE_S = 120.0
POLL_S = 0.05
SHOWN_CHARS = 4000


@dataclass
class Hotline:
    """One `python -m bot ARGS` process."""

    name: str
    process: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def lines(self) -> list[str]:
        """The complete lines printed so far (a line still being written waits for a later look)."""
        text = self.stdout
        return text[: text.rfind("\n") + 1].splitlines()

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines() if line.startswith("{")]

    def running(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        """What the process said, for a failure message."""
        state = "running" if self.running() else f"exit status {self.process.returncode}"
        return (
            f"--- {self.name} ({state}) stdout, last {SHOWN_CHARS} characters:\n"
            f"{self.stdout[-SHOWN_CHARS:]}\n"
            f"--- {self.name} stderr, last {SHOWN_CHARS} characters:\n"
            f"{self.stderr[-SHOWN_CHARS:]}"
        )

    async def stopped(self, sig: int = signal.SIGTERM) -> int:
        """Send `sig` (unless it has exited already) and wait for the exit; its status."""
        if self.running():
            self.process.send_signal(sig)
        await until(lambda: not self.running(), f"{self.name} to exit after signal {sig}", self)
        return int(self.process.returncode)

    def kill(self) -> None:
        """For clean-up after a test, pass or fail: SIGKILL and reap."""
        if self.running():
            self.process.kill()
        self.process.wait(timeout=30)


def start(
    name: str, args: Iterable[str], env: Mapping[str, str], folder: Path, **environ: str
) -> Hotline:
    """`python -m bot ARGS` from the repository, on the real data unless `env` says otherwise,
    its output in `folder`/`name`.stdout and .stderr."""
    folder.mkdir(parents=True, exist_ok=True)
    stdout_path, stderr_path = folder / f"{name}.stdout", folder / f"{name}.stderr"
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:  # the child keeps its own
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", *args],
            cwd=ROOT,
            env={**os.environ, "DATA_DIR": str(DATA), **env, **environ},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
    return Hotline(name, process, stdout_path, stderr_path)


async def until(
    condition: Callable[[], object],
    what: str,
    *shown: Hotline,
    alive: Iterable[Hotline] = (),
    timeout: float = DEADLINE_S,  # noqa: ASYNC109 - a deadline for the condition, not for I/O
) -> None:
    """Wait until `condition()` (a plain or an async function) holds. Fail with the output of
    `shown` and `alive` when the deadline passes, or at once when a process of `alive` exits."""
    alive = list(alive)
    everyone = [*shown, *(p for p in alive if p not in shown)]
    deadline = time.monotonic() + timeout
    while True:
        held = condition()
        if inspect.isawaitable(held):
            held = await held
        if held:
            return
        gone = [p for p in alive if not p.running()]
        if gone:
            said = "\n".join(p.output() for p in everyone)
            pytest.fail(
                f"{', '.join(p.name for p in gone)} exited while waiting for {what}\n{said}"
            )
        if time.monotonic() > deadline:
            said = "\n".join(p.output() for p in everyone)
            pytest.fail(f"still waiting for {what} after {timeout:.0f} s\n{said}")
        await asyncio.sleep(POLL_S)
