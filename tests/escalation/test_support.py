"""Non-urgent requests: a person replies through the bot; follow-ups join the open request when
the member says so (a reply to the request's messages, or the "Add to" button)."""

from sqlalchemy import select

from bot.core import texts
from bot.store.models import HotlineRequest, RequestKind
from tests.escalation.conftest import Partnership


async def support_request(p: Partnership) -> HotlineRequest:
    async with p.db.session() as s:
        return (
            await s.scalars(
                select(HotlineRequest).where(HotlineRequest.kind == RequestKind.SUPPORT)
            )
        ).one()


async def test_a_passed_on_question_reaches_the_staff_chat_and_a_reply_reaches_the_member(
    p: Partnership,
) -> None:
    unknown = await p.say(p.member, "can the partnership lend us a minibus for the summer trip")
    await p.say(
        p.member, action=next(b.action for b in unknown.buttons if b.action.startswith("pass:"))
    )
    request = await support_request(p)
    await p.deliver()
    post = p.channel.to("#staff")[-1]
    assert request.reference is not None
    assert request.reference in post.text and "minibus" in post.text
    assert request.next_escalation_at is None  # no escalation timers for support requests
    sent = await p.say(
        p.primary,
        f"/reply {request.reference} We don't have one, but try the borough's transport pool.",
    )
    assert sent.text == texts.REPLY_SENT.format(reference=request.reference)
    await p.deliver()
    assert "transport pool" in p.inbox(p.member)[-1]
    assert p.inbox(p.member)[-1].startswith("Pat Primary (Partnership)")


async def test_follow_ups_join_the_open_request_and_go_to_its_owner(p: Partnership) -> None:
    await p.say(p.member, "/human please ring me about our SEND funding bid")
    request = await support_request(p)
    await p.say(p.primary, f"/reply {request.reference} Happy to, when suits?")
    asked = await p.say(p.member, "any time after 3pm thanks")
    assert asked.text == texts.ADD_OR_NEW.format(references=request.reference)
    add = next(b.action for b in asked.buttons if b.label.endswith(str(request.reference)))
    follow = await p.say(p.member, action=add)
    assert follow.edit
    assert follow.text == texts.FOLLOW_UP_ADDED.format(
        reference=request.reference, state=texts.FOLLOW_UP_OWNER.format(name="Pat Primary")
    )
    await p.deliver()
    assert any("any time after 3pm" in t for t in p.inbox(p.primary))


async def test_while_a_request_is_open_answers_say_so(p: Partnership) -> None:
    await p.say(p.member, "/human question about our invoice")
    request = await support_request(p)
    answered = await p.say(p.member, "How much does membership cost?")
    assert "Was this helpful?" in answered.text
    assert answered.text.endswith(texts.OPEN_REQUEST_NOTE.format(references=request.reference))


async def test_after_resolution_the_bot_answers_normally(p: Partnership) -> None:
    await p.say(p.member, "/human question about our invoice")
    request = await support_request(p)
    await p.say(p.primary, f"/resolve {request.reference} invoice re-sent")
    answered = await p.say(p.member, "How much does membership cost?")
    assert texts.OPEN_REQUEST_NOTE.split("{")[0] not in answered.text
