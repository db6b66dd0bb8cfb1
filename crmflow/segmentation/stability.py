"""Stability: do the segments survive resampling the customers?"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.metrics import adjusted_rand_score


def bootstrap_stability(
    fit_labels: Callable[[np.ndarray], np.ndarray], reference: np.ndarray, resamples: int, seed: int
) -> float:
    """Mean adjusted Rand index between `reference` labels and labels refitted on bootstrap resamples.

    `fit_labels(rows)` fits a fresh segmenter on the customers `rows` (drawn with replacement) and
    returns their labels; each is compared with the reference labels of the same rows. 1 means the
    same segments every time; near 0, segments no better than chance. NaN when `resamples` is 0.
    """
    if resamples <= 0:
        return float("nan")
    rng = np.random.default_rng(seed)
    scores = []
    for _ in range(resamples):
        rows = rng.integers(0, len(reference), len(reference))
        scores.append(adjusted_rand_score(reference[rows], fit_labels(rows)))
    return float(np.mean(scores))
