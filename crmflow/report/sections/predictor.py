"""The churn/response section: model quality on the holdout (with its spread), the main drivers, the threshold
in customers flagged per 1,000, the curves."""

from __future__ import annotations

import math
from typing import Any

from crmflow.report.figures import flagged_per_thousand, key_figures, percent, shown
from crmflow.report.source import RunSource

N_DRIVERS = 5
QUALITY = {  # holdout first: customers the model never saw
    "holdout_roc_auc": "holdout ROC-AUC (0.5 = chance, 1 = perfect)",
    "holdout_pr_auc": "holdout PR-AUC",
    "holdout_precision": "holdout precision",
    "holdout_recall": "holdout recall",
    "holdout_r2": "holdout R²",
    "holdout_rmse": "holdout RMSE",
    "holdout_mae": "holdout MAE",
    "r2": "cross-validated R²",
    "rmse": "cross-validated RMSE",
    "n_train": "customers trained on",
    "n_holdout": "customers held out",
}
IMAGES = ("predictor_curves.png", "predictor_gains.png", "predictor_calibration.png",
          "predictor_confusion_matrix.png", "predictor_feature_importances.png")  # fmt: skip


def auc_band(auc: float, n_positive: float, n_negative: float) -> float:
    """Half the 95% band of a ROC-AUC (Hanley and McNeil's standard error, times 1.96)."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    variance = (auc * (1 - auc) + (n_positive - 1) * (q1 - auc**2) + (n_negative - 1) * (q2 - auc**2)) / (
        n_positive * n_negative
    )
    return 1.96 * math.sqrt(max(variance, 0.0))


def cv_spread(metrics: dict[str, float], name: str) -> str | None:
    """The metric's standard deviation over the cross-validation folds, when the run logged it (`<name>_std`)."""
    value = metrics.get(f"{name}_std")
    return f"± {shown(value)} (std over the folds)" if value is not None and math.isfinite(value) else None


def spread(metrics: dict[str, float], name: str, predictions: Any) -> str | None:
    """How far the holdout ROC-AUC may move: its 95% band from the holdout's class counts."""
    holdout = metrics.get(f"holdout_{name}")
    if holdout is None or predictions is None or "actual" not in predictions:
        return None
    positives = float(predictions["actual"].astype(bool).sum())
    negatives = float(len(predictions) - positives)
    if positives < 1 or negatives < 1:
        return None
    band = shown(auc_band(holdout, positives, negatives), 2)
    return f"± {band} (95% band on {shown(len(predictions))} held-out customers)"


def drivers(importances: Any, top: int = N_DRIVERS) -> list[dict[str, str]]:
    """The features that move the prediction most, with the direction when the importance is a coefficient."""
    signed = importances["kind"].astype(str).str.startswith("coefficient").all() if "kind" in importances else False
    size = importances["importance"].abs() if signed else importances["importance"]  # permutation: a drop, not a sign
    ranked = importances.reindex(size.sort_values(ascending=False).index).head(top)
    rows = []
    for row in ranked.itertuples():
        kind = str(getattr(row, "kind", ""))
        way = ("raises" if row.importance > 0 else "lowers") if kind.startswith("coefficient") else ""
        rows.append({"feature": str(row.feature).replace("_", " "), "importance": shown(row.importance), "way": way,
                     "kind": kind})  # fmt: skip
    return rows


def section(run: RunSource) -> dict[str, Any] | None:
    metrics = run.stage_metrics("predictor")
    predictions = run.csv("predictor/predictor_holdout_predictions.csv", usecols=_without_ids)
    importances = run.csv("predictor/predictor_feature_importances.csv")
    target = run.target
    threshold = metrics.get("threshold")
    flagged = None
    if threshold is not None and predictions is not None and "probability" in predictions:
        found = flagged_per_thousand(predictions, threshold)
        flagged = {
            "threshold": shown(threshold),
            "per_thousand": shown(round(found["per_thousand"])),
            "true_per_thousand": shown(round(found["true_per_thousand"])),
            "precision": percent(found["precision"]),
        }
    name = "roc_auc" if "holdout_roc_auc" in metrics else None  # without a holdout the figures say the CV value
    quality = None
    cv_only = None
    if name is None and "roc_auc" in metrics:  # holdout_fraction 0: the cross-validated figure is all there is
        cv_only = {"cv": shown(metrics["roc_auc"]), "cv_spread": cv_spread(metrics, "roc_auc")}
    if name:
        quality = {
            "holdout": shown(metrics.get(f"holdout_{name}")),
            "cv": shown(metrics.get(name)),
            "spread": spread(metrics, name, predictions),
            "cv_spread": cv_spread(metrics, name),
        }
    return {
        "title": f"Prediction: {target}",
        "target": target,
        "quality": quality,
        "cv_only": cv_only,
        "figures": key_figures(metrics, QUALITY),
        "flagged": flagged,
        "drivers": [] if importances is None or importances.empty else drivers(importances),
        "images": run.folder_images("predictor", IMAGES),
    }


def _without_ids(column: str) -> bool:
    """Customer ids never enter the report: the prediction tables are read without them."""
    return column != "customer_id"
