"""Urgency detection with the shipped cues, on messages written for these tests."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.core.errors import DataError
from bot.escalation.categories import CATEGORIES
from bot.escalation.cues_file import build_detector, load_detector
from bot.escalation.urgency import UrgencyDetector
from bot.knowledge import Lexicon, load_knowledge_base, load_lexicon
from tests.conftest import DATA

CUES = DATA / "urgency" / "cues.yaml"


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return load_lexicon(DATA / "language")


@pytest.fixture(scope="module")
def detector(lexicon: Lexicon) -> UrgencyDetector:
    return load_detector(DATA, lexicon)


def shipped() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(CUES.read_text("utf-8"))
    return raw


TYPICAL = [
    ("ofsted-notification", "Ofsted have just rung, inspection starts tomorrow!!"),
    ("ofsted-notification", "lead inspector phoned, they're in tmrw"),
    ("ofsted-notification", "had the call - section 8 on thursday"),
    ("safeguarding", "y4 boy disclosed his stepdad hits him, DSL off today"),
    ("safeguarding", "we can't find a reception child, not in the building"),
    ("safeguarding", "pupil not collected, it's 6pm and no answer from home"),
    ("allegation", "parent says a TA grabbed her son by the arm at lunch"),
    ("allegation", "we've had an allegation against the head"),
    ("serious-incident", "year 9 boy brought a knife in, police on site"),
    ("serious-incident", "member of staff collapsed in the staffroom, paramedics here"),
    ("media", "a reporter from the local paper is at the gate"),
    ("media", "video of a fight in our playground has gone viral"),
    ("data-breach", "sent the SEN list to the wrong parent by mistake"),
    ("data-breach", "deputy's laptop stolen from her car with pupil records on it"),
    ("cyber", "ransomware - every file on the server is encrypted"),
    ("cyber", "my email has been hacked and is sending spam to parents"),
    ("premises", "burst pipe in the hall, water pouring through the ceiling"),
    ("premises", "strong smell of gas in the kitchen, we've evacuated"),
    ("closure", "heavy snow and half my staff can't get in, should I close?"),
    ("closure", "boiler has packed up and we may have to close today"),
    ("industrial-action", "NEU strike on thursday, half my teachers are out"),
    ("industrial-action", "staff walked out this morning over the restructure"),
    ("exams", "year 6 SATs papers were opened a day early"),
    ("exams", "invigilator left the room during the maths paper"),
    ("other-urgent", "I need someone to call me urgently"),
    ("other-urgent", "crisis here, please ring me asap"),
]


@pytest.mark.parametrize(("category", "text"), TYPICAL)
def test_a_typical_message_of_each_category_is_urgent(
    detector: UrgencyDetector, category: str, text: str
) -> None:
    result = detector.detect(text)
    assert (result.urgent, result.category) == (True, category), result
    assert result.cue is not None
    assert 0.0 < result.score <= 1.0


def test_every_category_has_a_typical_message() -> None:
    assert {category for category, _ in TYPICAL} == set(CATEGORIES)


@pytest.mark.parametrize(
    "text",
    [
        "can you recommend safeguarding training for new governors next term",
        "how do we prepare for ofsted?",
        "our fire drill policy needs updating, is there a template?",
        "what's the process for a LADO referral? it's for our policy review",
        "is there a data protection course for office staff",
        "any examples of a good severe weather policy?",
        "what's the hotline number?",
        "when is the next DSL network meeting",
        "what happens when Ofsted call?",
        "what should we do if the heating fails in winter?",
        "can we have a session on handling the media for new heads",
        "thanks for your help with the burst pipe last week, all sorted",
        "what counts as an emergency for the hotline?",
        "do you know a good supplier for fire extinguishers?",
        "How many days notice do unions have to give before a strike?",
        "please resend the invoice for our membership",
    ],
)
def test_calm_messages_with_urgent_words_are_not_urgent(
    detector: UrgencyDetector, text: str
) -> None:
    result = detector.detect(text)
    assert not result.urgent, result
    assert (result.category, result.cue) == (None, None)


@pytest.mark.parametrize(
    ("category", "text"),
    [
        ("ofsted-notification", "ofsted have just phnoed, inspecton tomorow"),
        ("cyber", "ransomwear has encrpyted all our servers"),
        ("safeguarding", "safegaurding concern, a pupil dislcosed abuse this morning"),
        ("media", "journalsit outside the gates asking parents questions"),
        ("industrial-action", "teachers on strik tomorow"),
    ],
)
def test_typos_are_still_detected(detector: UrgencyDetector, category: str, text: str) -> None:
    result = detector.detect(text)
    assert (result.urgent, result.category) == (True, category), result


def test_ordinary_words_are_not_mended_into_cue_words(detector: UrgencyDetector) -> None:
    # "reported" is one letter from "reporter", "floor" from "flood": both are real words.
    assert detector.detect("a parent reported that the floor in the hall is sticky").urgent is False


def test_a_negated_cue_does_not_count(detector: UrgencyDetector) -> None:
    assert not detector.detect("Nobody has been hurt").urgent
    fire = detector.detect("small kitchen fire this morning, put out, no one was hurt")
    assert (fire.urgent, fire.category) == (True, "premises")


def test_word_order_separates_who_did_what(detector: UrgencyDetector) -> None:
    assert detector.detect("a teacher hit a pupil in the corridor").category == "allegation"
    assert detector.detect("a pupil punched a teacher in the corridor").category == (
        "serious-incident"
    )


def test_a_specific_category_wins_over_the_catch_all(detector: UrgencyDetector) -> None:
    result = detector.detect("emergency!! the heating has failed and it's 12 degrees")
    assert (result.urgent, result.category) == (True, "premises")


@pytest.mark.parametrize(
    "text", ["", "   ", "🙏🙏🙏", "ok thanks 👍", "\x00\x07\u202e\x1b[31m", "?!?!", "مرحبا"]
)
def test_empty_emoji_and_control_characters_do_not_fail(
    detector: UrgencyDetector, text: str
) -> None:
    result = detector.detect(text)
    assert (result.urgent, result.category, result.cue) == (False, None, None)


def test_a_huge_message_is_read_only_from_its_opening(detector: UrgencyDetector) -> None:
    filler = "lorem ipsum dolor sit amet consectetur " * 1500
    start = time.perf_counter()
    late = detector.detect(filler + " a pupil has been stabbed")
    early = detector.detect("a pupil has been stabbed. " + filler)
    assert time.perf_counter() - start < 1.0
    assert not late.urgent
    assert (early.urgent, early.category) == (True, "serious-incident")


def test_detection_is_deterministic(lexicon: Lexicon) -> None:
    text = "ofsted rnag this mornign, in tomorow"
    first = load_detector(DATA, lexicon).detect(text)
    assert all(load_detector(DATA, lexicon).detect(text) == first for _ in range(3))


def test_the_shipped_data_loads_with_every_category(detector: UrgencyDetector) -> None:
    assert tuple(detector.categories) == CATEGORIES
    for slug, category in detector.categories.items():
        assert category.slug == slug
        assert 1 <= len(category.cues) <= 100


def test_every_guidance_id_exists_in_the_shipped_faq(detector: UrgencyDetector) -> None:
    kb = load_knowledge_base(DATA)
    missing = [g for c in detector.categories.values() for g in c.guidance if kb.entry(g) is None]
    assert missing == []
    assert detector.categories["ofsted-notification"].guidance[0] == "ofsted-call-received"


def test_only_safeguarding_and_serious_incidents_put_danger_first(
    detector: UrgencyDetector,
) -> None:
    first = {slug for slug, c in detector.categories.items() if c.danger_first}
    assert first == {"safeguarding", "serious-incident"}


def test_a_data_dir_without_cues_falls_back_to_the_bundled_ones(
    tmp_path: Path, lexicon: Lexicon
) -> None:
    result = load_detector(tmp_path, lexicon).detect("Ofsted have just rung")
    assert result.category == "ofsted-notification"


def test_a_data_dir_with_its_own_cues_uses_them(tmp_path: Path, lexicon: Lexicon) -> None:
    raw = shipped()
    raw["categories"]["premises"]["cues"].append("=wasps nest")
    (tmp_path / "urgency").mkdir()
    (tmp_path / "urgency" / "cues.yaml").write_text(yaml.safe_dump(raw), "utf-8")
    result = load_detector(tmp_path, lexicon).detect("there's a wasps nest in the hall")
    assert (result.urgent, result.category, result.cue) == (True, "premises", "=wasps nest")


def test_alternatives_and_literal_phrases(lexicon: Lexicon) -> None:
    raw = shipped()
    raw["categories"]["exams"]["cues"] = ["marker/moderator lost/binned", "=blue peter"]
    detector = build_detector(raw, lexicon)
    assert detector.detect("the moderator binned a folder").category == "exams"
    assert detector.detect("blue peter are filming").category == "exams"
    assert detector.detect("peter is blue").category != "exams"


def problems_for(mutate: Callable[[dict[str, Any]], None], lexicon: Lexicon) -> list[str]:
    raw = copy.deepcopy(shipped())
    mutate(raw)
    with pytest.raises(DataError) as caught:
        build_detector(raw, lexicon)
    return caught.value.problems


def test_bad_cues_data_names_the_category_and_field(lexicon: Lexicon) -> None:
    def bad(raw: dict[str, Any]) -> None:
        cats = raw["categories"]
        del cats["safeguarding"]["guidance"]
        cats["media"]["cues"] = "journalist"
        cats["cyber"]["danger_first"] = "yes"
        cats["exams"]["cues"] = ["papers opened far too early today"]
        cats["closure"]["colour"] = "blue"
        del cats["premises"]
        cats["weather"] = {"guidance": "x", "cues": ["snow"]}

    problems = problems_for(bad, lexicon)
    assert (
        "cues.yaml: category safeguarding: guidance: expected an FAQ entry id or a list of them"
        in problems
    )
    assert "cues.yaml: category media: cues: expected a list of phrases" in problems
    assert "cues.yaml: category cyber: danger_first: expected true or false" in problems
    assert any(p.startswith("cues.yaml: category exams: cues: 'papers opened") for p in problems)
    assert "cues.yaml: category closure: colour: unknown field" in problems
    assert any(p.startswith("cues.yaml: category premises: missing") for p in problems)
    assert any(p.startswith("cues.yaml: category weather: not one of") for p in problems)


def test_empty_cues_and_phrases_with_no_words_are_refused(lexicon: Lexicon) -> None:
    def bad(raw: dict[str, Any]) -> None:
        raw["categories"]["media"]["cues"] = []
        raw["categories"]["cyber"]["cues"] = ["ransomware", "!!!"]

    problems = problems_for(bad, lexicon)
    assert "cues.yaml: category media: cues: expected at least one phrase" in problems
    assert "cues.yaml: category cyber: cues: '!!!' has no words to match" in problems


def test_missing_top_level_lists_are_refused(lexicon: Lexicon) -> None:
    def bad(raw: dict[str, Any]) -> None:
        del raw["pressing"]
        raw["calm"] = {"policy": 1}
        raw["extra"] = []

    problems = problems_for(bad, lexicon)
    assert "cues.yaml: pressing: expected a list of phrases" in problems
    assert "cues.yaml: calm: expected a list of phrases" in problems
    assert "cues.yaml: extra: unknown field" in problems


def test_bad_yaml_is_a_data_error(tmp_path: Path, lexicon: Lexicon) -> None:
    (tmp_path / "urgency").mkdir()
    (tmp_path / "urgency" / "cues.yaml").write_text("categories: [unclosed", "utf-8")
    with pytest.raises(DataError, match=r"cues\.yaml: bad YAML"):
        load_detector(tmp_path, lexicon)


def test_typo_collisions_lists_real_words_that_would_be_bent(detector: UrgencyDetector) -> None:
    assert detector.typo_collisions(["Floor", "flood", "xyzzy", "ab"]) == ["floor"]
    assert detector.typo_collisions(["flood", "xyzzy"]) == []
