"""An open request never swallows a new emergency; only a plausible follow-up is attached, and the
member can see and change that. On both databases, through the dispatcher, outbox and sweeper."""

from datetime import UTC, datetime

from sqlalchemy import select

from bot.core import texts
from bot.store.models import HotlineRequest
from bot.store.timeline import events_of
from tests.escalation.conftest import OOH_PHONE, PHONE, Partnership

SUNDAY_EVENING = datetime(2026, 11, 29, 19, 30, tzinfo=UTC)  # 19:30 in London (GMT)
DISCLOSURE = (
    "a year 5 girl has just told her teacher that a relative is abusing her and she is scared "
    "to go home tonight"
)


async def requests_of(p: Partnership) -> list[HotlineRequest]:
    async with p.db.session() as s:
        return list(await s.scalars(select(HotlineRequest).order_by(HotlineRequest.id)))


async def event_kinds(p: Partnership, request: HotlineRequest) -> list[str]:
    async with p.db.session() as s:
        return [e.kind for e in await events_of(s, request.id)]


def button(reply_buttons: tuple[object, ...], label: str) -> str:
    for b in reply_buttons:
        if getattr(b, "label", None) == label:
            return str(getattr(b, "action", ""))
    raise AssertionError(f"no button {label!r} in {reply_buttons}")


async def test_a_disclosure_typed_while_an_ofsted_request_is_held_is_a_new_emergency(
    p: Partnership,
) -> None:
    """The scenario seen on a Sunday evening: an Ofsted request held until Monday, then a
    safeguarding disclosure. It must get its own request, the 999 line and a ping now."""
    await p.office_hours_rota()
    p.clock.now = SUNDAY_EVENING
    held = await p.say(p.member, "/emergency Ofsted rang to say they inspect us tomorrow")
    (ofsted,) = await requests_of(p)
    assert "Monday 30 November at 08:00" in held.text and texts.CANT_WAIT in [
        b.label for b in held.buttons
    ]
    await p.deliver()
    assert p.inbox(p.fallback) == []  # an Ofsted call waits for the morning

    prompt = await p.say(p.member, DISCLOSURE)
    assert prompt.text == texts.SOUNDS_URGENT_OPEN.format(references=ofsted.reference)
    assert await event_kinds(p, ofsted) == ["opened", "out_of_hours"]  # nothing attached

    logged = await p.say(p.member, action=button(prompt.buttons, texts.ALERT_NOW))
    ofsted_again, disclosure = await requests_of(p)
    assert disclosure.id != ofsted.id and disclosure.category == "safeguarding"
    assert str(disclosure.reference) in logged.text and str(ofsted.reference) not in logged.text
    assert logged.text.startswith(texts.DANGER_FIRST)
    assert "senior manager on call" in logged.text  # the fallback, out of hours
    assert PHONE not in logged.text  # the hotline is closed: never point to it
    assert OOH_PHONE in logged.text
    assert texts.GUIDANCE_HEADER in logged.text
    await p.deliver()
    assert any(str(disclosure.reference) in t for t in p.inbox(p.fallback))
    assert await event_kinds(p, ofsted_again) == ["opened", "out_of_hours"]


async def test_urgent_in_another_category_is_never_attached_in_hours_either(
    p: Partnership,
) -> None:
    await p.say(p.member, "/emergency a reporter from the local paper is at the gate")
    (media,) = await requests_of(p)
    prompt = await p.say(p.member, "ransomware has encrypted every laptop in the office")
    assert prompt.text.startswith("This sounds urgent")
    assert texts.ADD_TO.format(reference=media.reference) in [b.label for b in prompt.buttons]
    assert await event_kinds(p, media) == ["opened", "level_pinged"]


async def test_same_waking_category_still_asks_rather_than_attaching(p: Partnership) -> None:
    await p.say(p.member, f"/emergency {DISCLOSURE}")
    (first,) = await requests_of(p)
    prompt = await p.say(p.member, "now her brother says he has been hit at home as well")
    assert prompt.text.startswith("This sounds urgent")
    added = await p.say(
        p.member, action=button(prompt.buttons, texts.ADD_TO.format(reference=first.reference))
    )
    assert added.text.startswith(texts.FOLLOW_UP_ADDED.format(reference=first.reference, state=""))
    assert "member_message" in await event_kinds(p, first)
    assert len(await requests_of(p)) == 1


async def test_alert_now_pressed_twice_opens_one_request(p: Partnership) -> None:
    prompt = await p.say(p.member, "a pupil has collapsed in the playground and is not breathing")
    alert = button(prompt.buttons, texts.ALERT_NOW)
    await p.say(p.member, action=alert)
    again = await p.say(p.member, action=alert)
    (request,) = await requests_of(p)
    assert str(request.reference) in again.text


async def test_an_faq_question_is_answered_while_a_request_is_open(p: Partnership) -> None:
    await p.say(p.member, "/emergency Ofsted rang to say they inspect us tomorrow")
    (request,) = await requests_of(p)
    answer = await p.say(p.member, "How much does membership cost?")
    assert "Was this helpful?" in answer.text
    assert answer.text.endswith(texts.OPEN_REQUEST_NOTE.format(references=request.reference))
    assert "member_message" not in await event_kinds(p, request)


async def test_a_reply_to_a_staff_message_joins_that_request_and_nothing_else_is_guessed(
    p: Partnership,
) -> None:
    await p.say(p.member, "/human please ring me about our SEND funding bid")
    await p.say(p.member, "/human question about our invoice")
    send, invoice = await requests_of(p)
    await p.say(p.primary, f"/reply {send.reference} Happy to, when suits?")
    await p.deliver()
    staff_reply = p.inbox(p.member)[-1]
    assert str(send.reference) in staff_reply

    joined = await p.say(p.member, "any time after 3pm, thanks", reply_to_text=staff_reply)
    assert joined.text.startswith(texts.FOLLOW_UP_ADDED.format(reference=send.reference, state=""))
    assert "member_message" in await event_kinds(p, send)
    assert "member_message" not in await event_kinds(p, invoice)

    # Without a reply, two open requests: both are named, nothing is attached until chosen.
    asked = await p.say(p.member, "thank you")
    labels = [b.label for b in asked.buttons]
    assert labels == [
        texts.ADD_TO.format(reference=send.reference),
        texts.ADD_TO.format(reference=invoice.reference),
        texts.SOMETHING_NEW,
    ] or labels == [
        texts.ADD_TO.format(reference=invoice.reference),
        texts.ADD_TO.format(reference=send.reference),
        texts.SOMETHING_NEW,
    ]
    assert (await event_kinds(p, invoice)).count("member_message") == 0
    added = await p.say(
        p.member, action=button(asked.buttons, texts.ADD_TO.format(reference=invoice.reference))
    )
    assert str(invoice.reference) in added.text
    assert (await event_kinds(p, invoice)).count("member_message") == 1
    assert (await event_kinds(p, send)).count("member_message") == 1


async def test_something_new_answers_the_message_as_a_question(p: Partnership) -> None:
    await p.say(p.member, "/human question about our invoice")
    (invoice,) = await requests_of(p)
    asked = await p.say(p.member, "can the partnership lend us a minibus for the summer trip")
    assert asked.text == texts.ADD_OR_NEW.format(references=invoice.reference)
    chosen = await p.say(p.member, action=button(asked.buttons, texts.SOMETHING_NEW))
    assert p.last[0].text == texts.CHOSE_NEW and p.last[0].edit
    assert "member_message" not in await event_kinds(p, invoice)
    assert chosen.buttons  # the usual offer: suggestions or "pass it on"


async def test_someone_elses_request_cannot_be_joined_by_a_forged_button(p: Partnership) -> None:
    other = await p.make_member("Olu Other")
    await p.say(other, "/human question about our invoice")
    (theirs,) = await requests_of(p)
    await p.say(p.member, "/human a question of mine")
    asked = await p.say(p.member, "thanks")
    question_id = button(asked.buttons, texts.SOMETHING_NEW).split(":")[1]
    forged = await p.say(p.member, action=f"add:{question_id}:{theirs.id}")
    assert forged.text == texts.STALE_BUTTON
    assert "member_message" not in await event_kinds(p, theirs)
