"""The web app's own endpoints, and the commands that start and configure the channels."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from subprocess import DEVNULL

import httpx
import pytest
from starlette.applications import Starlette

from bot.channels import Inbound
from bot.cli import main
from bot.config import load_settings
from bot.escalation.urgency import UrgencyDetector
from bot.knowledge import KnowledgeBase
from bot.metrics import LoopLag
from bot.store import Database
from bot.web import BodyLimit, build_web_app, web_process
from tests.conftest import DATA, ROOT, make_deps
from tests.handlers.conftest import Stack
from tests.handlers.fake_slack import FakeSlack, Fault
from tests.handlers.payloads import (
    slack_dm_event,
    slack_event_body,
    slack_signed_headers,
    tg_text_update,
)


async def test_healthz_says_ok_and_metrics_count_what_happened(s: Stack) -> None:
    health = await s.http.get("/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    await s.telegram(tg_text_update(1, 1001, "How do I book a place on a network?"))
    await s.telegram(tg_text_update(2, 1001, "/emergency the roof has come off"))
    await s.deliver()
    page = (await s.http.get("/metrics")).text
    assert 'hotline_messages_handled_total{channel="telegram"} 2.0' in page
    assert 'hotline_requests{kind="emergency",status="open"} 1.0' in page
    assert 'hotline_outbound_messages{status="sent"}' in page
    assert "hotline_sweep_lag_seconds 0.0" in page
    assert any(line.startswith("hotline_answer_bands{") for line in page.splitlines())


async def test_metrics_show_the_event_loop_lag_of_the_monitor_the_app_was_given(s: Stack) -> None:
    assert "event_loop_lag" not in (await s.http.get("/metrics")).text  # none given: none shown
    lag = LoopLag()
    for seconds in (0.001, 0.002, 0.2):
        lag.record(seconds)
    app = build_web_app(10_000, bot=s.rt, loop_lag=lag)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://h"
    ) as http:
        page = (await http.get("/metrics")).text
    assert 'hotline_event_loop_lag_seconds_bucket{le="0.002"} 2.0' in page
    assert "hotline_event_loop_lag_seconds_count 3.0" in page
    assert 'hotline_event_loop_lag_quantile_seconds{quantile="1"} 0.2' in page
    assert "hotline_sweep_lag_seconds 0.0" in page  # beside the other figures


async def test_the_web_process_watches_its_event_loop_from_start_up(
    db: Database, db_url: str, kb: KnowledgeBase, urgency: UrgencyDetector
) -> None:
    """`hotline serve`'s app: its lifespan opens the bot and starts the lag monitor, which
    /metrics then shows (GC_FREEZE=0 here: the test process's heap is left as it is)."""
    settings = load_settings(database_url=db_url, data_dir=DATA, gc_freeze=False)
    app = web_process(settings, make_deps(kb, urgency))
    assert isinstance(app, BodyLimit) and isinstance(app.app, Starlette)
    starlette = app.app
    async with (
        starlette.router.lifespan_context(starlette),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://h") as http,
    ):
        page = (await http.get("/metrics")).text
    assert 'hotline_event_loop_lag_seconds_bucket{le="0.05"}' in page
    assert 'hotline_event_loop_lag_quantile_seconds{quantile="0.99"}' in page


async def test_healthz_is_503_with_a_reason_when_the_database_is_gone(s: Stack) -> None:
    """The running bot, as if its database had gone away, and with no platform configured."""
    broken = Database("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    app = build_web_app(10_000, bot=replace(s.rt, db=broken, inbound=Inbound()))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://h"
    ) as http:
        response = await http.get("/healthz")
        assert response.status_code == 503
        assert response.json()["status"] == "unavailable" and response.json()["reason"]
        # Platforms that are not configured answer 404, not a crash.
        assert (await http.post("/telegram/webhook", json={"update_id": 1})).status_code == 404
        assert (await http.post("/slack/events", content=b"{}")).status_code == 404
    await broken.dispose()


async def test_slack_bad_bodies_get_a_clear_status(s: Stack) -> None:
    """A signed body that is neither JSON nor form data is refused with 400 before any listener
    runs (bot/handlers/slack.py, handle_http); an empty one parses, as an empty form, but names
    nothing to route, which Bolt answers with 404. None of them is processed."""
    malformed = {"ok": False, "error": "malformed body"}
    cases = [
        (b"{not json", 400, malformed),
        (b"payload=%7Bnot-json", 400, malformed),
        (b"", 404, {"error": "unhandled request"}),
    ]
    for body, status, answer in cases:
        response = await s.http.post(
            "/slack/events",
            content=body,
            headers=slack_signed_headers("slack-signing-secret", body),
        )
        assert (response.status_code, response.json()) == (status, answer), body
    big = b"x" * 5_000_000
    response = await s.http.post(
        "/slack/events", content=big, headers=slack_signed_headers("slack-signing-secret", big)
    )
    assert response.status_code == 413
    assert s.sl.calls_to("chat.postMessage") == []
    assert await s.questions() == 0


def test_directory_invite_prints_a_code_and_links(
    example_db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", "@partnership_hotline_bot")
    capsys.readouterr()
    assert main(["directory", "invite", "amara.okafor@stmarys.example.org"]) == 0
    out = capsys.readouterr().out
    code = out.split("code:", 1)[1].split()[0]
    assert len(code) == 10
    assert f"https://t.me/partnership_hotline_bot?start={code}" in out
    assert f"/hotline link {code}" in out
    assert main(["directory", "invite", "nobody@example.org"]) == 1


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"TELEGRAM_TOKEN": "123:X"}, "TELEGRAM_WEBHOOK_SECRET"),
        ({"SLACK_BOT_TOKEN": "xoxb-x"}, "SLACK_SIGNING_SECRET"),
        ({"LOG_LEVEL": "chatty"}, "LOG_LEVEL"),
    ],
)
def test_serve_refuses_to_start_without_the_secrets_it_needs(
    tmp_path: Path, env: dict[str, str], setting: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "serve"],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "DATA_DIR": str(DATA),
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/h.db",
            **env,
        },
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith(f"configuration error: {setting}:")
    assert "Traceback" not in result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_serve_logs_refusals_redeliveries_and_retries_at_log_level_info(
    example_db: Path, tmp_path: Path
) -> None:
    """The real process: LOG_LEVEL reaches the bot's own loggers, and what they say about a
    refused webhook, a redelivered event and a send to retry never holds what was typed."""
    typed = "periwinkle gazebo"
    port, secret = _free_port(), "serve-signing-secret"
    body = slack_event_body(slack_dm_event("UNKNOWN1", typed), event_id="EvServe")
    err_file = tmp_path / "stderr.log"
    async with FakeSlack() as sl:
        sl.fail_for_channel("UNKNOWN1", *[Fault.server_error()] * 3)
        env = {
            **os.environ,
            "SLACK_BOT_TOKEN": sl.bot_token,
            "SLACK_SIGNING_SECRET": secret,
            "SLACK_API_BASE_URL": sl.base_url,
            "LOG_LEVEL": "info",
        }
        command = [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1"]
        with err_file.open("wb") as err:
            process = subprocess.Popen(  # noqa: ASYNC220 - started, then polled without blocking
                [*command, "--port", str(port)], cwd=ROOT, env=env, stdout=DEVNULL, stderr=err
            )
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
                await _until(lambda: process.poll() is not None or _listening(port), err_file)
                assert process.poll() is None, _text(err_file)
                forged = slack_signed_headers("not-the-secret", body)
                refused = await http.post("/slack/events", content=body, headers=forged)
                assert refused.status_code == 401
                for _ in range(2):  # Slack's retry of the same event
                    signed = slack_signed_headers(secret, body)
                    answered = await http.post("/slack/events", content=body, headers=signed)
                    assert answered.status_code == 200
            wanted = ("webhook refused channel=slack", "redelivery dropped", "send retried later")
            await _until(lambda: all(w in _text(err_file) for w in wanted), err_file)
        finally:
            process.terminate()
            await _until(lambda: process.poll() is not None, err_file)
    log = _text(err_file)
    assert "INFO bot.handlers.slack: webhook refused channel=slack status=401" in log, log
    assert (
        "INFO bot.conversation.dispatcher: redelivery dropped channel=slack update=EvServe" in log
    )
    assert "INFO bot.delivery.outbox: send retried later" in log, log
    assert typed not in log and "gazebo" not in log, log


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def _until(condition: Callable[[], bool], err_file: Path, timeout: float = 60) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, _text(err_file)
        await asyncio.sleep(0.1)


def _text(path: Path) -> str:
    return path.read_text()
