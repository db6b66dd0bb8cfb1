"""When a predictor's result is useless: a classifier near chance, a regressor no better than the mean."""

from __future__ import annotations

import math
from collections.abc import Mapping

from crmflow.caveats import auc_near_chance, kept


def predictor_caveats(metrics: Mapping[str, float], data: Mapping[str, float]) -> list[str]:
    """The holdout ROC-AUC against chance (its noise from the holdout's size and positive rate), or the holdout
    R² against predicting the average; the cross-validated figures on the training customers when nobody was held
    out (`holdout_fraction: 0`)."""
    held_out = "holdout_roc_auc" in metrics or "holdout_r2" in metrics
    prefix, n, where = ("holdout_", metrics.get("n_holdout", 0.0), "holdout") if held_out else ("", 0.0, "")
    if not held_out:
        n, where = metrics.get("n_train", 0.0), "cross-validated"
    if f"{prefix}roc_auc" in metrics:
        rate = data.get("features.target_rate", float("nan"))
        if math.isfinite(rate) and 0 < rate < 1:
            return kept(auc_near_chance(f"the {where} ROC-AUC", metrics[f"{prefix}roc_auc"], n, rate))
    r2 = metrics.get(f"{prefix}r2", float("nan"))
    if math.isfinite(r2) and r2 <= 0:
        return [f"the {where} R² {r2:.3g} is no better than predicting every customer's average ({int(n)} customers)"]
    return []
