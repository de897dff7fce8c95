"""Which matcher answers is said, not guessed at: `hotline faq check` names it, and a process
without the embedding model says so once in its log and still answers on words alone."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_hotline


def test_without_the_model_faq_check_and_the_log_say_words_alone(tmp_path: Path) -> None:
    env = {"EMBEDDING_MODEL_DIR": "off", "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db"}
    check = run_hotline("faq", "check", env=env)
    assert check.returncode == 0, check.stderr
    assert "matcher: words alone (EMBEDDING_MODEL_DIR=off)" in check.stdout

    asked = run_hotline(
        "ask", "--json", "--batch", "-", env=env, stdin="how do I book a course\nhotline number\n"
    )
    assert asked.returncode == 0, asked.stderr
    assert [json.loads(line)["query"] for line in asked.stdout.splitlines()] == [
        "how do I book a course",
        "hotline number",
    ]
    assert asked.stderr.count("runs on words alone") == 1


def test_a_folder_that_is_not_the_model_is_named_by_faq_check(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    env = {"EMBEDDING_MODEL_DIR": str(tmp_path), "DATABASE_URL": "sqlite+aiosqlite:///x.db"}
    check = run_hotline("faq", "check", env=env)
    assert check.returncode == 0, check.stderr  # the files are valid; the model is extra
    assert "matcher: words alone (the embedding model is refused:" in check.stdout
    assert "no model.safetensors" in check.stdout
