"""Urgency learned from examples, stacked on the cue detector.

A multinomial logistic regression over the twelve urgency categories and "not urgent" reads a
message's sentence embedding together with what the cue detector made of it (its score, whether
it fired, its category) and the message's words (the FAQ analysis: stems with synonyms folded,
hashed into a few hundred slots; they carry what a mean-pooled embedding blurs, such as "found",
"sorted", "last week"). P(urgent) is one minus P(not urgent); the category is the likeliest of
the twelve. So an emergency told in words no cue has ("we can't find Amir anywhere") is still
caught, and a routine question that only mentions a topic ("fire drill on friday") is not, while
the cues still count where they are right.

The threshold is chosen for recall when training: the highest at which the cross-validated
P(urgent) of the training set's emergencies keeps `target_recall` of them. A cue detection at or
above `cue_floor` is urgent whatever the classifier says: a missed emergency costs far more than
a false alarm, and a cue that sure is rarely wrong.

Training takes seconds to tens of seconds (mostly embedding the training set, some 10 ms a
message on one core), so the trained weights are cached on disk, keyed by everything they depend
on: the training file, the cue and language files, the embedding model, the policy and this
module's feature layout (`FORMAT`). A start with the cache warm reads one small file. On load,
the cue detector's reading of a sample of the training messages is checked against the one the
weights were trained with, so a change to the cue detector's code retrains too. The training
messages' vectors are cached apart, so a change to the cues alone refits in a few seconds.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numpy.typing import NDArray

from bot.core.datafile import decode, read_bytes
from bot.escalation.categories import CATEGORIES
from bot.escalation.cues_file import cues_path, load_detector
from bot.escalation.logistic import (
    STEPS,
    Labels,
    Matrix,
    Softmax,
    fit_softmax,
    stratified_folds,
)
from bot.escalation.training_set import (
    LABELS,
    NOT_URGENT,
    TrainingSet,
    parse_training_set,
    training_path,
)
from bot.escalation.urgency import (
    MAX_CHARS,
    MAX_WORDS,
    Urgency,
    UrgencyCategory,
    UrgencyDetector,
    UrgencyReader,
)
from bot.knowledge.embedding import Embedder, Vectors, cached_embed
from bot.knowledge.language import Lexicon, analyse, words
from bot.knowledge.loader import language_dir

log = logging.getLogger(__name__)

FORMAT = "urgency-softmax-2"  # change when the features or the training change
CACHE_PREFIX = "urgency-"
PROBES = 32  # training messages whose cue reading is checked when the cache is loaded
_NOT_URGENT = LABELS.index(NOT_URGENT)
CUE_FEATURES = 2 + len(CATEGORIES)
WORD_FEATURES = 256  # hashed word slots; 512 or 1024 cross-validate no better


@dataclass(frozen=True, slots=True)
class LearnedPolicy:
    """The classifier's settings, chosen by cross-validation on the training set (which
    bench/urgency_quality.py reports), never on an evaluation set."""

    l2: float = 0.1
    folds: int = 5  # for choosing the threshold when training
    target_recall: float = 0.98
    min_threshold: float = 0.05
    max_threshold: float = 0.5
    cue_floor: float = 0.95
    steps: int = STEPS


DEFAULT_LEARNED = LearnedPolicy()


@dataclass(frozen=True)
class UrgencyModel:
    softmax: Softmax  # columns in LABELS order, NOT_URGENT last
    threshold: float
    # Cross-validated on the training set at the threshold: recall, precision
    cv_recall: float
    cv_precision: float
    # A sample of the training messages and the cue detector's reading of them (cue_features)
    probe_texts: tuple[str, ...]
    probe_cues: Matrix

    def probabilities(self, x: Matrix) -> Matrix:
        """Class probabilities (LABELS order) of rows made by `features`."""
        return self.softmax.probabilities(x)


def cue_features(cues: Sequence[Urgency]) -> Matrix:
    """The cue detector's score, whether it fired, and its category one-hot."""
    out = np.zeros((len(cues), CUE_FEATURES))
    for row, cue in enumerate(cues):
        out[row, 0] = cue.score
        if cue.urgent:
            out[row, 1] = 1.0
            if cue.category in CATEGORIES:
                out[row, 2 + CATEGORIES.index(cue.category)] = 1.0
    return out


def word_features(texts: Sequence[str], lexicon: Lexicon) -> Matrix:
    """Which analysed terms a message has, each hashed (CRC-32: the same in every process) to
    one of WORD_FEATURES slots."""
    out = np.zeros((len(texts), WORD_FEATURES))
    for row, text in enumerate(texts):
        for term in set(analyse(words(text[:MAX_CHARS])[:MAX_WORDS], lexicon)):
            out[row, zlib.crc32(term.encode()) % WORD_FEATURES] = 1.0
    return out


def features(
    vectors: Vectors, cues: Sequence[Urgency], texts: Sequence[str], lexicon: Lexicon
) -> Matrix:
    """One row per message: its embedding, its cue reading and its words."""
    return np.hstack(
        [np.asarray(vectors, dtype=np.float64), cue_features(cues), word_features(texts, lexicon)]
    )


def decide(probabilities: Matrix, cue: Urgency, threshold: float, policy: LearnedPolicy) -> Urgency:
    """One message's verdict from its row of class probabilities and its cue reading."""
    urgent_p = 1.0 - float(probabilities[_NOT_URGENT])
    score = round(min(1.0, max(0.0, urgent_p)), 4)
    if urgent_p < threshold and not (cue.urgent and cue.score >= policy.cue_floor):
        return Urgency(urgent=False, category=None, score=score, cue=None)
    category = CATEGORIES[int(np.argmax(probabilities[: len(CATEGORIES)]))]
    return Urgency(True, category, score, cue.cue if cue.category == category else None)


def label_indices(labels: Sequence[str]) -> Labels:
    return np.asarray([LABELS.index(label) for label in labels], dtype=np.intp)


def cross_validated(x: Matrix, y: Labels, policy: LearnedPolicy, folds: int) -> Matrix:
    """Every example's class probabilities from a model trained without its fold."""
    out = np.zeros((len(y), len(LABELS)))
    everything = np.arange(len(y))
    for fold in stratified_folds([int(label) for label in y], folds):
        if len(fold):
            rest = np.setdiff1d(everything, fold)
            model = fit_softmax(x[rest], y[rest], len(LABELS), policy.l2, policy.steps)
            out[fold] = model.probabilities(x[fold])
    return out


def choose_threshold(urgent_p: Matrix, urgent: NDArray[np.bool_], policy: LearnedPolicy) -> float:
    """The highest threshold keeping at least `target_recall` of the urgent examples at or
    above it, within [min_threshold, max_threshold]."""
    scores = np.sort(urgent_p[urgent])
    if len(scores) == 0:
        return policy.max_threshold
    keep = int(np.ceil(policy.target_recall * len(scores)))
    chosen = float(scores[len(scores) - keep]) if keep else policy.max_threshold
    return min(policy.max_threshold, max(policy.min_threshold, chosen))


def train(
    training: TrainingSet,
    vectors: Vectors,
    cues: Sequence[Urgency],
    lexicon: Lexicon,
    policy: LearnedPolicy = DEFAULT_LEARNED,
) -> UrgencyModel:
    """Choose the threshold on cross-validated probabilities, then fit on everything. `cues`
    are the cue detector's readings of the messages, `lexicon` its lexicon."""
    x = features(vectors, cues, training.texts, lexicon)
    y = label_indices(training.labels)
    urgent = y != _NOT_URGENT
    held_out = cross_validated(x, y, policy, policy.folds)
    urgent_p = 1.0 - held_out[:, _NOT_URGENT]
    threshold = choose_threshold(urgent_p, urgent, policy)
    flagged = urgent_p >= threshold
    recall = float((flagged & urgent).sum() / max(int(urgent.sum()), 1))
    precision = float((flagged & urgent).sum() / max(int(flagged.sum()), 1))
    probes = _probe_rows(len(training.texts))
    return UrgencyModel(
        softmax=fit_softmax(x, y, len(LABELS), policy.l2, policy.steps),
        threshold=threshold,
        cv_recall=recall,
        cv_precision=precision,
        probe_texts=tuple(training.texts[i] for i in probes),
        probe_cues=cue_features([cues[i] for i in probes]),
    )


def _probe_rows(n: int) -> list[int]:
    return list(range(0, n, max(1, n // PROBES)))[:PROBES]


@dataclass(frozen=True)
class LearnedUrgency:
    """`detect` and `categories` like the cue detector's, so the rest of the bot is unchanged."""

    cues: UrgencyDetector
    embedder: Embedder
    model: UrgencyModel
    policy: LearnedPolicy = DEFAULT_LEARNED

    @property
    def categories(self) -> Mapping[str, UrgencyCategory]:
        return self.cues.categories

    def detect(self, text: str) -> Urgency:
        cue = self.cues.detect(text)
        # The FAQ matcher embeds the stripped message too, so the embedder's cache serves both.
        query = text.strip()[:MAX_CHARS]
        if not words(query):
            return cue
        vector = self.embedder.embed_one(query)
        x = features(vector[None, :], [cue], [text], self.cues.lexicon)
        return decide(self.model.probabilities(x)[0], cue, self.model.threshold, self.policy)


def load_urgency(
    data_dir: Path,
    lexicon: Lexicon,
    embedder: Embedder | None,
    cache_dir: Path | None = None,
    policy: LearnedPolicy = DEFAULT_LEARNED,
) -> UrgencyReader:
    """The learned detector when there is an embedding model, else the cue detector alone (both
    read back from `cache_dir` when compiled there before from the same inputs)."""
    cues = load_detector(data_dir, lexicon, cache_dir=cache_dir)
    if embedder is None:
        return cues
    return load_learned(data_dir, cues, embedder, cache_dir, policy)


def load_learned(
    data_dir: Path,
    cues: UrgencyDetector,
    embedder: Embedder,
    cache_dir: Path | None = None,
    policy: LearnedPolicy = DEFAULT_LEARNED,
) -> LearnedUrgency:
    """Train on `data_dir`'s training set (or the bundled one), or read the weights cached in
    `cache_dir` for exactly these inputs. `cues` is the detector loaded from `data_dir`."""
    path = training_path(data_dir)
    raw = read_bytes(path)  # the bytes are part of the cache key
    cached = None
    if cache_dir is not None:
        cached = cache_dir / f"{CACHE_PREFIX}{cache_key(raw, data_dir, embedder, policy)}.npz"
        model = read_model(cached, cues, embedder.dim)
        if model is not None:
            return LearnedUrgency(cues, embedder, model, policy)
    training = parse_training_set(decode(raw, path), path.name)
    vectors = embed_cached(embedder, [t.strip() for t in training.texts], cache_dir)
    readings = [cues.detect(t) for t in training.texts]
    model = train(training, vectors, readings, cues.lexicon, policy)
    log.info(
        "urgency classifier trained on %d messages: threshold %.3f (cross-validated recall "
        "%.3f, precision %.3f)",
        len(training.texts),
        model.threshold,
        model.cv_recall,
        model.cv_precision,
    )
    if cached is not None:
        write_model(cached, model)
    return LearnedUrgency(cues, embedder, model, policy)


def cache_key(training: bytes, data_dir: Path, embedder: Embedder, policy: LearnedPolicy) -> str:
    digest = hashlib.sha256(f"{FORMAT}\0{embedder.identity}\0{policy!r}".encode())
    digest.update(b"\0training\0" + training)
    digest.update(b"\0cues\0" + cues_path(data_dir).read_bytes())
    folder = language_dir(data_dir)
    for file in sorted(folder.iterdir()) if folder.is_dir() else ():
        if file.is_file():
            digest.update(f"\0{file.name}\0".encode() + file.read_bytes())
    return digest.hexdigest()[:32]


def embed_cached(embedder: Embedder, texts: list[str], cache_dir: Path | None) -> Vectors:
    """The training messages' vectors, saved apart from the weights: a change to the cues
    retrains in a second or two without embedding every message again."""
    return cached_embed(embedder, texts, cache_dir, f"{CACHE_PREFIX}vectors-")


def write_model(path: Path, model: UrgencyModel) -> None:
    s = model.softmax
    _write(
        path,
        lambda f: np.savez(
            f,
            format=np.asarray(FORMAT),
            mean=s.mean,
            scale=s.scale,
            weights=s.weights,
            bias=s.bias,
            figures=np.asarray([model.threshold, model.cv_recall, model.cv_precision]),
            probe_texts=np.asarray(model.probe_texts, dtype=str),
            probe_cues=model.probe_cues,
        ),
    )


def _write(path: Path, save: Callable[[BinaryIO], None]) -> None:
    """Write through a file of this process's own, then rename: a reader, or another process
    training at the same moment, never sees half a file. A cache that cannot be written is a
    warning, not a failure: what was computed is just as good in memory."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("wb") as f:
            save(f)
        partial.replace(path)
    except OSError as exc:
        log.warning("urgency cache not written (%s): %s", type(exc).__name__, path)
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)


def read_model(path: Path, cues: UrgencyDetector, dim: int) -> UrgencyModel | None:
    """The cached model, or None when there is none, it is damaged, or the cue detector no
    longer reads the sample messages the way it did when the model was trained."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            if str(saved["format"]) != FORMAT:
                return None
            figures = saved["figures"]
            model = UrgencyModel(
                softmax=Softmax(saved["mean"], saved["scale"], saved["weights"], saved["bias"]),
                threshold=float(figures[0]),
                cv_recall=float(figures[1]),
                cv_precision=float(figures[2]),
                probe_texts=tuple(str(t) for t in saved["probe_texts"]),
                probe_cues=saved["probe_cues"],
            )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, IndexError) as exc:
        log.warning(
            "urgency classifier cache unreadable, retraining (%s): %s", type(exc).__name__, path
        )
        return None
    width = dim + CUE_FEATURES + WORD_FEATURES
    s = model.softmax
    shapes = (s.mean.shape, s.scale.shape, s.weights.shape, s.bias.shape)
    if shapes != ((width,), (width,), (width, len(LABELS)), (len(LABELS),)):
        return None
    now = cue_features([cues.detect(t) for t in model.probe_texts])
    if now.shape != model.probe_cues.shape or not np.allclose(now, model.probe_cues, atol=1e-6):
        log.info("the cue detector reads the training messages differently now: retraining")
        return None
    return model
