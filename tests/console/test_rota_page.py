"""The console's rota page (/console/rota): on duty now, this week and next as a grid from the
same duty_at / find_gaps the bot pings with, gaps, closures, and overrides added and removed by
admins with the checks of `hotline rota override` / `unoverride` (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.console.security import COOKIE
from bot.directory.audit import entries
from bot.escalation.rota import Override, day_stretches
from bot.escalation.rota_file import parse_rota
from bot.escalation.rota_store import add_override, rota_and_duty
from bot.store import Database
from bot.store.models import AuditEntry, RotaOverride, RotaVersion
from tests.conftest import DATA, ROOT, run_hotline
from tests.console.conftest import START, Console
from tests.factories import make_person, make_rota, rota_yaml

PAGE = "/console/rota"
ADD = "/console/rota/overrides"
REMOVE = "/console/rota/overrides/remove"
NOW_CELL = "▶ On duty now"


async def count(db: Database, model: type) -> int:
    async with db.session() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def overrides(db: Database) -> list[RotaOverride]:
    async with db.session() as session:
        return list((await session.scalars(select(RotaOverride).order_by(RotaOverride.id))).all())


def section(text: str, heading: str) -> str:
    """The page's text from an <h2> to the next one."""
    start = text.index(f">{heading}</h2>")
    end = text.find("<h2", start)
    return text[start : end if end != -1 else len(text)]


def cell_now(text: str) -> str:
    """The grid cell marked as on duty now (exactly one)."""
    cells: list[str] = re.findall(r"<td[^>]*class=\"[^\"]*\bnow\b[^\"]*\">(.*?)</td>", text, re.S)
    assert len(cells) == 1, cells
    return cells[0]


async def test_staff_see_who_is_on_duty_now_and_the_grid_without_the_forms(c: Console) -> None:
    async with await c.signed_in(c.staff) as http:
        page = await http.get(PAGE)
    assert page.status_code == 200
    text = page.text
    assert '<link rel="stylesheet" href="/console/static/rota.css">' in text
    now = section(text, "On duty now")
    assert "Wed 25 Nov 2026 10:00 GMT: in hotline hours." in now
    assert f"Primary:</span> {c.staff.name}" in now
    assert "Backup:</span> nobody" in now and f"Fallback:</span> {c.admin.name}" in now
    # The grid: this week (Monday 23 November) and next, the primary of the test rota all day.
    assert "This week: Mon 23 Nov to Sun 29 Nov" in text
    assert "Next week: Mon 30 Nov to Sun 06 Dec" in text
    assert text.count('<th scope="col">Mon 23 Nov</th>') == 1
    assert text.count('<th scope="col">Sun 06 Dec</th>') == 1
    assert text.count(f"Primary:</span> {c.staff.name}</li>") == 14 + 1  # 14 days, and now
    assert text.count(NOW_CELL) == 1
    current = cell_now(text)
    assert "00:00-24:00 · Hotline hours" in current and c.staff.name in current
    assert "gap:" not in text and "No gaps from now to the end of next week." in text
    assert "No closures ahead." in text and "No current or upcoming overrides." in text
    # Staff see no forms but sign-out's.
    assert "Add an override" not in text and "Add override" not in text
    assert 'action="/console/rota/overrides' not in text
    assert "Only an admin can add or remove overrides." in text
    assert 'aria-current="page">Rota<' in text


async def test_gaps_are_red_and_say_gap_and_closures_are_listed(c: Console) -> None:
    """Hotline hours all day, a primary only 08:00-18:00: the evening and night are gaps; a
    staff member with no chat account as primary on Saturday: a gap with its reason; Friday
    closed for training."""
    unlinked = await make_person(c.db, role=c.staff.role, name="Una Linked", linked=False)
    text = rota_yaml(
        c.staff.email,
        None,
        c.admin.email,
        pattern_days="Mon-Fri",
        pattern_from="08:00",
        pattern_to="18:00",
    )
    text += (
        f"  - days: Sat\n    from: '08:00'\n    to: '18:00'\n    primary: {unlinked.email}\n"
        "closures:\n  - {date: 2026-11-27, note: Staff training}\n"
        "  - {date: 2026-11-02, note: Long past}\n"
    )
    await make_rota(c.db, text)
    async with await c.signed_in(c.staff) as http:
        page = (await http.get(PAGE)).text
    assert f"Primary:</span> {c.staff.name}" in section(page, "On duty now")
    gap_cells = re.findall(r'<td[^>]*class="gap[^"]*">(.*?)</td>', page, re.S)
    # Mon-Thu and Sun of both weeks: 00:00-08:00 and 18:00-24:00 (Sundays all day); Friday
    # closed (no hotline hours) the first week, a gap the second; Saturdays: unreachable too.
    assert gap_cells and all("⚠ gap: " in cell for cell in gap_cells)
    assert any("00:00-08:00 · Hotline hours" in cell for cell in gap_cells)
    assert any("gap: no primary on duty" in cell for cell in gap_cells)
    unreachable = [cell for cell in gap_cells if "is not reachable" in cell]
    assert len(unreachable) == 2 and all("08:00-18:00" in cell for cell in unreachable)
    assert f"gap: primary {unlinked.email} is not reachable (no linked chat identity)" in page
    css = (ROOT / "bot" / "console" / "static" / "rota.css").read_text()
    assert (
        re.search(r"td\.gap \{[^}]*var\(--warn\)", css) and ".gap-word { color: var(--warn)" in css
    )
    closed = re.findall(r'<td[^>]*class="off closed">(.*?)</td>', page, re.S)
    assert len(closed) == 1 and "Closed: Staff training" in closed[0]
    assert "Out-of-hours cover:</span> " + c.admin.name in closed[0]
    gaps = section(page, "Gaps")
    assert (
        "⚠ gap:</strong> Wed 25 Nov 2026 18:00 to Thu 26 Nov 2026 08:00: no primary on duty" in gaps
    )
    assert "Wed 25 Nov 2026 00:00" not in gaps  # gone already
    closures = section(page, "Closures")
    assert "Staff training: Fri 27 Nov 2026" in closures and "Long past" not in closures
    c.clock.now = START.replace(hour=19)  # in a gap: said at the top too
    async with await c.signed_in(c.staff) as http:
        late = (await http.get(PAGE)).text
    assert "⚠ gap: no primary on duty" in section(late, "On duty now")
    assert "gap: no primary on duty" in cell_now(late)


async def test_an_admin_adds_an_override_that_the_bot_and_hotline_rota_show_use(
    c: Console, db_url: str
) -> None:
    async with await c.signed_in(c.admin) as http:
        form = await http.get(PAGE)
        text = form.text
        for label in ("Person", "Role", "Starts", "Ends"):
            assert re.search(rf'<label for="f-\w+">{label}</label>', text), label
        assert 'type="datetime-local" id="f-starts"' in text
        assert 'type="datetime-local" id="f-ends"' in text
        assert f'<option value="{c.admin.email}">{c.admin.name} ({c.admin.email})</option>' in text
        assert c.member.email not in text  # members are not offered
        assert re.findall(r'<select id="f-role".*?</select>', text, re.S)[0].count("<option") == 2
        added = await http.post(
            ADD,
            data={
                "csrf": c.csrf(text),
                "person": c.admin.email,
                "role": "primary",
                "starts": "2026-11-25T09:30",
                "ends": "2026-11-25T12:00",
            },
        )
        assert added.status_code == 303 and added.headers["location"] == f"{PAGE}?done=added"
        page = (await http.get(added.headers["location"])).text
    (row,) = await overrides(c.db)
    assert (row.person_id, row.role) == (c.admin.id, "primary")
    assert (row.starts_at, row.ends_at) == (START - timedelta(minutes=30), START.replace(hour=12))
    async with c.db.reading() as session:
        found = await rota_and_duty(session, START)
    assert found is not None and found[1].primary == c.admin.email
    assert "Override added." in page
    now = section(page, "On duty now")
    assert f'Primary:</span> {c.admin.name} <span class="badge override">override</span>' in now
    current = cell_now(page)
    assert "09:30-12:00 · Hotline hours" in current and c.admin.name in current
    assert "override" in current
    listed = section(page, "Overrides")
    assert (
        f'<span class="stack-only">Override </span>{row.id}</th>' in listed
        and "Wed 25 Nov 2026 09:30" in listed
    )
    assert "<strong>now</strong>" in listed and "Remove" in listed
    (entry,) = [e for e in await _audit(c) if e.action == "rota override add"]
    assert (entry.actor_id, entry.subject_person_id, entry.subject) == (
        c.admin.id,
        c.admin.id,
        f"override {row.id}",
    )
    assert entry.detail == (
        f"{c.admin.name} ({c.admin.email}) is primary from Wed 25 Nov 2026 09:30 to "
        "Wed 25 Nov 2026 12:00 GMT"
    )
    assert (entry.at, entry.via, entry.ip) == (START, "console", "127.0.0.1")

    shown = run_hotline("rota", "show", "--at", "2026-11-25T10:00", env={"DATABASE_URL": db_url})
    assert shown.returncode == 0, shown.stderr
    assert f"level 1 primary: {c.admin.email}" in shown.stdout
    assert (
        f"  override {row.id}: {c.admin.email} primary from Wed 25 Nov 2026 09:30 to "
        "Wed 25 Nov 2026 12:00"
    ) in shown.stdout
    after = run_hotline("rota", "show", "--at", "2026-11-25T12:00", env={"DATABASE_URL": db_url})
    assert f"level 1 primary: {c.staff.email}" in after.stdout
    assert "overrides: none current or upcoming" in after.stdout


async def _audit(c: Console) -> list[AuditEntry]:
    async with c.db.reading() as session:
        return await entries(session)


async def test_bad_override_input_is_refused_beside_its_field_and_nothing_is_stored(
    c: Console,
) -> None:
    good = {
        "person": c.staff.email,
        "role": "backup",
        "starts": "2026-11-26T08:00",
        "ends": "2026-11-26T18:00",
    }
    cases = [
        ({"person": ""}, "person", "Choose the member of staff who covers"),
        ({"person": "nobody@example.org"}, "person", "nobody@example.org is not a member of staff"),
        ({"person": c.member.email}, "person", "is not a member of staff in the directory"),
        ({"person": "x" * 300 + "@example.org"}, "person", "at most 254 characters"),
        ({"role": "fallback"}, "role", "Role must be primary or backup, not &#39;fallback&#39;"),
        ({"role": ""}, "role", "Role must be primary or backup"),
        ({"ends": "2026-11-26T07:00"}, "ends", "The override must end after it starts"),
        ({"ends": "2026-11-26T08:00"}, "ends", "The override must end after it starts"),
        ({"starts": "tomorrow"}, "starts", "&#39;tomorrow&#39; is not a time like"),
        ({"ends": "2026-13-45T99:00"}, "ends", "is not a time like 2026-11-23T14:30"),
        ({"starts": ""}, "starts", "A time is needed"),
        ({"starts": "0001-01-01T00:00"}, "starts", "is not a time like"),
        ({"ends": "2027-03-01T08:00"}, "ends", "An override lasts at most 92 days"),
    ]
    async with await c.signed_in(c.admin) as http:
        csrf = c.csrf((await http.get(PAGE)).text)
        for change, field, message in cases:
            sent = {**good, **change}
            answer = await http.post(ADD, data={"csrf": csrf, **sent})
            assert answer.status_code == 400, change
            error = re.search(rf'<p class="field-error" id="err-{field}">([^<]*)</p>', answer.text)
            assert error is not None and message in error.group(1), (change, answer.text[-3000:])
            assert f'id="f-{field}" name="{field}" required aria-invalid="true"' in answer.text
            if field in ("starts", "ends") and sent[field]:
                assert f'value="{sent[field]}"' in answer.text  # kept as typed
        # Good again: stored once.
        assert (await http.post(ADD, data={"csrf": csrf, **good})).status_code == 303
    (row,) = await overrides(c.db)
    assert (row.person_id, row.role) == (c.staff.id, "backup")
    assert [e.action for e in await _audit(c)] == ["rota override add"]


async def test_staff_cannot_change_overrides_and_forms_need_their_csrf_token(c: Console) -> None:
    async with c.db.session() as session:
        row = await add_override(
            session, c.staff.email, "primary", START + timedelta(days=1), START + timedelta(days=2)
        )
        row_id = row.id
    data = {
        "person": c.admin.email,
        "role": "primary",
        "starts": "2026-11-26T08:00",
        "ends": "2026-11-26T18:00",
    }
    async with await c.signed_in(c.staff) as http:
        csrf = c.csrf((await http.get(PAGE)).text)
        add = await http.post(ADD, data={"csrf": csrf, **data})
        remove = await http.post(REMOVE, data={"csrf": csrf, "override": str(row_id)})
        assert (add.status_code, remove.status_code) == (403, 403)
        assert "Only an admin can do this" in add.text
    async with await c.signed_in(c.admin) as http:
        csrf = c.csrf((await http.get(PAGE)).text)
        refused = [
            await http.post(ADD, data=data),
            await http.post(ADD, data={"csrf": "x" * 43, **data}),
            await http.post(
                ADD, data={"csrf": csrf, **data}, headers={"origin": "https://evil.test"}
            ),
            await http.post(REMOVE, data={"override": str(row_id)}),
            await http.post(REMOVE, data={"csrf": "", "override": str(row_id)}),
        ]
        assert [r.status_code for r in refused] == [403] * 5
        assert all("did not come from the console" in r.text for r in refused)
    assert [o.id for o in await overrides(c.db)] == [row_id]
    assert await count(c.db, AuditEntry) == 0


async def test_without_a_session_or_with_a_forged_cookie_nothing_is_shown_or_changed(
    c: Console,
) -> None:
    page = await c.http.get(PAGE)
    assert page.status_code == 303 and page.headers["location"] == "/console/signin"
    data = {"person": c.admin.email, "role": "primary", "starts": "2026-11-26T08:00"}
    assert (await c.http.post(ADD, data={**data, "ends": "2026-11-26T18:00"})).status_code == 403
    assert (await c.http.post(REMOVE, data={"override": "1"})).status_code == 403
    async with c.client() as forged:
        forged.cookies.set(COOKIE, "made-up.signature", domain="hotline.test", path="/console")
        assert (await forged.get(PAGE)).headers["location"] == "/console/signin"
        assert (await forged.post(ADD, data={"csrf": "x"})).status_code == 403
    assert await count(c.db, RotaOverride) == 0


async def test_an_admin_removes_overrides_once_and_it_is_audited(c: Console) -> None:
    async with c.db.session() as session:
        later = await add_override(
            session, c.admin.email, "backup", START + timedelta(days=1), START + timedelta(days=2)
        )
        running = await add_override(
            session,
            c.admin.email,
            "primary",
            START - timedelta(hours=1),
            START + timedelta(hours=2),
        )
        ids = later.id, running.id
    async with await c.signed_in(c.admin) as http:
        page = (await http.get(PAGE)).text
        assert page.count('name="override" value=') == 2
        csrf = c.csrf(page)
        removed = await http.post(REMOVE, data={"csrf": csrf, "override": str(ids[0])})
        assert removed.status_code == 303 and removed.headers["location"] == f"{PAGE}?done=removed"
        assert "Override removed." in (await http.get(removed.headers["location"])).text
        again = await http.post(REMOVE, data={"csrf": csrf, "override": str(ids[0])})
        assert again.status_code == 400
        assert f"There is no override {ids[0]}: it was removed already" in again.text
        assert "Nothing changed." in again.text
        bad = await http.post(REMOVE, data={"csrf": csrf, "override": "one"})
        assert bad.status_code == 400 and "could not be read; nothing changed" in bad.text
        huge = await http.post(REMOVE, data={"csrf": csrf, "override": "9" * 15})
        assert huge.status_code == 400 and f"There is no override {'9' * 15}" in huge.text
        # One already running ends now: who was on duty before stays on record.
        c.clock.advance(minutes=5)
        ended = await http.post(REMOVE, data={"csrf": csrf, "override": str(ids[1])})
        assert ended.headers["location"] == f"{PAGE}?done=ended"
        page = (await http.get(ended.headers["location"])).text
        assert "Override ended now" in page and "No current or upcoming overrides." in page
        assert f"Primary:</span> {c.staff.name}</li>" in section(page, "On duty now")
        late = await http.post(REMOVE, data={"csrf": csrf, "override": str(ids[1])})
        assert late.status_code == 400 and "has ended already" in late.text
    (kept,) = await overrides(c.db)
    assert kept.id == ids[1] and kept.ends_at == START + timedelta(minutes=5)
    assert kept.starts_at == START - timedelta(hours=1)
    audit = [e for e in await _audit(c) if e.action == "rota override remove"]
    assert [(e.subject, e.actor_id, e.subject_person_id) for e in audit] == [
        (f"override {ids[1]}", c.admin.id, c.admin.id),
        (f"override {ids[0]}", c.admin.id, c.admin.id),
    ]
    assert audit[1].detail == (
        f"removed before it started: {c.admin.name} ({c.admin.email}) is backup from "
        "Thu 26 Nov 2026 10:00 to Fri 27 Nov 2026 10:00 GMT"
    )
    assert audit[0].detail.startswith("ended early at Wed 25 Nov 2026 10:05: ")


async def test_hotline_rota_override_and_unoverride_from_fresh_processes(
    c: Console, db_url: str
) -> None:
    env = {"DATABASE_URL": db_url}
    start, end = "2099-01-05T08:00", "2099-01-05T18:00"
    added = run_hotline("rota", "override", c.admin.email, "--from", start, "--to", end, env=env)
    assert added.returncode == 0, added.stderr
    (row,) = await overrides(c.db)
    assert added.stdout.startswith(
        f"override {row.id}: {c.admin.name} ({c.admin.email}) is primary"
    )
    shown = run_hotline("rota", "show", env=env)
    assert f"override {row.id}: {c.admin.email} primary from Mon 05 Jan 2099 08:00" in shown.stdout
    too_long = run_hotline(
        "rota", "override", c.admin.email, "--from", start, "--to", "2099-06-05T08:00", env=env
    )
    assert too_long.returncode == 1 and "at most 92 days" in too_long.stderr
    backwards = run_hotline(
        "rota", "override", c.admin.email, "--from", end, "--to", start, env=env
    )
    assert backwards.returncode == 1
    assert backwards.stderr.strip() == "the override must end after it starts"
    gone = run_hotline("rota", "unoverride", str(row.id), env=env)
    assert gone.returncode == 0, gone.stderr
    assert gone.stdout.startswith(f"override {row.id} removed: {c.admin.name}")
    again = run_hotline("rota", "unoverride", str(row.id), env=env)
    assert again.returncode == 1 and again.stdout == ""
    assert again.stderr.strip() == (
        f"there is no override {row.id}: it was removed already, or never existed"
    )
    assert await count(c.db, RotaOverride) == 0
    audit = await _audit(c)
    assert [(e.action, e.actor_id, e.via) for e in audit] == [
        ("rota override remove", None, "cli"),
        ("rota override add", None, "cli"),
    ]
    async with c.db.session() as session:  # ended long ago: kept
        past = await add_override(
            session,
            c.staff.email,
            "primary",
            datetime(2020, 1, 6, 9, tzinfo=UTC),
            datetime(2020, 1, 6, 17, tzinfo=UTC),
        )
        past_id = past.id
    kept = run_hotline("rota", "unoverride", str(past_id), env=env)
    assert kept.returncode == 1 and "has ended already" in kept.stderr
    assert await count(c.db, RotaOverride) == 1


async def test_the_page_works_without_a_rota(c: Console) -> None:
    async with c.db.session() as session:
        for version in (await session.scalars(select(RotaVersion))).all():
            await session.delete(version)
    async with await c.signed_in(c.admin) as http:
        page = await http.get(PAGE)
    assert page.status_code == 200 and "No rota imported yet" in page.text
    assert "Add override" in page.text and "On duty now" not in page.text


def test_a_day_is_cut_where_its_duty_changes_with_the_clock_changes_counted() -> None:
    """The grid's pure helper (bot/escalation/rota.py day_stretches) on the example rota: an
    override at odd minutes cuts Monday there; the day the clocks go back lasts 25 hours."""
    rota = parse_rota(DATA / "example" / "rota.yaml")
    london = ZoneInfo("Europe/London")
    cover = Override(
        "ruth.green@partnership.example.org",
        "primary",
        datetime(2026, 11, 23, 10, 5, tzinfo=london).astimezone(UTC),
        datetime(2026, 11, 23, 10, 50, tzinfo=london).astimezone(UTC),
    )
    monday = day_stretches(rota, [cover], date(2026, 11, 23))
    assert [(s.label, s.duty.in_hours, s.duty.primary, s.overridden) for s in monday] == [
        ("00:00-08:00", False, None, frozenset()),
        ("08:00-10:05", True, "sam.adeyemi@partnership.example.org", frozenset()),
        ("10:05-10:50", True, "ruth.green@partnership.example.org", frozenset({"primary"})),
        ("10:50-18:00", True, "sam.adeyemi@partnership.example.org", frozenset()),
        ("18:00-24:00", False, None, frozenset()),
    ]
    assert all(s.gap is None for s in monday)
    assert monday[2].holds(cover.starts_at) and not monday[2].holds(cover.ends_at)
    unreachable = day_stretches(rota, [], date(2026, 11, 23), lambda email: False)
    assert [s.gap for s in unreachable][1] == (
        "primary sam.adeyemi@partnership.example.org is not reachable (no linked chat identity)"
    )
    (sunday,) = day_stretches(rota, [], date(2026, 10, 25))
    assert sunday.ends_at - sunday.starts_at == timedelta(hours=25)
    (christmas,) = day_stretches(rota, [], date(2026, 12, 25))
    assert christmas.closure is not None and christmas.closure.note == "Christmas Day"
    assert not christmas.duty.in_hours and christmas.gap is None
