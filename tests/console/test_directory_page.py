"""The console's directory page (bot/console/directory_page.py): the listing and its search,
invitations with their Telegram link and QR code (redeemed in chat), unlinking an account,
marking people inactive and active, the YAML / CSV import with the CLI's all-or-nothing
validation, who may do what, and the `hotline directory unlink / deactivate / activate`
commands from fresh processes. Through the real web app, dispatcher and database."""

from __future__ import annotations

import asyncio
import base64
import html
import io
import re
from dataclasses import replace
from pathlib import Path

import httpx
import segno
from sqlalchemy import func, select

from bot.core import texts
from bot.store import Database
from bot.store.models import AuditEntry, Identity, InviteCode, OutboundMessage, Person, School
from bot.web import build_web_app
from tests.conftest import run_hotline
from tests.console.conftest import SECRET, Console
from tests.factories import make_person

PAGE = "/console/directory"
CODE = re.compile(r"Code: <code>([A-Z0-9]{10})</code>")
QR = re.compile(r'<img src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)" alt="QR code')


async def count(db: Database, model: type) -> int:
    async with db.session() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def audit(db: Database, action: str) -> list[AuditEntry]:
    async with db.session() as session:
        query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        return list((await session.scalars(query)).all())


async def person(db: Database, person_id: int) -> Person:
    async with db.session() as session:
        found = await session.get(Person, person_id)
        assert found is not None
        return found


async def identities(db: Database, person_id: int) -> list[Identity]:
    async with db.session() as session:
        query = select(Identity).where(Identity.person_id == person_id)
        return list((await session.scalars(query)).all())


async def post(http: httpx.AsyncClient, path: str, **fields: str | int) -> httpx.Response:
    """A form's POST from the page, with the page's CSRF token."""
    page = await http.get(PAGE)
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    return await http.post(
        f"{PAGE}/{path}", data={"csrf": token.group(1), **{k: str(v) for k, v in fields.items()}}
    )


def text_of(response: httpx.Response) -> str:
    return html.unescape(response.text)


async def test_staff_see_people_their_accounts_and_digest_and_can_search(c: Console) -> None:
    other = await make_person(
        c.db, name="Zed Quinn", channel="telegram", external_id="7700123456", linked=True
    )
    unlinked = await make_person(c.db, name="Una Linked", linked=False)
    async with await c.signed_in(c.staff) as http:
        page = await http.get(PAGE)
        assert page.status_code == 200
        shown = text_of(page)
        for who in (c.staff, c.admin, c.member, other, unlinked):
            assert who.name in shown and who.email in shown
        assert "telegram <code>…3456</code>" in shown and "7700123456" not in shown
        assert "none linked" in shown and "not subscribed" in shown
        assert "School " in shown and "Schools" in shown  # the member's school, listed
        assert "is not pinged for requests" in shown  # what inactive means, stated
        assert "Only an admin can change the directory." in shown
        for button in (">Invite<", ">Unlink<", ">Mark inactive<", ">Import<"):
            assert button not in shown  # staff may look, not change
        assert '<label for="f-q">Search</label>' in shown

        found = text_of(await http.get(PAGE, params={"q": "ZED qu"}))
        assert other.name in found and c.member.name not in found and "1 person." in found
        by_email = text_of(await http.get(PAGE, params={"q": c.member.email.upper()}))
        assert c.member.name in by_email and other.name not in by_email
        assert "matches this search" in text_of(await http.get(PAGE, params={"q": "%"}))
        assert c.member.school_id is not None
        school = text_of(await http.get(PAGE, params={"school": c.member.school_id}))
        assert c.member.name in school and c.admin.name not in school
        odd = await http.get(PAGE, params={"school": "x", "status": "nonsense", "q": "a" * 500})
        assert odd.status_code == 200

    async with c.client() as nobody:
        assert (await nobody.get(PAGE)).headers["location"] == "/console/signin"


async def test_an_invitation_shows_its_code_link_and_qr_and_the_code_links_in_chat(
    c: Console,
) -> None:
    newcomer = await make_person(c.db, name="Nia Newcomer", linked=False)
    assert await c.chat(newcomer, "hello") == texts.UNKNOWN_SENDER.format(
        phone=c.bot.deps.hotline_phone
    )
    settings = c.bot.settings.model_copy(
        update={"telegram_bot_username": "@HotlineTestBot", "telegram_token": "1:x"}
    )
    app = build_web_app(1_000_000, bot=replace(c.bot, settings=settings), console_secret=SECRET)
    async with (
        await c.signed_in(c.admin) as signed,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://hotline.test",
            cookies=signed.cookies,
        ) as http,
    ):
        listing = (await http.get(PAGE)).text
        assert ">Invite<" in listing and ">Import<" in listing and ">Mark inactive<" in listing
        assert 'style="' not in listing and "<script>" not in listing  # the CSP allows neither
        shown = await post(http, "invite", person=newcomer.id)
        assert shown.status_code == 200, shown.text
        code_found = CODE.search(shown.text)
        assert code_found is not None
        code = code_found.group(1)
        link = f"https://t.me/HotlineTestBot?start={code}"
        assert f'<a href="{link}"' in shown.text and "Invitation for Nia Newcomer" in shown.text
        qr = QR.search(shown.text)
        assert qr is not None
        svg = base64.b64decode(qr.group(1))
        drawn = io.BytesIO()
        segno.make(link, error="m").save(drawn, kind="svg", scale=5, border=4, xmldecl=False)
        assert svg.startswith(b'<svg xmlns="http://www.w3.org/2000/svg"')  # an image on its own
        assert svg.count(b"<path") == drawn.getvalue().count(b"<path") + 1  # and a background
        modules = re.compile(rb'class="qrline"[^>]* d="([^"]+)"')
        ours, theirs = modules.search(svg), modules.search(drawn.getvalue())
        assert ours is not None and theirs is not None
        assert ours.group(1) == theirs.group(1)  # the modules of exactly that link
        assert b"style" not in svg
        assert 'style="' not in shown.text and "<script>" not in shown.text

    async with c.db.session() as session:
        (row,) = (await session.scalars(select(InviteCode))).all()
    assert row.person_id == newcomer.id and code not in row.code_hash and row.used_at is None
    (entry,) = await audit(c.db, "invite")
    assert (entry.actor_id, entry.subject_person_id, entry.subject) == (
        c.admin.id,
        newcomer.id,
        newcomer.email,
    )
    assert code not in entry.detail and entry.ip == "127.0.0.1"

    assert "Nia" in await c.chat(newcomer, f"/start {code}")  # linked, welcomed by name
    (linked,) = await identities(c.db, newcomer.id)
    assert (linked.channel, linked.external_id) == ("console", newcomer.email)
    assert (await person(c.db, newcomer.id)).digest_subscribed
    assert await c.chat(newcomer, "hello") != texts.UNKNOWN_SENDER.format(
        phone=c.bot.deps.hotline_phone
    )
    async with await c.signed_in(c.admin) as http:
        page = text_of(await http.get(PAGE, params={"q": "Nia"}))
        assert "console <code>…" in page and ">subscribed</td>" in page


async def test_without_telegram_the_invitation_says_so_and_inactive_people_get_none(
    c: Console,
) -> None:
    async with await c.signed_in(c.admin) as http:
        shown = await post(http, "invite", person=c.member.id)
        assert shown.status_code == 200
        assert CODE.search(shown.text) is not None and "t.me" not in shown.text
        assert "Telegram is not configured" in shown.text and "<img" not in shown.text

        async with c.db.session() as session:
            gone = await session.get(Person, c.member.id)
            assert gone is not None
            gone.active = False
        refused = await post(http, "invite", person=c.member.id)
        assert refused.status_code == 400
        assert "Amara Okafor is inactive and cannot be invited" in text_of(refused)
        for bad in ("", "abc", "999999"):
            assert (await post(http, "invite", person=bad)).status_code == 400, bad
    assert await count(c.db, InviteCode) == 1
    assert len(await audit(c.db, "invite")) == 1


async def test_an_admin_unlinks_an_account_and_it_is_audited(c: Console) -> None:
    async with c.db.session() as session:
        extra = Identity(person_id=c.member.id, channel="telegram", external_id="5550001234")
        session.add(extra)
    (console_account,) = [i for i in await identities(c.db, c.member.id) if i.channel == "console"]
    assert "HL-" in await c.chat(c.member, "/emergency flood in the boiler room")  # pings staff
    async with await c.signed_in(c.admin) as http:
        assert ">Unlink<" in (await http.get(PAGE)).text
        done = await post(http, "unlink", person=c.member.id, identity=console_account.id)
        assert done.status_code == 303
        assert done.headers["location"].startswith(f"{PAGE}?done=unlinked")
        after = await http.get(done.headers["location"])
        assert "Unlinked a chat account of Amara Okafor" in text_of(after)
        # The same form again (someone else acted first), or another person's account: 400.
        again = await post(http, "unlink", person=c.member.id, identity=console_account.id)
        assert again.status_code == 400 and "not linked to this person" in again.text
        wrong = await post(http, "unlink", person=c.staff.id, identity=extra.id)
        assert wrong.status_code == 400
    (left,) = await identities(c.db, c.member.id)
    assert left.channel == "telegram"

    # An account the outbox has written to (a ping) is unlinked all the same.
    async with c.db.session() as session:
        pinged = await session.scalar(
            select(func.count())
            .select_from(OutboundMessage)
            .where(
                OutboundMessage.person_id == c.staff.id, OutboundMessage.identity_id.is_not(None)
            )
        )
    assert pinged
    (staff_account,) = await identities(c.db, c.staff.id)
    async with await c.signed_in(c.admin) as http:
        done = await post(http, "unlink", person=c.staff.id, identity=staff_account.id)
        assert done.status_code == 303
    assert await identities(c.db, c.staff.id) == []
    assert await c.chat(c.member, "hello") == texts.UNKNOWN_SENDER.format(
        phone=c.bot.deps.hotline_phone
    )
    entry, _staff = await audit(c.db, "unlink")
    assert (entry.actor_id, entry.subject_person_id) == (c.admin.id, c.member.id)
    assert entry.detail.startswith("console account …") and c.member.email not in entry.detail


async def test_marking_a_person_inactive_and_active_again(c: Console) -> None:
    async with await c.signed_in(c.admin) as http:
        page = (await http.get(PAGE)).text
        assert ">Mark inactive<" in page
        off = await post(http, "deactivate", person=c.member.id, q="Amara")
        assert off.status_code == 303 and "q=Amara" in off.headers["location"]
        assert "Amara Okafor is inactive now." in text_of(await http.get(off.headers["location"]))
        assert not (await person(c.db, c.member.id)).active
        assert await c.chat(c.member, "hello") == texts.UNKNOWN_SENDER.format(
            phone=c.bot.deps.hotline_phone
        )
        page = text_of(await http.get(PAGE, params={"status": "inactive"}))
        assert "✗ inactive" in page and ">Mark active<" in page and c.staff.name not in page
        stale = await post(http, "deactivate", person=c.member.id)
        assert stale.status_code == 400 and "already inactive" in stale.text
        self_off = await post(http, "deactivate", person=c.admin.id)
        assert self_off.status_code == 400 and "cannot mark yourself inactive" in self_off.text
        assert (await post(http, "deactivate", person="999999")).status_code == 400

        on = await post(http, "activate", person=c.member.id)
        assert on.status_code == 303
    assert (await person(c.db, c.member.id)).active and (await person(c.db, c.admin.id)).active
    assert await c.chat(c.member, "hello") != texts.UNKNOWN_SENDER.format(
        phone=c.bot.deps.hotline_phone
    )
    assert [e.subject_person_id for e in await audit(c.db, "deactivate")] == [c.member.id]
    assert [e.subject_person_id for e in await audit(c.db, "activate")] == [c.member.id]


GOOD_CSV = """email,name,role,school,school_name,phase
ola.new@northside.example.org,Ola New,member,northside,Northside Primary,primary
{member},Amara Okafor-Smith,member,northside,Northside Primary,primary
"""

BAD_CSV = """email,name,role,school
ok.person@northside.example.org,Okay Person,member,
not-an-email,Bad Email,member,
bad.role@northside.example.org,Bad Role,janitor,
"""


async def test_an_import_applies_all_or_nothing_and_shows_every_problem_with_its_line(
    c: Console,
) -> None:
    async with await c.signed_in(c.admin) as http:
        bad = await post(http, "import", format="csv", directory=BAD_CSV)
        assert bad.status_code == 400
        shown = text_of(bad)
        assert "Nothing was imported: 2 problems." in shown
        assert "<li>directory.csv:3: person not-an-email: email: not an email address</li>" in (
            shown
        )
        assert (
            "<li>directory.csv:4: person bad.role@northside.example.org: role: 'janitor' is not "
            "member, staff or admin</li>" in shown
        )
        assert 'aria-describedby="import-problems"' in shown and "Okay Person" in shown  # kept
        unknown_school = "email,name,role,school\nx.y@z.example.org,X Y,member,nowhere\n"
        refused = await post(http, "import", format="csv", directory=unknown_school)
        assert refused.status_code == 400 and "unknown school code 'nowhere'" in text_of(refused)
        yaml_bad = await post(http, "import", format="yaml", directory="people: [\n")
        assert yaml_bad.status_code == 400 and "<li>directory.yaml:" in yaml_bad.text
        empty = await post(http, "import", format="csv", directory="  ")
        assert empty.status_code == 400
        assert "Choose a directory file, or paste the directory here." in empty.text
        wrong = await post(http, "import", format="xml", directory=BAD_CSV)
        assert wrong.status_code == 400 and "Choose YAML or CSV." in wrong.text
        people_before = await count(c.db, Person)
        assert await count(c.db, School) == 3 and people_before == 3
        assert await audit(c.db, "import") == []

        good = await post(
            http, "import", format="csv", directory=GOOD_CSV.format(member=c.member.email)
        )
        assert good.status_code == 303, good.text
        notice = text_of(await http.get(good.headers["location"]))
        assert "Imported the directory: 2 created, 1 updated, 0 unchanged." in notice
        yaml_text = (
            "schools:\n  - code: eastside\n    name: Eastside Secondary\n"
            "people:\n  - email: yan.yaml@eastside.example.org\n    name: Yan Yaml\n"
            "    role: staff\n    school: eastside\n"
        )
        assert (await post(http, "import", format="yaml", directory=yaml_text)).status_code == 303
    assert await count(c.db, Person) == people_before + 2
    renamed = await person(c.db, c.member.id)
    assert renamed.name == "Amara Okafor-Smith" and renamed.active
    entries = await audit(c.db, "import")
    assert [e.detail for e in entries] == [
        "directory.csv: 2 created, 1 updated, 0 unchanged",
        "directory.yaml: 2 created, 0 updated, 0 unchanged",
    ]


async def test_a_directory_file_is_uploaded_with_the_same_checks(c: Console) -> None:
    async with await c.signed_in(c.admin) as http:
        token = re.search(r'name="csrf" value="([^"]+)"', (await http.get(PAGE)).text)
        assert token is not None
        form = {"csrf": token.group(1), "format": "yaml", "directory": ""}

        async def upload(name: str, body: bytes, **fields: str) -> httpx.Response:
            files = {"file": (name, body, "application/octet-stream")}
            return await http.post(f"{PAGE}/import", data={**form, **fields}, files=files)

        bad = await upload("people.csv", ("\ufeff" + BAD_CSV).encode())  # a BOM, as Excel writes
        assert bad.status_code == 400
        shown = text_of(bad)
        assert "Nothing was imported: 2 problems." in shown
        assert "<li>people.csv:3: person not-an-email: email: not an email address</li>" in shown
        assert 'id="f-file" name="file"' in shown and 'aria-describedby="import-problems"' in shown
        wrong = await upload("people.xlsx", b"PK\x03\x04")
        assert wrong.status_code == 400 and "people.xlsx: expected a .yaml, .yml or .csv" in (
            text_of(wrong)
        )
        binary = await upload("people.csv", b"\xff\xfe\x00")
        assert binary.status_code == 400 and "people.csv is not UTF-8 text." in binary.text
        both = await upload("people.csv", b"email,name,role\n", directory="people: []")
        assert both.status_code == 400 and "not both" in both.text
        assert await count(c.db, Person) == 3 and await audit(c.db, "import") == []
        no_token = await http.post(
            f"{PAGE}/import",
            data={"format": "csv"},
            files={"file": ("people.csv", GOOD_CSV.format(member="a@b.example.org").encode())},
        )
        assert no_token.status_code == 403

        good = await upload("people.csv", GOOD_CSV.format(member=c.member.email).encode())
        assert good.status_code == 303, good.text
        assert "2 created, 1 updated" in text_of(await http.get(good.headers["location"]))
    assert await count(c.db, Person) == 4
    (entry,) = await audit(c.db, "import")
    assert entry.detail == "people.csv: 2 created, 1 updated, 0 unchanged"


async def test_staff_are_refused_every_change_and_forms_need_their_token(c: Console) -> None:
    forms: list[tuple[str, dict[str, str | int]]] = [
        ("invite", {"person": c.member.id}),
        ("unlink", {"person": c.member.id, "identity": 1}),
        ("deactivate", {"person": c.member.id}),
        ("activate", {"person": c.member.id}),
        ("import", {"format": "csv", "directory": GOOD_CSV.format(member="a@b.example.org")}),
    ]
    before = (await count(c.db, Person), await count(c.db, Identity))
    async with await c.signed_in(c.staff) as http:
        for path, fields in forms:
            refused = await post(http, path, **fields)
            assert refused.status_code == 403 and "Only an admin" in refused.text, path
    async with await c.signed_in(c.admin) as http:
        for path, fields in forms:
            data = {k: str(v) for k, v in fields.items()}
            assert (await http.post(f"{PAGE}/{path}", data=data)).status_code == 403, path
            forged = await http.post(f"{PAGE}/{path}", data={**data, "csrf": "x" * 43})
            assert forged.status_code == 403, path
    async with c.client() as nobody:
        for path, fields in forms:
            data = {k: str(v) for k, v in fields.items()}
            assert (await nobody.post(f"{PAGE}/{path}", data=data)).status_code == 403, path
    assert (await count(c.db, Person), await count(c.db, Identity)) == before
    assert await count(c.db, InviteCode) == 0 and await count(c.db, AuditEntry) == 0
    assert (await person(c.db, c.member.id)).active


async def _link(db_url: str, email: str, channel: str, external_id: str) -> None:
    db = Database(db_url)
    try:
        async with db.session() as session:
            found = await session.scalar(select(Person).where(Person.email == email))
            assert found is not None
            session.add(Identity(person_id=found.id, channel=channel, external_id=external_id))
    finally:
        await db.dispose()


async def _state(db_url: str, email: str) -> tuple[bool, list[str], list[str]]:
    db = Database(db_url)
    try:
        async with db.session() as session:
            found = await session.scalar(select(Person).where(Person.email == email))
            assert found is not None
            channels = await session.scalars(
                select(Identity.channel).where(Identity.person_id == found.id)
            )
            actions = await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.subject_person_id == found.id)
                .order_by(AuditEntry.id)
            )
            return found.active, sorted(channels.all()), list(actions.all())
    finally:
        await db.dispose()


def test_hotline_directory_unlink_deactivate_and_activate(example_db: Path, db_url: str) -> None:
    email = "amara.okafor@stmarys.example.org"
    asyncio.run(_link(db_url, email, "telegram", "4242424242"))
    asyncio.run(_link(db_url, email, "slack", "U0AMARA01"))
    asyncio.run(_link(db_url, email, "console", email))

    one = run_hotline("directory", "unlink", email, "--channel", "slack")
    assert one.returncode == 0, one.stderr
    assert one.stdout == "unlinked Amara Okafor's slack account …RA01\n"
    none_left = run_hotline("directory", "unlink", email, "--channel", "slack")
    assert none_left.returncode == 1 and none_left.stdout == ""
    assert none_left.stderr.strip() == f"{email}: Amara Okafor has no linked chat account on slack"
    assert run_hotline("directory", "unlink", email, "--channel", "irc").returncode == 2

    off = run_hotline("directory", "deactivate", email.upper())
    assert off.returncode == 0 and off.stdout == "Amara Okafor is now inactive\n", off.stderr
    assert (
        run_hotline("directory", "deactivate", email).stdout == "Amara Okafor is already inactive\n"
    )
    invite = run_hotline("directory", "invite", email)  # the invite command: active people only
    assert invite.returncode == 1 and "nobody active" in invite.stderr

    rest = run_hotline("directory", "unlink", email)  # an inactive person's accounts, all of them
    assert rest.returncode == 0 and len(rest.stdout.splitlines()) == 2, rest.stderr
    on = run_hotline("directory", "activate", email)
    assert on.returncode == 0 and on.stdout == "Amara Okafor is now active\n"
    unknown = run_hotline("directory", "deactivate", "nobody@example.org")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "nobody@example.org: nobody in the directory has this email"

    active, channels, actions = asyncio.run(_state(db_url, email))
    assert active and channels == []
    assert actions == ["unlink", "deactivate", "unlink", "unlink", "activate"]
