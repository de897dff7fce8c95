"""The directory page's notification settings (bot/console/directory_page.py): an admin sets how
a person gets the digest (default rule, chat, email, off) and when a staff member's
unacknowledged chat pings are emailed; each change is audited with the console actor and
announced after the redirect; bad values come back beside the field with nothing changed;
staff see the values but get no forms and are refused the POSTs; a form without its CSRF token
is refused. Through the real web app and database."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from bot.store import Database
from bot.store.models import AuditEntry, Person
from tests.console.conftest import Console
from tests.console.test_directory_page import post, text_of

PAGE = "/console/directory"


async def stored(db: Database, person_id: int) -> Person:
    async with db.session() as session:
        found = await session.get(Person, person_id)
        assert found is not None
        return found


async def audit(db: Database) -> list[tuple[str, int | None, int | None, str, str]]:
    """(action, actor, about, via, detail) of the notification entries, oldest first."""
    async with db.session() as session:
        entries = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action.in_(["digest-channel", "email-after"]))
            .order_by(AuditEntry.id)
        )
        return [(e.action, e.actor_id, e.subject_person_id, e.via, e.detail) for e in entries]


async def entries(db: Database) -> int:
    async with db.session() as session:
        return await session.scalar(select(func.count()).select_from(AuditEntry)) or 0


async def test_an_admin_sets_the_digest_channel_and_it_is_audited(c: Console) -> None:
    async with await c.signed_in(c.admin) as http:
        page = text_of(await http.get(PAGE))
        assert f'id="f-digest-{c.member.id}"' in page and "not at all (off)" in page
        done = await post(http, "digest", person=c.member.id, digest="email", q="Amara")
        assert done.status_code == 303, done.text
        assert done.headers["location"].startswith(f"{PAGE}?q=Amara&done=digest")
        after = text_of(await http.get(done.headers["location"]))
        assert "Amara Okafor gets the digest by email." in after
        found = await stored(c.db, c.member.id)
        assert (found.digest_subscribed, found.digest_channel) == (True, "email")
        row = re.search(rf'<select id="f-digest-{c.member.id}".*?</select>', after, re.S)
        assert row is not None and '<option value="email" selected>' in row.group()

        assert (await post(http, "digest", person=c.member.id, digest="off")).status_code == 303
        found = await stored(c.db, c.member.id)
        assert (found.digest_subscribed, found.digest_channel) == (False, "off")
        back = await post(http, "digest", person=c.member.id, digest="default")
        assert "by the default rule" in text_of(await http.get(back.headers["location"]))
        found = await stored(c.db, c.member.id)
        assert (found.digest_subscribed, found.digest_channel) == (True, None)
        # The same again changes nothing and writes no entry.
        assert (await post(http, "digest", person=c.member.id, digest="default")).status_code == 303

        bad = await post(http, "digest", person=c.member.id, digest="pigeon")
        assert bad.status_code == 400 and "Choose the default rule, chat, email or off" in bad.text
        nobody = await post(http, "digest", person=999999, digest="chat")
        assert nobody.status_code == 400 and "not in the directory" in nobody.text
    assert await audit(c.db) == [
        ("digest-channel", c.admin.id, c.member.id, "console", "off -> email"),
        ("digest-channel", c.admin.id, c.member.id, "console", "email -> off"),
        ("digest-channel", c.admin.id, c.member.id, "console", "off -> default"),
    ]


async def test_an_admin_sets_when_a_staff_members_pings_are_emailed(c: Console) -> None:
    async with await c.signed_in(c.admin) as http:
        page = text_of(await http.get(PAGE))
        assert f'id="f-after-{c.staff.id}"' in page and f'id="f-after-{c.admin.id}"' in page
        assert f'id="f-after-{c.member.id}"' not in page  # members are not pinged
        assert "the deployment default (2 minutes)" in page
        done = await post(http, "email-after", person=c.staff.id, minutes=" 5 ")
        assert done.status_code == 303, done.text
        after = text_of(await http.get(done.headers["location"]))
        assert "Sam Adeyemi's pings are emailed 5 minutes after an unacknowledged chat ping." in (
            after
        )
        assert f'id="f-after-{c.staff.id}" name="minutes" inputmode="numeric"' in after
        assert re.search(rf'id="f-after-{c.staff.id}"[^>]*value="5"', after)
        assert (await stored(c.db, c.staff.id)).email_after_minutes == 5

        zero = await post(http, "email-after", person=c.staff.id, minutes="0")
        assert "emailed at once, with the chat ping." in text_of(
            await http.get(zero.headers["location"])
        )
        default = await post(http, "email-after", person=c.staff.id, minutes="DEFAULT")
        assert default.status_code == 303
        assert (await stored(c.db, c.staff.id)).email_after_minutes is None
    assert await audit(c.db) == [
        ("email-after", c.admin.id, c.staff.id, "console", "default -> 5 min"),
        ("email-after", c.admin.id, c.staff.id, "console", "5 min -> 0 min"),
        ("email-after", c.admin.id, c.staff.id, "console", "0 min -> default"),
    ]


async def test_bad_minutes_come_back_beside_the_field_and_change_nothing(c: Console) -> None:
    async with await c.signed_in(c.admin) as http:
        assert (await post(http, "email-after", person=c.staff.id, minutes="10")).status_code == 303
        for typed, says in [
            ("-3", "-3 minutes is out of range: give 0 to 1440 minutes"),
            ("99999", "99999 minutes is out of range"),
            ("abc", "'abc' is not a number of minutes"),
            ("", "Give a number of minutes from 0 to 1440, or 'default'."),
        ]:
            bad = await post(http, "email-after", person=c.staff.id, minutes=typed)
            assert bad.status_code == 400, typed
            shown = text_of(bad)
            error = re.search(
                rf'<p class="field-error" id="err-after-{c.staff.id}">([^<]*)</p>', shown
            )
            assert error is not None and says in error.group(1), (typed, shown)
            described = f"hint-after-{c.staff.id} err-after-{c.staff.id}"
            assert f'aria-invalid="true" aria-describedby="{described}"' in shown
            assert re.search(rf'id="f-after-{c.staff.id}"[^>]*value="{re.escape(typed)}"', shown)
            assert "Nothing was changed for Sam Adeyemi" in shown
        member = await post(http, "email-after", person=c.member.id, minutes="5")
        assert member.status_code == 400
        assert "Amara Okafor is a member: only staff are pinged" in text_of(member)
        nobody = await post(http, "email-after", person=999999, minutes="5")
        assert nobody.status_code == 400 and "not in the directory" in nobody.text
    assert (await stored(c.db, c.staff.id)).email_after_minutes == 10
    assert (await stored(c.db, c.member.id)).email_after_minutes is None
    assert [a[4] for a in await audit(c.db)] == ["default -> 10 min"]


async def test_staff_see_the_values_but_cannot_change_them(c: Console) -> None:
    forms: list[tuple[str, dict[str, str | int]]] = [
        ("digest", {"person": c.member.id, "digest": "off"}),
        ("email-after", {"person": c.staff.id, "minutes": "1"}),
    ]
    async with c.db.session() as session:
        staff = await session.get(Person, c.staff.id)
        assert staff is not None
        staff.email_after_minutes = 15
    async with await c.signed_in(c.staff) as http:
        page = text_of(await http.get(PAGE))
        assert "15 minutes after an unacknowledged chat ping" in page
        assert "the deployment default (2 minutes)" in page  # the admin's
        assert "/console/directory/digest" not in page
        assert "/console/directory/email-after" not in page
        for path, fields in forms:
            refused = await post(http, path, **fields)
            assert refused.status_code == 403 and "Only an admin" in refused.text, path
    async with await c.signed_in(c.admin) as http:  # no token, a forged token: refused
        for path, fields in forms:
            data = {k: str(v) for k, v in fields.items()}
            assert (await http.post(f"{PAGE}/{path}", data=data)).status_code == 403, path
            forged = await http.post(f"{PAGE}/{path}", data={**data, "csrf": "x" * 43})
            assert forged.status_code == 403, path
    assert (await stored(c.db, c.staff.id)).email_after_minutes == 15
    member = await stored(c.db, c.member.id)
    assert member.digest_channel != "off"
    assert await audit(c.db) == []
