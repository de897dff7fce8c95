"""The web app's own endpoints, and the commands that start and configure the channels."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from bot.channels import Platforms
from bot.cli import main
from bot.config import load_settings
from bot.store import Database
from bot.web import build_web_app
from tests.conftest import DATA, ROOT
from tests.handlers.conftest import Stack
from tests.handlers.payloads import slack_signed_headers, tg_text_update


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


async def test_healthz_is_503_with_a_reason_when_the_database_is_gone(tmp_path: Path) -> None:
    import httpx

    settings = load_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", data_dir=DATA)
    broken = Database("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    app = build_web_app(broken, Platforms(settings, {}), Counter(), 10_000)
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
    for body in (b"{not json", b"payload=%7Bnot-json", b""):
        response = await s.http.post(
            "/slack/events",
            content=body,
            headers=slack_signed_headers("slack-signing-secret", body),
        )
        assert 400 <= response.status_code < 500 or response.status_code == 200
    big = b"x" * 5_000_000
    response = await s.http.post(
        "/slack/events", content=big, headers=slack_signed_headers("slack-signing-secret", big)
    )
    assert response.status_code == 413
    assert s.sl.calls_to("chat.postMessage") == []


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
