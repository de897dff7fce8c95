"""What the member is told after an emergency is what the committed rows say was done; out of
hours, which categories wake someone is the rota's data, and "It can't wait" wakes the fallback."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.core import texts
from bot.core.errors import DataError
from bot.escalation.rota_file import parse_rota_text
from bot.store.models import HotlineRequest, Person, Role
from bot.store.timeline import events_of
from tests.escalation.conftest import OOH_PHONE, PHONE, WAKE, Partnership
from tests.factories import make_person, make_rota, rota_yaml

SUNDAY_EVENING = datetime(2026, 11, 29, 19, 30, tzinfo=UTC)


async def rota(p: Partnership, primary: Person, backup: Person, fallback: Person) -> None:
    """Hotline hours at every hour, with these three on duty."""
    await make_rota(p.db, rota_yaml(primary.email, backup.email, fallback.email))


def said(reply_text: str, reference: str | None) -> str:
    """The bot's own paragraph about the request (not the FAQ guidance quoted after it)."""
    return next(part for part in reply_text.split("\n\n") if str(reference) in part)


async def only(p: Partnership) -> HotlineRequest:
    async with p.db.session() as s:
        return (await s.scalars(select(HotlineRequest))).one()


async def kinds(p: Partnership, request: HotlineRequest) -> list[str]:
    async with p.db.session() as s:
        return [e.kind for e in await events_of(s, request.id)]


async def test_the_member_is_told_which_role_was_pinged(p: Partnership) -> None:
    reply = await p.say(p.member, "/emergency a reporter from the local paper is at the gate")
    assert texts.EMERGENCY_ALERTING.split("{")[0] in reply.text
    assert "alerting the duty officer by chat now" in reply.text
    assert f"phone the hotline on {PHONE}" in reply.text


async def test_a_skipped_level_is_not_claimed(p: Partnership) -> None:
    unlinked = await make_person(p.db, role=Role.STAFF, name="Una Unlinked", linked=False)
    await rota(p, unlinked, p.backup, p.fallback)
    reply = await p.say(p.member, "/emergency a reporter from the local paper is at the gate")
    assert "alerting the backup duty officer by chat now" in reply.text
    assert "level_skipped" in await kinds(p, await only(p))


async def test_nobody_reachable_says_so_and_staff_get_the_full_ping(p: Partnership) -> None:
    staff = [
        await make_person(p.db, role=Role.STAFF, name=f"Off {n}", linked=False) for n in range(3)
    ]
    await rota(p, *staff)
    async with p.db.session() as s:
        member = await s.get(Person, p.member.id)
        assert member is not None
        member.phone = "07700 900123"
    reply = await p.say(p.member, "/emergency a reporter from the local paper is at the gate")
    request = await only(p)
    assert reply.text.startswith(
        texts.EMERGENCY_NOBODY.format(reference=request.reference, phone=f"the hotline on {PHONE}")
    )
    assert "alerted the" not in reply.text and "alerting" not in reply.text
    await p.deliver()
    (warning,) = p.channel.to("#staff")
    assert warning.text.startswith(texts.NOBODY_REACHABLE.format(reference=request.reference))
    for detail in ("School ", "07700 900123", "reporter from the local paper", "media"):
        assert detail in warning.text
    assert [b.action for b in warning.buttons] == [f"ack:{request.id}", f"res:{request.id}"]


async def test_nobody_reachable_out_of_hours_gives_a_number_that_answers(p: Partnership) -> None:
    a, b, c = [
        await make_person(p.db, role=Role.STAFF, name=f"Off {n}", linked=False) for n in range(3)
    ]
    await p.office_hours_rota((a, b, c))
    p.clock.now = SUNDAY_EVENING
    reply = await p.say(p.member, "/emergency a pupil is missing from the residential trip")
    request = await only(p)
    assert OOH_PHONE in said(reply.text, request.reference)
    assert PHONE not in said(reply.text, request.reference)
    assert "999" in said(reply.text, request.reference)
    # The guidance quoted after it names the hotline: the closed hours are said beside it.
    assert reply.text.endswith(
        texts.OUT_OF_HOURS_LINE.format(out_of_hours=f"the out-of-hours line on {OOH_PHONE}")
    )


async def test_held_out_of_hours_says_when_and_it_cannot_wait_pings_the_fallback(
    p: Partnership,
) -> None:
    await p.office_hours_rota()
    p.clock.now = SUNDAY_EVENING
    held = await p.say(p.member, "/emergency Ofsted rang to say they inspect us tomorrow")
    request = await only(p)
    assert "nobody has been alerted yet" in held.text
    assert "Monday 30 November at 08:00" in held.text
    assert OOH_PHONE in said(held.text, request.reference)
    assert PHONE not in said(held.text, request.reference)
    (cant_wait,) = held.buttons
    assert cant_wait.label == texts.CANT_WAIT
    await p.deliver()
    assert p.inbox(p.fallback) == []

    woken = await p.say(p.member, action=cant_wait.action)
    assert p.last[0].text == texts.CHOSE_CANT_WAIT
    assert "alerting the senior manager on call by chat now" in woken.text
    await p.deliver()
    assert len(p.inbox(p.fallback)) == 1
    assert await kinds(p, request) == ["opened", "out_of_hours", "member_cant_wait", "level_pinged"]

    again = await p.say(p.member, action=cant_wait.action)  # pressed twice: no second ping
    assert "alerting the senior manager" in again.text
    await p.deliver()
    assert len(p.inbox(p.fallback)) == 1
    assert (await kinds(p, request)).count("member_cant_wait") == 1


async def test_without_an_out_of_hours_number_the_closed_hotline_is_never_given(
    p: Partnership,
) -> None:
    p.dispatcher.deps = replace(p.deps, out_of_hours_phone="")
    await p.office_hours_rota()
    p.clock.now = SUNDAY_EVENING
    held = await p.say(p.member, "/emergency Ofsted rang to say they inspect us tomorrow")
    request = await only(p)
    assert texts.OUT_OF_HOURS_UNKNOWN in said(held.text, request.reference)
    assert PHONE not in said(held.text, request.reference)


async def test_it_cannot_wait_is_only_for_the_requests_own_member(p: Partnership) -> None:
    await p.office_hours_rota()
    p.clock.now = SUNDAY_EVENING
    held = await p.say(p.member, "/emergency Ofsted rang to say they inspect us tomorrow")
    other = await p.make_member("Olu Other")
    refused = await p.say(other, action=held.buttons[0].action)
    assert refused.text == texts.STALE_BUTTON
    await p.deliver()
    assert p.inbox(p.fallback) == []


@pytest.mark.parametrize(
    ("wake", "text", "woken"),
    [
        ("[media]", "a reporter from the local paper is at the gate", True),
        ("[media]", "a pupil has disclosed that her stepdad hits her", False),
        (WAKE, "a burst pipe has flooded the hall, can we open tomorrow?", True),
        (WAKE, "a pupil has gone missing from the residential trip", True),
        (WAKE, "a reporter from the local paper is at the gate", False),
        (None, "a reporter from the local paper is at the gate", True),  # unsaid: everything
    ],
)
async def test_which_categories_wake_someone_out_of_hours_is_the_rotas_data(
    p: Partnership, wake: str | None, text: str, woken: bool
) -> None:
    await p.office_hours_rota(wake=wake)
    p.clock.now = SUNDAY_EVENING
    await p.say(p.member, f"/emergency {text}")
    await p.deliver()
    assert bool(p.inbox(p.fallback)) is woken


def test_the_rota_refuses_an_unknown_category_with_its_line() -> None:
    text = rota_yaml("a@x.org", None, "b@x.org", wake="[safeguarding, flooding]")
    with pytest.raises(DataError) as caught:
        parse_rota_text(text, "rota.yaml")
    (problem,) = caught.value.problems
    assert problem.startswith("rota.yaml:5: wake_out_of_hours: 'flooding' is not one of")


def test_the_wake_list_survives_the_database_round_trip() -> None:
    parsed = parse_rota_text(rota_yaml("a@x.org", None, "b@x.org", wake=WAKE), "rota.yaml")
    assert parsed.wake_out_of_hours == frozenset({"safeguarding", "serious-incident", "premises"})
    again = type(parsed).from_json(parsed.to_json())
    assert again == parsed
    silent = parse_rota_text(rota_yaml("a@x.org", None, "b@x.org"), "rota.yaml")
    assert type(silent).from_json(silent.to_json()).wake_out_of_hours is None
