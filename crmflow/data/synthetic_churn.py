"""Behavioural churn for the synthetic generator: who churns, on which day, and how purchases fade first."""

from __future__ import annotations

import numpy as np

from crmflow.data.synthetic_profiles import DECAY_DAYS

__all__ = ["churn_decay", "draw_churn"]


def draw_churn(
    rng: np.random.Generator, begin: np.ndarray, weight: np.ndarray, churn_rate: float, days: int
) -> tuple[np.ndarray, np.ndarray]:
    """Draw (churned, end day) per customer; ``weight`` is the relative churn propensity.

    Churn probabilities average ``churn_rate``; only customers with 60+ days of history churn, and
    never in their first 30 days. Non-churners' window ends at ``days``.
    """
    n = begin.size
    p_churn = np.clip(churn_rate * weight / weight.mean(), 0.0, 0.95)
    churned = (rng.random(n) < p_churn) & (days - begin >= 60)
    churn_day = begin + 30 + np.floor(rng.random(n) * (days - begin - 30))
    end = np.where(churned, churn_day, days).astype(np.int64)
    return churned, end


def churn_decay(t: np.ndarray, end: np.ndarray, churned: np.ndarray) -> np.ndarray:
    """Factor on the purchase rate at time ``t``: fades to 0.1 over the days before a churner's end."""
    return np.where(churned, np.clip((end - t) / DECAY_DAYS, 0.1, 1.0), 1.0)
