"""`combine` keeps only the entries the decision can use: the decision over them is the decision
over every entry's combined score, ties included (no model needed)."""

from __future__ import annotations

import random

import numpy as np

from bot.knowledge.matcher import DEFAULT_POLICY, decide
from bot.knowledge.semantic import DEFAULT_COMBINED, combine


def test_the_decision_over_the_kept_entries_is_the_decision_over_all() -> None:
    rng = random.Random(3)
    policy = DEFAULT_COMBINED.thresholds(DEFAULT_POLICY)
    w = DEFAULT_COMBINED.lexical_weight
    for trial in range(300):
        n = rng.choice([1, 2, 4, 5, 40, 300])
        ids = [f"entry-{i:03d}" for i in range(n)]
        # Coarse values, so that ties are common, including at the cut.
        cosines = np.asarray([rng.choice([0.1, 0.3, 0.5, 0.62]) for _ in ids], dtype=np.float32)
        lexical = {i: rng.choice([0.2, 0.4, 0.7]) for i in rng.sample(ids, rng.randint(0, n))}
        everything = {
            i: w * lexical.get(i, 0.0) + (1 - w) * float(c)
            for i, c in zip(ids, cosines, strict=True)
        }
        kept = combine(lexical, cosines, ids, DEFAULT_COMBINED)
        assert len(kept) <= n
        assert decide("q", kept, policy) == decide("q", everything, policy), trial
        assert all(np.isclose(kept[i], everything[i]) for i in kept)
