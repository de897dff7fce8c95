"""`/healthz` says which kind of failure it saw ("database unavailable", "database not
migrated"), never the exception's own text: that names the database's host, user and port (or
file), and a failed statement's error can quote the values it carried."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from sqlalchemy.exc import OperationalError

from bot.channels import Inbound
from bot.core.errors import StoreUnavailableError
from bot.store import Database
from bot.web import build_web_app, health_reason
from tests.handlers.conftest import Stack
from tests.handlers.conftest import stack as stack  # the fixture "s"

# Distinctive parts of the broken database's address: none may reach the answer or the log.
SECRET_USER, SECRET_DB = "zq-health-user", "zq-health-db"


async def _health(s: Stack, db: Database) -> httpx.Response:
    app = build_web_app(10_000, bot=replace(s.rt, db=db, inbound=Inbound()))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://h"
    ) as http:
        return await http.get("/healthz")


async def test_an_unreachable_database_is_database_unavailable_and_nothing_more(
    s: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot")
    broken = Database(f"postgresql+asyncpg://{SECRET_USER}@127.0.0.1:1/{SECRET_DB}")
    try:
        response = await _health(s, broken)
    finally:
        await broken.dispose()
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "reason": "database unavailable"}
    logged = [r.getMessage() for r in caplog.records]
    assert "healthz unavailable reason=database unavailable error=StoreUnavailableError" in logged
    for leak in (SECRET_USER, SECRET_DB, "127.0.0.1"):
        assert leak not in response.text and leak not in caplog.text, leak


async def test_an_unmigrated_database_says_so(s: Stack, tmp_path: Path) -> None:
    empty = Database(f"sqlite+aiosqlite:///{tmp_path / 'zq-empty.db'}")
    try:
        response = await _health(s, empty)
    finally:
        await empty.dispose()
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "reason": "database not migrated"}
    assert "zq-empty" not in response.text


async def test_the_running_bot_is_ok(s: Stack) -> None:
    response = await s.http.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_every_failure_is_named_by_its_class_only() -> None:
    statement_failed = OperationalError("INSERT ...", {"text": "zq-member-text"}, Exception())
    assert health_reason(statement_failed) == "database unavailable"
    assert health_reason(StoreUnavailableError("cannot reach db.internal:5432")) == (
        "database unavailable"
    )
    assert health_reason(ConnectionRefusedError("refused")) == "database unavailable"
    assert health_reason(TimeoutError()) == "database unavailable"
    assert health_reason(RuntimeError("zq-anything-else")) == "internal error"
