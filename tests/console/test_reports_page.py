"""The console's reports page (/console/reports) and its CSV (/console/reports.csv): the same
figures as `hotline report --by week --by category --by school` (run in a fresh process on the
same database), a bad period refused beside its field, CSV formula injection guarded, who may
see it (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.console.security import COOKIE, sign_session
from bot.escalation.reports import by_week, period_of, safe_cell
from bot.store import Database
from bot.store.models import HotlineRequest, Person, RequestKind, RequestStatus, Role, School
from tests.conftest import run_hotline
from tests.console.conftest import Console

LONDON = ZoneInfo("Europe/London")
FIGURES = (
    r"(\d+)</td><td>(\d+)</td><td>(\d+)</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td>"
    r"<td>([^<]*)</td>"
)
ROW = re.compile(r'<tr><th scope="row">(.*?)</th><td>' + FIGURES + "</tr>")
CLI_LINE = re.compile(
    r"^  (.+): (\d+) \(emergency (\d+), support (\d+)\); acknowledge median (\S+)(?: min)?, "
    r"95th percentile (\S+)(?: min)?; resolve median (\S+)(?: min)?, "
    r"95th percentile (\S+)(?: min)?$"
)
DEFAULT_FROM, DEFAULT_TO = "2026-09-07", "2026-11-25"  # 12 weeks back from Wed 25 Nov 2026

Figures = tuple[str, ...]


async def school_with_member(db: Database, name: str, code: str) -> Person:
    async with db.session() as session:
        school = School(code=code, name=name, phase="primary")
        session.add(school)
        await session.flush()
        person = Person(
            email=f"{code}@example.org",
            name=f"Member of {code}",
            role=Role.MEMBER,
            school_id=school.id,
            active=True,
        )
        session.add(person)
    return person


async def add_request(
    db: Database,
    person: Person,
    created: datetime,
    *,
    kind: RequestKind = RequestKind.EMERGENCY,
    category: str | None = "premises",
    ack: float | None = None,
    resolve: float | None = None,
) -> None:
    """A request made at `created`, acknowledged `ack` and resolved `resolve` minutes later."""
    async with db.session() as session:
        school_id = (await session.get_one(Person, person.id)).school_id
        session.add(
            HotlineRequest(
                kind=kind,
                status=(
                    RequestStatus.RESOLVED
                    if resolve is not None
                    else RequestStatus.ACKNOWLEDGED
                    if ack is not None
                    else RequestStatus.OPEN
                ),
                person_id=person.id,
                school_id=school_id,
                channel="console",
                chat_id=person.email,
                category=category if kind is RequestKind.EMERGENCY else None,
                text="private words of the member",
                level=1,
                created_at=created,
                acknowledged_at=created + timedelta(minutes=ack) if ack is not None else None,
                resolved_at=created + timedelta(minutes=resolve) if resolve is not None else None,
            )
        )


def at(day: str, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02}:{minute:02}").replace(tzinfo=UTC)


async def seed(c: Console) -> tuple[Person, Person]:
    """Known requests: two weeks with requests inside the default period, one before it."""
    oak = await school_with_member(c.db, "Oak Primary", "oak")
    evil = await school_with_member(c.db, '=HYPERLINK("http://x.example")', "evil")
    await add_request(c.db, oak, at("2026-11-17", 9), ack=4, resolve=30)
    await add_request(c.db, oak, at("2026-11-18"), category="media", ack=10)
    await add_request(
        c.db, c.member, at("2026-11-19"), kind=RequestKind.SUPPORT, ack=60, resolve=120
    )
    await add_request(c.db, evil, at("2026-11-23", 8), ack=2, resolve=20)
    await add_request(c.db, evil, at("2026-11-24"), category="safeguarding")
    await add_request(c.db, oak, at("2026-11-25", 9, 59), category="media")  # today: included
    await add_request(c.db, oak, at("2026-08-01"), ack=1, resolve=1)  # before the default period
    return oak, evil


def table(text: str, table_id: str) -> dict[str, Figures]:
    """A figures table of the page: label -> (total, emergencies, support, 4 times)."""
    found = re.search(f'<table id="{table_id}".*?</table>', text, re.S)
    assert found is not None, table_id
    rows: dict[str, Figures] = {}
    for label, *cells in ROW.findall(found.group(0)):
        when = re.search(r'datetime="([^"]+)"', label)
        key = when.group(1) if when else html.unescape(label)
        rows[key] = tuple(cell.removesuffix(" min") for cell in cells)
    return rows


def cli_groups(printed: str) -> dict[str, dict[str, Figures]]:
    """`hotline report --by ...`'s groups: "week" / "category" / "school" -> label -> figures."""
    groups: dict[str, dict[str, Figures]] = {}
    current: dict[str, Figures] = {}
    for line in printed.splitlines():
        if line.startswith("per "):
            current = groups.setdefault(line.removeprefix("per ").rstrip(":"), {})
        elif (found := CLI_LINE.match(line)) is not None:
            label, *cells = found.groups()
            current[label] = tuple(cells)
    return groups


def csv_groups(text: str) -> dict[str, dict[str, Figures]]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    assert header[:3] == ["group", "label", "requests"]
    groups: dict[str, dict[str, Figures]] = {}
    for group, label, *cells in reader:
        groups.setdefault(group, {})[label] = tuple(cell or "-" for cell in cells)
    return groups


async def test_the_page_and_the_csv_show_the_figures_of_hotline_report(
    c: Console, db_url: str
) -> None:
    await seed(c)
    printed = run_hotline(
        "report",
        "--from",
        DEFAULT_FROM,
        "--to",
        DEFAULT_TO,
        "--by",
        "week",
        "--by",
        "category",
        "--by",
        "school",
        env={"DATABASE_URL": db_url, "TIMEZONE": "Europe/London"},
    )
    assert printed.returncode == 0, printed.stderr
    cli = cli_groups(printed.stdout)
    assert set(cli) == {"week", "category", "school"} and len(cli["week"]) == 12
    assert f"Hotline requests {DEFAULT_FROM} to {DEFAULT_TO}: 6" in printed.stdout
    overall = re.search(
        r"time to acknowledge: median (\S+) min, 95th percentile (\S+) min\n"
        r"time to resolve: median (\S+) min, 95th percentile (\S+) min",
        printed.stdout,
    )
    assert overall is not None and overall.groups() == ("7.0", "60.0", "30.0", "120.0")

    async with await c.signed_in(c.staff) as http:
        page = await http.get("/console/reports")  # the default period: the same 12 weeks
        assert page.status_code == 200
        assert table(page.text, "table-weeks") == cli["week"]
        assert table(page.text, "table-categories") == cli["category"]
        assert table(page.text, "table-schools") == cli["school"]
        assert "median 7.0 min, 95th percentile 60.0 min" in page.text
        assert "median 30.0 min, 95th percentile 120.0 min" in page.text
        link = re.search(r'<a href="([^"]+)" download>Download CSV</a>', page.text)
        assert link is not None
        assert html.unescape(link.group(1)) == (
            f"/console/reports.csv?from={DEFAULT_FROM}&to={DEFAULT_TO}"
        )
        download = await http.get(html.unescape(link.group(1)))
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    assert download.headers["content-disposition"] == (
        f'attachment; filename="hotline-report-{DEFAULT_FROM}-to-{DEFAULT_TO}.csv"'
    )
    rows = csv_groups(download.text)
    assert rows["week"] == cli["week"] and rows["category"] == cli["category"]
    assert rows["school"] == {safe_cell(k): v for k, v in cli["school"].items()}
    assert rows["period"] == {
        f"{DEFAULT_FROM} to {DEFAULT_TO}": ("6", "5", "1", "7.0", "60.0", "30.0", "120.0")
    }


async def test_the_figures_of_known_requests(c: Console) -> None:
    await seed(c)
    async with await c.signed_in(c.staff) as http:
        page = await http.get("/console/reports")
    text = page.text
    weeks = table(text, "table-weeks")
    assert next(iter(weeks)) == DEFAULT_FROM and list(weeks)[-1] == "2026-11-23"
    assert weeks["2026-11-16"] == ("3", "2", "1", "10.0", "60.0", "75.0", "120.0")
    assert weeks["2026-11-23"] == ("3", "3", "0", "2.0", "2.0", "20.0", "20.0")
    assert weeks["2026-10-05"] == ("0", "0", "0", "-", "-", "-", "-")  # a quiet week shown
    assert table(text, "table-categories") == {
        "premises": ("2", "2", "0", "3.0", "4.0", "25.0", "30.0"),
        "media": ("2", "2", "0", "10.0", "10.0", "-", "-"),
        "support": ("1", "0", "1", "60.0", "60.0", "120.0", "120.0"),
        "safeguarding": ("1", "1", "0", "-", "-", "-", "-"),
    }
    schools = table(text, "table-schools")
    assert schools["Oak Primary"][:3] == ("3", "3", "0")
    assert schools['=HYPERLINK("http://x.example")'][:3] == ("2", "2", "0")
    assert "private words of the member" not in text
    # The charts: inline SVG named by title and description, values in words, no inline style.
    assert text.count('role="img"') == 2
    assert '<title id="chart-weeks-title">Requests per week</title>' in text
    assert 'aria-labelledby="chart-ack-title chart-ack-desc"' in text
    assert "<title>safeguarding: none acknowledged</title>" in text
    assert "<title>16 Nov 2026: emergency 2, support 1</title>" in text
    assert "style=" not in text and "<style" not in text
    assert "style-src 'self'" in page.headers["content-security-policy"]


async def test_a_chosen_period_and_a_quiet_one(c: Console) -> None:
    await seed(c)
    async with await c.signed_in(c.admin) as http:
        summer = await http.get(
            "/console/reports", params={"from": "2026-08-01", "to": "2026-08-01"}
        )
        assert summer.status_code == 200
        assert table(summer.text, "table-weeks") == {
            "2026-07-27": ("1", "1", "0", "1.0", "1.0", "1.0", "1.0")
        }
        quiet = await http.get(
            "/console/reports", params={"from": "2025-01-06", "to": "2025-01-19"}
        )
        assert quiet.status_code == 200
        assert "No requests in this period" in quiet.text
        assert len(table(quiet.text, "table-weeks")) == 2
        assert table(quiet.text, "table-categories") == {}
        csv_text = (
            await http.get(
                "/console/reports.csv", params={"from": "2025-01-06", "to": "2025-01-19"}
            )
        ).text
    assert list(csv_groups(csv_text)) == ["period", "week"]


@pytest.mark.parametrize(
    ("params", "field", "said"),
    [
        ({"from": "yesterday"}, "from", "From is not a date like 2026-09-01."),
        ({"from": "2026-02-30"}, "from", "From is not a date like 2026-09-01."),
        ({"to": ""}, "to", "To is needed: a date like 2026-09-01."),
        ({"from": "2026-11-02", "to": "2026-11-01"}, "to", "To must be on or after From."),
        (
            {"from": "9999-12-30", "to": "9999-12-31"},
            "from",
            "From must be a date between 2000 and 2999.",
        ),
        ({"from": "2000-01-01", "to": "2026-01-01"}, "to", "The period can be at most 5 years"),
        ({"to": "2026-11-25T10:00"}, "to", "To is not a date like 2026-09-01."),
    ],
)
async def test_a_bad_period_is_refused_beside_its_field(
    c: Console, params: dict[str, str], field: str, said: str
) -> None:
    async with await c.signed_in(c.staff) as http:
        page = await http.get("/console/reports", params=params)
        download = await http.get("/console/reports.csv", params=params)
    assert page.status_code == 400
    error = re.search(f'<p class="field-error" id="err-{field}">([^<]*)</p>', page.text)
    assert error is not None and html.unescape(error.group(1)).startswith(said)
    assert f'id="f-{field}" name="{field}" required aria-invalid="true"' in page.text
    assert "Download CSV" not in page.text and 'role="img"' not in page.text
    assert download.status_code == 400 and said in download.text
    assert "content-disposition" not in download.headers


async def test_csv_cells_a_spreadsheet_would_run_are_defused(c: Console) -> None:
    for n, name in enumerate(["=1+2", "+44 Academy", "-minus school", "@SUM(A1)", "Plain & <Co>"]):
        person = await school_with_member(c.db, name, f"s{n}")
        await add_request(c.db, person, at("2026-11-24"), ack=5)
    async with await c.signed_in(c.staff) as http:
        download = await http.get("/console/reports.csv")
        page = await http.get("/console/reports")
    schools = set(csv_groups(download.text)["school"])
    assert schools == {"'=1+2", "'+44 Academy", "'-minus school", "'@SUM(A1)", "Plain & <Co>"}
    assert set(table(page.text, "table-schools")) == {
        "=1+2",
        "+44 Academy",
        "-minus school",
        "@SUM(A1)",
        "Plain & <Co>",
    }
    assert "Plain &amp; &lt;Co&gt;" in page.text and "<Co>" not in page.text
    assert safe_cell("\tx") == "'\tx" and safe_cell("a=b") == "a=b"


async def test_who_may_see_the_reports(c: Console) -> None:
    for path in ("/console/reports", "/console/reports.csv"):
        refused = await c.http.get(path)  # no session
        assert refused.status_code == 303 and refused.headers["location"] == "/console/signin"
        async with c.client() as browser:  # a forged cookie
            browser.cookies.set(
                COOKIE,
                sign_session(b"another-deployment-secret-0123456789", "made-up-session-id"),
                domain="hotline.test",
                path="/console",
            )
            assert (await browser.get(path)).status_code == 303
    for person in (c.staff, c.admin):
        async with await c.signed_in(person) as http:
            page = await http.get("/console/reports")
            assert page.status_code == 200 and 'aria-current="page">Reports' in page.text
            assert (await http.get("/console/reports.csv")).status_code == 200
            c.clock.advance(hours=12)  # the session has expired
            assert (await http.get("/console/reports.csv")).status_code == 303
            c.clock.advance(hours=-12)
    async with await c.signed_in(c.staff) as http:
        assert (await http.post("/console/reports", data={"csrf": "x"})).status_code == 405


def test_weeks_start_on_monday_in_the_partnerships_timezone() -> None:
    start, end = period_of(date(2026, 10, 25), date(2026, 10, 25), LONDON)  # clocks go back
    assert end - start == timedelta(hours=25)
    assert start == datetime(2026, 10, 24, 23, 0, tzinfo=UTC)
    # Sunday 29 March 2026, 23:30 UTC is Monday 00:30 in London: the new week.
    start, end = period_of(date(2026, 3, 23), date(2026, 4, 5), LONDON)
    late = HotlineRequest(
        kind=RequestKind.SUPPORT, created_at=datetime(2026, 3, 29, 23, 30, tzinfo=UTC)
    )
    weeks = by_week([late], start, end, LONDON)
    assert [(w.label, w.total) for w in weeks] == [("2026-03-23", 0), ("2026-03-30", 1)]


async def test_hotline_report_without_by_prints_what_it_always_did(c: Console, db_url: str) -> None:
    await seed(c)
    env = {"DATABASE_URL": db_url, "TIMEZONE": "Europe/London"}
    printed = run_hotline("report", "--from", DEFAULT_FROM, "--to", DEFAULT_TO, env=env)
    assert printed.returncode == 0, printed.stderr
    lines = printed.stdout.splitlines()
    assert lines[:5] == [
        f"Hotline requests {DEFAULT_FROM} to {DEFAULT_TO}: 6",
        "time to acknowledge: median 7.0 min, 95th percentile 60.0 min",
        "time to resolve: median 30.0 min, 95th percentile 120.0 min",
        "escalation: no request went past its first step",
        "by category: premises 2, media 2, support 1, safeguarding 1",
    ]
    assert len(lines) == 6
    assert lines[5].startswith('by school: Oak Primary 3, =HYPERLINK("http://x.example") 2, ')
    bad = run_hotline(
        "report", "--from", DEFAULT_FROM, "--to", DEFAULT_TO, "--by", "month", env=env
    )
    assert bad.returncode == 2 and "invalid choice: 'month'" in bad.stderr
