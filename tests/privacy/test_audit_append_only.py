"""The audit log is append-only from the application's side: an entry changed or deleted
through the ORM is refused at flush (bot/directory/audit.py's guard), and no module but the
retention policy's issues a bulk UPDATE or DELETE of the table (a scan of bot/'s source)."""

from __future__ import annotations

import ast
import re

import pytest
from sqlalchemy import select

from bot.directory.audit import Actor, AuditChangedError, record
from bot.store import Database
from bot.store.models import AuditEntry
from tests.conftest import ROOT

BOT = ROOT / "bot"
# The one module allowed to delete entries: those past the retention period (6 years).
RETENTION = BOT / "privacy" / "retention.py"
RAW_SQL = re.compile(r"\b(update\s+audit_log|delete\s+from\s+audit_log)\b", re.IGNORECASE)


def _is_audit_entry(node: ast.expr) -> bool:
    """`AuditEntry`, `models.AuditEntry` or `AuditEntry.__table__`."""
    if isinstance(node, ast.Attribute) and node.attr == "__table__":
        node = node.value
    if isinstance(node, ast.Attribute):
        return node.attr == "AuditEntry"
    return isinstance(node, ast.Name) and node.id == "AuditEntry"


def _changes(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return RAW_SQL.search(node.value) is not None
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if name not in ("update", "delete"):
        return False
    on_entries = bool(node.args) and _is_audit_entry(node.args[0])  # update(AuditEntry)
    of_entries = isinstance(func, ast.Attribute) and _is_audit_entry(func.value)  # __table__
    return on_entries or of_entries


def changes_of_the_audit_log(source: str) -> list[int]:
    """Lines that UPDATE or DELETE the audit log in bulk: `update(AuditEntry)`,
    `delete(AuditEntry)`, `AuditEntry.__table__.update()/.delete()`, or raw SQL naming it."""
    nodes = ast.walk(ast.parse(source))
    return [node.lineno for node in nodes if isinstance(node, ast.expr) and _changes(node)]


def test_the_scan_finds_each_way_of_changing_the_log() -> None:
    """The scan itself can fail: each of these would be reported."""
    offending = [
        "session.execute(update(AuditEntry).values(detail=''))",
        "session.execute(sa.delete(models.AuditEntry))",
        "conn.execute(AuditEntry.__table__.update())",
        "conn.execute(text('DELETE FROM audit_log WHERE id = 1'))",
        "conn.execute(text('update  audit_log set detail = NULL'))",
    ]
    for line in offending:
        assert changes_of_the_audit_log(line) == [1], line
    harmless = "session.execute(update(Person).values(name='x')); select(AuditEntry)"
    assert changes_of_the_audit_log(harmless) == []


def test_only_the_retention_policy_changes_the_audit_log_in_bulk() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sorted(BOT.rglob("*.py"))
        if path != RETENTION
        for line in changes_of_the_audit_log(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
    # The retention policy's deletion is found by the same scan: the scan looks at real code.
    assert changes_of_the_audit_log(RETENTION.read_text(encoding="utf-8"))


async def _written(db: Database) -> int:
    async with db.session() as session:
        entry = record(session, Actor(None, None, "cli"), "export", "person 1", detail="json")
        await session.flush()
        return entry.id


async def _detail(db: Database, entry_id: int) -> str | None:
    async with db.reading() as session:
        return await session.scalar(select(AuditEntry.detail).where(AuditEntry.id == entry_id))


async def _rewrite(db: Database, entry_id: int) -> None:
    async with db.session() as session:
        entry = await session.get(AuditEntry, entry_id)
        assert entry is not None
        entry.detail = "rewritten"


async def _delete(db: Database, entry_id: int) -> None:
    async with db.session() as session:
        entry = await session.get(AuditEntry, entry_id)
        assert entry is not None
        await session.delete(entry)


async def test_an_entry_cannot_be_changed_once_written(db: Database) -> None:
    entry_id = await _written(db)
    with pytest.raises(AuditChangedError, match=f"audit entry {entry_id} is append-only"):
        await _rewrite(db, entry_id)
    assert await _detail(db, entry_id) == "json"  # rolled back with its transaction


async def test_an_entry_cannot_be_deleted_one_by_one(db: Database) -> None:
    entry_id = await _written(db)
    with pytest.raises(AuditChangedError, match=f"audit entry {entry_id} is append-only"):
        await _delete(db, entry_id)
    assert await _detail(db, entry_id) == "json"


async def test_new_entries_are_still_written(db: Database) -> None:
    first, second = await _written(db), await _written(db)
    assert second > first and await _detail(db, second) == "json"
