"""Rules mined within each customer segment, scored and compared with the global rules.

A segment's rules are interesting where their lift is far above the lift of the same rule on all
baskets: `lift_ratio` = segment lift / global lift. Comparing on all baskets is the costly step; it
is estimated first and done in as many passes over the rules as the memory budget needs
(crmflow.rules.segment_cost).
"""

from __future__ import annotations

import itertools
import logging
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone

from crmflow.errors import ConfigError, DataError
from crmflow.rules.baskets import Baskets
from crmflow.rules.estimator import AssociationRules
from crmflow.rules.evaluation import evaluate_recommendations
from crmflow.rules.protocol import RuleMiner
from crmflow.rules.rule_table import rule_metrics
from crmflow.rules.segment_cost import compare_passes, over_budget
from crmflow.segmentation.metrics import NOISE

logger = logging.getLogger(__name__)

LIFT_RATIO = 2.0  # segment rules at least this many times the global lift are counted as standouts
COMPARED = ["support", "confidence", "lift"]


@dataclass(frozen=True)
class SegmentLimits:
    """Which segments are mined and how much each may yield (`rules.settings.segment_*`)."""

    min_baskets: int
    max_itemsets: int
    max_rules: int
    memory_budget_gib: float = 4.0  # for scoring one segment's rules on all baskets (conf/rules/_settings.yaml)


@dataclass
class SegmentRules:
    """Per-segment results: summary metrics, one row per segment, and every segment rule vs global."""

    metrics: dict[str, float]
    segments: pd.DataFrame
    rules: pd.DataFrame


def basket_segments(baskets: Baskets, labels: pd.Series) -> pd.Series:
    """The segment of each basket's customer (missing when the customer has no segment label)."""
    if baskets.customer_ids is None:
        raise DataError("rules.settings.per_segment: the baskets carry no customer ids to look segments up by")
    return pd.Series(labels.reindex(baskets.customer_ids.to_numpy()).to_numpy())


def mine_per_segment(
    miner: AssociationRules,
    train: Baskets,
    holdout: Baskets,
    labels: pd.Series,
    k: int,
    seed: int,
    limits: SegmentLimits,
) -> SegmentRules:
    """Mine ``miner``'s rules within each segment of ``labels`` (by customer id).

    Each segment with at least ``limits.min_baskets`` training baskets is mined on its training
    baskets and scored on its held-out baskets beside the global rules on the same baskets; its
    rules table is mined on all its baskets and compared with the same rules on all baskets. A
    small segment of large, repetitive baskets can hold millions of frequent itemsets at the
    global support fraction: past ``limits.max_itemsets`` the segment is skipped (with the reason in
    its row), and its table keeps its ``limits.max_rules`` rules of highest lift. The table is compared
    with all baskets in passes estimated within ``limits.memory_budget_gib`` (`compare_passes`); a segment
    whose rules cannot be (encoding the baskets or one rule alone over the budget, which the rules stage
    refuses before any run) is skipped with the estimates in its row.
    """
    everything = Baskets(
        items=train.items + holdout.items,
        customer_ids=None if train.customer_ids is None else pd.concat([train.customer_ids, holdout.customer_ids]),
    )
    global_miner = clone(miner).fit(train)
    segment_miner = clone(miner).set_params(max_itemsets=min(miner.max_itemsets, limits.max_itemsets))
    table_miner = clone(segment_miner).set_params(max_rules=min(miner.max_rules or limits.max_rules, limits.max_rules))
    train_segment, holdout_segment = basket_segments(train, labels), basket_segments(holdout, labels)
    all_segment = pd.concat([train_segment, holdout_segment], ignore_index=True)
    item_counts = Counter(itertools.chain.from_iterable(everything.items))
    rows, tables = [], []
    present = [s for s in pd.unique(labels) if s != NOISE and (train_segment == s).any()]  # labels keep their type
    for segment in sorted(present, key=str):
        in_train = np.flatnonzero(train_segment == segment)
        row = {"segment": segment, "train_baskets": len(in_train), "status": "mined"}
        rows.append(row)
        if len(in_train) < limits.min_baskets:
            row["status"] = f"not mined: fewer than rules.settings.segment_min_baskets={limits.min_baskets} baskets"
            continue
        try:
            fitted = clone(segment_miner).fit(train.subset(in_train))
            mined = clone(table_miner).fit(everything.subset(np.flatnonzero(all_segment == segment)))
        except (ConfigError, DataError) as error:  # e.g. too many itemsets at a small segment's count
            logger.warning(
                "rules: segment %s not mined (limit per segment: rules.settings.segment_max_itemsets=%d): %s",
                segment,
                limits.max_itemsets,
                error,
            )
            row["status"] = f"not mined: {str(error).splitlines()[0]}"
            continue
        passes = compare_passes(mined.rules_, item_counts, limits.memory_budget_gib)
        if passes is None:
            row["status"] = over_budget(mined.rules_, item_counts, len(everything), limits.memory_budget_gib)
            logger.warning("rules: segment %s %s", segment, row["status"])
            continue
        row |= {"n_rules": len(mined.rules_), "rules_found": mined.n_rules_found_, "compare_passes": len(passes)}
        row |= _scores(fitted, global_miner, holdout.subset(np.flatnonzero(holdout_segment == segment)), k, seed)
        tables.append(_compared(mined.rules_, everything, passes).assign(segment=segment))
    return _summary(pd.DataFrame(rows), tables, k)


def _scores(segment_miner: RuleMiner, global_miner: RuleMiner, holdout: Baskets, k: int, seed: int) -> dict:
    """Hits of the segment's rules and of the global rules on the segment's held-out baskets."""
    n = sum(len(basket) >= 2 for basket in holdout.items)
    if n == 0:
        return {"n_evaluated": 0, "hits": 0, "global_hits": 0, "covered": 0}
    own = evaluate_recommendations(segment_miner, holdout, k=k, seed=seed)
    common = evaluate_recommendations(global_miner, holdout, k=k, seed=seed)
    return {
        "n_evaluated": n,
        "hits": round(own[f"hit_rate_at_{k}"] * n),
        "global_hits": round(common[f"hit_rate_at_{k}"] * n),
        "covered": round(own["coverage"] * n),
    }


def _compared(rules: pd.DataFrame, everything: Baskets, passes: list[np.ndarray]) -> pd.DataFrame:
    """A segment's rules with the same rules' support, confidence and lift on all baskets, pass by pass."""
    parts = [rule_metrics(rules.iloc[rows].reset_index(drop=True), everything) for rows in passes]
    overall = pd.concat(parts, ignore_index=True)[COMPARED].add_prefix("global_")
    table = pd.concat([rules[["antecedents", "consequents", *COMPARED, "support_count"]], overall], axis=1)
    return table.assign(lift_ratio=table["lift"] / table["global_lift"])


def _summary(segments: pd.DataFrame, tables: list[pd.DataFrame], k: int) -> SegmentRules:
    """Pooled metrics over the mined segments, and every segment rule sorted by lift ratio."""
    mined = segments[segments["status"] == "mined"] if len(segments) else segments
    if mined.empty:
        reasons = "; ".join(sorted(set(segments["status"]))) if len(segments) else "no labelled segments"
        raise DataError(f"rules.settings.per_segment: no segment could be mined ({reasons})")
    rules = pd.concat(tables, ignore_index=True)
    rules = rules[["segment", *[c for c in rules.columns if c != "segment"]]]
    rules = rules.sort_values(["lift_ratio", "lift"], ascending=False, kind="stable").reset_index(drop=True)
    n = max(int(mined["n_evaluated"].sum()), 1)
    metrics = {
        "segments_mined": float(len(mined)),
        "segments_skipped": float(len(segments) - len(mined)),
        "segment_n_rules": float(mined["n_rules"].sum()),
        f"segment_hit_rate_at_{k}": mined["hits"].sum() / n,
        f"segment_global_hit_rate_at_{k}": mined["global_hits"].sum() / n,
        "segment_coverage": mined["covered"].sum() / n,
        "segment_n_evaluated": float(mined["n_evaluated"].sum()),
        "segment_rules_lift_2x_global": float((rules["lift_ratio"] >= LIFT_RATIO).sum()),
    }
    return SegmentRules(metrics, segments, rules)
