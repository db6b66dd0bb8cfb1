"""The rules stage: baskets built and split by time once, rules mined per trial, scored as recommendations."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sklearn.base import clone

from crmflow.caveats import hit_rate_metric, kept, rate_vs_baseline
from crmflow.config.components import ComponentSpec
from crmflow.errors import DataError
from crmflow.plots.rules import rules_scatter
from crmflow.rules.baskets import Baskets, baskets_from_transactions
from crmflow.rules.estimator import check_baskets
from crmflow.rules.evaluation import evaluate_recommendations
from crmflow.rules.report import (
    evaluation_table,
    readable,
    top_rules_markdown,
    write_segment_rules,
)
from crmflow.rules.segment_cost import check_compare_budget
from crmflow.rules.segments import SegmentLimits, mine_per_segment
from crmflow.rules.settings import RulesSettings
from crmflow.stages.contract import RunState, Stage, StageResult, TuningResult


@dataclass
class RulesInput:
    """All baskets split by time: train (= fit + validation, earliest first) and holdout (latest).

    Tuning trials mine `fit` and score on `validation`; the chosen miner is then mined on all of
    `train` and scored once on `holdout`, which no trial has seen.
    """

    baskets: Baskets
    train: Baskets
    holdout: Baskets
    fit: Baskets
    validation: Baskets
    k: int
    seed: int


def run_baskets(state: RunState) -> Baskets:
    """The run's baskets, built from the transactions once (check and prepare share them)."""
    if state.baskets is None:
        state.baskets = baskets_from_transactions(state.data.transactions)
    return state.baskets


def _sizes(miner: Any) -> dict[str, float]:
    """Rules and itemsets mined, and baskets dropped or truncated above rules.max_basket_size (0 for a
    miner without it)."""
    return {
        "n_rules": float(len(miner.rules_)),
        "n_itemsets": float(getattr(miner, "n_itemsets_", None) or len(miner.itemsets_)),
        "n_baskets_dropped": float(getattr(miner, "n_baskets_dropped_", 0)),
        "n_baskets_truncated": float(getattr(miner, "n_baskets_truncated_", 0)),
    }


class RulesStage(Stage):
    name = "rules"
    needs_transactions = True
    settings_type = RulesSettings

    def requires(self, spec: ComponentSpec) -> dict[str, str]:
        return {"segments": "rules.settings.per_segment"} if spec.settings.per_segment else {}

    def metric_names(self, spec: ComponentSpec) -> list[str]:
        k = spec.settings.k
        return [
            f"hit_rate_at_{k}",
            f"precision_at_{k}",
            "coverage",
            f"baseline_hit_rate_at_{k}",
            "n_rules",
            "n_itemsets",
            "n_baskets_dropped",
            "n_baskets_truncated",
        ]

    def caveats(self, spec: ComponentSpec, metrics: Mapping[str, float], data: Mapping[str, float]) -> list[str]:
        hit_rate = hit_rate_metric(metrics)
        if hit_rate is None or f"baseline_{hit_rate}" not in metrics:
            return []
        n = metrics.get("n_evaluated", 0.0)
        baseline = metrics[f"baseline_{hit_rate}"]
        return kept(rate_vs_baseline(f"the rules' {hit_rate}", metrics[hit_rate], baseline, "most-popular baseline", n))

    def check(self, spec: ComponentSpec, state: RunState) -> None:
        if not state.data.has_column("item"):
            raise DataError(
                "rules: the data has no 'item' column; association rules need one item per "
                "transaction row (map it with data.transactions.columns.item, or set rules=none)"
            )
        check_baskets(run_baskets(state))  # before any run starts: e.g. every basket holds a single item
        if spec.settings.per_segment:  # no pass over a segment's rules could fit the memory budget
            check_compare_budget(run_baskets(state), spec.settings.segment_memory_budget_gib)

    def prepare(self, spec: ComponentSpec, state: RunState) -> RulesInput:
        baskets = run_baskets(state)
        train, holdout = baskets.split_by_time(spec.settings.holdout_fraction)
        fit, validation = train.split_by_time(spec.settings.validation_fraction)
        return RulesInput(baskets, train, holdout, fit, validation, spec.settings.k, state.seed)

    @staticmethod
    def _mine_and_score(miner: Any, train: Baskets, test: Baskets, prepared: RulesInput) -> dict[str, float]:
        miner.fit(train)
        metrics = evaluate_recommendations(miner, test, k=prepared.k, seed=prepared.seed)
        return {**metrics, **_sizes(miner)}

    def score(self, estimator: Any, prepared: RulesInput, spec: ComponentSpec) -> dict[str, float]:
        """A trial: mined on the earlier training baskets, scored on the later (validation) ones."""
        return self._mine_and_score(estimator, prepared.fit, prepared.validation, prepared)

    def finalize(
        self, estimator: Any, prepared: RulesInput, spec: ComponentSpec, state: RunState, tuned: TuningResult | None
    ) -> StageResult:
        """Score the chosen miner on the holdout, then mine the logged rules table from all baskets."""
        metrics = self._mine_and_score(estimator, prepared.train, prepared.holdout, prepared)
        estimator = clone(estimator).fit(prepared.baskets)
        metrics.update(_sizes(estimator))  # the logged table's rules, itemsets and dropped baskets
        table = readable(estimator.rules_, item_lists=True)
        rules_path = state.artifact_dir / "rules.csv"
        table.to_csv(rules_path, index=False)
        top_path = state.artifact_dir / "top_rules_by_lift.md"
        top_path.write_text(top_rules_markdown(table, spec.settings.top_rules))
        evaluation_path = state.artifact_dir / "evaluation_vs_baseline.csv"
        evaluation_table(metrics, prepared.k).to_csv(evaluation_path, index=False)
        artifacts = [rules_path, top_path, evaluation_path]
        if len(table):
            artifacts.append(rules_scatter(table, state.artifact_dir / "rules_scatter.png"))
        if spec.settings.per_segment:
            found = mine_per_segment(
                clone(estimator), prepared.train, prepared.holdout, state.segments.labels,
                prepared.k, prepared.seed, SegmentLimits(
                    spec.settings.segment_min_baskets, spec.settings.segment_max_itemsets,
                    spec.settings.segment_max_rules, spec.settings.segment_memory_budget_gib,
                ),
            )  # fmt: skip
            metrics.update(found.metrics)
            artifacts += write_segment_rules(found, state.artifact_dir, spec.settings.top_rules)
        return StageResult(metrics, artifacts)
