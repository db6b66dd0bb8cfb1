"""Seeded synthetic CRM data: latent segments, seasonal purchases, planted basket rules, churn.

The generator is crmflow's embedded default data set. Everything it plants (segments, churn
times, item associations) is returned as ground truth so tests can check that the analytics
recover it. This module holds the source class and its parameter rules; the draws live in
``synthetic_customers``, ``synthetic_churn`` and ``synthetic_transactions``, the fixed tables
in ``synthetic_profiles``.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from crmflow.config.constraints import Date, Interval
from crmflow.config.validation import validate_parameters
from crmflow.data.base import CRMData
from crmflow.data.synthetic_customers import customer_table, draw_population, truth_table
from crmflow.data.synthetic_profiles import ITEM_NAMES, RULES, SEGMENTS, SEQUENCES, SegmentProfile, catalogue_names
from crmflow.data.synthetic_transactions import draw_baskets, draw_catalogue, draw_events, line_items, plant_sequences

__all__ = ["ITEM_NAMES", "SEGMENTS", "SegmentProfile", "SyntheticCRM"]

logger = logging.getLogger(__name__)


class SyntheticCRM:
    """Deterministic synthetic CRM data with planted segments, seasonality, rules and churn.

    ``load()`` returns transactions (one row per line item), customer attributes, and a
    ``truth`` table (segment, churn time) that is never meant to be used as a feature.
    """

    _parameter_constraints = {
        "n_customers": [Interval(int, 10, None)],
        "n_segments": [Interval(int, 2, len(SEGMENTS))],
        "n_items": [Interval(int, 20, 200)],
        "days": [Interval(int, 90, 3650)],
        "churn_rate": [Interval(float, 0, 0.9)],
        "association_strength": [Interval(float, 0, 1)],
        "sequence_strength": [Interval(float, 0, 1)],
        "seed": [Interval(int, 0, None)],
        "start": [Date()],
    }

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
        sequence_strength: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.n_customers = n_customers
        self.n_segments = n_segments
        self.n_items = n_items
        self.start = start
        self.days = days
        self.churn_rate = churn_rate
        self.association_strength = association_strength
        self.sequence_strength = sequence_strength
        self.seed = seed

    def planted_rules(self) -> list[tuple[frozenset[str], str]]:
        """The (antecedent itemset, consequent) pairs that ``load`` plants in baskets."""
        return [(frozenset(antecedent), consequent) for antecedent, consequent in RULES]

    def planted_sequences(self) -> list[tuple[str, str]]:
        """The (first item, item of the next basket) pairs that ``load`` plants with sequence_strength > 0."""
        return list(SEQUENCES) if self.sequence_strength > 0 else []

    def item_names(self) -> list[str]:
        """The catalogue: readable product names, then ``item_NNN`` beyond the named ones."""
        return catalogue_names(self.n_items)

    def load(self) -> CRMData:
        """Validate the parameters and generate the data set (the draw order fixes the output)."""
        validate_parameters(self, "data")
        rng = np.random.default_rng(self.seed)
        origin = pd.Timestamp(self.start).normalize()
        profiles = SEGMENTS[: self.n_segments]
        names = self.item_names()
        prices, weights = draw_catalogue(rng, profiles, names)
        pop = draw_population(rng, profiles, self.n_customers, self.days, self.churn_rate)
        cust, secs = draw_events(rng, pop, origin)
        member = draw_baskets(rng, weights[pop.segment[cust]], pop.size[cust], names, self.association_strength)
        if self.sequence_strength > 0:  # drawn only when asked for, so the other data stay as they were
            member = plant_sequences(rng, member, cust, names, self.sequence_strength)
        tx = line_items(rng, member, cust, secs, pop, prices, names, origin)
        customers = customer_table(rng, pop, profiles, origin)
        truth = truth_table(pop, profiles, origin)
        logger.debug("synthetic: %d lines, %d baskets", len(tx), member.shape[0])
        return CRMData(name="synthetic", transactions=tx, customers=customers, truth=truth)
