"""What one segmentation fit will cost in memory, known before it is paid.

An option declares in its YAML how a fit's memory grows with the customers (`settings.memory`):
`linear` (k-means, BIRCH, GMM, ...: not estimated) or `quadratic` (e.g. agglomerative clustering with
ward, complete or average linkage, which keeps a distance for every pair of customers). A quadratic
fit on n customers is estimated at n*n*8 bytes: scipy's condensed float64 distance matrix
(n(n-1)/2 distances) and the copy its linkage works on; measured peak RSS of one ward or average fit
is 1.00-1.01 times that at 5,000, 10,000 and 20,000 customers (single linkage builds a spanning tree
instead and needs almost nothing; the estimate covers the worst linkage). The stage checks it, for the
customers one fit sees (all of them, or `segmentation.settings.fit_sample`), against
`segmentation.settings.memory_budget_gib` before anything is fitted.
"""

from __future__ import annotations

import math

from crmflow.errors import ConfigError

__all__ = ["GIB", "LINEAR_OPTIONS", "MEMORY_CLASSES", "check_fit_memory", "fit_memory_gib", "largest_fit"]

MEMORY_CLASSES = ("linear", "quadratic")
PAIR_BYTES = 8  # one float64 distance per pair, counted twice (the matrix and the linkage's copy)
GIB = 2**30
# suggested when a quadratic option is over budget; tests check each is an option declaring memory: linear
LINEAR_OPTIONS = ("kmeans", "minibatch_kmeans", "birch")
BUDGET_KEY = "segmentation.settings.memory_budget_gib"
SAMPLE_KEY = "segmentation.settings.fit_sample"


def fit_memory_gib(memory: str, n: int) -> float | None:
    """Estimated peak memory (GiB) of one fit on `n` customers; None for a linear option (not estimated)."""
    return n * n * PAIR_BYTES / GIB if memory == "quadratic" else None


def largest_fit(budget_gib: float) -> int:
    """The most customers a quadratic fit may take within `budget_gib`, rounded down to two significant digits."""
    most = math.isqrt(int(budget_gib * GIB / PAIR_BYTES))
    step = 10 ** max(len(str(most)) - 2, 0)
    return max(most // step * step, 3)


def _gib(value: float) -> str:
    return f"{value:.3g}"


def check_fit_memory(name: str, memory: str, budget_gib: float, n_customers: int, fit_sample: int | None) -> None:
    """ConfigError when one fit of segmenter `name` would need more than `budget_gib`: one line naming the
    estimate, the budget, `segmentation.settings.fit_sample` (with a size that fits) and linear options."""
    n = min(fit_sample or n_customers, n_customers)
    needed = fit_memory_gib(memory, n)
    if needed is None or needed <= budget_gib:
        return
    most = largest_fit(budget_gib)
    fits = f"about {_gib(fit_memory_gib(memory, most))} GiB"
    linear = ", ".join(f"segmentation={option}" for option in LINEAR_OPTIONS)
    cost = f"{name} needs about {_gib(needed)} GiB for {n} customers (memory: {memory}, n*n*8 bytes)"
    if fit_sample is not None and fit_sample < n_customers:
        head = f"{SAMPLE_KEY}: {fit_sample} is too large: {cost}, above {BUDGET_KEY}={budget_gib:g}"
        fix = f"lower it to {most} or less ({fits})"
    else:
        head = f"{BUDGET_KEY}: {cost}, above the budget of {budget_gib:g} GiB"
        fix = f"set {SAMPLE_KEY}={most} ({fits}) to fit a seeded sample and assign the other customers"
    raise ConfigError(f"{head}; {fix}, raise {BUDGET_KEY}, or choose a linear option ({linear})")
