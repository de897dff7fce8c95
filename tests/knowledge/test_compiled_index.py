"""The compiled knowledge index kept in the cache folder: read back while its files are
unchanged, compiled again when a file changes or the kept file is damaged, and never in place of
a file that is now invalid. `compile_index` is made to fail where the kept copy must be used, so
a hit is seen without timing anything (tests/escalation/test_compiled_cues.py: the cues)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.core.errors import DataError
from bot.knowledge import loader
from bot.knowledge.loader import INDEX_KIND, load_knowledge_base
from tests.conftest import DATA

QUESTION = "how much is membership per pupil"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A copy of the FAQ, language and urgency files, to change."""
    copy = tmp_path / "data"
    for folder in ("faq", "language", "urgency"):
        shutil.copytree(DATA / folder, copy / folder)
    return copy


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def refuse(*_args: object) -> None:
    raise AssertionError("compiled again, though the kept copy was for exactly these files")


def kept(cache: Path, kind: str) -> list[Path]:
    return sorted(cache.glob(f"{kind}-*.compiled"))


def damage(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))


def test_an_unchanged_faq_is_read_back(
    data: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = load_knowledge_base(data, None, cache)
    assert len(kept(cache, INDEX_KIND)) == 1
    monkeypatch.setattr(loader, "compile_index", refuse)
    again = load_knowledge_base(data, None, cache)
    assert again.index == first.index
    assert again.match(QUESTION) == first.match(QUESTION)
    assert again.match(QUESTION).answer_id == "membership-cost"


def test_a_changed_faq_file_is_compiled_again(data: Path, cache: Path) -> None:
    load_knowledge_base(data, None, cache)
    faq = data / "faq" / "membership.yaml"
    faq.write_text(
        faq.read_text("utf-8").replace("Core membership is charged", "Membership now costs"),
        encoding="utf-8",
    )
    entry = load_knowledge_base(data, None, cache).entry("membership-cost")
    assert entry is not None and entry.answer.startswith("Membership now costs")
    assert len(kept(cache, INDEX_KIND)) == 2


def test_a_changed_language_file_is_compiled_again(data: Path, cache: Path) -> None:
    before = load_knowledge_base(data, None, cache)
    synonyms = data / "language" / "synonyms.yaml"
    synonyms.write_text(
        synonyms.read_text("utf-8") + "\n  - [zorblax, membership]\n", encoding="utf-8"
    )
    after = load_knowledge_base(data, None, cache)
    assert "zorblax" not in before.index.lexicon.surface_words
    assert "zorblax" in after.index.lexicon.surface_words


def test_a_damaged_index_file_is_compiled_again(data: Path, cache: Path) -> None:
    first = load_knowledge_base(data, None, cache)
    (path,) = kept(cache, INDEX_KIND)
    damage(path)
    again = load_knowledge_base(data, None, cache)
    assert again.index == first.index
    assert again.match(QUESTION).answer_id == "membership-cost"


def test_an_invalid_faq_is_refused_though_an_index_of_the_old_files_is_kept(
    data: Path, cache: Path
) -> None:
    load_knowledge_base(data, None, cache)
    (data / "faq" / "broken.yaml").write_text("- id: only-question\n  question: Q?\n")
    with pytest.raises(DataError, match=r"broken\.yaml"):
        load_knowledge_base(data, None, cache)
    assert len(kept(cache, INDEX_KIND)) == 1  # nothing kept for the broken files


def test_learned_phrasings_added_before_are_read_back(
    data: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = load_knowledge_base(data, None, cache)
    extra = {"membership-cost": ("what do we pay to be in the zorblax club",)}
    taught = base.with_phrasings(extra)
    assert taught.match("what do we pay for the zorblax club").answer_id == "membership-cost"
    monkeypatch.setattr(loader, "build_index", refuse)
    assert base.with_phrasings(extra).index == taught.index  # read back, not built
    with pytest.raises(AssertionError, match="compiled again"):
        base.with_phrasings({"membership-cost": ("another wording",)})
