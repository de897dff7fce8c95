"""The `hotline` command's stable interfaces (docs/architecture.md) and its handling of bad settings."""

import io
import json
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import ROOT, run_hotline

KEYS = {"query", "band", "answer_id", "score", "suggestions", "urgency"}


def test_ask_json_prints_one_object_with_the_stable_keys(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["ask", "ofsted", "just", "rang", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert set(payload) == KEYS
    assert payload["query"] == "ofsted just rang"
    assert payload["band"] == "answer"
    assert payload["answer_id"] == "ofsted-call-received"


def test_the_readme_documents_every_key_of_ask_json(capsys: pytest.CaptureFixture[str]) -> None:
    row = next(
        line
        for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("| `hotline ask TEXT [--json]`")
    )
    assert main(["ask", "a", "child", "has", "gone", "missing", "from", "school", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert all(f'"{key}"' in row for key in payload)
    urgency = payload["urgency"]
    assert set(urgency) == {"urgent", "category"}
    assert isinstance(urgency["urgent"], bool) and isinstance(urgency["category"], str)
    assert '`"urgency": {"urgent": bool, "category": str \\| null}`' in row


def test_ask_batch_answers_every_line_in_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queries = ["membership price please", "", "tell me about the weather on mars", "ofsted rang"]
    batch = tmp_path / "q.txt"
    batch.write_text("\n".join(queries) + "\n", encoding="utf-8")
    assert main(["ask", "--json", "--batch", str(batch)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["query"] for r in rows] == queries
    assert all(set(r) == KEYS for r in rows)
    assert rows[1]["band"] == "unknown"
    assert all((r["answer_id"] is None) == (r["band"] != "answer") for r in rows)


def test_ask_batch_reads_standard_input(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("ofsted rang\nhow do I book a course\n"))
    assert main(["ask", "--json", "--batch", "-"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_data_dir_selects_another_knowledge_base(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "faq").mkdir()
    (tmp_path / "faq" / "pets.yaml").write_text(
        "- id: feed-cat\n  question: How often should I feed the cat?\n  answer: Twice a day.\n  category: pets\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    assert main(["ask", "--json", "how", "often", "do", "i", "feed", "the", "cat"]) == 0
    assert json.loads(capsys.readouterr().out)["answer_id"] == "feed-cat"


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"TIMEZONE": "Europe/Londn"}, "TIMEZONE"),
        ({"DATABASE_URL": "not a url"}, "DATABASE_URL"),
        ({"DATABASE_URL": "mysql://x@y/z"}, "DATABASE_URL"),
        ({"DATA_DIR": "/nonexistent/data"}, "DATA_DIR"),
        ({"PORT": "eighty"}, "PORT"),
    ],
)
def test_a_bad_setting_stops_with_one_line_and_status_2(env: dict[str, str], setting: str) -> None:
    result = run_hotline("ask", "hello", env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"configuration error: {setting}:")
    assert "Traceback" not in result.stderr


def test_faq_check_on_a_broken_copy_exits_1_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "faq").mkdir()
    (tmp_path / "faq" / "a.yaml").write_text("- id: x\n  question: [\n", encoding="utf-8")
    result = run_hotline("faq", "check", str(tmp_path))
    assert result.returncode == 1
    assert "a.yaml: bad YAML at line" in result.stdout
    assert "Traceback" not in result.stderr + result.stdout


def test_the_bot_refuses_to_start_on_an_invalid_knowledge_base(tmp_path: Path) -> None:
    (tmp_path / "faq").mkdir()
    (tmp_path / "faq" / "a.yaml").write_text(
        "- id: only-question\n  question: Q?\n  category: c\n", encoding="utf-8"
    )
    result = run_hotline(
        "chat",
        "--as",
        "x@example.org",
        env={
            "DATA_DIR": str(tmp_path),
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/db.sqlite",
        },
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "a.yaml: entry only-question: answer: missing"
