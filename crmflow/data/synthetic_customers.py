"""Customers of the synthetic generator: latent segments and traits, signup windows, attribute and truth tables."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmflow.data.synthetic_churn import draw_churn
from crmflow.data.synthetic_profiles import CHANNELS, PRIOR_SHARE, REGIONS, SegmentProfile

__all__ = ["Population", "customer_table", "draw_population", "ids", "to_datetime", "truth_table"]


@dataclass
class Population:
    """Per-customer latent arrays; windows are [begin, end) in days since ``start``."""

    ids: np.ndarray
    segment: np.ndarray
    rate: np.ndarray
    size: np.ndarray
    price: np.ndarray
    bulk: np.ndarray
    signup: np.ndarray
    begin: np.ndarray
    end: np.ndarray
    churned: np.ndarray


def draw_population(
    rng: np.random.Generator,
    profiles: tuple[SegmentProfile, ...],
    n: int,
    days: int,
    churn_rate: float,
) -> Population:
    """Draw segments, engagement, signup dates and churn days for ``n`` customers over ``days`` days."""
    shares = np.array([p.share for p in profiles])
    segment = rng.choice(len(profiles), size=n, p=shares / shares.sum())

    def trait(name: str) -> np.ndarray:
        return np.array([getattr(p, name) for p in profiles])[segment]

    engagement = np.exp(rng.normal(0.0, 0.2, n))
    rate = trait("rate") * engagement
    size = np.clip(trait("basket_size") * np.exp(rng.normal(0.0, 0.08, n)), 1.0, 8.0)
    price = trait("price_level") * np.exp(rng.normal(0.0, 0.08, n))
    prior = rng.random(n) < PRIOR_SHARE
    signup = np.where(prior, rng.integers(-3 * 365, 0, n), rng.integers(0, int(0.7 * days), n))
    begin = np.maximum(signup, 0)
    weight = trait("churn_weight") / engagement  # lower engagement, more churn
    churned, end = draw_churn(rng, begin, weight, churn_rate, days)
    return Population(ids("C", n, 5), segment, rate, size, price, trait("bulk"), signup, begin, end, churned)


def customer_table(
    rng: np.random.Generator,
    pop: Population,
    profiles: tuple[SegmentProfile, ...],
    origin: pd.Timestamp,
) -> pd.DataFrame:
    """Observable customer attributes, mildly segment-dependent; no segment or churn column."""
    n = pop.ids.size
    age = np.array([p.age for p in profiles])[pop.segment] + rng.normal(0.0, 11.0, n)
    region = np.empty(n, dtype=object)
    channel = np.empty(n, dtype=object)
    for s, profile in enumerate(profiles):
        rows = np.flatnonzero(pop.segment == s)
        tilt = np.ones(len(REGIONS)) + 0.6 * (np.arange(len(REGIONS)) == s % len(REGIONS))
        region[rows] = rng.choice(REGIONS, size=rows.size, p=tilt / tilt.sum())
        mix = np.array(profile.channels)
        channel[rows] = rng.choice(CHANNELS, size=rows.size, p=mix / mix.sum())
    return pd.DataFrame(
        {
            "customer_id": pop.ids,
            "age": np.clip(np.round(age), 18, 85).astype(np.int64),
            "region": region,
            "channel": channel,
            "signup_date": to_datetime(origin, pop.signup * 86400),
        }
    )


def truth_table(pop: Population, profiles: tuple[SegmentProfile, ...], origin: pd.Timestamp) -> pd.DataFrame:
    """Planted ground truth: segment and churn time (NaT for customers who never churn)."""
    churn_time = to_datetime(origin, pop.end * 86400)
    churn_time[~pop.churned] = np.datetime64("NaT")
    return pd.DataFrame(
        {
            "customer_id": pop.ids,
            "segment": pop.segment.astype(np.int64),
            "segment_name": np.array([p.name for p in profiles], dtype=object)[pop.segment],
            "churn_time": churn_time,
        }
    )


def ids(prefix: str, n: int, width: int) -> np.ndarray:
    """Zero-padded string ids ``prefix00001`` .. for 1..n, widened when n needs more digits."""
    width = max(width, len(str(n)))
    return np.array([f"{prefix}{i:0{width}d}" for i in range(1, n + 1)], dtype=object)


def to_datetime(origin: pd.Timestamp, seconds: np.ndarray) -> np.ndarray:
    """``origin`` plus integer seconds as a datetime64[ns] array."""
    base = np.datetime64(origin.to_datetime64(), "ns")
    return base + np.asarray(seconds, dtype=np.int64) * np.timedelta64(1, "s")
