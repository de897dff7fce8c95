"""The matcher on a small hand-made knowledge base (behaviour) and on the real one (smoke)."""

import time
from dataclasses import replace

import pytest

from bot.core.types import Band
from bot.knowledge import KnowledgeBase, build_index, build_lexicon, match
from bot.knowledge.matcher import DEFAULT_POLICY
from tests.factories import make_entry

ENTRIES = (
    make_entry(
        "inspection-call",
        "The inspectors have phoned to say they are coming",
        alternatives=("inspection announced for tomorrow",),
        keywords=("inspector", "notification"),
    ),
    make_entry(
        "fees", "How much does membership cost?", alternatives=("annual subscription price",)
    ),
    make_entry(
        "leave", "How do we leave the partnership?", alternatives=("cancel our membership",)
    ),
    make_entry(
        "course-cancel",
        "How do I cancel a course booking?",
        alternatives=("cancel training place",),
    ),
)
LEXICON = build_lexicon(
    ["the", "a", "to", "do", "we", "i", "our", "they", "are", "have", "for", "say", "does", "is"],
    [["phone", "rang", "called"], ["cost", "how much", "price", "fee"]],
)
INDEX = build_index(ENTRIES, LEXICON)


def test_a_paraphrase_of_a_question_is_answered() -> None:
    result = match("inspectors rang, they are coming tomorrow", INDEX)
    assert result.band is Band.ANSWER
    assert result.answer_id == "inspection-call"


def test_synonyms_bridge_different_words() -> None:
    assert match("what is the membership fee", INDEX).answer_id == "fees"


def test_typos_are_corrected_to_known_words() -> None:
    assert match("inspecters phoned", INDEX).answer_id == "inspection-call"


def test_unrelated_question_is_unknown_with_no_answer() -> None:
    result = match("who is top of the premier league table", INDEX)
    assert result.band is Band.UNKNOWN
    assert result.answer_id is None


def test_a_near_tie_offers_suggestions_not_an_answer() -> None:
    twins = build_index(
        (
            make_entry("portal-login", "Reset my password for the booking portal"),
            make_entry("email-login", "Reset my password for the email account"),
        ),
        LEXICON,
    )
    result = match("reset password", twins)
    assert result.band is Band.SUGGEST
    assert result.answer_id is None
    assert {s.id for s in result.suggestions} == {"portal-login", "email-login"}


def test_one_word_shared_by_several_entries_is_not_enough_for_an_answer() -> None:
    strict = replace(DEFAULT_POLICY, one_word_spread=1)
    assert match("cancel", INDEX).band is Band.ANSWER
    result = match("cancel", INDEX, strict)
    assert result.band is Band.SUGGEST
    assert {s.id for s in result.suggestions} == {"leave", "course-cancel"}


def test_suggestions_are_ranked_and_at_most_three() -> None:
    result = match("cancel membership course booking inspection cost", INDEX)
    scores = [s.score for s in result.suggestions]
    assert len(scores) <= 3
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize(
    "text", ["", "   ", "🙂🙂", "\x00\x07", "'; DROP TABLE faq; --", "<script>x</script>"]
)
def test_empty_or_odd_input_is_unknown_and_does_not_fail(text: str) -> None:
    result = match(text, INDEX)
    assert result.band is Band.UNKNOWN
    assert result.query == text.strip()


def test_a_very_long_message_is_matched_on_its_opening_words_in_bounded_time() -> None:
    text = "cancel our membership " + "blah " * 2000
    started = time.perf_counter()
    result = match(text, INDEX)
    assert time.perf_counter() - started < 1.0  # a guard against runaway work, not a speed target
    assert result.suggestions[0].id == "leave"


def test_json_shape_is_the_stable_interface() -> None:
    payload = match("membership price", INDEX).as_json()
    assert set(payload) == {"query", "band", "answer_id", "score", "suggestions"}
    assert payload["band"] == "answer"
    assert payload["answer_id"] == "fees"
    assert all(set(s) == {"id", "score"} for s in payload["suggestions"])  # type: ignore[attr-defined]


def test_the_real_knowledge_base_answers_an_ofsted_call(kb: KnowledgeBase) -> None:
    result = kb.match("ofsted just rang")
    assert result.band is Band.ANSWER
    assert result.answer_id == "ofsted-call-received"


def test_every_real_entry_is_found_by_its_own_question(kb: KnowledgeBase) -> None:
    misses = [e.id for e in kb.index.entries if kb.match(e.question).suggestions[0].id != e.id]
    assert misses == []
