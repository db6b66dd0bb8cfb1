"""Transactions of the synthetic generator: item catalogue, seasonal purchase times, baskets with planted rules."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmflow.data.synthetic_churn import churn_decay
from crmflow.data.synthetic_customers import Population, ids, to_datetime
from crmflow.data.synthetic_profiles import (
    ANTECEDENT_SHARE,
    CONSEQUENT_SHARE,
    LOG_PRICE,
    RULES,
    SEASON_AMPLITUDE,
    SEASON_PEAK_DAY,
    SEQUENCES,
    WEEKDAY,
    SegmentProfile,
)

__all__ = ["draw_baskets", "draw_catalogue", "draw_events", "line_items", "plant_sequences"]


def draw_catalogue(
    rng: np.random.Generator, profiles: tuple[SegmentProfile, ...], names: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Item base prices and per-segment choice weights, shape (n_segments, n_items).

    Planted-rule items get fixed shares of the choice weight and prices near the median,
    so their support holds for any catalogue size and any segment's price taste.
    """
    n_items = len(names)
    column = {name: i for i, name in enumerate(names)}
    shares: dict[int, float] = {}
    for antecedent, consequent in RULES:
        shares[column[consequent]] = CONSEQUENT_SHARE
        for item in antecedent:
            shares[column[item]] = ANTECEDENT_SHARE * (1.5 if len(antecedent) > 1 else 1.0)
    ruled = np.array(list(shares))
    share = np.array(list(shares.values()))
    log_price = rng.normal(LOG_PRICE, 0.4, n_items)
    log_price[ruled] = rng.normal(LOG_PRICE, 0.15, ruled.size)
    prices = np.round(np.exp(log_price), 2).clip(0.3, 40.0)
    base = rng.gamma(2.0, 0.5, n_items)
    others = np.delete(base, ruled).sum()
    base[ruled] = share * others / (1.0 - share.sum())
    taste = np.array([p.price_taste for p in profiles])[:, None]
    noise = np.exp(rng.normal(0.0, 0.25, (len(profiles), n_items)))
    return prices, base * (prices / np.exp(LOG_PRICE))[None, :] ** taste * noise


def draw_events(rng: np.random.Generator, pop: Population, origin: pd.Timestamp) -> tuple[np.ndarray, np.ndarray]:
    """Purchase events by thinning a Poisson process; returns (customer index, seconds).

    Events are sorted by time, and every customer gets at least one event.
    """
    peak = (1.0 + SEASON_AMPLITUDE) * WEEKDAY.max()
    span = (pop.end - pop.begin).astype(float)
    counts = rng.poisson(pop.rate * peak * span / 365.25)
    cust = np.repeat(np.arange(counts.size), counts)
    t = pop.begin[cust] + rng.random(cust.size) * span[cust]
    keep = rng.random(t.size) * peak < _intensity(t, pop.end[cust], pop.churned[cust], origin)
    cust, t = cust[keep], t[keep]
    empty = np.flatnonzero(np.bincount(cust, minlength=counts.size) == 0)
    cust = np.concatenate([cust, empty])
    t = np.concatenate([t, pop.begin[empty] + rng.random(empty.size) * span[empty]])
    secs = np.floor(t).astype(np.int64) * 86400 + rng.integers(8 * 3600, 21 * 3600, t.size)
    order = np.lexsort((cust, secs))
    return cust[order], secs[order]


def _intensity(t: np.ndarray, end: np.ndarray, churned: np.ndarray, origin: pd.Timestamp) -> np.ndarray:
    """Relative purchase rate on day ``t``: yearly season x weekday x pre-churn decay."""
    day = np.floor(t)
    phase = 2.0 * np.pi * (origin.day_of_year + day - SEASON_PEAK_DAY) / 365.25
    season = 1.0 + SEASON_AMPLITUDE * np.cos(phase)
    weekday = WEEKDAY[(origin.day_of_week + day.astype(np.int64)) % 7]
    return season * weekday * churn_decay(t, end, churned)


def draw_baskets(
    rng: np.random.Generator, weights: np.ndarray, size: np.ndarray, names: list[str], association_strength: float
) -> np.ndarray:
    """Boolean basket-by-item matrix: distinct items by weight, then planted consequents."""
    n_baskets, n_items = weights.shape
    trials = np.ceil(size - 1.0).astype(np.int64) + 1  # few trials: sizes stay near the mean
    k = 1 + rng.binomial(trials, (size - 1.0) / trials)
    keys = np.log(weights) + rng.gumbel(size=weights.shape)  # Gumbel top-k sampling
    order = np.argsort(-keys, axis=1)
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.broadcast_to(np.arange(n_items), order.shape), axis=1)
    member = ranks < k[:, None]
    column = {name: i for i, name in enumerate(names)}
    for antecedent, consequent in RULES:
        has = member[:, [column[a] for a in antecedent]].all(axis=1)
        add = has & (rng.random(n_baskets) < association_strength)
        member[add, column[consequent]] = True
    return member


def plant_sequences(
    rng: np.random.Generator, member: np.ndarray, cust: np.ndarray, names: list[str], strength: float
) -> np.ndarray:
    """For each planted (first, then) pair: `then` leaves the baskets holding `first`, and with probability
    `strength` joins the same customer's next basket (unless that one holds `first` too). Baskets are in time
    order, so a customer's next basket is the next row of theirs."""
    order = np.argsort(cust, kind="stable")
    following = np.full(len(cust), -1)
    same = cust[order[1:]] == cust[order[:-1]]
    following[order[:-1][same]] = order[1:][same]
    column = {name: i for i, name in enumerate(names)}
    for first, then in SEQUENCES:
        if first not in column or then not in column:
            continue
        a, b = column[first], column[then]
        has = member[:, a].copy()
        member[has, b] = False
        add = has & (following >= 0) & (rng.random(len(cust)) < strength)
        targets = following[add]
        member[targets[~member[targets, a]], b] = True
    return member


def line_items(
    rng: np.random.Generator,
    member: np.ndarray,
    cust: np.ndarray,
    secs: np.ndarray,
    pop: Population,
    prices: np.ndarray,
    names: list[str],
    origin: pd.Timestamp,
) -> pd.DataFrame:
    """One row per line item, in (timestamp, basket_id) order."""
    basket, item = np.nonzero(member)
    owner = cust[basket]
    quantity = 1 + rng.binomial(2, pop.bulk[owner])
    noise = np.exp(rng.normal(0.0, 0.1, item.size))
    amount = np.round(prices[item] * quantity * pop.price[owner] * noise, 2).clip(0.01)
    return pd.DataFrame(
        {
            "customer_id": pop.ids[owner],
            "basket_id": ids("B", member.shape[0], 6)[basket],
            "timestamp": to_datetime(origin, secs[basket]),
            "item": np.array(names, dtype=object)[item],
            "quantity": quantity.astype(np.int64),
            "amount": amount.astype(np.float64),
        }
    )
