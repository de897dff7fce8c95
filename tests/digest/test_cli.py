"""The news, events and digest commands on a real database file, as an administrator types
them: clear errors (exit 1, one line per problem, nothing imported), and a send that can be
repeated without sending twice."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.cli import main
from bot.commands import common
from tests.conftest import DATA

T = TypeVar("T")

HEAD = "amara.okafor@stmarys.example.org"


def test_import_is_idempotent_and_a_bad_file_imports_nothing(
    example_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = example_db / "news.yaml"
    bad.write_text(
        "news:\n  - id: good-one\n    title: Fine\n    text: ok\n    date: 2026-11-24\n"
        "  - id: bad-one\n    title: Broken\n    date: 24/11/2026\n",
        encoding="utf-8",
    )
    assert main(["news", "import", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "news.yaml:6: item 2 (bad-one): text: missing",
        "news.yaml:6: item 2 (bad-one): date: '24/11/2026' is not a date like 2026-12-03 or "
        "2026-12-03 16:00",
    ]
    assert "Traceback" not in err
    assert main(["news", "list"]) == 0
    assert "no news yet" in capsys.readouterr().out

    for _ in range(2):
        assert main(["news", "import", str(DATA / "example" / "news.yaml")]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "news.yaml: 0 added, 0 updated, 8 unchanged"
    assert main(["events", "import", str(DATA / "example" / "news.yaml")]) == 1
    assert "this is an news file" in capsys.readouterr().err


def test_add_from_the_command_line(example_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "events",
                "add",
                "--date",
                "2026-12-16T16:00",
                "--title",
                "Maths leads",
                "--phase",
                "primary",
                "--role",
                "business-manager",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.strip() == "events 2026-12-16-maths-leads: added"
    assert main(["events", "list"]) == 0
    assert "Maths leads  (primary; business manager)" in capsys.readouterr().out
    assert (
        main(
            ["news", "add", "--title", "T", "--text", "x", "--link", "ftp://x", "--phase", "sixth"]
        )
        == 1
    )
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "hotline news add: link: 'ftp://x' is not an http(s) address",
        "hotline news add: audience.phases: unknown 'sixth' (one of nursery, primary, secondary, "
        "special, all-through, alternative-provision)",
    ]


def test_send_status_preview_and_a_second_send(
    example_db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    loops: list[type[asyncio.AbstractEventLoop]] = []
    fast = common.run_fast

    def watched(main: Coroutine[Any, Any, T]) -> T:
        async def run() -> T:
            loops.append(type(asyncio.get_running_loop()))
            return await main

        return fast(run())

    monkeypatch.setattr(common, "run_fast", watched)
    assert main(["news", "import", str(DATA / "example" / "news.yaml")]) == 0
    assert main(["events", "import", str(DATA / "example" / "events.yaml")]) == 0
    assert main(["digest", "subscribe", HEAD]) == 0
    assert main(["digest", "subscribe", "helen.cho@mileend.example.org"]) == 0
    capsys.readouterr()
    assert main(["digest", "subscribers"]) == 0
    out = capsys.readouterr().out
    assert f"{HEAD}  Amara Okafor  member  St Mary's CE Primary School  no chat account" in out
    assert out.rstrip().endswith("2 subscribed")

    assert main(["digest", "preview", "--as", HEAD, "--week", "2026-12-02"]) == 0
    preview = capsys.readouterr().out
    assert preview.startswith(f"# member digest for Amara Okafor <{HEAD}>, week of 30 Nov 2026")
    assert "Primary Headteachers' Network" in preview

    # Amara gets it in chat once her console account is linked; Helen, with no chat account,
    # by email (written as a file: no SMTP_HOST in the tests).
    from tests.digest.test_cli_helpers import link_console

    link_console(HEAD)
    assert not loops
    assert main(["digest", "send", "--week", "2026-11-23", "--kind", "member"]) == 0
    assert [loop.__module__.split(".")[0] for loop in loops] == ["uvloop"]  # installed here
    lines = capsys.readouterr().out.splitlines()
    delivered = [json.loads(line) for line in lines if line.startswith("{")]
    assert [m["chat_id"] for m in delivered] == [HEAD]
    assert "Good morning Amara!" in delivered[0]["text"]
    assert lines[-2].startswith(
        "member digest, week of 23 Nov 2026: 2 sent, 0 failed, 0 unreachable"
    )
    assert "1 of 2 by email" in lines[-2]
    assert "0 with no chat account or email (done)" in lines[-2]
    # The rate over the sending, and over the whole command, preparation included.
    assert re.fullmatch(
        r"rate: 2 sent in [\d.]+ s of sending, [\d.]+/s; over the whole command "
        r"\([\d.]+ s, preparation included\) [\d.]+/s",
        lines[-1],
    )

    assert main(["digest", "send", "--week", "2026-11-25", "--kind", "member"]) == 0
    again = capsys.readouterr().out
    assert "{" not in again and "2 sent" in again  # the same run: nothing sent twice
    assert again.splitlines()[-1].startswith("rate: 0 sent in ")

    assert main(["digest", "status"]) == 0
    status = capsys.readouterr().out.splitlines()
    assert status[1].split() == [
        *("2026-11-23", "member", "done"),
        *("2", "2", "0", "0", "0", "0", "0", "0"),  # queued, sent, ..., no account
    ]
    assert status[2] == "by email (member 2026-11-23): 1 of 2 queued"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["digest", "preview", "--as", "nobody@example.org"],
            "nobody in the directory has the email",
        ),
        (["digest", "send", "--week", "30/11/2026"], "--week: '30/11/2026' is not a date"),
        (["digest", "send", "--week", "2099-01-05"], "has not started yet"),
        (["digest", "subscribe", "nobody@example.org"], "nobody in the directory"),
    ],
)
def test_bad_input_is_one_clear_line(
    example_db: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
