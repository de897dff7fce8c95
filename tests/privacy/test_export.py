"""A person's copy of their data (bot/privacy/export.py, `hotline privacy export`): a member with
requests on Telegram and Slack, everything held about them in data.json, the summary escaped,
a folder or a zip, nothing written over, the export in the audit log."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.core.errors import UserFacingError
from bot.directory.audit import Actor
from bot.privacy.export import DATA_FILE, OTHERS_TEXT, SUMMARY_FILE, export_person
from bot.store.models import AuditEntry, Person
from tests.conftest import run_hotline
from tests.escalation.conftest import Partnership
from tests.escalation.conftest import partnership as partnership  # the fixture "p"
from tests.privacy.rights import (
    DIGEST_TEXT,
    EMERGENCY_TEXT,
    NAME,
    QUESTION,
    SCHOOL,
    STAFF_REPLY,
    SUPPORT_TEXT,
    member_with_everything,
)

CLI = Actor(None, None, "cli")
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


async def _export(p: Partnership, person_id: int, out: Path) -> None:
    async with p.db.session() as s:
        person = await s.get(Person, person_id)
        assert person is not None
        await export_person(s, person, out, CLI, NOW)


def _read(folder: Path) -> tuple[dict[str, Any], str]:
    data = json.loads((folder / DATA_FILE).read_text(encoding="utf-8"))
    return data, (folder / SUMMARY_FILE).read_text(encoding="utf-8")


async def test_the_copy_holds_everything_about_a_member_on_two_channels(
    p: Partnership, tmp_path: Path
) -> None:
    member = await member_with_everything(p)
    await _export(p, member.id, tmp_path / "copy")
    data, html = _read(tmp_path / "copy")

    person = data["person"]
    assert (person["email"], person["name"], person["school"]["name"]) == (
        member.email,
        NAME,
        SCHOOL,
    )
    assert person["phone"] == "07700 900123" and person["role"] == "member"
    assert sorted((a["channel"], a["external_id"]) for a in data["linked_accounts"]) == [
        ("console", member.email),  # the test partnership's own
        ("slack", "U0MO"),
        ("telegram", "7001"),
    ]
    assert data["questions"][0]["text"] == QUESTION
    assert [(f["helpful"], f["faq_id"]) for f in data["feedback"]] == [
        (True, data["questions"][0]["matched_id"])
    ]

    requests = data["requests"]
    assert [(r["reference"], r["channel"], r["kind"], r["text"]) for r in requests] == [
        (member.references[0], "telegram", "support", SUPPORT_TEXT),
        (member.references[1], "slack", "emergency", EMERGENCY_TEXT),
    ]
    for request in requests:
        assert request["school"] == SCHOOL
        opened = [e for e in request["timeline"] if e["kind"] == "opened"]
        assert len(opened) == 1 and opened[0]["detail"].endswith(request["text"])

    messages = data["messages"]
    digests = {m["dedupe_key"]: m for m in messages if m["dedupe_key"].startswith("digest:")}
    assert {k: (m["status"], m["channel"], m["text"]) for k, m in digests.items()} == {
        f"digest:1:{member.id}": ("sent", "email", DIGEST_TEXT),
        f"digest:2:{member.id}": ("pending", "email", DIGEST_TEXT),
    }
    assert digests[f"digest:1:{member.id}"]["sent_at"] is not None
    about_requests = {m["request"] for m in messages if m["request"] is not None}
    assert about_requests == set(member.references)  # what the bot told them of each request
    assert any(STAFF_REPLY in m["text"] for m in messages if m["channel"] == "telegram")
    assert requests[1]["acknowledged_by"] == "Pat Primary"

    about = [(a["action"], a["by"], a["via"]) for a in data["audit_about_them"]]
    assert about == [("view", "Pat Primary", "console"), ("unlink", None, "cli")]
    assert data["audit_by_them"] == []

    # The summary shows the texts escaped, never as markup.
    assert "<script>" not in html and "<b>" not in html and "<i>new" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "&lt;b&gt;&#34;Year 6&#34;&lt;/b&gt;" in html
    assert "St Mary&#39;s CE Primary School" in html
    assert f"<h3>{member.references[1]}: emergency" in html

    async with p.db.session() as s:
        entry = await s.scalar(select(AuditEntry).where(AuditEntry.action == "export"))
    assert entry is not None
    assert (entry.subject, entry.subject_person_id, entry.via, entry.actor_id) == (
        f"person #{member.id}",
        member.id,
        "cli",
        None,
    )
    assert member.email not in entry.detail and "requests 2" in entry.detail


async def test_a_staff_members_copy_holds_what_they_did(p: Partnership, tmp_path: Path) -> None:
    member = await member_with_everything(p)
    await _export(p, p.primary.id, tmp_path / "staff")
    data, _ = _read(tmp_path / "staff")
    assert [(a["action"], a["subject"]) for a in data["audit_by_them"]] == [
        ("view", member.references[1])
    ]
    assert data["requests"] == [] and data["questions"] == []
    # The pings they were sent are listed, without the member's text: it is the member's.
    pings = [m for m in data["messages"] if m["dedupe_key"].startswith("ping:")]
    assert pings and {m["request"] for m in pings} == {member.references[1]}
    assert {m["text"] for m in pings} == {OTHERS_TEXT}
    assert EMERGENCY_TEXT not in json.dumps(data) and SUPPORT_TEXT not in json.dumps(data)


async def test_a_zip_and_nothing_written_over(p: Partnership, tmp_path: Path) -> None:
    member = await member_with_everything(p)
    archive = tmp_path / "mo.zip"
    await _export(p, member.id, archive)
    with zipfile.ZipFile(archive) as z:
        assert sorted(z.namelist()) == [DATA_FILE, SUMMARY_FILE]
        data = json.loads(z.read(DATA_FILE))
    assert data["person"]["email"] == member.email

    with pytest.raises(UserFacingError, match="already exists"):
        await _export(p, member.id, archive)
    full = tmp_path / "full"
    full.mkdir()
    (full / "notes.txt").write_text("keep me")
    with pytest.raises(UserFacingError, match="the folder is not empty"):
        await _export(p, member.id, full)
    assert (full / "notes.txt").read_text() == "keep me" and len(list(full.iterdir())) == 1
    with pytest.raises(UserFacingError, match=r"notes.txt/copy: cannot write the copy \("):
        await _export(p, member.id, full / "notes.txt" / "copy")  # under a file: no folder
    empty = tmp_path / "empty"
    empty.mkdir()
    await _export(p, member.id, empty)
    assert sorted(f.name for f in empty.iterdir()) == [DATA_FILE, SUMMARY_FILE]

    async with p.db.session() as s:
        exports = list(await s.scalars(select(AuditEntry).where(AuditEntry.action == "export")))
    assert len(exports) == 2  # the refused ones wrote nothing and recorded nothing


async def test_hotline_privacy_export(p: Partnership, db_url: str, tmp_path: Path) -> None:
    member = await member_with_everything(p)
    env = {"DATABASE_URL": db_url}
    archive = tmp_path / "copy.zip"
    done = run_hotline("privacy", "export", member.email.upper(), "--out", str(archive), env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote what is held about {NAME} to {archive} (")
    assert "requests 2" in done.stdout
    with zipfile.ZipFile(archive) as z:
        data = json.loads(z.read(DATA_FILE))
    assert {r["channel"] for r in data["requests"]} == {"telegram", "slack"}

    again = run_hotline("privacy", "export", member.email, "--out", str(archive), env=env)
    assert again.returncode == 1 and "Traceback" not in again.stderr
    assert again.stderr.strip() == (
        f"{archive}: already exists; choose a new file name for the copy"
    )
    unknown = run_hotline(
        "privacy", "export", "nobody@example.org", "--out", str(tmp_path / "x"), env=env
    )
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
    assert unknown.stderr.strip() == "nobody@example.org: nobody in the directory has this email"
    assert not (tmp_path / "x").exists()
    folder = tmp_path / "folder"
    into = run_hotline("privacy", "export", member.email, "--out", str(folder), env=env)
    assert into.returncode == 0, into.stderr
    assert sorted(f.name for f in folder.iterdir()) == [DATA_FILE, SUMMARY_FILE]
