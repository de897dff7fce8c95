"""The numpy logistic regression behind the learned urgency detector."""

from __future__ import annotations

import numpy as np

from bot.escalation.logistic import fit_softmax, stratified_folds


def blobs(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three well separated clouds in five dimensions, one of them constant in a feature."""
    rng = np.random.default_rng(seed)
    centres = np.array([[3, 0, 0, 0, 1], [0, 3, 0, 0, 1], [0, 0, 3, 0, 1]], dtype=float)
    y = np.repeat(np.arange(3), 40)
    x = centres[y] + rng.normal(0, 0.5, (len(y), 5))
    x[:, 4] = 1.0
    return x, y.astype(np.intp)


def test_a_fit_separates_what_is_separable_and_gives_probabilities() -> None:
    x, y = blobs(1)
    model = fit_softmax(x, y, 3, l2=0.01)
    test_x, test_y = blobs(2)
    p = model.probabilities(test_x)
    assert p.shape == (len(test_y), 3)
    assert np.allclose(p.sum(axis=1), 1.0)
    assert (p.argmax(axis=1) == test_y).mean() >= 0.97


def test_a_fit_is_deterministic_and_the_penalty_shrinks_weights() -> None:
    x, y = blobs(3)
    a, b = fit_softmax(x, y, 3, l2=0.1), fit_softmax(x, y, 3, l2=0.1)
    assert np.array_equal(a.weights, b.weights) and np.array_equal(a.bias, b.bias)
    strong = fit_softmax(x, y, 3, l2=10.0)
    assert np.abs(strong.weights).sum() < np.abs(a.weights).sum()


def test_a_class_without_examples_is_unlikely() -> None:
    x, y = blobs(4)
    model = fit_softmax(x, y, 4, l2=0.1)
    assert model.probabilities(x)[:, 3].max() < 0.05


def test_stratified_folds_cover_everything_once_and_spread_each_class() -> None:
    labels = [0] * 10 + [1] * 7 + [2] * 3
    folds = stratified_folds(labels, 3)
    together = np.sort(np.concatenate(folds))
    assert together.tolist() == list(range(len(labels)))
    for cls in (0, 1, 2):
        counts = [sum(labels[i] == cls for i in fold) for fold in folds]
        assert max(counts) - min(counts) <= 1
