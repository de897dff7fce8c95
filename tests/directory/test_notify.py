"""bot/directory/notify.py (and bot/digest/channels.py's digest choice) on the real database (SQLite and PostgreSQL): parsing what an admin
types for the email-after minutes, setting them (staff only, in range, None back to the
deployment's setting) and the digest choice with its "default" rule, read back from a fresh
session so what was flushed is what was stored."""

from __future__ import annotations

import pytest

from bot.digest.channels import digest_choice, set_digest_choice
from bot.directory.notify import MAX_MINUTES, email_after_text, parse_email_after, set_email_after
from bot.store import Database
from bot.store.models import Person, Role
from tests.factories import make_person


async def stored(db: Database, person_id: int) -> Person:
    async with db.session() as session:
        found = await session.get(Person, person_id)
        assert found is not None
        return found


@pytest.mark.parametrize(
    ("typed", "minutes"),
    [
        ("0", 0),
        ("5", 5),
        (" 30 ", 30),
        ("+7", 7),
        ("1440", 1440),
        ("default", None),
        (" Default ", None),
    ],
)
def test_parse_email_after_takes_minutes_in_range_or_default(
    typed: str, minutes: int | None
) -> None:
    assert parse_email_after(typed) == minutes


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("-3", "-3 minutes is out of range: give 0 to 1440 minutes"),
        ("99999", "99999 minutes is out of range"),
        ("1441", "1441 minutes is out of range"),
        ("abc", "'abc' is not a number of minutes: give a whole number from 0 to 1440"),
        ("2.5", "'2.5' is not a number of minutes"),
        ("1e3", "'1e3' is not a number of minutes"),
        ("٣", "'٣' is not a number of minutes"),  # a digit, but not one anyone means here
        ("9" * 40, "is not a number of minutes"),
        ("", "give a number of minutes from 0 to 1440, or 'default'"),
        ("   ", "give a number of minutes"),
    ],
)
def test_parse_email_after_says_what_is_wrong(typed: str, says: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_email_after(typed)
    assert says in str(raised.value)


async def test_set_email_after_stores_minutes_and_default(db: Database) -> None:
    staff = await make_person(db, role=Role.STAFF)
    admin = await make_person(db, role=Role.ADMIN)
    async with db.session() as session:
        person = await session.get(Person, staff.id)
        assert person is not None
        assert await set_email_after(session, person, 5) is True
        assert await set_email_after(session, person, 5) is False  # no change
    assert (await stored(db, staff.id)).email_after_minutes == 5
    async with db.session() as session:
        person = await session.get(Person, staff.id)
        assert person is not None
        assert await set_email_after(session, person, 0) is True
    assert (await stored(db, staff.id)).email_after_minutes == 0
    async with db.session() as session:
        person = await session.get(Person, staff.id)
        assert person is not None
        assert await set_email_after(session, person, None) is True
        assert await set_email_after(session, person, None) is False
        other = await session.get(Person, admin.id)
        assert other is not None
        assert await set_email_after(session, other, MAX_MINUTES) is True  # admins are staff
    assert (await stored(db, staff.id)).email_after_minutes is None
    assert (await stored(db, admin.id)).email_after_minutes == MAX_MINUTES


async def test_set_email_after_refuses_out_of_range_and_members(db: Database) -> None:
    staff = await make_person(db, role=Role.STAFF)
    member = await make_person(db, name="Mo Member")
    async with db.session() as session:
        person = await session.get(Person, staff.id)
        assert person is not None
        for bad in (-1, MAX_MINUTES + 1, 99999):
            with pytest.raises(ValueError, match=f"{bad} minutes is out of range"):
                await set_email_after(session, person, bad)
        someone = await session.get(Person, member.id)
        assert someone is not None
        with pytest.raises(ValueError, match="Mo Member is a member: only staff are pinged"):
            await set_email_after(session, someone, 5)
    assert (await stored(db, staff.id)).email_after_minutes is None
    assert (await stored(db, member.id)).email_after_minutes is None


async def test_digest_choice_with_the_default_rule(db: Database) -> None:
    member = await make_person(db)
    async with db.session() as session:
        person = await session.get(Person, member.id)
        assert person is not None
        person.digest_subscribed = True
        assert digest_choice(person) == "default"
        assert await set_digest_choice(session, person, "email") is True
        assert digest_choice(person) == "email"
    found = await stored(db, member.id)
    assert (found.digest_subscribed, found.digest_channel) == (True, "email")
    async with db.session() as session:
        person = await session.get(Person, member.id)
        assert person is not None
        assert await set_digest_choice(session, person, "off") is True
    found = await stored(db, member.id)
    assert (found.digest_subscribed, found.digest_channel) == (False, "off")
    assert digest_choice(found) == "off"
    async with db.session() as session:
        person = await session.get(Person, member.id)
        assert person is not None
        assert await set_digest_choice(session, person, "default") is True
        assert await set_digest_choice(session, person, "default") is False
        with pytest.raises(ValueError, match="'pigeon' is not one of default, chat, email, off"):
            await set_digest_choice(session, person, "pigeon")
    found = await stored(db, member.id)
    assert (found.digest_subscribed, found.digest_channel) == (True, None)
    async with db.session() as session:  # from "chat" back to the default rule
        person = await session.get(Person, member.id)
        assert person is not None
        assert await set_digest_choice(session, person, "chat") is True
        assert await set_digest_choice(session, person, "default") is True
    found = await stored(db, member.id)
    assert (found.digest_subscribed, found.digest_channel) == (True, None)


def test_email_after_text() -> None:
    assert email_after_text(5, 2) == "5 minutes after an unacknowledged chat ping"
    assert email_after_text(1, 2) == "1 minute after an unacknowledged chat ping"
    assert email_after_text(0, 2) == "at once, with the chat ping"
    assert email_after_text(None, 2) == (
        "after an unacknowledged chat ping: the deployment default (2 minutes)"
    )
    assert email_after_text(None, 0).endswith("the deployment default (at once)")
