"""The chains page: who each category's emergency would ping now (the same plan as
`hotline rota show --category`), and a rota file imported by an admin, all or nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.store.models import AuditEntry, RotaVersion
from tests.conftest import run_hotline
from tests.console.conftest import START, Console
from tests.factories import rota_yaml

PAGE = "/console/rota/chains"
IMPORT = "/console/rota/import"


async def versions(c: Console) -> int:
    async with c.db.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(RotaVersion)) or 0)


async def test_staff_see_who_each_category_would_ping_as_rota_show_says(
    c: Console, db_url: str
) -> None:
    async with await c.signed_in(c.staff) as http:
        shown = await http.get(PAGE)
        assert shown.status_code == 200
        assert "Import a rota file" not in shown.text  # admins only
    printed = run_hotline(
        "rota",
        "show",
        "--category",
        "safeguarding",
        "--at",
        START.isoformat(),
        env={"DATABASE_URL": db_url},
    )
    assert printed.returncode == 0, printed.stderr
    steps = [line.strip() for line in printed.stdout.splitlines() if line.startswith("  1.")]
    assert steps and steps[0].startswith("1. ")
    label, rest = steps[0][3:].split(": ", 1)
    who, wait = rest.rsplit(", waits ", 1)
    assert label and who == c.staff.email  # the test rota's primary, at START
    assert f"{label}: {who}, waits {wait}" in shown.text
    assert "<h2>safeguarding" in shown.text


async def test_an_admin_imports_a_rota_file_all_or_nothing(c: Console) -> None:
    before = await versions(c)
    new = rota_yaml(c.admin.email, c.staff.email, c.admin.email)
    async with await c.signed_in(c.admin) as http:
        csrf = c.csrf((await http.get(PAGE)).text)
        done = await http.post(IMPORT, data={"csrf": csrf, "rota": new})
        assert done.status_code == 303 and done.headers["location"] == f"{PAGE}?done=imported"
        assert c.admin.email in (await http.get(PAGE)).text
        assert await versions(c) == before + 1
        again = await http.post(IMPORT, data={"csrf": csrf, "rota": new})
        assert again.headers["location"] == f"{PAGE}?done=unchanged"
        assert await versions(c) == before + 1

        unknown = new.replace(c.staff.email, "nobody@example.org")
        bad_time = new.replace("'00:00'", "'25:00'", 1)
        for text, said in (
            (unknown, "nobody@example.org: not in the directory"),
            (bad_time, "rota.yaml:"),
            ("", "Choose a rota file, or paste the rota here."),
        ):
            refused = await http.post(IMPORT, data={"csrf": csrf, "rota": text})
            assert refused.status_code == 400, text
            assert said in refused.text, refused.text
        uploaded = await http.post(
            IMPORT,
            data={"csrf": csrf},
            files={"file": ("rota.txt", b"timezone: Europe/London\n", "text/plain")},
        )
        assert uploaded.status_code == 400 and "expected a .yaml or .yml file" in uploaded.text
        from_file = await http.post(
            IMPORT,
            data={"csrf": csrf},
            files={"file": ("cover.yaml", rota_yaml(c.staff.email, None, c.staff.email).encode())},
        )
        assert from_file.status_code == 303
    assert await versions(c) == before + 2
    async with c.db.reading() as session:
        actions = list(
            await session.scalars(
                select(AuditEntry.detail).where(AuditEntry.action == "rota import")
            )
        )
    assert sorted(actions) == ["cover.yaml", "rota.yaml"]


async def test_staff_cannot_import_a_rota(c: Console) -> None:
    async with await c.signed_in(c.staff) as http:
        csrf = c.csrf((await http.get(PAGE)).text)
        text = rota_yaml(c.admin.email, None, c.admin.email)
        assert (await http.post(IMPORT, data={"csrf": csrf, "rota": text})).status_code == 403
    assert await versions(c) == 1
