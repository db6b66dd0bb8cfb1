"""The sequences stage: customer histories built and split once, patterns mined per trial, scored on each
customer's next basket beside popularity and basket rules."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sklearn.base import clone

from crmflow.caveats import hit_rate_metric, kept, rate_vs_baseline
from crmflow.config.components import ComponentSpec
from crmflow.errors import ConfigError, DataError
from crmflow.rules.estimator import AssociationRules
from crmflow.rules.stage import run_baskets
from crmflow.sequences.estimator import SequentialPatterns
from crmflow.sequences.evaluation import NextBaskets, comparison_scores, next_basket_scores, split_next
from crmflow.sequences.histories import Histories, customer_histories
from crmflow.sequences.report import sequence_artifacts
from crmflow.sequences.segments import mine_per_segment
from crmflow.sequences.settings import SequencesSettings
from crmflow.stages.contract import RunState, Stage, StageResult, TuningResult

logger = logging.getLogger(__name__)
CUTOFF_KEY = "sequences.settings.cutoff"


@dataclass
class SequencesInput:
    """All histories; the holdout split at the cutoff and the trials' split inside the time before it, each with
    the scores of the popularity baseline and of the basket rules on its customers."""

    histories: Histories
    holdout: NextBaskets
    trial: NextBaskets
    holdout_comparison: dict[str, float]
    trial_comparison: dict[str, float]
    k: int


def _histories(state: RunState) -> Histories:
    if not state.data.has_column("item"):
        raise DataError(
            "sequences: the data has no 'item' column; sequential patterns need one item per transaction row "
            "(map it with data.transactions.columns.item, or set sequences=none)"
        )
    histories = customer_histories(run_baskets(state))
    if max((len(b) for b in histories.baskets), default=0) < 2:
        raise DataError(
            f"sequences: every one of the {len(histories)} customers has a single basket, so there is no "
            "sequence to mine; check how baskets are formed (data.transactions.columns.basket_id) or set sequences=none"
        )
    return histories


def _cutoff(settings: SequencesSettings, state: RunState) -> tuple[pd.Timestamp, str]:
    """The configured cutoff (midnight where the data lives), or the features cutoff; and its key."""
    if settings.cutoff is not None:
        cutoff, zone = pd.Timestamp(str(settings.cutoff)), state.data.transactions["timestamp"].dt.tz
        return (cutoff.tz_localize(zone) if zone is not None else cutoff), CUTOFF_KEY
    if state.table is None or state.table.cutoff is None:
        raise ConfigError(
            f"{CUTOFF_KEY}: null means the features cutoff, but these features have none (features=rfm has one); "
            f"set {CUTOFF_KEY} to a date, e.g. {CUTOFF_KEY}=2020-06-30"
        )
    return pd.Timestamp(state.table.cutoff).normalize(), "features.cutoff"


def _comparison_miner(settings: SequencesSettings) -> AssociationRules:
    return AssociationRules(min_support=settings.compare_rules_min_support, max_len=3,
                            min_threshold=settings.compare_rules_min_confidence)  # fmt: skip


class SequencesStage(Stage):
    name = "sequences"
    needs_transactions = True
    settings_type = SequencesSettings

    def requires(self, spec: ComponentSpec) -> dict[str, str]:
        return {"segments": "sequences.settings.per_segment"} if spec.settings.per_segment else {}

    def metric_names(self, spec: ComponentSpec) -> list[str]:
        k = spec.settings.k
        scores = [f"{p}{m}" for p in ("", "baseline_", "personal_baseline_", "basket_rules_")
                  for m in (f"hit_rate_at_{k}", f"precision_at_{k}", "coverage")]  # fmt: skip
        return [*scores, "n_patterns", "n_rules", "n_evaluated", "basket_rules_n_rules"]

    def caveats(self, spec: ComponentSpec, metrics: Mapping[str, float], data: Mapping[str, float]) -> list[str]:
        """The sequential rules against each comparison recommender scored on the same next baskets."""
        hit_rate, n = hit_rate_metric(metrics), metrics.get("n_evaluated", 0.0)
        if hit_rate is None:
            return []
        names = {"baseline_": "most-popular baseline", "personal_baseline_": "own-favourites baseline",
                 "basket_rules_": "basket rules"}  # fmt: skip
        found = [(f"{key}{hit_rate}", name) for key, name in names.items() if f"{key}{hit_rate}" in metrics]
        what = f"the sequential rules' {hit_rate}"
        return kept(*(rate_vs_baseline(what, metrics[hit_rate], metrics[key], name, n) for key, name in found))

    def check_config(self, spec: ComponentSpec) -> None:
        if not isinstance(spec.build(), SequentialPatterns):
            raise ConfigError(f"sequences._target_: {spec.short_name} is not crmflow.sequences.SequentialPatterns")

    def check(self, spec: ComponentSpec, state: RunState) -> None:
        self.prepare(spec, state, compare=False)

    def prepare(self, spec: ComponentSpec, state: RunState, compare: bool = True) -> SequencesInput:
        settings: SequencesSettings = spec.settings
        histories = _histories(state)
        cutoff, key = _cutoff(settings, state)
        holdout = split_next(histories, cutoff, None, key)
        first = run_baskets(state).timestamps.min()
        inner = (cutoff - (cutoff - first) * settings.validation_fraction).normalize()
        trial = split_next(histories, inner, cutoff, "sequences.settings.validation_fraction")
        if not compare:
            return SequencesInput(histories, holdout, trial, {}, {}, settings.k)
        miner = _comparison_miner(settings)
        return SequencesInput(histories, holdout, trial, comparison_scores(holdout, clone(miner), settings.k),
                              comparison_scores(trial, clone(miner), settings.k), settings.k)  # fmt: skip

    def score(self, estimator: Any, prepared: SequencesInput, spec: ComponentSpec) -> dict[str, float]:
        """A trial: mined on the histories before the validation window, scored on the next basket in it."""
        return {**_mine_and_score(estimator, prepared.trial, prepared.k), **prepared.trial_comparison}

    def finalize(
        self, estimator: Any, prepared: SequencesInput, spec: ComponentSpec, state: RunState, tuned: TuningResult | None
    ) -> StageResult:
        """Mine the histories before the cutoff, score the next baskets after it; log patterns, rules, plots."""
        metrics = {**_mine_and_score(estimator, prepared.holdout, prepared.k), **prepared.holdout_comparison}
        artifacts = sequence_artifacts(estimator, metrics, prepared.k, spec.settings.top_rules, state.artifact_dir)
        if spec.settings.per_segment:
            found = mine_per_segment(estimator, prepared.holdout, state.segments.labels, spec.settings, state)
            metrics.update(found.metrics)
            artifacts += found.artifacts
        return StageResult(metrics, artifacts)


def _mine_and_score(estimator: SequentialPatterns, split: NextBaskets, k: int) -> dict[str, float]:
    estimator.fit(split.train)
    recommended = estimator.recommend(split.evaluated, k, split.as_of)
    scores = next_basket_scores(recommended, split.actual, k)
    return {**scores, "n_patterns": float(len(estimator.patterns_)), "n_rules": float(len(estimator.rules_)),
            "n_evaluated": float(len(split.evaluated))}  # fmt: skip
