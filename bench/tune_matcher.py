"""Search MatchPolicy weights and thresholds on a query set, with k-fold cross-validation.

    python bench/tune_matcher.py [--queries ../shared/eval/faq-dev.jsonl] [--folds 5]

Prints the cross-validated accuracy (thresholds chosen on k-1 folds, scored on the one left out:
an estimate of accuracy on unseen queries) and the best policy on the whole set. Prefer a policy
whose full-set and cross-validated figures are close.
"""

from __future__ import annotations

import argparse
import itertools
import random
from dataclasses import replace
from pathlib import Path

from bench.faq_quality import DEFAULT_QUERIES, ROOT, load_queries
from bot.knowledge import MatchPolicy, load_knowledge_base
from bot.knowledge.matcher import DEFAULT_POLICY, Evidence, evidence, query_terms

Row = tuple[float, float, bool, bool]  # top, second, top is right, out of scope


def weight_grid() -> list[MatchPolicy]:
    out = []
    for cw, bw, wc in itertools.product(
        (0.3, 0.4, 0.5, 0.6, 0.7), (0.0, 0.1, 0.2), (0.2, 0.4, 0.6)
    ):
        if cw + bw < 1:
            out.append(
                replace(
                    DEFAULT_POLICY,
                    coverage_weight=cw,
                    bigram_weight=bw,
                    phrasing_weight=1 - cw - bw,
                    weak_credit=wc,
                )
            )
    return out


THRESHOLDS = [(a / 100, m / 100) for a in range(20, 66, 2) for m in range(0, 13)]


def rows_for(
    policy: MatchPolicy, found: list[tuple[Evidence, list[str]]], expected: list[str | None]
) -> list[Row]:
    rows = []
    for (ev, ids), exp in zip(found, expected, strict=True):
        ranked = sorted(((s, ids[i]) for i, s in ev.scores(policy).items()), reverse=True)
        top = ranked[0] if ranked else (0.0, None)
        second = ranked[1][0] if len(ranked) > 1 else 0.0
        rows.append((top[0], second, top[1] == exp, exp is None))
    return rows


def accuracy(rows: list[Row], answer_at: float, margin: float) -> float:
    ok = 0
    for top, second, right, oos in rows:
        answered = top >= answer_at and top - second >= margin
        ok += (not answered) if oos else (answered and right)
    return ok / max(len(rows), 1)


def best(
    table: dict[int, list[Row]], policies: list[MatchPolicy], subset: list[int]
) -> tuple[float, int, float, float]:
    results = []
    for p in range(len(policies)):
        rows = [table[p][i] for i in subset]
        for a, m in THRESHOLDS:
            results.append((accuracy(rows, a, m), p, a, m))
    return max(results, key=lambda r: (r[0], -abs(r[2] - 0.4)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=Path, default=DEFAULT_QUERIES)
    ap.add_argument("--data", type=Path, default=ROOT / "data")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--idf-powers", type=float, nargs="+", default=[DEFAULT_POLICY.idf_power])
    ap.add_argument(
        "--unseen-factors", type=float, nargs="+", default=[DEFAULT_POLICY.unseen_factor]
    )
    args = ap.parse_args()

    kb = load_knowledge_base(args.data)
    queries = load_queries(args.queries)
    index = kb.index
    terms = [query_terms(q, index) for q, _ in queries]
    expected = [e for _, e in queries]
    policies = [
        replace(p, idf_power=power, unseen_factor=unseen)
        for p in weight_grid()
        for power in args.idf_powers
        for unseen in args.unseen_factors
    ]
    ids = list(index.ids)
    cache: dict[tuple[float, float], list[tuple[Evidence, list[str]]]] = {}
    table = {}
    for n, policy in enumerate(policies):
        key = (policy.idf_power, policy.unseen_factor)
        if key not in cache:
            cache[key] = [(evidence(t, index, policy), ids) for t in terms]
        table[n] = rows_for(policy, cache[key], expected)

    order = list(range(len(queries)))
    random.Random(13).shuffle(order)
    folds = [order[k :: args.folds] for k in range(args.folds)]
    scores = []
    for k, held in enumerate(folds):
        train = [i for f, fold in enumerate(folds) if f != k for i in fold]
        _, p, a, m = best(table, policies, train)
        scores.append(accuracy([table[p][i] for i in held], a, m) * len(held))
    print(
        f"cross-validated overall accuracy ({args.folds} folds): {sum(scores) / len(queries):.3f}"
    )

    acc, p, a, m = best(table, policies, order)
    chosen = replace(policies[p], answer_at=a, answer_margin=m)
    print(f"best on the whole set: {acc:.3f} with {chosen}")
    default_rows = rows_for(DEFAULT_POLICY, [(evidence(t, index), ids) for t in terms], expected)
    current = accuracy(default_rows, DEFAULT_POLICY.answer_at, DEFAULT_POLICY.answer_margin)
    print(f"current default on the whole set: {current:.3f}")


if __name__ == "__main__":
    main()
