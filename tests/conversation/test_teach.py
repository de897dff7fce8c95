"""/teach in the staff chat: a passed-on question becomes a phrasing of an FAQ entry, by
reference, as a reply to the support post, or from the post's "Teach: ..." buttons, and members
asking it get that entry's answer at once; bad input gets a clear message and stores nothing."""

from dataclasses import replace

from sqlalchemy import select

from bot.conversation.dispatcher import Dispatcher, DispatcherConfig
from bot.core import texts
from bot.core.types import Band, Reply
from bot.knowledge import KnowledgeBase
from bot.knowledge.source import KnowledgeSource
from bot.store.models import HotlineRequest, LearnedPhrasing, QuestionLog, RequestKind
from bot.teaching.live import LiveKnowledge
from tests.escalation.conftest import Partnership
from tests.escalation.conftest import partnership as partnership  # the fixture "p"
from tests.teaching import clash_with

UNKNOWN = "can the partnership lend us a minibus for the summer trip"
TAUGHT_TO = "membership-brokering-support"
UNSURE = "can someone help with our school trip paperwork"  # suggestions, no answer


def answer_of(kb: KnowledgeSource, entry_id: str) -> str:
    entry = kb.entry(entry_id)
    assert entry is not None
    return entry.answer


async def support_request(
    p: Partnership, kind: RequestKind = RequestKind.SUPPORT
) -> HotlineRequest:
    async with p.db.session() as s:
        return (
            await s.scalars(
                select(HotlineRequest)
                .where(HotlineRequest.kind == kind)
                .order_by(HotlineRequest.id.desc())
                .limit(1)
            )
        ).one()


async def learned(p: Partnership) -> list[LearnedPhrasing]:
    async with p.db.session() as s:
        return list(await s.scalars(select(LearnedPhrasing).order_by(LearnedPhrasing.id)))


async def pass_on(p: Partnership, question: str) -> HotlineRequest:
    """The member asks; the bot cannot answer; the member passes it to the team."""
    reply = await p.say(p.member, question)
    assert not reply.text.startswith(answer_of(p.deps.kb, TAUGHT_TO))
    await p.say(
        p.member, action=next(b.action for b in reply.buttons if b.action.startswith("pass:"))
    )
    return await support_request(p)


async def staff_post(p: Partnership, request: HotlineRequest) -> Reply:
    await p.deliver()
    return next(r for r in reversed(p.channel.to("#staff")) if str(request.reference) in r.text)


async def test_teach_ref_entry_stores_the_phrasing_and_the_question_is_answered_at_once(
    p: Partnership, kb: KnowledgeBase
) -> None:
    before = await p.say(p.member, UNKNOWN)
    assert not before.text.startswith(answer_of(kb, TAUGHT_TO))
    await p.say(
        p.member, action=next(b.action for b in before.buttons if b.action.startswith("pass:"))
    )
    request = await support_request(p)

    taught = await p.say(p.primary, f"/teach {request.reference} {TAUGHT_TO}")

    entry = kb.entry(TAUGHT_TO)
    assert entry is not None
    assert taught.text.startswith(
        texts.TEACH_DONE.format(text=UNKNOWN, entry_id=TAUGHT_TO, question=entry.question)
    )
    [row] = await learned(p)
    assert (row.entry_id, row.text, row.taught_by_id, row.question_id) == (
        TAUGHT_TO,
        UNKNOWN,
        p.primary.id,
        request.question_id,
    )
    assert row.question_id is not None
    after = await p.say(p.member, UNKNOWN)  # no wait, no restart
    assert after.text.startswith(answer_of(kb, TAUGHT_TO))
    async with p.db.session() as s:
        logged = (await s.scalars(select(QuestionLog).order_by(QuestionLog.id.desc()))).first()
    assert logged is not None and (logged.band, logged.matched_id) == (Band.ANSWER, TAUGHT_TO)


async def test_teach_entry_as_a_reply_to_the_support_post(
    p: Partnership, kb: KnowledgeBase
) -> None:
    question = "who insures the minibus we hire for trips"
    assert kb.match(question).answer_id != "membership-on-demand-advice"
    await p.say(p.member, f"/human {question}")
    request = await support_request(p)
    post = await staff_post(p, request)

    taught = await p.say(p.primary, "/teach membership-on-demand-advice", reply_to_text=post.text)

    assert taught.text.startswith('Taught: "' + question)
    [row] = await learned(p)
    assert (row.entry_id, row.question_id) == ("membership-on-demand-advice", None)
    answered = await p.say(p.member, question)
    assert answered.text.startswith(answer_of(kb, "membership-on-demand-advice"))


async def test_the_support_post_offers_teach_buttons_and_a_press_stores_the_phrasing(
    p: Partnership, kb: KnowledgeBase
) -> None:
    suggested = [s.id for s in kb.match(UNSURE).suggestions]
    assert suggested, "the question needs suggestions for this test"
    unsure = await p.say(p.member, UNSURE)
    none_of_these = next(b.action for b in unsure.buttons if b.label == texts.NONE_OF_THESE)
    await p.say(p.member, action=none_of_these)
    request = await support_request(p)
    post = await staff_post(p, request)

    teach = [b for b in post.buttons if b.action.startswith("tch:")]
    assert post.buttons[0] == texts.claim_button(request.id)  # claiming is still first
    assert [b.action for b in teach] == [f"tch:{request.id}:{i}" for i in suggested]
    first = kb.entry(suggested[0])
    assert first is not None and teach[0].label.startswith("Teach: ")
    assert first.question.startswith(teach[0].label.removeprefix("Teach: ").rstrip("…"))
    # /teach REF without an entry offers the same choices
    choose = await p.say(p.primary, f"/teach {request.reference}")
    assert choose.text == texts.TEACH_CHOOSE.format(reference=request.reference, text=UNSURE)
    assert choose.buttons == tuple(teach)

    taught = await p.say(p.backup, action=teach[0].action)

    assert taught.text.startswith(f'Taught: "{UNSURE}" → {suggested[0]}')
    assert not taught.edit  # the support post keeps its claim button
    [row] = await learned(p)
    assert (row.entry_id, row.taught_by_id) == (suggested[0], p.backup.id)
    assert (await p.say(p.member, UNSURE)).text.startswith(first.answer)
    again = await p.say(p.primary, action=teach[0].action)
    assert again.text == texts.TEACH_KNOWN.format(text=UNSURE, entry_id=suggested[0])
    other = await p.say(p.primary, action=teach[1].action) if len(teach) > 1 else None
    if other is not None:  # one wording, one entry
        assert other.text == texts.TEACH_OTHER_ENTRY.format(text=UNSURE, owner=suggested[0])
    assert len(await learned(p)) == 1


async def test_a_phrasing_that_would_change_other_answers_is_held_until_staff_insist(
    p: Partnership, kb: KnowledgeBase
) -> None:
    attendance = kb.entry("ops-attendance")
    assert attendance is not None and kb.match(attendance.question).answer_id == "ops-attendance"
    clashing = clash_with(attendance.question)
    await p.say(p.member, f"/human {clashing}")
    request = await support_request(p)

    held = await p.say(p.primary, f"/teach {request.reference} ops-falling-rolls")

    lines = held.text.splitlines()
    assert lines[0] == texts.TEACH_HELD.format(text=clashing, entry_id="ops-falling-rolls")
    assert f'- "{attendance.question}" (a phrasing of ops-attendance) would ' in held.text
    assert lines[-1] == texts.TEACH_HELD_CHAT
    assert [(b.label, b.action) for b in held.buttons] == [
        (texts.TEACH_ANYWAY, f"tcf:{request.id}:ops-falling-rolls")
    ]
    assert await learned(p) == []
    assert (await p.say(p.member, attendance.question)).text.startswith(attendance.answer)

    forced = await p.say(p.primary, action=held.buttons[0].action)

    assert forced.text.startswith(f'Taught: "{clashing}" → ops-falling-rolls')
    assert texts.TEACH_CHANGES in forced.text
    assert f'"{attendance.question}" (a phrasing of ops-attendance) now ' in forced.text
    assert [r.entry_id for r in await learned(p)] == ["ops-falling-rolls"]
    assert not (await p.say(p.member, attendance.question)).text.startswith(attendance.answer)


async def test_members_cannot_teach(p: Partnership) -> None:
    request = await pass_on(p, UNKNOWN)
    refused = await p.say(p.member, f"/teach {request.reference} {TAUGHT_TO}")
    assert refused.text == texts.STAFF_ONLY.format(command="/teach")
    pressed = await p.say(p.member, action=f"tch:{request.id}:{TAUGHT_TO}")
    assert pressed.text == texts.STAFF_ONLY.format(command="/teach")
    anyway = await p.say(p.member, action=f"tcf:{request.id}:{TAUGHT_TO}")
    assert anyway.text == texts.STAFF_ONLY.format(command="/teach")
    assert await learned(p) == []


async def test_bad_teach_input_gets_a_clear_message_and_stores_nothing(
    p: Partnership, kb: KnowledgeBase
) -> None:
    cost = kb.entry("membership-cost")
    assert cost is not None
    request = await pass_on(p, UNKNOWN)
    ref = request.reference
    await p.say(p.member, "/emergency a burst pipe is flooding the hall")
    emergency = await support_request(p, RequestKind.EMERGENCY)
    await p.say(p.member, "/human")
    no_text = await support_request(p)
    await p.say(p.member, f"/human {cost.question}")  # an FAQ question verbatim
    verbatim = await support_request(p)
    staff = p.primary

    cases = {
        "/teach": texts.TEACH_USAGE,
        f"/teach {ref} {TAUGHT_TO} extra": texts.TEACH_USAGE,
        f"/teach {ref} no-such-entry": texts.TEACH_UNKNOWN_ENTRY.format(
            entry_id="no-such-entry", hint=""
        ),
        "/teach HL-2099-9999 membership-cost": texts.BAD_REFERENCE.format(reference="HL-2099-9999"),
        "/teach HL-20 membership-cost": texts.BAD_REFERENCE.format(reference="HL-20"),
        f"/teach {emergency.reference} membership-cost": texts.TEACH_NOT_SUPPORT.format(
            reference=emergency.reference
        ),
        f"/teach {no_text.reference} membership-cost": texts.TEACH_NO_QUESTION.format(
            reference=no_text.reference
        ),
        f"/teach {verbatim.reference} membership-cost": texts.TEACH_KNOWN.format(
            text=cost.question, entry_id="membership-cost"
        ),
        f"/teach {verbatim.reference} membership-join": texts.TEACH_OTHER_ENTRY.format(
            text=cost.question, owner="membership-cost"
        ),
    }
    for command, expected in cases.items():
        assert (await p.say(staff, command)).text == expected, command
    misspelt = await p.say(staff, f"/teach {ref} membership-cots")
    assert misspelt.text.startswith("There is no FAQ entry 'membership-cots'. Did you mean ")
    assert "membership-cost" in misspelt.text
    # a reply to a message that names no request
    lost = await p.say(staff, f"/teach {TAUGHT_TO}", reply_to_text="Good morning everyone")
    assert lost.text == texts.TEACH_NO_REQUEST
    # an entry id without a reference and not as a reply
    assert (await p.say(staff, f"/teach {TAUGHT_TO}")).text == texts.TEACH_USAGE
    # buttons for a request or an entry that is gone
    for action in (f"tch:999999:{TAUGHT_TO}", f"tch:{request.id}:gone-entry", "tch:x", "tcf:"):
        assert (await p.say(staff, action=action)).text == texts.TEACH_STALE, action
    assert await learned(p) == []


async def test_a_question_longer_than_the_message_limit_is_not_taught(
    p: Partnership, kb: KnowledgeBase
) -> None:
    request = await pass_on(p, UNKNOWN)
    strict = Dispatcher(p.db, replace(p.deps, max_message_chars=30), DispatcherConfig())
    p.dispatcher = strict
    refused = await p.say(p.primary, f"/teach {request.reference} {TAUGHT_TO}")
    assert refused.text == texts.TEACH_TOO_LONG.format(length=len(UNKNOWN), limit=30)
    assert await learned(p) == []


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_running_dispatcher_picks_up_a_phrasing_taught_elsewhere_after_the_interval(
    p: Partnership, kb: KnowledgeBase
) -> None:
    ticks = Ticks()
    elsewhere = Dispatcher(
        p.db,
        replace(p.deps, kb=LiveKnowledge(kb, refresh_s=2.0, clock=ticks)),
        DispatcherConfig(),
    )
    teacher = p.dispatcher  # another process's dispatcher: its own holder, the same database
    p.dispatcher = elsewhere
    assert not (await p.say(p.member, UNKNOWN)).text.startswith(answer_of(kb, TAUGHT_TO))
    p.dispatcher = teacher
    passed = await pass_on(p, UNKNOWN)
    await p.say(p.primary, f"/teach {passed.reference} {TAUGHT_TO}")
    assert (await p.say(p.member, UNKNOWN)).text.startswith(answer_of(kb, TAUGHT_TO))

    p.dispatcher = elsewhere
    ticks.now += 1.0  # within the interval: no look at the table yet
    assert not (await p.say(p.member, UNKNOWN)).text.startswith(answer_of(kb, TAUGHT_TO))
    ticks.now += 1.0  # the interval has passed
    assert (await p.say(p.member, UNKNOWN)).text.startswith(answer_of(kb, TAUGHT_TO))
