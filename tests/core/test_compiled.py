"""Compiled data kept on disk (bot/core/compiled.py): read back under the same key, compiled
again under another, and a damaged or foreign file never used."""

from __future__ import annotations

import types
from dataclasses import dataclass
from pathlib import Path

from bot.core.compiled import FORMAT, KEEP, Compiled, Key


@dataclass(frozen=True, slots=True)
class Thing:
    name: str
    parts: frozenset[str]


@dataclass(frozen=True)
class Other:
    name: str


class Counting:
    """A compiler that says how often it ran."""

    def __init__(self, value: Thing) -> None:
        self.value = value
        self.runs = 0

    def __call__(self) -> Thing:
        self.runs += 1
        return self.value


THING = Thing("cues", frozenset({"flood", "fire"}))


def kept(folder: Path) -> Compiled[Thing]:
    return Compiled(folder, "thing", (Thing,))


def test_a_value_is_compiled_once_and_read_back_under_its_key(tmp_path: Path) -> None:
    compile_ = Counting(THING)
    first = kept(tmp_path).get("k1", compile_)
    again = kept(tmp_path).get("k1", compile_)  # another process, the same inputs
    assert first == again == THING
    assert compile_.runs == 1
    assert [p.name for p in tmp_path.iterdir()] == ["thing-k1.compiled"]  # no partial left


def test_another_key_compiles_again(tmp_path: Path) -> None:
    kept(tmp_path).get("k1", Counting(THING))
    changed = Thing("cues", frozenset({"gas"}))
    compile_ = Counting(changed)
    assert kept(tmp_path).get("k2", compile_) == changed
    assert compile_.runs == 1


def test_no_folder_keeps_nothing(tmp_path: Path) -> None:
    compile_ = Counting(THING)
    nowhere: Compiled[Thing] = Compiled(None, "thing", (Thing,))
    assert nowhere.get("k", compile_) == nowhere.get("k", compile_) == THING
    assert compile_.runs == 2


def test_a_damaged_file_is_compiled_again_and_replaced(tmp_path: Path) -> None:
    kept(tmp_path).get("k", Counting(THING))
    path = tmp_path / "thing-k.compiled"
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0xFF  # one flipped byte in the payload
    path.write_bytes(bytes(raw))
    compile_ = Counting(THING)
    assert kept(tmp_path).get("k", compile_) == THING
    assert compile_.runs == 1
    assert kept(tmp_path).read("k") == THING  # written afresh


def test_a_truncated_or_foreign_file_is_not_used(tmp_path: Path) -> None:
    path = tmp_path / "thing-k.compiled"
    for content in (b"", b"garbage", FORMAT, FORMAT + b"\n" + b"0" * 64 + b"\n"):
        path.write_bytes(content)
        assert kept(tmp_path).read("k") is None


def test_a_file_naming_a_class_not_allowed_is_not_used(tmp_path: Path) -> None:
    # A well-formed file, checksum and all, that would build another class: refused before that
    # class is built (so a file in the cache folder can never run code of its choosing).
    writer: Compiled[Other] = Compiled(tmp_path, "thing", (Other,))
    writer.write("k", Other("x"))
    assert writer.read("k") == Other("x")
    assert kept(tmp_path).read("k") is None


def test_only_the_newest_files_of_a_kind_are_kept(tmp_path: Path) -> None:
    for n in range(KEEP + 3):
        kept(tmp_path).write(f"k{n}", THING)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == KEEP
    assert f"thing-k{KEEP + 2}.compiled" in names


def test_the_key_changes_with_any_input(tmp_path: Path) -> None:
    data = tmp_path / "cues.yaml"
    data.write_text("flood: 1\n", encoding="utf-8")
    code = tmp_path / "compiler.py"
    code.write_text("X = 1\n", encoding="utf-8")
    module = types.ModuleType("compiler")
    module.__file__ = str(code)

    def key() -> str:
        return Key("thing").code([module]).file(data).text("policy").hexdigest()

    first = key()
    assert key() == first  # the same inputs, the same key (in any process: no set order)
    data.write_text("flood: 2\n", encoding="utf-8")
    second = key()
    code.write_text("X = 2\n", encoding="utf-8")
    third = key()
    assert len({first, second, third}) == 3
    assert (
        Key("thing").text("ab").text("c").hexdigest()
        != Key("thing").text("a").text("bc").hexdigest()
    )
    assert Key("other").hexdigest() != Key("thing").hexdigest()


def test_a_missing_file_differs_from_an_empty_one(tmp_path: Path) -> None:
    path = tmp_path / "stopwords.txt"
    missing = Key("k").file(path).hexdigest()
    path.write_text("", encoding="utf-8")
    assert Key("k").file(path).hexdigest() != missing
