"""The data-file reader every loader shares: files, YAML with lines, CSV with lines, problems."""

from datetime import date
from pathlib import Path

import pytest
import yaml

from bot.core.datafile import (
    BadYaml,
    Problems,
    Unreadable,
    compose,
    nearest_line,
    parse_yaml,
    read_csv,
    read_text,
)
from bot.core.errors import DataError

ROTA_LIKE = """\
timezone: Europe/London
hours:
  - {days: Mon-Fri, from: 08:00, to: 18:00}
  - days: Sat
    from: "09:00"
closed: 2026-02-30
note: ~
code: 0123
open: yes
"""


def test_typed_yaml_is_what_safe_load_gives_with_the_line_of_every_node() -> None:
    text = ROTA_LIKE.replace("2026-02-30", "2026-02-28")
    typed = parse_yaml(text, "rota.yaml")
    assert typed.data == yaml.safe_load(text)
    assert isinstance(typed.data, dict)
    assert typed.data["hours"][0]["to"] == 1080  # YAML 1.1: sexagesimal
    assert typed.data["closed"] == date(2026, 2, 28)
    assert typed.data["code"] == 83 and typed.data["open"] is True
    assert typed.lines[("timezone",)] == 1
    assert typed.lines[("hours", 0)] == 3
    assert typed.lines[("hours", 1, "from")] == 5
    assert typed.line(("hours", 1, "to")) == 4  # a missing field: the line of its mapping
    assert typed.line(("nowhere",)) is None  # the root's line is never used


def test_text_mode_keeps_every_scalar_as_written() -> None:
    document = parse_yaml(ROTA_LIKE, "rota.yaml", typed=False)
    assert isinstance(document.data, dict)
    assert document.data["hours"][0] == {"days": "Mon-Fri", "from": "08:00", "to": "18:00"}
    assert document.data["closed"] == "2026-02-30"  # not refused before the loader can say where
    assert document.data["note"] is None
    assert (document.data["code"], document.data["open"]) == ("0123", "yes")
    assert document.lines[("closed",)] == 6
    assert nearest_line(document.lines, ("hours", 1, "days")) == 4


def test_an_impossible_date_in_typed_yaml_is_bad_yaml_with_its_line() -> None:
    with pytest.raises(BadYaml) as caught:
        parse_yaml(ROTA_LIKE, "rota.yaml")
    assert caught.value.problems == [
        "rota.yaml:6: bad YAML: 2026-02-30: day is out of range for month"
    ]
    assert (caught.value.line, caught.value.column) == (6, 9)


def test_bad_yaml_names_the_line_and_keeps_the_parsers_whole_message() -> None:
    with pytest.raises(BadYaml) as caught:
        parse_yaml("a: 1\nb: c: d\n", "x.yaml")
    assert caught.value.problems == ["x.yaml:2: bad YAML: mapping values are not allowed here"]
    assert "line 2, column 5" in caught.value.detail
    with pytest.raises(BadYaml) as unmarked:  # the reader's errors carry no line
        parse_yaml("a: \x07\n", "x.yaml")
    assert unmarked.value.line is None
    assert unmarked.value.problems[0].startswith("x.yaml: bad YAML: unacceptable character")
    with pytest.raises(BadYaml, match=r"x\.yaml:1: bad YAML: an alias inside the node"):
        parse_yaml("a: &a [1, *a]\n", "x.yaml", typed=False)


def test_merged_keys_and_aliases_have_lines() -> None:
    text = "base: &b\n  from: '08:00'\nshift:\n  <<: *b\n  to: '09:00'\n"
    document = parse_yaml(text, "x.yaml")
    assert document.data == yaml.safe_load(text)
    assert document.lines[("shift", "from")] == 2
    assert document.lines[("shift", "to")] == 5


def test_compose_gives_the_nodes_and_empty_documents_are_none() -> None:
    root = compose("a:\n  - '42'\n  - 42\n", "x.yaml", fast=True)
    assert isinstance(root, yaml.MappingNode)
    items = root.value[0][1].value
    assert [item.tag.rsplit(":", 1)[1] for item in items] == ["str", "int"]
    assert compose("", "x.yaml") is None
    assert parse_yaml("# nothing\n", "x.yaml").data is None


def test_csv_rows_keep_their_lines() -> None:
    text = 'email,name\na@x.org,Ann\n\nb@x.org,"Bo\nB"\nc@x.org\nd@x.org,Di,extra\n'
    header, rows = read_csv(text, "p.csv")
    assert header == ["email", "name"]
    assert [(row.line, row.cells) for row in rows] == [
        (2, ("a@x.org", "Ann")),
        (5, ("b@x.org", "Bo\nB")),  # where the row ends
        (6, ("c@x.org",)),
        (7, ("d@x.org", "Di", "extra")),
    ]
    assert rows[2].fields(header) == {"email": "c@x.org", "name": None}
    assert rows[3].overflows(header) and not rows[0].overflows(header)
    assert read_csv("", "p.csv") == ([], [])


def test_problems_read_file_line_field_message() -> None:
    out = Problems("d.yaml")
    out.add("missing", 4, "name")
    out.add("unknown section 'x'")
    out.add("expected a list", None, "people")
    out.add("not an email address", 9)
    assert out.messages == [
        "d.yaml:4: name: missing",
        "d.yaml: unknown section 'x'",
        "d.yaml: people: expected a list",
        "d.yaml:9: not an email address",
    ]
    with pytest.raises(DataError) as caught:
        out.raise_any()
    assert caught.value.problems == out.messages
    Problems("empty.yaml").raise_any()  # nothing found: nothing raised


def test_problems_in_line_order_put_the_whole_file_first() -> None:
    out = Problems("rota.yaml", in_line_order=True)
    out.add("unknown section", 10, "colour")
    out.add("missing", None, "fallback")
    out.add("unknown timezone", 1, "timezone")
    out.extend(["stored rota: already formatted"])
    assert out.messages == [
        "rota.yaml: fallback: missing",
        "stored rota: already formatted",
        "rota.yaml:1: timezone: unknown timezone",
        "rota.yaml:10: colour: unknown section",
    ]
    assert len(out) == 4


def test_a_missing_or_unreadable_file_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(Unreadable) as missing:
        read_text(tmp_path / "none.yaml")
    assert missing.value.problems == [f"{tmp_path / 'none.yaml'}: no such file"]
    latin = tmp_path / "latin.csv"
    latin.write_bytes("name\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(Unreadable) as unreadable:
        read_text(latin)
    assert unreadable.value.problems[0].startswith(f"{latin}: cannot read: 'utf-8' codec")
    assert unreadable.value.detail.startswith("'utf-8' codec can't decode byte 0xe9")
    with pytest.raises(DataError, match=r"cannot read: .*Is a directory"):
        read_text(tmp_path)


def test_a_byte_order_mark_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(b"\xef\xbb\xbfemail,name\na@x.org,Ann\n")
    header, rows = read_csv(read_text(path), path.name)
    assert header == ["email", "name"] and rows[0].line == 2
    path.write_bytes(b"\xef\xbb\xbftimezone: UTC\n")
    document = parse_yaml(read_text(path), "rota.yaml")
    assert document.data == {"timezone": "UTC"} and document.lines[("timezone",)] == 1
