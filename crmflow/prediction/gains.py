"""How well a classifier ranks and how honest its probabilities are: the cumulative gains table by decile, and the
reliability (calibration) table, both on the holdout; logged as `predictor_gains.csv/.png` and
`predictor_calibration.png`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["calibration_table", "gains_curve", "gains_table", "ranking_artifacts"]

GROUPS = 10  # deciles
CALIBRATION_BINS = 10


def _ranked(actual: np.ndarray, probability: np.ndarray) -> np.ndarray:
    """The 0/1 labels ordered from the highest probability down (ties keep their order)."""
    order = np.argsort(-np.asarray(probability, dtype="float64"), kind="stable")
    return np.asarray(actual, dtype="float64")[order]


def gains_table(actual: np.ndarray, probability: np.ndarray, groups: int = GROUPS) -> pd.DataFrame:
    """Customers ranked by probability, cut into `groups` near-equal groups (deciles; fewer when there are fewer
    customers): each group's customers and share of all positives, the cumulative gain (share of the positives
    found by targeting down to that group) and the cumulative lift (that gain over the share of customers
    targeted; 1 is a random choice)."""
    ranked = _ranked(actual, probability)
    parts = np.array_split(ranked, max(1, min(groups, len(ranked))))
    positives = ranked.sum()
    customers = np.array([len(part) for part in parts])
    share = np.array([part.sum() for part in parts]) / positives if positives else np.full(len(parts), np.nan)
    gain = np.cumsum(share)
    return pd.DataFrame(
        {
            "decile": np.arange(1, len(parts) + 1),
            "customers": customers,
            "share_of_positives": share,
            "cumulative_gain": gain,
            "lift": gain / (np.cumsum(customers) / len(ranked)),
        }
    )


def gains_curve(actual: np.ndarray, probability: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Share of customers targeted (0 to 1) and the share of positives found, one point per customer."""
    ranked = _ranked(actual, probability)
    found = np.concatenate([[0.0], np.cumsum(ranked)]) / max(ranked.sum(), 1.0)
    return np.linspace(0.0, 1.0, len(ranked) + 1), found


def calibration_table(actual: np.ndarray, probability: np.ndarray, bins: int = CALIBRATION_BINS) -> pd.DataFrame:
    """Quantile bins of the predicted probability: the mean prediction and the observed positive rate of each
    (`sklearn.calibration.calibration_curve`, empty bins left out)."""
    from sklearn.calibration import calibration_curve

    observed, predicted = calibration_curve(actual, probability, n_bins=bins, strategy="quantile")
    return pd.DataFrame({"mean_predicted": predicted, "observed_rate": observed})


def ranking_artifacts(actual: np.ndarray, probability: np.ndarray, label: str, folder: Path) -> list[Path]:
    """The gains table (CSV) and plot and the calibration plot of one set of (actual, probability)."""
    from sklearn.metrics import brier_score_loss

    from crmflow.plots.gains import calibration_plot, gains_plot

    table = gains_table(actual, probability)
    path = folder / "predictor_gains.csv"
    table.round(4).to_csv(path, index=False)
    calibration = calibration_table(actual, probability)
    brier = float(brier_score_loss(actual, probability))
    return [
        path,
        gains_plot(table, gains_curve(actual, probability), label, folder / "predictor_gains.png"),
        calibration_plot(calibration, probability, brier, label, folder / "predictor_calibration.png"),
    ]
