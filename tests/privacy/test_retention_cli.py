"""`hotline privacy retention [--dry-run]`, `hotline privacy hold REF --reason TEXT` and
`hotline privacy release REF`, each in a fresh process on both databases."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from bot.store import Database
from bot.store.models import AuditEntry, HotlineRequest
from tests.conftest import run_hotline
from tests.factories import make_person
from tests.privacy.retention_rows import add_request, texts_of


async def test_dry_run_then_run_then_nothing_left(db: Database, db_url: str) -> None:
    member = await make_person(db)
    old = await add_request(db, member, resolved_days_ago=400)
    young = await add_request(db, member, resolved_days_ago=100)
    env = {"DATABASE_URL": db_url}

    dry = run_hotline("privacy", "retention", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "Retention policy: the defaults" in dry.stdout
    assert "  support_requests: would redact 1 (kept 365 days from when resolved" in dry.stdout
    assert f"    {old.reference}\n" in dry.stdout
    assert young.reference not in dry.stdout
    assert "  audit_log: would delete 0 " in dry.stdout
    assert dry.stdout.endswith("Dry run: nothing was changed.\n")
    assert len(await texts_of(db, old)) == 7

    done = run_hotline("privacy", "retention", env=env)
    assert done.returncode == 0, done.stderr
    assert "  support_requests: redacted 1 " in done.stdout
    assert f"    {old.reference}\n" in done.stdout
    assert "Dry run" not in done.stdout
    assert await texts_of(db, old) == []
    assert len(await texts_of(db, young)) == 6  # only its ping (settled over 30 days ago) went

    again = run_hotline("privacy", "retention", env=env)  # a manual run is always allowed
    assert again.returncode == 0, again.stderr
    assert "  support_requests: redacted 0 " in again.stdout
    async with db.session() as session:
        audit = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "retention"))
        ).all()
    assert [(a.via, a.subject) for a in audit] == [("cli", "manual run")] * 2
    assert old.words not in audit[0].detail


async def test_hold_keeps_a_request_from_the_run_until_released(db: Database, db_url: str) -> None:
    member = await make_person(db)
    made = await add_request(db, member, resolved_days_ago=400)
    env = {"DATABASE_URL": db_url}

    held = run_hotline("privacy", "hold", made.reference, "--reason", "claim by a parent", env=env)
    assert held.returncode == 0, held.stderr
    assert f"{made.reference} is under a legal hold" in held.stdout

    twice = run_hotline("privacy", "hold", made.reference, "--reason", "again", env=env)
    assert (twice.returncode, twice.stdout) == (1, "")
    assert twice.stderr.strip().splitlines() == [
        f"{made.reference} is already under a legal hold since "
        f"{held_day(await hold_of(db, made.id))}: claim by a parent"
    ]

    run = run_hotline("privacy", "retention", env=env)
    assert "  support_requests: redacted 0 " in run.stdout
    assert len(await texts_of(db, made)) == 7

    freed = run_hotline("privacy", "release", made.reference, env=env)
    assert freed.returncode == 0, freed.stderr
    assert "no longer under a legal hold" in freed.stdout
    run = run_hotline("privacy", "retention", env=env)
    assert f"    {made.reference}\n" in run.stdout
    assert await texts_of(db, made) == []

    late = run_hotline("privacy", "hold", made.reference, "--reason", "too late", env=env)
    assert late.returncode == 0, late.stderr
    assert "its texts were already redacted on " in late.stdout


async def hold_of(db: Database, request_id: int) -> HotlineRequest:
    async with db.session() as session:
        return await session.get_one(HotlineRequest, request_id)


def held_day(request: HotlineRequest) -> str:
    assert request.hold_at is not None
    return f"{request.hold_at:%Y-%m-%d}"


async def test_bad_input_gets_one_line_and_exit_1(db: Database, db_url: str) -> None:
    env = {"DATABASE_URL": db_url}
    for args, line in [
        (("hold", "HL-2026-0999", "--reason", "x"), "HL-2026-0999: no request has this reference"),
        (
            ("hold", "nonsense", "--reason", "x"),
            "'nonsense' is not a request reference like HL-2026-0042",
        ),
        (("hold", "HL-2026-0999", "--reason", " "), "give the reason for the hold: --reason TEXT"),
        (("release", "HL-2026-0999"), "HL-2026-0999: no request has this reference"),
    ]:
        result = run_hotline("privacy", *args, env=env)
        assert (result.returncode, result.stderr.strip().splitlines()) == (1, [line]), args
    missing = run_hotline("privacy", "hold", "HL-2026-0999", env=env)
    assert missing.returncode == 2
    assert "--reason" in missing.stderr


async def test_a_bad_policy_file_is_refused_line_by_line(
    db: Database, db_url: str, tmp_path: Path
) -> None:
    (tmp_path / "faq").mkdir()
    (tmp_path / "retention.yaml").write_text("questions: 0\nforever: 3\n")
    result = run_hotline(
        "privacy", "retention", "--dry-run", env={"DATABASE_URL": db_url, "DATA_DIR": str(tmp_path)}
    )
    where = tmp_path / "retention.yaml"
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"{where}:1: questions: 0 days: must be 1 or more",
        f"{where}:2: 'forever': unknown kind (known: questions, support_requests, "
        "emergencies_safeguarding, emergencies, outbox, processed_updates, audit_log)",
    ]
