"""FAQ validation: `hotline faq check` names file, entry id and field for every problem."""

import shutil
from pathlib import Path

import pytest

from bot.cli import main
from bot.core.errors import DataError
from bot.knowledge import check_faq_dir, load_knowledge_base
from tests.conftest import DATA


@pytest.fixture
def faq_copy(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(DATA / "faq", target / "faq")
    return target / "faq"


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def test_the_shipped_knowledge_base_is_valid_and_keeps_every_shared_id() -> None:
    entries, problems = check_faq_dir(DATA / "faq")
    assert problems == []
    assert len(entries) >= 79
    shared = Path(__file__).resolve().parents[3] / "shared" / "faq"
    if shared.is_dir():
        original, _ = check_faq_dir(shared)
        assert {e.id for e in original} <= {e.id for e in entries}


def test_faq_check_passes_on_the_data_folder(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["faq", "check", str(DATA / "faq")]) == 0
    assert "all valid" in capsys.readouterr().out


def test_bad_yaml_is_reported_with_its_line(
    faq_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(faq_copy / "broken.yaml", "- id: x-one\n  question: [unclosed\n  answer: hi\n")
    assert main(["faq", "check", str(faq_copy)]) == 1
    out = capsys.readouterr().out
    assert "broken.yaml: bad YAML at line" in out


def test_duplicate_id_missing_answer_and_unknown_category(
    faq_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(
        faq_copy / "extra.yaml",
        "- id: ofsted-call-received\n  question: Again?\n  answer: Yes.\n  category: ofsted\n"
        "- id: no-answer\n  question: Where is the answer?\n  category: ofsted\n"
        "- id: odd-category\n  question: What?\n  answer: This.\n  category: gardening\n"
        "- id: blank-answer\n  question: Blank?\n  answer: '   '\n  category: ofsted\n",
    )
    assert main(["faq", "check", str(faq_copy.parent)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert any(
        "entry ofsted-call-received: id: duplicate id" in line and "extra.yaml" in line
        for line in lines
    )
    assert "extra.yaml: entry no-answer: answer: missing" in lines
    assert "extra.yaml: entry blank-answer: answer: empty" in lines
    assert any(
        line.startswith("extra.yaml: entry odd-category: category: unknown category 'gardening'")
        for line in lines
    )
    assert len(lines) == 4


def test_wrong_types_and_unknown_fields_are_named(faq_copy: Path) -> None:
    _write(
        faq_copy / "types.yaml",
        "- id: Bad Id\n  question: 42\n  answer: ok\n  category: ofsted\n  alternatives: just one\n  colour: red\n",
    )
    _, problems = check_faq_dir(faq_copy)
    assert (
        "types.yaml: entry Bad Id: id: use 2 to 50 lower-case letters, digits and hyphens"
        in problems
    )
    assert "types.yaml: entry Bad Id: question: must be text, found int" in problems
    assert "types.yaml: entry Bad Id: alternatives: must be a list, found str" in problems
    assert "types.yaml: entry Bad Id: colour: unknown field" in problems


def test_loading_refuses_an_invalid_knowledge_base(faq_copy: Path) -> None:
    _write(faq_copy / "empty.yaml", "")
    with pytest.raises(DataError) as info:
        load_knowledge_base(faq_copy.parent)
    assert info.value.problems == ["empty.yaml: file is empty"]


def test_a_faq_set_without_a_categories_file_accepts_any_category(tmp_path: Path) -> None:
    (tmp_path / "faq").mkdir()
    _write(
        tmp_path / "faq" / "x.yaml",
        "- id: a-b\n  question: Q?\n  answer: A.\n  category: anything\n",
    )
    kb = load_knowledge_base(tmp_path)
    assert kb.index.ids == ("a-b",)
