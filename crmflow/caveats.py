"""Plain sentences that say when a stage's result is useless: no better than its baseline beyond noise,
one dominant segment, a model near chance. The summary prints them and the report shows them; they never
stop a run. Each stage's `caveats` picks the checks that apply to its metrics."""

from __future__ import annotations

import math
from collections.abc import Mapping

Z = 2.0  # about a 95% two-sided band: a gap smaller than Z standard errors is noise


def _shown(value: float) -> str:
    return f"{value:.3g}"


def rate_vs_baseline(what: str, value: float, baseline: float, baseline_name: str, n: float) -> str | None:
    """A rate over `n` customers (hit-rate, say) against a baseline's rate on the same customers: a caveat when
    the rate is below the baseline, or above it by less than Z standard errors of the difference."""
    if not (math.isfinite(value) and math.isfinite(baseline)) or n <= 0:
        return None
    noise = Z * math.sqrt((value * (1 - value) + baseline * (1 - baseline)) / n)
    if baseline - value > noise:
        return f"{what} {_shown(value)} loses to the {baseline_name}'s {_shown(baseline)} ({int(n)} customers)"
    if value < baseline:
        return (
            f"{what} {_shown(value)} is below the {baseline_name}'s {_shown(baseline)}, within noise "
            f"(±{_shown(noise)} over {int(n)} customers)"
        )
    if value - baseline <= noise:
        return (
            f"{what} {_shown(value)} is within noise of the {baseline_name}'s {_shown(baseline)} "
            f"(±{_shown(noise)} over {int(n)} customers)"
        )
    return None


def error_vs_baseline(what: str, error: float, baseline: float, baseline_name: str) -> str | None:
    """An error (lower is better) that is not below its baseline's."""
    if math.isfinite(error) and math.isfinite(baseline) and error >= baseline:
        return f"{what} {_shown(error)} is no better than the {baseline_name}'s {_shown(baseline)}"
    return None


def auc_standard_error(n_positive: float, n_negative: float) -> float:
    """Hanley and McNeil's standard error of a ROC-AUC of 0.5 on this many positives and negatives."""
    return math.sqrt((n_positive + n_negative + 1) / (12 * n_positive * n_negative))


def auc_near_chance(what: str, auc: float, n: float, positive_rate: float) -> str | None:
    """A ROC-AUC on `n` customers that is less than Z standard errors above chance (0.5)."""
    n_positive, n_negative = n * positive_rate, n * (1 - positive_rate)
    if not math.isfinite(auc) or n_positive < 1 or n_negative < 1:
        return None
    noise = Z * auc_standard_error(n_positive, n_negative)
    if auc < 0.5 - noise:
        return f"{what} {_shown(auc)} is below chance (0.5): the ranking is reversed; check how the target is coded"
    if auc - 0.5 < noise:
        band = f"0.5 ± {_shown(noise)} on {int(n)} customers"
        return f"{what} {_shown(auc)} is near chance ({band}): the model ranks customers hardly better than a coin"
    return None


def dominant_share(largest_share: float, limit: float = 0.8) -> str | None:
    """One segment holding more than `limit` of the customers."""
    if math.isfinite(largest_share) and largest_share > limit:
        return f"one segment holds {largest_share:.0%} of the customers: the segmentation hardly separates them"
    return None


def hit_rate_metric(metrics: Mapping[str, float], prefix: str = "") -> str | None:
    """The `hit_rate_at_<k>` key among a stage's metrics (after `prefix`), if any."""
    names = [m for m in metrics if m.startswith(f"{prefix}hit_rate_at_") and m[len(prefix) + 12 :].isdigit()]
    return names[0] if names else None


def kept(*caveats: str | None) -> list[str]:
    """The caveats that apply."""
    return [caveat for caveat in caveats if caveat]
