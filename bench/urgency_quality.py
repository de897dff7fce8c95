"""Urgency detection quality and speed on a labelled message set.

    python bench/urgency_quality.py [--queries ../shared/eval/urgency-dev.jsonl] [--data data]

The message set has one JSON object a line: `text`, `urgent` (bool) and `category` (a slug or
null). Only aggregate figures are printed, never a message: the set is written independently of
the cues, and tuning against individual lines would only teach the cues that set. A benchmark,
not a test: it prints, never asserts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from bot.escalation.categories import CATEGORIES
from bot.escalation.urgency import (
    DEFAULT_POLICY,
    Urgency,
    UrgencyDetector,
    load_detector,
)
from bot.knowledge.language import load_lexicon
from bot.knowledge.loader import language_dir

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_QUERIES = ROOT.parent / "shared" / "eval" / "urgency-dev.jsonl"


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


def latency(
    detector: UrgencyDetector, texts: Sequence[str], repeat: int = 5
) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        for text in texts:
            t0 = time.perf_counter_ns()
            detector.detect(text)
            samples.append((time.perf_counter_ns() - t0) / 1e6)
    samples.sort()
    return statistics.median(samples), samples[max(int(len(samples) * 0.99) - 1, 0)]


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
    print(f"latency per message: p50 {p50:.3f} ms  p99 {p99:.3f} ms")


if __name__ == "__main__":
    main()
