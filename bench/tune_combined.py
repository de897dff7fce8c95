"""Choose the combined matcher's weight and thresholds (CombinedPolicy) by cross-validation.

    python -m bench.tune_combined [--queries ../shared/eval/faq-dev.jsonl] [--folds 5]

For each fold, the lexical weight, answer threshold and margin are chosen on the other folds and
scored on the one left out, so the printed cross-validated figure estimates accuracy on unseen
questions (the choice of weight included). Then the choice on the whole set, which is what goes
into bot/knowledge/semantic.py, and how often the lexical matcher alone is decisive enough to
skip the model (with the accuracy of doing so). Prints, never asserts.
"""

from __future__ import annotations

import bot  # noqa: F401  # isort: skip  (first: BLAS threads as in the bot, see bot/__init__.py)
import argparse
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bench.faq_quality import DEFAULT_QUERIES, ROOT, load_queries
from bot.core.types import Band
from bot.knowledge import load_knowledge_base
from bot.knowledge.embedding import load_embedder
from bot.knowledge.matcher import Lexical, MatchPolicy, decide, lexical
from bot.knowledge.semantic import DEFAULT_COMBINED, CombinedPolicy

WEIGHTS = [round(w, 2) for w in np.arange(0.3, 0.81, 0.05)]
ANSWER_AT = [round(a, 2) for a in np.arange(0.2, 0.8, 0.01)]
MARGINS = [round(m, 2) for m in np.arange(0.0, 0.12, 0.01)]
Choice = tuple[float, float, float]  # lexical weight, answer threshold, margin
# A confident wrong answer to an out-of-scope question is worse than "I don't know": a choice
# must reject at least this share of the out-of-scope questions it is chosen on.
MIN_REJECTION = 0.85


def answers(scores: NDArray[np.float64], answer_at: float, margin: float) -> NDArray[np.intp]:
    """Per query, the index of the entry answered, or -1."""
    order = np.argsort(-scores, axis=1)
    rows = np.arange(len(scores))
    top, second = scores[rows, order[:, 0]], scores[rows, order[:, 1]]
    return np.where((top >= answer_at) & (top - second >= margin), order[:, 0], -1)


def choose(
    lexical_scores: NDArray[np.float64],
    cosines: NDArray[np.float64],
    expected: NDArray[np.intp],
    subset: NDArray[np.intp],
) -> tuple[float, Choice]:
    best: tuple[float, Choice] = (-1.0, (0.0, 0.0, 0.0))
    outside = expected[subset] == -1
    for w in WEIGHTS:
        scores = w * lexical_scores[subset] + (1 - w) * cosines[subset]
        for a in ANSWER_AT:
            for m in MARGINS:
                answered = answers(scores, a, m)
                if outside.any() and (answered[outside] == -1).mean() < MIN_REJECTION:
                    continue
                accuracy = float((answered == expected[subset]).mean())
                if accuracy > best[0] + 1e-9:
                    best = (accuracy, (w, a, m))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=Path, default=DEFAULT_QUERIES)
    ap.add_argument("--data", type=Path, default=ROOT / "data")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--cache", type=Path, default=ROOT / ".cache" / "hotline")
    args = ap.parse_args()

    embedder = load_embedder(None)
    if embedder is None:
        raise SystemExit("the embedding model is not installed (make install)")
    kb = load_knowledge_base(args.data, embedder, args.cache)
    assert kb.semantic is not None
    ids = list(kb.index.ids)
    queries = load_queries(args.queries)
    found = [lexical(q, kb.index, kb.policy) for q, _ in queries]
    lexical_scores = np.array([[f.scores.get(i, 0.0) for i in ids] for f in found])
    cosines = np.array([kb.semantic.cosines(f.query) for f in found], dtype=np.float64)
    expected = np.array([ids.index(e) if e else -1 for _, e in queries])

    order = list(range(len(queries)))
    random.Random(13).shuffle(order)
    folds = [np.array(order[k :: args.folds]) for k in range(args.folds)]
    right = rejected = 0
    for k, held in enumerate(folds):
        train = np.concatenate([f for n, f in enumerate(folds) if n != k])
        _, (w, a, m) = choose(lexical_scores, cosines, expected, train)
        scores = w * lexical_scores[held] + (1 - w) * cosines[held]
        answered = answers(scores, a, m)
        right += int((answered == expected[held]).sum())
        rejected += int(((answered == -1) & (expected[held] == -1)).sum())
        print(f"fold {k}: chose lexical weight {w}, answer at {a}, margin {m}")
    print(
        f"cross-validated ({args.folds} folds): overall {right / len(queries):.3f}, "
        f"out-of-scope rejection {rejected / max(int((expected == -1).sum()), 1):.3f}"
    )

    everything = np.arange(len(queries))
    accuracy, (w, a, m) = choose(lexical_scores, cosines, expected, everything)
    chosen = replace(DEFAULT_COMBINED, lexical_weight=w, answer_at=a, answer_margin=m)
    print(f"best on the whole set: {accuracy:.3f} with {chosen}")
    current = DEFAULT_COMBINED
    scores = current.lexical_weight * lexical_scores + (1 - current.lexical_weight) * cosines
    now = float((answers(scores, current.answer_at, current.answer_margin) == expected).mean())
    print(f"current default on the whole set: {now:.3f}")
    skip_report(found, queries, kb.policy, current)


def skip_report(
    found: list[Lexical],
    queries: list[tuple[str, str | None]],
    policy: MatchPolicy,
    combined: CombinedPolicy,
) -> None:
    """How many questions the lexical matcher decides alone, and how often it is right then."""
    skipped = right = 0
    for f, (_, expected) in zip(found, queries, strict=True):
        alone = decide(f.query, f.scores, policy)
        second = alone.suggestions[1].score if len(alone.suggestions) > 1 else 0.0
        if (
            alone.band is Band.ANSWER
            and alone.score >= combined.decisive_at
            and alone.score - second >= combined.decisive_margin
        ):
            skipped += 1
            right += alone.answer_id == expected
    print(
        f"lexical alone decisive (model skipped): {skipped}/{len(queries)} questions, "
        f"right in {right} of them"
    )


if __name__ == "__main__":
    main()
