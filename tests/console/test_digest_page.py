"""The console's digest page (bot/console/digest_page.py): the next run previewed as a member
(the same text as `hotline digest preview`), the runs with their counts, and news and events
added, edited and withdrawn with build_record's checks, through the real web app and database
(SQLite and PostgreSQL); `hotline news|events list|withdraw` from a fresh process."""

from __future__ import annotations

import asyncio
import html
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from bot.app import digest_config
from bot.console.security import COOKIE, sign_session
from bot.digest.delivery import send_run
from bot.digest.preview import next_run_week, preview
from bot.digest.runs import status
from bot.digest.subscriptions import subscribe
from bot.digest.weekly import prepare_week
from bot.directory.audit import entries
from bot.store import Database, upgrade
from bot.store.models import (
    AuditEntry,
    ContentItem,
    ContentKind,
    OutboundMessage,
    Person,
    Role,
)
from bot.teaching.live import live_of
from tests.conftest import DATA, run_hotline
from tests.console.conftest import SECRET, START, Console
from tests.factories import make_person
from tests.fakes import RecordingSender

PAGE = "/console/digest"
PRE = re.compile(r'<pre class="digest-text">(.*?)</pre>', re.S)


async def count(db: Database, model: type) -> int:
    async with db.session() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def subscribed(c: Console, person: Person) -> Person:
    async with c.db.session() as session:
        row = await session.get(Person, person.id)
        assert row is not None
        await subscribe(session, row)
    return person


async def items(c: Console) -> list[ContentItem]:
    async with c.db.session() as session:
        return list(await session.scalars(select(ContentItem).order_by(ContentItem.id)))


async def audit(c: Console, action: str) -> list[AuditEntry]:
    async with c.db.session() as session:
        return await entries(session, action=action)


async def domain_preview(c: Console, person: Person) -> str | None:
    config = digest_config(c.bot.settings)
    week = next_run_week(config, c.clock())
    shown = await preview(c.db, live_of(c.bot.deps.kb).base, config, person.email, week)
    assert shown is not None
    return shown.reply.text if shown.reply else None


def previewed(text: str) -> str:
    found = PRE.search(text)
    assert found is not None, "no digest text on the page"
    return html.unescape(found.group(1))


def error_of(text: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="err-{field}">(.*?)</p>', text, re.S)
    assert found is not None, f"no message beside {field}"
    return html.unescape(found.group(1))


def news_form(csrf: str, **fields: str) -> dict[str, str]:
    values = {"csrf": csrf, "news_title": "Snow closure guidance", "news_text": "Read it first."}
    values.update(fields)
    return values


async def add_news(http: httpx.AsyncClient, c: Console, **fields: str) -> httpx.Response:
    page = await http.get(PAGE)
    return await http.post(f"{PAGE}/news", data=news_form(c.csrf(page.text), **fields))


async def test_the_preview_as_a_member_is_the_domain_preview_line_for_line(c: Console) -> None:
    await subscribed(c, c.member)
    assert "News added" in await c.chat(
        c.staff, "/news Boiler inspections | Book yours by <Friday>."
    )
    expected = await domain_preview(c, c.member)
    assert expected is not None and "Boiler inspections" in expected and "\n" in expected

    async with await c.signed_in(c.staff) as http:
        page = await http.get(PAGE)
        assert page.status_code == 200
        assert '<label for="f-as">Preview as</label>' in page.text
        option = re.search(rf'<option value="{c.member.id}">([^<]*)</option>', page.text)
        assert option is not None and option.group(1).startswith(c.member.name + ", School ")
        assert ">Preview</button>" in page.text and "week of 30 Nov 2026" in page.text
        assert c.staff.name + " (staff" not in page.text  # not subscribed: not offered

        shown = await http.get(PAGE, params={"as": str(c.member.id)})
        assert shown.status_code == 200
        assert previewed(shown.text) == expected  # escaped, line breaks kept
        assert "&lt;Friday&gt;" in shown.text and "<Friday>" not in shown.text
        assert f"Member digest for {c.member.name}" in shown.text

        for bad in ("999999", "x", str(c.staff.id)):  # nobody, nonsense, not subscribed
            refused = await http.get(PAGE, params={"as": bad})
            assert refused.status_code == 400, bad
            assert "Choose someone from the list" in error_of(refused.text, "as")
            assert 'aria-invalid="true" aria-describedby="err-as"' in refused.text


async def test_a_preview_with_nothing_new_says_so(c: Console) -> None:
    await subscribed(c, c.member)
    assert await domain_preview(c, c.member) is None
    async with await c.signed_in(c.admin) as http:
        shown = await http.get(PAGE, params={"as": str(c.member.id)})
    assert shown.status_code == 200 and '<pre class="digest-text">' not in shown.text
    assert "Nothing to send: no news, events or FAQ changes for them this week" in shown.text


async def test_adding_news_and_an_event_stores_them_audits_and_they_appear_in_the_preview(
    c: Console,
) -> None:
    await subscribed(c, c.member)
    async with await c.signed_in(c.staff) as http:
        added = await add_news(http, c, news_link="https://example.org/snow")
        assert added.status_code == 303
        assert added.headers["location"] == f"{PAGE}?done=news-added#news"
        page = await http.get(PAGE, params={"done": "news-added"})
        csrf = c.csrf(page.text)
        event = await http.post(
            f"{PAGE}/events",
            data={
                "csrf": csrf,
                "event_title": "Maths leads meeting",
                "event_date": "2026-12-02 16:00",
                "event_end": "2026-12-02 17:30",
                "event_location": "Room 4, the Hub",
                "event_phase_primary": "on",
            },
        )
        assert event.status_code == 303, event.text
        shown = await http.get(PAGE, params={"as": str(c.member.id)})

    news, meeting = await items(c)
    assert (news.kind, news.title, news.body) == (
        ContentKind.NEWS,
        "Snow closure guidance",
        "Read it first.",
    )
    assert news.slug == "2026-11-25-snow-closure-guidance" and news.publish_from == START
    assert news.link_url == "https://example.org/snow" and news.created_by_id == c.staff.id
    assert news.source == "console" and news.withdrawn_at is None
    assert (meeting.kind, meeting.location, meeting.phases) == (
        ContentKind.EVENT,
        "Room 4, the Hub",
        "primary",
    )
    assert meeting.starts_at == datetime(2026, 12, 2, 16, 0, tzinfo=UTC)  # London = UTC now
    assert meeting.ends_at == datetime(2026, 12, 2, 17, 30, tzinfo=UTC)

    (entry,) = await audit(c, "news add")
    assert (entry.actor_id, entry.subject, entry.via) == (
        c.staff.id,
        f"news #{news.id} {news.slug}",
        "console",
    )
    assert len(await audit(c, "event add")) == 1

    assert "News item added." in page.text and "Snow closure guidance" in page.text
    assert "Showing" in page.text and "all members" in page.text
    text = previewed(shown.text)
    assert text == await domain_preview(c, c.member)
    assert "Snow closure guidance" in text and "Maths leads meeting" in text

    async with await c.signed_in(c.admin) as http:  # a second add with the same title and day
        assert (await add_news(http, c)).status_code == 303
    assert [i.slug for i in await items(c)][-1] == "2026-11-25-snow-closure-guidance-2"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"news_title": "  "}, "news_title", "missing"),
        ({"news_text": ""}, "news_text", "missing"),
        (
            {"news_date": "24/11/2026"},
            "news_date",
            "'24/11/2026' is not a date like 2026-12-03 or 2026-12-03 16:00",
        ),
        ({"news_title": "x" * 201}, "news_title", "too long (201 characters, at most 200)"),
        ({"news_text": "y" * 1501}, "news_text", "too long (1501 characters, at most 1500)"),
        ({"news_link": "ftp://x"}, "news_link", "'ftp://x' is not an http(s) address"),
        ({"news_link_label": "More"}, "news_link_label", "given without a link"),
        (
            {"news_date": "2026-12-01", "news_until": "2026-11-30"},
            "news_until",
            "not after the start of the publish window",
        ),
    ],
)
async def test_bad_news_is_refused_beside_the_field_and_nothing_is_stored(
    c: Console, fields: dict[str, str], field: str, message: str
) -> None:
    async with await c.signed_in(c.staff) as http:
        refused = await add_news(http, c, **fields)
    assert refused.status_code == 400
    assert error_of(refused.text, field) == message
    assert (
        f'id="f-{field}" name="{field}"' in refused.text and 'aria-invalid="true"' in refused.text
    )
    if field != "news_text":  # what was typed is kept
        assert 'value="Snow closure guidance"' in refused.text or field == "news_title"
    assert await items(c) == [] and await audit(c, "news add") == []


async def test_bad_events_are_refused_with_the_clis_messages(c: Console) -> None:
    async with await c.signed_in(c.staff) as http:
        csrf = c.csrf((await http.get(PAGE)).text)
        cases = [
            (
                {"event_title": "Trip"},
                "event_date",
                "missing (a date like 2026-12-03, or 2026-12-03 16:00)",
            ),
            (
                {"event_title": "Trip", "event_date": "2026-12-03", "event_end": "2026-12-02"},
                "event_end",
                "before the event's date",
            ),
            (
                {"event_title": "Trip", "event_date": "2026-12-03", "event_location": "z" * 201},
                "event_location",
                "too long (at most 200 characters)",
            ),
            (
                {"event_title": "Trip", "event_date": "tomorrow"},
                "event_date",
                "'tomorrow' is not a date like 2026-12-03 or 2026-12-03 16:00",
            ),
        ]
        for fields, field, message in cases:
            refused = await http.post(f"{PAGE}/events", data={"csrf": csrf, **fields})
            assert refused.status_code == 400, fields
            assert error_of(refused.text, field) == message
    assert await items(c) == [] and await count(c.db, AuditEntry) == 0


async def test_editing_shows_the_item_saves_changes_and_audits_them(c: Console) -> None:
    await subscribed(c, c.member)
    async with await c.signed_in(c.staff) as http:
        assert (
            await add_news(http, c, news_date="2026-11-24", news_role_governor="on")
        ).status_code == 303
        (news,) = await items(c)
        path = f"{PAGE}/news/{news.id}"
        form = await http.get(path)
        assert form.status_code == 200
        assert (
            'value="Snow closure guidance"' in form.text
            and "Read it first.</textarea>" in form.text
        )
        assert 'id="f-news_date" name="news_date" required' not in form.text  # Date is optional
        assert 'value="2026-11-24"' in form.text
        assert 'name="news_role_governor" value="on" checked' in form.text
        assert f'name="version" value="{news.content_hash}"' in form.text
        assert ">Save</button>" in form.text and ">Withdraw</button>" in form.text

        same = await http.post(
            path,
            data={
                "csrf": c.csrf(form.text),
                "version": news.content_hash,
                "news_title": "Snow closure guidance",
                "news_text": "Read it first.",
                "news_date": "2026-11-24",
                "news_role_governor": "on",
            },
        )
        assert same.headers["location"] == f"{PAGE}?done=news-unchanged#news"
        assert await audit(c, "news edit") == []

        saved = await http.post(
            path,
            data={
                "csrf": c.csrf(form.text),
                "version": news.content_hash,
                "news_title": "Snow closure: new guidance",
                "news_text": "Read it before Friday.",
                "news_date": "2026-11-24",
            },
        )
        assert saved.status_code == 303
        assert saved.headers["location"] == f"{PAGE}?done=news-saved#news"
        bad = await http.post(
            path,
            data={
                "csrf": c.csrf(form.text),
                "version": (await items(c))[0].content_hash,
                "news_title": "",
                "news_text": "Read it before Friday.",
            },
        )
        assert bad.status_code == 400 and error_of(bad.text, "news_title") == "missing"
        shown = await http.get(PAGE, params={"as": str(c.member.id)})

    (edited,) = await items(c)
    assert (edited.id, edited.slug, edited.title, edited.body, edited.roles) == (
        news.id,
        news.slug,
        "Snow closure: new guidance",
        "Read it before Friday.",
        "",
    )
    (entry,) = await audit(c, "news edit")
    assert entry.actor_id == c.staff.id and entry.subject == f"news #{news.id} {news.slug}"
    assert "Snow closure: new guidance" in previewed(shown.text)


async def test_an_edit_from_a_stale_form_is_refused_and_changes_nothing(c: Console) -> None:
    async with await c.signed_in(c.staff) as staff, await c.signed_in(c.admin) as admin:
        assert (await add_news(staff, c)).status_code == 303
        (news,) = await items(c)
        path = f"{PAGE}/news/{news.id}"
        mine, theirs = await staff.get(path), await admin.get(path)
        first = await admin.post(
            path,
            data={
                "csrf": c.csrf(theirs.text),
                "version": news.content_hash,
                "news_title": "Their title",
                "news_text": "Their text.",
            },
        )
        assert first.status_code == 303
        late = await staff.post(
            path,
            data={
                "csrf": c.csrf(mine.text),
                "version": news.content_hash,
                "news_title": "My title",
                "news_text": "My text.",
            },
        )
        assert late.status_code == 400
        assert "Someone else changed this news item after you opened it" in late.text
        assert 'value="Their title"' in late.text  # the form shows it as it is now
        (now,) = await items(c)
        assert f'name="version" value="{now.content_hash}"' in late.text
        no_version = await staff.post(
            path, data={"csrf": c.csrf(mine.text), "news_title": "Mine", "news_text": "x"}
        )
        assert no_version.status_code == 400
    (stored,) = await items(c)
    assert (stored.title, stored.body) == ("Their title", "Their text.")
    assert [e.actor_id for e in await audit(c, "news edit")] == [c.admin.id]


async def test_withdrawing_takes_an_item_out_of_later_digests_but_not_sent_ones(
    c: Console,
) -> None:
    await subscribed(c, c.member)
    async with await c.signed_in(c.staff) as http:
        assert (await add_news(http, c)).status_code == 303
        assert (await add_news(http, c, news_title="Staffing survey")).status_code == 303
        snow, survey = await items(c)

    # Monday's run goes out with both items.
    c.clock.now = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    await run_the_week(c)
    (sent,) = await outbound_texts(c)
    assert "Snow closure guidance" in sent and "Staffing survey" in sent

    # On Wednesday (a new session: the first one has ended), a news item for the next digest
    # and the survey withdrawn.
    c.clock.now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    async with await c.signed_in(c.staff) as http:
        assert (await add_news(http, c, news_title="Term dates")).status_code == 303
        before = previewed((await http.get(PAGE, params={"as": str(c.member.id)})).text)
        page = await http.get(PAGE)
        withdrawn = await http.post(
            f"{PAGE}/news/{survey.id}/withdraw", data={"csrf": c.csrf(page.text)}
        )
        assert withdrawn.headers["location"] == f"{PAGE}?done=news-withdrawn#news"
        again = await http.post(
            f"{PAGE}/news/{survey.id}/withdraw", data={"csrf": c.csrf(page.text)}
        )
        assert again.headers["location"] == f"{PAGE}?done=news-already#news"
        listed = await http.get(PAGE, params={"done": "news-withdrawn"})
        assert "News item withdrawn." in listed.text and "Withdrawn news (1)" in listed.text
        edit = await http.get(f"{PAGE}/news/{survey.id}")
        assert "in no digest any more" in edit.text and ">Withdraw</button>" not in edit.text

    (stored_survey,) = [i for i in await items(c) if i.id == survey.id]
    assert stored_survey.withdrawn_at == c.clock.now
    assert stored_survey.title == "Staffing survey"  # nothing else changed
    (entry,) = await audit(c, "news withdraw")
    assert entry.actor_id == c.staff.id and entry.subject == f"news #{survey.id} {survey.slug}"
    assert (await outbound_texts(c)) == [sent]  # the digest sent is as it was
    assert "Term dates" in before
    # The next digest would not have carried the survey anyway (sent already); check the
    # domain preview for an item not yet sent, withdrawn from the console, is gone too.
    async with await c.signed_in(c.admin) as http:
        (term,) = [i for i in await items(c) if i.title == "Term dates"]
        page = await http.get(PAGE)
        assert (
            await http.post(f"{PAGE}/news/{term.id}/withdraw", data={"csrf": c.csrf(page.text)})
        ).status_code == 303
        after = await http.get(PAGE, params={"as": str(c.member.id)})
    assert "Term dates" not in after.text.split('<section aria-labelledby="runs-heading">')[0]
    assert await domain_preview(c, c.member) is None
    assert snow.withdrawn_at is None


async def run_the_week(c: Console) -> None:
    config = digest_config(c.bot.settings)
    kb = live_of(c.bot.deps.kb).base
    runs = await prepare_week(
        c.db, kb, config, next_run_week(config, c.clock() - timedelta(days=1)), c.clock()
    )

    async def no_wait(_seconds: float) -> None:
        await asyncio.sleep(0)

    for run in runs:
        senders = {"console": RecordingSender(), "email": RecordingSender(channel="email")}
        await send_run(c.db, run, senders, c.clock, sleep=no_wait)


async def outbound_texts(c: Console) -> list[str]:
    async with c.db.session() as session:
        return [
            r.text
            for r in await session.scalars(select(OutboundMessage).order_by(OutboundMessage.id))
        ]


async def test_the_runs_table_shows_the_counts_of_a_run(c: Console) -> None:
    await subscribed(c, c.member)
    await subscribed(c, await make_person(c.db, name="Nobody Linked", linked=False))
    await subscribed(c, c.staff)
    await c.chat(c.member, "/emergency the boiler has failed in the hall")  # for the staff digest
    async with await c.signed_in(c.admin) as http:
        assert "No digest runs yet." in (await http.get(PAGE)).text
        assert (await add_news(http, c)).status_code == 303
    c.clock.now = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    await run_the_week(c)
    async with await c.signed_in(c.admin) as http:
        page = await http.get(PAGE)
    assert page.status_code == 200
    rows = re.findall(
        r'<tr class="run-(\w+)">\s*<th scope="row">([^<]+)</th>(.*?)</tr>', page.text, re.S
    )
    cells = [
        (status, week, [html.unescape(v) for v in re.findall(r"<td[^>]*>([^<]*)</td>", rest)])
        for status, week, rest in rows
    ]
    assert cells == [
        # the member with no chat account gets it by email
        ("done", "30 Nov 2026", ["member", "✓ done", "2", "2", "0", "0", "0", "0", "0", "0"]),
        ("done", "30 Nov 2026", ["staff", "✓ done", "1", "1", "0", "0", "0", "0", "0", "0"]),
    ]
    member_run, staff_run = await status(c.db, c.clock())  # `hotline digest status`'s figures
    assert (member_run.sent, member_run.no_channel, staff_run.sent) == (2, 0, 1)


async def test_without_a_session_or_a_csrf_token_nothing_happens(c: Console) -> None:
    for path in (PAGE, f"{PAGE}/news/1", f"{PAGE}/events/1"):
        refused = await c.http.get(path)
        assert refused.status_code == 303 and refused.headers["location"] == "/console/signin"
    for path in (f"{PAGE}/news", f"{PAGE}/news/1", f"{PAGE}/news/1/withdraw", f"{PAGE}/events"):
        assert (await c.http.post(path, data={"csrf": "x", "news_title": "T"})).status_code == 403

    async with await c.signed_in(c.staff) as http:
        assert (await add_news(http, c)).status_code == 303
        (news,) = await items(c)
        page = await http.get(PAGE)
        csrf = c.csrf(page.text)
        no_token = news_form("", news_title="Sneaky")
        del no_token["csrf"]
        assert (await http.post(f"{PAGE}/news", data=no_token)).status_code == 403
        assert (await http.post(f"{PAGE}/news", data=news_form("x" * 43))).status_code == 403
        foreign = await http.post(
            f"{PAGE}/news/{news.id}/withdraw",
            data={"csrf": csrf},
            headers={"origin": "https://evil.test"},
        )
        assert foreign.status_code == 403
        assert (await http.post(f"{PAGE}/news/{news.id}/withdraw")).status_code == 403
        edit = await http.post(
            f"{PAGE}/news/{news.id}",
            data={"version": news.content_hash, "news_title": "Changed", "news_text": "x"},
        )
        assert edit.status_code == 403
        # Unknown items, and a news item asked for as an event.
        assert (await http.get(f"{PAGE}/news/999999")).status_code == 404
        assert (await http.get(f"{PAGE}/events/{news.id}")).status_code == 404
        gone = await http.post(f"{PAGE}/events/{news.id}/withdraw", data={"csrf": csrf})
        assert gone.status_code == 404
        missing = await http.post(
            f"{PAGE}/news/999999", data={"csrf": csrf, "news_title": "T", "news_text": "x"}
        )
        assert missing.status_code == 404
        session_id = http.cookies[COOKIE].split(".")[0]

    for forged in (
        f"{session_id}.{'A' * 43}",
        sign_session(b"another-secret-0123456789abcdef", session_id),
    ):
        async with c.client() as browser:
            browser.cookies.set(COOKIE, forged, domain="hotline.test", path="/console")
            assert (await browser.get(PAGE)).status_code == 303
            refused = await browser.post(f"{PAGE}/news/{news.id}/withdraw", data={"csrf": csrf})
            assert refused.status_code == 403

    (stored,) = await items(c)
    assert (stored.title, stored.withdrawn_at) == ("Snow closure guidance", None)
    assert len(await items(c)) == 1 and await audit(c, "news withdraw") == []
    assert SECRET  # the bench's secret signs the real cookies


async def test_admins_may_do_it_too_and_members_never_get_in(c: Console) -> None:
    async with await c.signed_in(c.admin) as http:
        assert (await http.get(PAGE)).status_code == 200
        assert (await add_news(http, c)).status_code == 303
    assert (await audit(c, "news add"))[0].actor_id == c.admin.id
    path = await c.link(c.staff)
    async with c.db.session() as session:
        demoted = await session.get(Person, c.staff.id)
        assert demoted is not None
        demoted.role = Role.MEMBER
    assert (await c.http.get(path)).status_code == 403


def first_item(listing: str) -> tuple[str, str]:
    """The number and id of the first line of `news list` / `events list`."""
    found = re.match(r"\s*(\d+)  .+?  ([a-z0-9-]+)  ", listing)
    assert found is not None, listing
    return found.group(1), found.group(2)


def test_cli_lists_ids_withdraws_by_number_or_id_and_a_new_import_keeps_it_withdrawn(
    example_db: Path,
) -> None:
    assert run_hotline("news", "import", str(DATA / "example" / "news.yaml")).returncode == 0
    assert run_hotline("events", "import", str(DATA / "example" / "events.yaml")).returncode == 0
    listed = run_hotline("news", "list")
    assert listed.returncode == 0, listed.stderr
    number, slug = first_item(listed.stdout)

    out = run_hotline("news", "withdraw", number)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"news {number} ({slug}): withdrawn: in no digest from now on"
    again = run_hotline("news", "withdraw", slug)
    assert again.stdout.strip() == f"news {number} ({slug}): already withdrawn"
    assert run_hotline("news", "import", str(DATA / "example" / "news.yaml")).returncode == 0
    listing = run_hotline("news", "list").stdout.splitlines()
    line = next(row for row in listing if f"  {slug}  " in row)
    assert " withdrawn " in line and line.lstrip().startswith(f"{number}  ")

    _, event_slug = first_item(run_hotline("events", "list").stdout)
    done = run_hotline("events", "withdraw", event_slug)
    assert done.returncode == 0 and done.stdout.startswith("events ") and "withdrawn" in done.stdout
    unknown = run_hotline("events", "withdraw", "no-such-event")
    assert unknown.returncode == 1 and unknown.stdout == ""
    assert unknown.stderr.strip().splitlines() == [
        "no events item 'no-such-event' (the number or the id `hotline events list` shows)"
    ]


def test_migration_0010_adds_withdrawn_to_a_database_at_0009(unmigrated_url: str) -> None:
    assert upgrade(unmigrated_url, "0009").after == "0009"
    done = upgrade(unmigrated_url, "0010")
    assert (done.before, done.after) == ("0009", "0010")

    async def withdrawn() -> list[object]:
        db = Database(unmigrated_url)
        try:
            async with db.session() as session:
                return list(await session.scalars(select(ContentItem.withdrawn_at)))
        finally:
            await db.dispose()

    assert asyncio.run(withdrawn()) == []


async def test_an_all_day_event_is_edited_as_a_date_and_withdrawn_from_its_page(
    c: Console,
) -> None:
    async with await c.signed_in(c.staff) as http:
        csrf = c.csrf((await http.get(PAGE)).text)
        added = await http.post(
            f"{PAGE}/events",
            data={"csrf": csrf, "event_title": "INSET day", "event_date": "2026-12-04"},
        )
        assert added.headers["location"] == f"{PAGE}?done=events-added#events"
        (event,) = await items(c)
        assert event.all_day and event.publish_from is None
        path = f"{PAGE}/events/{event.id}"
        form = await http.get(path)
        assert re.search(r'name="event_date" required [^>]*value="2026-12-04"', form.text)
        assert '<label for="f-event_location">Location</label>' in form.text
        saved = await http.post(
            path,
            data={
                "csrf": csrf,
                "version": event.content_hash,
                "event_title": "INSET day",
                "event_date": "2026-12-04",
                "event_location": "Every school",
                "event_role_headteacher": "on",
            },
        )
        assert saved.headers["location"] == f"{PAGE}?done=events-saved#events"
        page = await http.get(PAGE, params={"done": "events-saved"})
        assert "Event saved." in page.text and "Every school" in page.text
        assert "Fri 04 Dec 2026" in page.text and "headteacher" in page.text
        out = await http.post(f"{path}/withdraw", data={"csrf": csrf})
        assert out.headers["location"] == f"{PAGE}?done=events-withdrawn#events"
    (stored,) = await items(c)
    assert (stored.location, stored.roles, stored.all_day) == ("Every school", "headteacher", True)
    assert stored.withdrawn_at == START
    assert [len(await audit(c, a)) for a in ("event add", "event edit", "event withdraw")] == [
        1,
        1,
        1,
    ]
