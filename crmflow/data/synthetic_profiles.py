"""The fixed world of the synthetic generator: segment profiles, item catalogue, planted rules, constants.

Nothing here draws random numbers; ``crmflow.data.synthetic`` and its helper modules read these tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ITEM_NAMES", "RULES", "SEGMENTS", "SEQUENCES", "SegmentProfile", "catalogue_names"]


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

# Planted (antecedent items, consequent) pairs.
RULES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("pasta",), "tomato sauce"),
    (("bread",), "butter"),
    (("beer",), "chips"),
    (("coffee",), "milk"),
    (("tortillas", "cheese"), "salsa"),
)
# Planted sequences (first item, item bought in the customer's next basket, never in the same one).
SEQUENCES: tuple[tuple[str, str], ...] = (("flour", "sugar"), ("beef", "wine"))
ANTECEDENT_SHARE = 0.035  # share of choice weight per antecedent item (x1.5 in itemsets)
CONSEQUENT_SHARE = 0.02
LOG_PRICE = 1.1  # median item price exp(1.1) ~ 3.0
SEASON_AMPLITUDE = 0.3  # yearly cosine peaking mid-December, trough mid-June
SEASON_PEAK_DAY = 350
WEEKDAY = np.array([0.85, 0.9, 0.95, 1.0, 1.1, 1.35, 0.85])  # Monday .. Sunday
DECAY_DAYS = 90.0  # purchase rate fades over this many days before churn
PRIOR_SHARE = 0.8  # customers who signed up before the history starts
REGIONS = ("north", "south", "east", "west")
CHANNELS = ("web", "store", "app")


def catalogue_names(n_items: int) -> list[str]:
    """The catalogue: readable product names, then ``item_NNN`` beyond the named ones."""
    extra = [f"item_{i:03d}" for i in range(len(ITEM_NAMES), n_items)]
    return list(ITEM_NAMES[:n_items]) + extra
