"""The rota, requests and report commands against a real database file."""

import csv
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import DATA


def test_rota_import_show_override_and_check(
    example_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rota", "import", str(DATA / "example" / "rota.yaml")]) == 0
    capsys.readouterr()
    assert main(["rota", "show", "--at", "2026-11-23T10:00"]) == 0  # a Monday
    shown = capsys.readouterr().out
    assert (
        "inside hotline hours" in shown
        and "level 1 primary: sam.adeyemi@partnership.example.org" in shown
    )
    assert (
        main(
            [
                "rota",
                "override",
                "joe.kaminski@partnership.example.org",
                "--from",
                "2026-11-23T09:00",
                "--to",
                "2026-11-23T12:00",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["rota", "show", "--at", "2026-11-23T10:00"]) == 0
    assert "level 1 primary: joe.kaminski@partnership.example.org" in capsys.readouterr().out
    assert main(["rota", "show", "--at", "2026-11-23T21:00"]) == 0
    assert "outside hotline hours" in capsys.readouterr().out
    assert main(["rota", "check", "--days", "3"]) == 1  # nobody has linked a chat account yet
    assert "no linked chat account: sam.adeyemi@partnership.example.org" in capsys.readouterr().out


def test_bad_rota_input_gets_a_clear_message(
    example_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "rota.yaml"
    bad.write_text("timezone: Mars/Olympus\nhotline_hours: []\n", encoding="utf-8")
    assert main(["rota", "import", str(bad)]) == 1
    assert "rota.yaml:1" in capsys.readouterr().err
    assert main(["rota", "show"]) == 1
    assert "no rota imported yet" in capsys.readouterr().err
    assert (
        main(
            [
                "rota",
                "override",
                "amara.okafor@stmarys.example.org",
                "--from",
                "2026-11-23T09:00",
                "--to",
                "2026-11-23T12:00",
            ]
        )
        == 1
    )
    assert "is not a member of staff" in capsys.readouterr().err
    assert (
        main(
            [
                "rota",
                "override",
                "sam.adeyemi@partnership.example.org",
                "--from",
                "tomorrow",
                "--to",
                "later",
            ]
        )
        == 1
    )
    assert "is not a time like" in capsys.readouterr().err


def test_requests_and_report(
    example_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["requests", "list"]) == 0
    assert "no requests" in capsys.readouterr().out
    assert main(["requests", "show", "HL-2026-0001"]) == 1
    assert "no request" in capsys.readouterr().err
    out_csv = tmp_path / "r.csv"
    assert (
        main(["report", "--from", "2026-01-01", "--to", "2026-12-31", "--csv", str(out_csv)]) == 0
    )
    printed = capsys.readouterr().out
    assert "Hotline requests 2026-01-01 to 2026-12-31: 0" in printed
    with out_csv.open(encoding="utf-8") as handle:
        assert next(csv.reader(handle))[0] == "reference"


def test_report_refuses_a_from_after_its_to(
    example_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--from", "2026-12-31", "--to", "2026-01-01"]) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == ["--from 2026-12-31 must come before --to 2026-01-01"]
    assert captured.out == ""
    assert main(["report", "--from", "2026-03-01", "--to", "2026-03-01"]) == 0  # one whole day
    assert "Hotline requests 2026-03-01 to 2026-03-01: 0" in capsys.readouterr().out
