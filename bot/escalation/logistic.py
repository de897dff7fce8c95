"""Multinomial logistic regression in numpy: standardised features, an L2 penalty (not on the
intercept), full-batch accelerated gradient descent from zeros, so a fit is deterministic.

Small on purpose: the urgency classifier has about 1,300 examples of some 650 features, where a
fit takes under a second and needs no scikit-learn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Matrix = NDArray[np.float64]
Labels = NDArray[np.intp]

STEPS = 300  # more changes the cross-validated figures of the urgency classifier by < 0.005
TOLERANCE = 1e-5  # the largest gradient entry at which a fit stops early


@dataclass(frozen=True)
class Softmax:
    """`probabilities(x)` = softmax(((x - mean) / scale) @ weights + bias), one column a class."""

    mean: Matrix  # (d,)
    scale: Matrix  # (d,)
    weights: Matrix  # (d, k)
    bias: Matrix  # (k,)

    def probabilities(self, x: Matrix) -> Matrix:
        logits = ((x - self.mean) / self.scale) @ self.weights + self.bias
        logits -= logits.max(axis=-1, keepdims=True)
        e = np.exp(logits)
        return np.asarray(e / e.sum(axis=-1, keepdims=True), dtype=np.float64)


def fit_softmax(x: Matrix, y: Labels, classes: int, l2: float, steps: int = STEPS) -> Softmax:
    """Minimise mean cross-entropy + l2 / 2 * |W|^2 over standardised x; y holds class indices
    in range(classes). A class with no example simply gets a very low probability."""
    n, d = x.shape
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-8] = 1.0  # a constant feature (a category no cue ever names) stays 0
    z = (x - mean) / scale
    onehot = np.zeros((n, classes))
    onehot[np.arange(n), y] = 1.0
    # The cross-entropy's curvature is at most half the largest eigenvalue of z'z / n; with the
    # penalty that bounds the step. The intercept is a column of ones in the same problem.
    zb = np.hstack([z, np.ones((n, 1))])
    lipschitz = 0.5 * float(np.linalg.norm(zb, ord=2)) ** 2 / n + l2
    step = 1.0 / lipschitz
    penalty = np.full((d + 1, 1), l2)
    penalty[-1] = 0.0
    w = np.zeros((d + 1, classes))
    previous = w
    momentum = 1.0
    for _ in range(steps):
        # Nesterov's accelerated gradient (FISTA without the proximal step).
        after = (1.0 + np.sqrt(1.0 + 4.0 * momentum * momentum)) / 2.0
        look = w + ((momentum - 1.0) / after) * (w - previous)
        momentum = after
        gradient = zb.T @ (_softmax(zb @ look) - onehot) / n + penalty * look
        previous, w = w, look - step * gradient
        if float(np.abs(gradient).max()) < TOLERANCE:
            break
    return Softmax(mean, scale, w[:-1].copy(), w[-1].copy())


def _softmax(logits: Matrix) -> Matrix:
    logits = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return np.asarray(e / e.sum(axis=1, keepdims=True), dtype=np.float64)


def stratified_folds(labels: Sequence[int], k: int) -> list[Labels]:
    """k disjoint index sets covering every example, each class spread evenly over them (the
    n-th example of a class goes to fold n mod k): deterministic, no shuffling."""
    out: list[list[int]] = [[] for _ in range(k)]
    seen: dict[int, int] = {}
    for i, label in enumerate(labels):
        n = seen.get(label, 0)
        seen[label] = n + 1
        out[(n + label) % k].append(i)
    return [np.asarray(fold, dtype=np.intp) for fold in out]
