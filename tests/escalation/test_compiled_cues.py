"""The compiled urgency cues kept in the cache folder: read back while the cue file and the
lexicon are unchanged, compiled again when either changes or the kept file is damaged.
`compile_detector` is made to fail where the kept copy must be used, so a hit is seen without
timing anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.escalation import cues_file
from bot.escalation.cues_file import DETECTOR_KIND, load_detector
from bot.knowledge.language import load_lexicon
from tests.conftest import DATA
from tests.knowledge.test_compiled_index import cache, damage, data, kept, refuse

__all__ = ["cache", "data"]  # the fixtures


def test_unchanged_urgency_cues_are_read_back(
    data: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lexicon = load_lexicon(data / "language")
    first = load_detector(data, lexicon, cache_dir=cache)
    monkeypatch.setattr(cues_file, "compile_detector", refuse)
    again = load_detector(data, load_lexicon(data / "language"), cache_dir=cache)
    message = "there is a flood in the hall and water coming through the ceiling"
    assert again.detect(message) == first.detect(message)
    assert again.detect(message).urgent


def test_changed_cues_or_lexicon_are_compiled_again(data: Path, cache: Path) -> None:
    lexicon = load_lexicon(data / "language")
    message = "the zorblax has escaped from the science lab"
    assert not load_detector(data, lexicon, cache_dir=cache).detect(message).urgent
    cues = data / "urgency" / "cues.yaml"
    text = cues.read_text("utf-8")
    marker = "\n    cues:\n"
    at = text.index(marker, text.index("\n  premises:")) + len(marker)
    cues.write_text(text[:at] + "      - zorblax escaped\n" + text[at:], encoding="utf-8")
    assert load_detector(data, lexicon, cache_dir=cache).detect(message).urgent
    assert len(kept(cache, DETECTOR_KIND)) == 2
    other = load_lexicon(DATA / "language")
    other = type(other)(other.stopwords | {"zorblax"}, other.phrases, other.surface_words)
    load_detector(data, other, cache_dir=cache)
    assert len(kept(cache, DETECTOR_KIND)) == 3


def test_a_damaged_cues_file_is_compiled_again(data: Path, cache: Path) -> None:
    lexicon = load_lexicon(data / "language")
    first = load_detector(data, lexicon, cache_dir=cache)
    (path,) = kept(cache, DETECTOR_KIND)
    damage(path)
    message = "ofsted just rang, inspection tomorrow"
    assert load_detector(data, lexicon, cache_dir=cache).detect(message) == first.detect(message)
