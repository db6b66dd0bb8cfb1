"""Seeded synthetic CRM data: latent segments, seasonal purchases, planted basket rules, churn.

The generator is crmflow's embedded default data set. Everything it plants (segments, churn
times, item associations) is returned as ground truth so tests can check that the analytics
recover it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import pandas as pd

from crmflow.data.base import CRMData
from crmflow.errors import ConfigError

__all__ = ["ITEM_NAMES", "SEGMENTS", "SegmentProfile", "SyntheticCRM"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SegmentProfile:
    """Behaviour of one latent segment; rates are per year, sizes in distinct items."""

    name: str
    share: float  # relative size before normalisation over the segments in use
    rate: float  # baskets per year at full engagement
    basket_size: float  # mean distinct items per basket (before planted additions)
    price_level: float  # multiplier on item base prices
    price_taste: float  # exponent on item price in item choice (< 0 prefers cheap items)
    bulk: float  # chance of each extra unit, quantity = 1 + Binomial(2, bulk)
    churn_weight: float  # relative churn propensity
    age: float  # mean customer age
    channels: tuple[float, float, float]  # weights of "web", "store", "app"


# Profiles are far apart in (baskets, mean basket value, items per basket), so k-means on
# log1p of those per-customer features recovers the first four segments (ARI ~0.9).
SEGMENTS: tuple[SegmentProfile, ...] = tuple(
    SegmentProfile(*row)
    for row in (
        # name                     share rate  size price taste bulk  churn age channels
        ("champions",               0.18, 9.0,  4.5, 1.3,  0.3,  0.35, 0.4, 45, (0.3, 0.2, 0.5)),
        ("regulars",                0.36, 3.0,  2.0, 1.5,  0.0,  0.15, 1.0, 41, (0.3, 0.5, 0.2)),
        ("bargain hunters",         0.24, 8.0,  4.0, 0.25, -1.0, 0.5,  0.8, 34, (0.5, 0.3, 0.2)),
        ("occasional big spenders", 0.22, 0.7,  7.0, 2.2,  0.6,  0.2,  1.4, 52, (0.2, 0.7, 0.1)),
        ("light shoppers",          0.16, 1.2,  1.2, 0.6,  -0.3, 0.15, 1.8, 38, (0.4, 0.4, 0.2)),
        ("top-up shoppers",         0.14, 24.0, 1.5, 1.1,  0.2,  0.1,  0.6, 29, (0.2, 0.3, 0.5)),
    )
)  # fmt: skip

# Items used by the planted rules come first so every catalogue (n_items >= 20) holds them.
ITEM_NAMES: tuple[str, ...] = (
    "pasta", "tomato sauce", "bread", "butter", "beer", "chips", "coffee", "milk",
    "tortillas", "cheese", "salsa", "eggs", "bananas", "apples", "yogurt", "rice",
    "chicken", "orange juice", "cereal", "tea", "sugar", "flour", "onions", "potatoes",
    "carrots", "tomatoes", "lettuce", "ham", "salmon", "beef", "olive oil", "wine",
    "water", "soda", "cookies", "chocolate", "ice cream", "frozen pizza", "detergent",
    "toilet paper", "shampoo", "toothpaste", "soap", "dog food", "cat food", "diapers",
    "batteries", "candles", "flowers", "honey", "jam", "peanut butter", "crackers", "nuts",
    "granola", "oat milk", "tofu", "mushrooms", "garlic", "lemons", "grapes", "strawberries",
    "avocado", "spinach",
)  # fmt: skip

_RULES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("pasta",), "tomato sauce"),
    (("bread",), "butter"),
    (("beer",), "chips"),
    (("coffee",), "milk"),
    (("tortillas", "cheese"), "salsa"),
)
_ANTECEDENT_SHARE = 0.035  # share of choice weight per antecedent item (x1.5 in itemsets)
_CONSEQUENT_SHARE = 0.02
_LOG_PRICE = 1.1  # median item price exp(1.1) ~ 3.0
_SEASON_AMPLITUDE = 0.3  # yearly cosine peaking mid-December, trough mid-June
_SEASON_PEAK_DAY = 350
_WEEKDAY = np.array([0.85, 0.9, 0.95, 1.0, 1.1, 1.35, 0.85])  # Monday .. Sunday
_DECAY_DAYS = 90.0  # purchase rate fades over this many days before churn
_PRIOR_SHARE = 0.8  # customers who signed up before the history starts
_REGIONS = ("north", "south", "east", "west")
_CHANNELS = ("web", "store", "app")


@dataclass
class _Population:
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


class SyntheticCRM:
    """Deterministic synthetic CRM data with planted segments, seasonality, rules and churn.

    ``load()`` returns transactions (one row per line item), customer attributes, and a
    ``truth`` table (segment, churn time) that is never meant to be used as a feature.
    """

    def __init__(
        self,
        *,
        n_customers: int = 3000,
        n_segments: int = 4,
        n_items: int = 40,
        start: str = "2023-01-01",
        days: int = 730,
        churn_rate: float = 0.3,
        association_strength: float = 0.7,
        seed: int = 0,
    ) -> None:
        self.n_customers = n_customers
        self.n_segments = n_segments
        self.n_items = n_items
        self.start = start
        self.days = days
        self.churn_rate = churn_rate
        self.association_strength = association_strength
        self.seed = seed

    def planted_rules(self) -> list[tuple[frozenset[str], str]]:
        """The (antecedent itemset, consequent) pairs that ``load`` plants in baskets."""
        return [(frozenset(antecedent), consequent) for antecedent, consequent in _RULES]

    def item_names(self) -> list[str]:
        """The catalogue: readable product names, then ``item_NNN`` beyond the named ones."""
        extra = [f"item_{i:03d}" for i in range(len(ITEM_NAMES), self.n_items)]
        return list(ITEM_NAMES[: self.n_items]) + extra

    def load(self) -> CRMData:
        """Validate the parameters and generate the data set."""
        self._validate()
        rng = np.random.default_rng(self.seed)
        origin = pd.Timestamp(self.start).normalize()
        profiles = SEGMENTS[: self.n_segments]
        prices, weights = self._catalogue(rng, profiles)
        pop = self._population(rng, profiles)
        cust, secs = self._events(rng, pop, origin)
        member = self._baskets(rng, weights[pop.segment[cust]], pop.size[cust])
        tx = self._lines(rng, member, cust, secs, pop, prices, origin)
        customers = _customer_table(rng, pop, profiles, origin)
        truth = _truth_table(pop, profiles, origin)
        logger.debug("synthetic: %d lines, %d baskets", len(tx), member.shape[0])
        return CRMData(name="synthetic", transactions=tx, customers=customers, truth=truth)

    def _validate(self) -> None:
        """Raise ConfigError naming the first parameter that is out of range."""
        _check_int("n_customers", self.n_customers, 10)
        _check_int("n_segments", self.n_segments, 2, len(SEGMENTS))
        _check_int("n_items", self.n_items, 20, 200)
        _check_int("days", self.days, 90, 3650)
        _check_real("churn_rate", self.churn_rate, 0.0, 0.9)
        _check_real("association_strength", self.association_strength, 0.0, 1.0)
        _check_int("seed", self.seed, 0)
        try:
            ok = isinstance(self.start, str) and not pd.isna(pd.Timestamp(self.start))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ConfigError(
                "The 'start' parameter of SyntheticCRM must be a date string like "
                f"'2023-01-01'. Got {self.start!r} instead."
            )

    def _catalogue(
        self, rng: np.random.Generator, profiles: tuple[SegmentProfile, ...]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Item base prices and per-segment choice weights, shape (n_segments, n_items).

        Planted-rule items get fixed shares of the choice weight and prices near the median,
        so their support holds for any catalogue size and any segment's price taste.
        """
        column = {name: i for i, name in enumerate(self.item_names())}
        shares: dict[int, float] = {}
        for antecedent, consequent in _RULES:
            shares[column[consequent]] = _CONSEQUENT_SHARE
            for item in antecedent:
                shares[column[item]] = _ANTECEDENT_SHARE * (1.5 if len(antecedent) > 1 else 1.0)
        ruled = np.array(list(shares))
        share = np.array(list(shares.values()))
        log_price = rng.normal(_LOG_PRICE, 0.4, self.n_items)
        log_price[ruled] = rng.normal(_LOG_PRICE, 0.15, ruled.size)
        prices = np.round(np.exp(log_price), 2).clip(0.3, 40.0)
        base = rng.gamma(2.0, 0.5, self.n_items)
        others = np.delete(base, ruled).sum()
        base[ruled] = share * others / (1.0 - share.sum())
        taste = np.array([p.price_taste for p in profiles])[:, None]
        noise = np.exp(rng.normal(0.0, 0.25, (len(profiles), self.n_items)))
        return prices, base * (prices / np.exp(_LOG_PRICE))[None, :] ** taste * noise

    def _population(self, rng: np.random.Generator, profiles: tuple[SegmentProfile, ...]) -> _Population:
        """Draw segments, engagement, signup dates and churn days for every customer."""
        n = self.n_customers
        shares = np.array([p.share for p in profiles])
        segment = rng.choice(len(profiles), size=n, p=shares / shares.sum())

        def trait(name: str) -> np.ndarray:
            return np.array([getattr(p, name) for p in profiles])[segment]

        engagement = np.exp(rng.normal(0.0, 0.2, n))
        rate = trait("rate") * engagement
        size = np.clip(trait("basket_size") * np.exp(rng.normal(0.0, 0.08, n)), 1.0, 8.0)
        price = trait("price_level") * np.exp(rng.normal(0.0, 0.08, n))
        prior = rng.random(n) < _PRIOR_SHARE
        signup = np.where(prior, rng.integers(-3 * 365, 0, n), rng.integers(0, int(0.7 * self.days), n))
        begin = np.maximum(signup, 0)
        weight = trait("churn_weight") / engagement  # lower engagement, more churn
        p_churn = np.clip(self.churn_rate * weight / weight.mean(), 0.0, 0.95)
        churned = (rng.random(n) < p_churn) & (self.days - begin >= 60)
        churn_day = begin + 30 + np.floor(rng.random(n) * (self.days - begin - 30))
        end = np.where(churned, churn_day, self.days).astype(np.int64)
        ids = _ids("C", n, 5)
        return _Population(ids, segment, rate, size, price, trait("bulk"), signup, begin, end, churned)

    def _events(
        self, rng: np.random.Generator, pop: _Population, origin: pd.Timestamp
    ) -> tuple[np.ndarray, np.ndarray]:
        """Purchase events by thinning a Poisson process; returns (customer index, seconds).

        Events are sorted by time, and every customer gets at least one event.
        """
        peak = (1.0 + _SEASON_AMPLITUDE) * _WEEKDAY.max()
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

    def _baskets(self, rng: np.random.Generator, weights: np.ndarray, size: np.ndarray) -> np.ndarray:
        """Boolean basket-by-item matrix: distinct items by weight, then planted consequents."""
        n_baskets, n_items = weights.shape
        trials = np.ceil(size - 1.0).astype(np.int64) + 1  # few trials: sizes stay near the mean
        k = 1 + rng.binomial(trials, (size - 1.0) / trials)
        keys = np.log(weights) + rng.gumbel(size=weights.shape)  # Gumbel top-k sampling
        order = np.argsort(-keys, axis=1)
        ranks = np.empty_like(order)
        np.put_along_axis(ranks, order, np.broadcast_to(np.arange(n_items), order.shape), axis=1)
        member = ranks < k[:, None]
        column = {name: i for i, name in enumerate(self.item_names())}
        for antecedent, consequent in self.planted_rules():
            has = member[:, [column[a] for a in antecedent]].all(axis=1)
            add = has & (rng.random(n_baskets) < self.association_strength)
            member[add, column[consequent]] = True
        return member

    def _lines(
        self,
        rng: np.random.Generator,
        member: np.ndarray,
        cust: np.ndarray,
        secs: np.ndarray,
        pop: _Population,
        prices: np.ndarray,
        origin: pd.Timestamp,
    ) -> pd.DataFrame:
        """One row per line item, in (timestamp, basket_id) order."""
        basket, item = np.nonzero(member)
        owner = cust[basket]
        quantity = 1 + rng.binomial(2, pop.bulk[owner])
        noise = np.exp(rng.normal(0.0, 0.1, item.size))
        amount = np.round(prices[item] * quantity * pop.price[owner] * noise, 2).clip(0.01)
        names = np.array(self.item_names(), dtype=object)
        return pd.DataFrame(
            {
                "customer_id": pop.ids[owner],
                "basket_id": _ids("B", member.shape[0], 6)[basket],
                "timestamp": _to_datetime(origin, secs[basket]),
                "item": names[item],
                "quantity": quantity.astype(np.int64),
                "amount": amount.astype(np.float64),
            }
        )


def _intensity(t: np.ndarray, end: np.ndarray, churned: np.ndarray, origin: pd.Timestamp) -> np.ndarray:
    """Relative purchase rate on day ``t``: yearly season x weekday x pre-churn decay."""
    day = np.floor(t)
    phase = 2.0 * np.pi * (origin.day_of_year + day - _SEASON_PEAK_DAY) / 365.25
    season = 1.0 + _SEASON_AMPLITUDE * np.cos(phase)
    weekday = _WEEKDAY[(origin.day_of_week + day.astype(np.int64)) % 7]
    decay = np.where(churned, np.clip((end - t) / _DECAY_DAYS, 0.1, 1.0), 1.0)
    return season * weekday * decay


def _customer_table(
    rng: np.random.Generator,
    pop: _Population,
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
        tilt = np.ones(len(_REGIONS)) + 0.6 * (np.arange(len(_REGIONS)) == s % len(_REGIONS))
        region[rows] = rng.choice(_REGIONS, size=rows.size, p=tilt / tilt.sum())
        mix = np.array(profile.channels)
        channel[rows] = rng.choice(_CHANNELS, size=rows.size, p=mix / mix.sum())
    return pd.DataFrame(
        {
            "customer_id": pop.ids,
            "age": np.clip(np.round(age), 18, 85).astype(np.int64),
            "region": region,
            "channel": channel,
            "signup_date": _to_datetime(origin, pop.signup * 86400),
        }
    )


def _truth_table(pop: _Population, profiles: tuple[SegmentProfile, ...], origin: pd.Timestamp) -> pd.DataFrame:
    """Planted ground truth: segment and churn time (NaT for customers who never churn)."""
    churn_time = _to_datetime(origin, pop.end * 86400)
    churn_time[~pop.churned] = np.datetime64("NaT")
    return pd.DataFrame(
        {
            "customer_id": pop.ids,
            "segment": pop.segment.astype(np.int64),
            "segment_name": np.array([p.name for p in profiles], dtype=object)[pop.segment],
            "churn_time": churn_time,
        }
    )


def _ids(prefix: str, n: int, width: int) -> np.ndarray:
    """Zero-padded string ids ``prefix00001`` .. for 1..n, widened when n needs more digits."""
    width = max(width, len(str(n)))
    return np.array([f"{prefix}{i:0{width}d}" for i in range(1, n + 1)], dtype=object)


def _to_datetime(origin: pd.Timestamp, seconds: np.ndarray) -> np.ndarray:
    """``origin`` plus integer seconds as a datetime64[ns] array."""
    base = np.datetime64(origin.to_datetime64(), "ns")
    return base + np.asarray(seconds, dtype=np.int64) * np.timedelta64(1, "s")


def _check_int(name: str, value: object, low: int, high: int | None = None) -> None:
    """Raise ConfigError unless ``value`` is an int in [low, high] (no upper bound if None)."""
    ok = isinstance(value, Integral) and not isinstance(value, bool)
    if ok and (value < low or (high is not None and value > high)):
        ok = False
    if not ok:
        rule = f"an int in the range [{low}, {high}]" if high is not None else f"an int >= {low}"
        raise ConfigError(f"The '{name}' parameter of SyntheticCRM must be {rule}. Got {value!r} instead.")


def _check_real(name: str, value: object, low: float, high: float) -> None:
    """Raise ConfigError unless ``value`` is a real number in [low, high]."""
    ok = isinstance(value, Real) and not isinstance(value, bool) and low <= value <= high
    if not ok:
        raise ConfigError(
            f"The '{name}' parameter of SyntheticCRM must be a float in the range "
            f"[{low}, {high}]. Got {value!r} instead."
        )
