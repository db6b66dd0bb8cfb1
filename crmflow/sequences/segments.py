"""Sequential patterns within each customer segment, scored on the segment's next baskets."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from sklearn.base import clone

from crmflow.errors import CrmflowError
from crmflow.segmentation.metrics import NOISE
from crmflow.sequences.evaluation import NextBaskets, next_basket_scores
from crmflow.sequences.report import RULE_COLUMNS

if TYPE_CHECKING:
    from crmflow.sequences.settings import SequencesSettings
    from crmflow.stages.contract import RunState

logger = logging.getLogger(__name__)


@dataclass
class SegmentPatterns:
    metrics: dict[str, float]
    artifacts: list[Path] = field(default_factory=list)


def _segment_split(split: NextBaskets, members: set[str]) -> NextBaskets:
    evaluated = split.evaluated.subset(members)
    actual = [basket for c, basket in zip(split.evaluated.customers, split.actual) if c in members]
    return NextBaskets(split.train.subset(members), evaluated, actual, split.as_of)


def mine_per_segment(estimator: Any, split: NextBaskets, labels: pd.Series, settings: SequencesSettings,
                     state: RunState) -> SegmentPatterns:  # fmt: skip
    """Mine a clone of the estimator on each segment's histories (segments of at least segment_min_customers),
    score it on the segment's next baskets; segment_sequence_evaluation.csv and segment_sequential_rules.csv."""
    k, rows, rules = settings.k, [], []
    labels = labels.set_axis(labels.index.astype(str))
    for segment in [s for s in pd.unique(labels) if s != NOISE]:
        members = set(labels.index[labels == segment])
        part = _segment_split(split, members)
        row: dict[str, Any] = {"segment": segment, "n_customers": len(part.train), "n_evaluated": len(part.evaluated)}
        if len(part.train) < settings.segment_min_customers:
            rows.append({**row, "skipped": f"fewer than {settings.segment_min_customers} customers"})
            continue
        try:
            fitted = clone(estimator).fit(part.train)
        except CrmflowError as error:  # e.g. too many patterns in a small, homogeneous segment
            logger.warning("sequences: segment %s skipped: %s", segment, error)
            rows.append({**row, "skipped": str(error)})
            continue
        recommended = fitted.recommend(part.evaluated, k, part.as_of)
        scores = next_basket_scores(recommended, part.actual, k) if len(part.evaluated) else {}
        rows.append({**row, **scores, "n_patterns": len(fitted.patterns_), "n_rules": len(fitted.rules_)})
        rules.append(fitted.rules_[RULE_COLUMNS].head(settings.top_rules).assign(segment=segment))
    table = pd.DataFrame(rows)
    paths = [
        state.artifact_dir / "segment_sequence_evaluation.csv",
        state.artifact_dir / "segment_sequential_rules.csv",
    ]
    table.to_csv(paths[0], index=False)
    (pd.concat(rules, ignore_index=True) if rules else pd.DataFrame(columns=[*RULE_COLUMNS, "segment"])).to_csv(
        paths[1], index=False
    )
    mined = float(table["n_patterns"].notna().sum()) if "n_patterns" in table else 0.0
    return SegmentPatterns({"n_segments_mined": mined}, paths)
