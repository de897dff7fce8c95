"""The guidance shown with a reference is the category's entry that the words match best (the FAQ
matcher within the category's own entries), never one written for another category."""

import pytest

from bot.conversation.emergency import guidance_for
from bot.escalation.urgency import UrgencyDetector
from bot.knowledge import KnowledgeBase
from tests.escalation.conftest import Partnership

# Several phrasings per category, in words a head might type; (category, text, expected entry).
PHRASINGS = [
    ("safeguarding", "a pupil has gone missing from our school trip", "urgent-missing-child"),
    (
        "safeguarding",
        "year 3 boy not back after lunch, can't find him anywhere",
        "urgent-missing-child",
    ),
    ("safeguarding", "a girl told us her uncle touches her and she won't go home", None),
    ("safeguarding", "a child is in immediate danger at the school gate right now", None),
    (
        "serious-incident",
        "a teacher has died suddenly over the weekend",
        "urgent-death-in-community",
    ),
    (
        "serious-incident",
        "a pupil fell from the climbing frame and is unconscious",
        "urgent-serious-injury",
    ),
    ("ofsted-notification", "Ofsted just phoned, they arrive tomorrow", "ofsted-call-received"),
    ("allegation", "a parent says a TA grabbed her son by the arm", None),
    ("media", "a journalist is asking about the head's suspension", "urgent-media-enquiry"),
    ("data-breach", "we emailed the whole class list with addresses to every parent", None),
    ("cyber", "ransomware has locked every laptop in the office", "urgent-cyber-attack"),
    ("premises", "a burst pipe has flooded the hall", "urgent-premises-emergency"),
]


@pytest.mark.parametrize(("category", "text", "expected"), PHRASINGS)
def test_guidance_comes_from_the_category_and_the_best_evidence(
    urgency: UrgencyDetector, kb: KnowledgeBase, category: str, text: str, expected: str | None
) -> None:
    detected = urgency.detect(text)
    assert detected.category == category, (text, detected)
    own = urgency.categories[category].guidance
    chosen = kb.best_of(text, own) or own[0]
    assert chosen in own
    if expected is not None:
        assert chosen == expected


async def test_the_missing_child_words_get_the_missing_child_guidance_with_a_reference(
    p: Partnership, kb: KnowledgeBase
) -> None:
    """/emergency once showed the disclosure advice for a child missing from a trip, while
    `hotline ask` picked the missing-child entry for the same words."""
    text = "a pupil has gone missing from our school trip"
    reply = await p.say(p.member, f"/emergency {text}")
    missing, disclosure = kb.entry("urgent-missing-child"), kb.entry("urgent-safeguarding-concern")
    assert missing is not None and disclosure is not None
    assert missing.answer in reply.text and disclosure.answer not in reply.text
    assert kb.match(text).answer_id in (None, "urgent-missing-child")


def test_no_entry_is_the_guidance_of_two_categories(urgency: UrgencyDetector) -> None:
    owners: dict[str, str] = {}
    for slug, category in urgency.categories.items():
        for entry_id in category.guidance:
            assert owners.setdefault(entry_id, slug) == slug, entry_id


def test_a_category_with_no_evidence_gets_its_first_entry(
    p: Partnership, urgency: UrgencyDetector
) -> None:
    first = p.deps.kb.entry(urgency.categories["premises"].guidance[0])
    assert first is not None
    assert guidance_for(p.deps, "zzz", "premises") == first.answer
    assert guidance_for(p.deps, "anything", None) is None
