"""Urgency detection quality and speed on a labelled message set: the cue detector alone and the
learned classifier stacked on it, side by side.

    python bench/urgency_quality.py [--queries ../shared/eval/urgency-dev.jsonl] [--data data]
                                    [--folds 5] [--by-category] [--sweep]

The message set has one JSON object a line: `text`, `urgent` (bool) and `category` (a slug or
null). Only aggregate figures are printed, never a message: the set is written independently of
the cues and of the training set, and tuning against individual lines would only teach them that
set. The learned detector's settings and threshold are chosen on its training set
(`data/urgency/training.yaml`) by cross-validation, reported here as well: k-fold, each fold
scored by a detector trained (threshold choice included) without it. A benchmark, not a test: it
prints, never asserts.
"""

from __future__ import annotations

import bot  # noqa: F401  # isort: skip  (first: BLAS threads as in the bot, see bot/__init__.py)
import argparse
import json
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from bot.escalation.categories import CATEGORIES
from bot.escalation.cues_file import load_detector
from bot.escalation.learned import (
    DEFAULT_LEARNED,
    LearnedPolicy,
    LearnedUrgency,
    UrgencyModel,
    cross_validated,
    decide,
    embed_cached,
    features,
    label_indices,
    load_learned,
    train,
)
from bot.escalation.logistic import stratified_folds
from bot.escalation.training_set import (
    NOT_URGENT,
    TrainingSet,
    load_training_set,
    training_path,
)
from bot.escalation.urgency import (
    DEFAULT_POLICY,
    Urgency,
    UrgencyReader,
)
from bot.knowledge.embedding import Embedder, Vectors, load_embedder
from bot.knowledge.language import Lexicon, load_lexicon
from bot.knowledge.loader import language_dir

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_QUERIES = ROOT.parent / "shared" / "eval" / "urgency-dev.jsonl"
DEFAULT_CACHE = ROOT / ".cache" / "hotline"


@dataclass(frozen=True, slots=True)
class Labelled:
    text: str
    urgent: bool
    category: str | None


def load_messages(path: Path) -> list[Labelled]:
    rows = []
    for line in path.read_text("utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            rows.append(Labelled(str(d["text"]), bool(d["urgent"]), d.get("category")))
    return rows


@dataclass(frozen=True, slots=True)
class Figures:
    precision: float
    recall: float
    f1: float
    category_accuracy: float
    false_positives: int
    false_negatives: int


def figures(rows: Sequence[Labelled], outcomes: Sequence[Urgency]) -> Figures:
    pairs = list(zip(rows, outcomes, strict=True))
    tp = sum(r.urgent and o.urgent for r, o in pairs)
    fp = sum(not r.urgent and o.urgent for r, o in pairs)
    fn = sum(r.urgent and not o.urgent for r, o in pairs)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    caught = [(r, o) for r, o in pairs if r.urgent and o.urgent]
    right = sum(r.category == o.category for r, o in caught)
    return Figures(precision, recall, f1, right / max(len(caught), 1), fp, fn)


def figures_line(name: str, f: Figures) -> str:
    return (
        f"{name:<34} {f.precision:>9.3f} {f.recall:>6.3f} {f.f1:>6.3f} {f.category_accuracy:>8.3f}"
        f" {f.false_positives:>6} {f.false_negatives:>6}"
    )


FIGURES_HEADER = (
    f"{'':<34} {'precision':>9} {'recall':>6} {'f1':>6} {'category':>8} {'false+':>6} {'false-':>6}"
)


def by_category(rows: Sequence[Labelled], outcomes: Sequence[Urgency]) -> None:
    """Counts per category, never messages: where recall or precision is lost."""
    print(f"{'category':<20} {'urgent':>6} {'caught':>6} {'right':>6} {'false alarms':>12}")
    for slug in CATEGORIES:
        gold = [(r, o) for r, o in zip(rows, outcomes, strict=True) if r.category == slug]
        caught = [o for r, o in gold if r.urgent and o.urgent]
        alarms = sum(
            not r.urgent and o.category == slug for r, o in zip(rows, outcomes, strict=True)
        )
        right = sum(o.category == slug for o in caught)
        print(f"{slug:<20} {len(gold):>6} {len(caught):>6} {right:>6} {alarms:>12}")


def latency(detector: UrgencyReader, texts: Sequence[str], repeat: int = 5) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        for text in texts:
            t0 = time.perf_counter_ns()
            detector.detect(text)
            samples.append((time.perf_counter_ns() - t0) / 1e6)
    samples.sort()
    return statistics.median(samples), samples[max(int(len(samples) * 0.99) - 1, 0)]


def training_rows(training: TrainingSet) -> list[Labelled]:
    return [
        Labelled(text, label != NOT_URGENT, None if label == NOT_URGENT else label)
        for text, label in zip(training.texts, training.labels, strict=True)
    ]


def cross_validate_learned(
    training: TrainingSet,
    vectors: Vectors,
    cues: Sequence[Urgency],
    lexicon: Lexicon,
    policy: LearnedPolicy,
    folds: int,
) -> list[Urgency]:
    """Each message judged by a detector trained without its fold, its threshold chosen by the
    same inner cross-validation as the shipped one."""
    y = label_indices(training.labels)
    x = features(vectors, cues, training.texts, lexicon)
    out: list[Urgency | None] = [None] * len(y)
    everything = np.arange(len(y))
    for fold in stratified_folds([int(label) for label in y], folds):
        rest = np.setdiff1d(everything, fold)
        part = TrainingSet(
            tuple(training.texts[i] for i in rest), tuple(training.labels[i] for i in rest)
        )
        model = train(part, vectors[rest], [cues[i] for i in rest], lexicon, policy)
        rows = model.probabilities(x[fold])
        for i, row in zip(fold, rows, strict=True):
            out[i] = decide(row, cues[i], model.threshold, policy)
    return [o for o in out if o is not None]


def learned_sweep(
    training: TrainingSet,
    vectors: Vectors,
    cues: Sequence[Urgency],
    lexicon: Lexicon,
    policy: LearnedPolicy,
) -> None:
    """Cross-validated recall and precision of P(urgent) alone at a range of thresholds: the
    table the threshold is chosen from (the cue floor comes on top)."""
    y = label_indices(training.labels)
    x = features(vectors, cues, training.texts, lexicon)
    held_out = cross_validated(x, y, policy, policy.folds)
    urgent_p = 1.0 - held_out[:, -1]
    urgent = np.asarray([label != NOT_URGENT for label in training.labels])
    print(f"{'threshold':>9} {'precision':>9} {'recall':>7}   ({policy.folds}-fold, training set)")
    for step in range(5, 61, 5):
        flagged = urgent_p >= step / 100
        hit = int((flagged & urgent).sum())
        print(
            f"{step / 100:>9.2f} {hit / max(int(flagged.sum()), 1):>9.3f}"
            f" {hit / max(int(urgent.sum()), 1):>7.3f}"
        )


def found_in(queries: Sequence[str], training: Sequence[str], min_words: int = 3) -> int:
    """How many of `queries` (of `min_words` or more: "hi" is in any text) appear word for word,
    case and spacing aside, in a training message, whole or as a part: a count, never text. It
    should be 0."""
    corpus = "\n".join(" ".join(t.lower().split()) for t in training)
    said = (" ".join(q.lower().split()) for q in queries)
    return sum(len(q.split()) >= min_words and q in corpus for q in said)


def learned_bench(
    args: argparse.Namespace,
    rows: Sequence[Labelled],
    cue_outcomes: Sequence[Urgency],
    embedder: Embedder,
) -> None:
    lexicon = load_lexicon(language_dir(args.data))
    cues = load_detector(args.data, lexicon)
    policy = DEFAULT_LEARNED
    started = time.perf_counter()
    learned = load_learned(args.data, cues, embedder, args.cache, policy)
    loaded_s = time.perf_counter() - started
    outcomes = [learned.detect(r.text) for r in rows]
    path = training_path(args.data)
    training = load_training_set(path)
    train_rows = training_rows(training)
    vectors = embed_cached(embedder, [t.strip() for t in training.texts], args.cache)
    train_cues = [cues.detect(t) for t in training.texts]
    cv = cross_validate_learned(training, vectors, train_cues, cues.lexicon, policy, args.folds)
    model: UrgencyModel = learned.model
    print(
        f"training set: {len(training.texts)} messages ({sum(r.urgent for r in train_rows)}"
        f" urgent) from {path}; messages of the message set found in it word for word:"
        f" {found_in([r.text for r in rows], training.texts)}"
    )
    print(FIGURES_HEADER)
    print(figures_line("cue detector, message set", figures(rows, cue_outcomes)))
    print(figures_line("learned + cues, message set", figures(rows, outcomes)))
    print(figures_line("cue detector, training set", figures(train_rows, train_cues)))
    print(figures_line(f"learned + cues, {args.folds}-fold CV", figures(train_rows, cv)))
    print(
        f"threshold {model.threshold:.3f}: the highest at which P(urgent), cross-validated"
        f" {policy.folds}-fold on the training set, keeps recall >= {policy.target_recall}"
        f" (there: recall {model.cv_recall:.3f}, precision {model.cv_precision:.3f}); plus any"
        f" cue detection scoring >= {policy.cue_floor}. Loaded (or trained) in {loaded_s:.2f} s."
    )
    if args.by_category:
        print("cue detector:")
        by_category(rows, cue_outcomes)
        print("learned + cues:")
        by_category(rows, outcomes)
    if args.sweep:
        learned_sweep(training, vectors, train_cues, cues.lexicon, policy)
    texts = [r.text for r in rows]
    # A second model instance has an empty cache: the first pass embeds every message.
    fresh = load_embedder(None)
    assert fresh is not None
    cold = LearnedUrgency(load_detector(args.data, lexicon), fresh, model, policy)
    p50, p99 = latency(cold, texts, repeat=1)
    print(f"latency per message, learned, embedded here: p50 {p50:.3f} ms  p99 {p99:.3f} ms")
    p50, p99 = latency(cold, texts)
    print(
        f"latency per message, learned, embedding cached (as after the FAQ matcher):"
        f" p50 {p50:.3f} ms  p99 {p99:.3f} ms"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--queries", type=Path, default=DEFAULT_QUERIES)
    ap.add_argument("--data", type=Path, default=ROOT / "data")
    ap.add_argument(
        "--typo-check",
        type=Path,
        metavar="WORDLIST",
        help="print the words of WORDLIST (one a line) that typo mending would turn into a cue"
        " word of another stem, for cues.yaml's not_typos, and stop",
    )
    ap.add_argument(
        "--by-category", action="store_true", help="also print counts for each category"
    )
    ap.add_argument(
        "--sweep", action="store_true", help="also print the figures for a range of thresholds"
    )
    ap.add_argument(
        "--folds", type=int, default=5, help="cross-validation folds on the training set"
    )
    ap.add_argument(
        "--cache",
        type=Path,
        default=DEFAULT_CACHE,
        help="where the trained weights are cached (EMBEDDING_CACHE_DIR)",
    )
    args = ap.parse_args()

    lexicon = load_lexicon(language_dir(args.data))
    if args.typo_check:
        detector = load_detector(args.data, lexicon)
        listed = args.typo_check.read_text("utf-8", errors="replace").split()
        print("\n".join(detector.typo_collisions(listed)))
        return
    rows = load_messages(args.queries)
    detector = load_detector(args.data, lexicon)
    outcomes = [detector.detect(r.text) for r in rows]
    f = figures(rows, outcomes)
    print(f"messages: {len(rows)} ({sum(r.urgent for r in rows)} urgent) from {args.queries}")
    print(f"precision: {f.precision:.3f}  recall: {f.recall:.3f}  f1: {f.f1:.3f}")
    print(f"category accuracy (urgent and detected): {f.category_accuracy:.3f}")
    print(f"false positives: {f.false_positives}  false negatives: {f.false_negatives}")
    if args.by_category:
        by_category(rows, outcomes)
    if args.sweep:
        print(f"{'threshold':>9} {'precision':>9} {'recall':>7} {'f1':>6} {'category':>8}")
        for step in range(35, 91, 5):
            policy = replace(DEFAULT_POLICY, threshold=step / 100)
            swept = load_detector(args.data, lexicon, policy)
            g = figures(rows, [swept.detect(r.text) for r in rows])
            print(
                f"{policy.threshold:>9.2f} {g.precision:>9.3f} {g.recall:>7.3f} {g.f1:>6.3f}"
                f" {g.category_accuracy:>8.3f}"
            )
    # A fresh detector, so that the typo cache warmed above does not flatter the first pass.
    fresh = load_detector(args.data, load_lexicon(language_dir(args.data)))
    p50, p99 = latency(fresh, [r.text for r in rows])
    print(f"latency per message, cue detector: p50 {p50:.3f} ms  p99 {p99:.3f} ms")
    embedder = load_embedder(None)
    if embedder is None:
        print("learned detector: skipped (the embedding model package is not installed)")
        return
    print()
    learned_bench(args, rows, outcomes, embedder)


if __name__ == "__main__":
    main()
