"""The sequences stage's artifacts: patterns and rules tables, the readable top rules, the comparison, a plot."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from crmflow.plots.sequences import top_patterns_plot
from crmflow.sequences.estimator import SequentialPatterns

__all__ = ["evaluation_table", "sequence_artifacts", "top_rules_markdown"]

PATTERN_COLUMNS = ["pattern_text", "n_itemsets", "length", "count", "support"]
RULE_COLUMNS = ["antecedent_text", "consequent_text", "support", "confidence", "lift", "count"]
RECOMMENDERS = {
    "sequential rules": "",
    "most popular": "baseline_",
    "own favourites": "personal_baseline_",
    "basket rules": "basket_rules_",
}


def evaluation_table(metrics: dict[str, float], k: int) -> pd.DataFrame:
    """One row per recommender: hit-rate@k, precision@k and coverage on the same customers' next baskets."""
    names = (f"hit_rate_at_{k}", f"precision_at_{k}", "coverage")
    rows = [{"recommender": label, **{m: metrics.get(f"{prefix}{m}") for m in names}}
            for label, prefix in RECOMMENDERS.items()]  # fmt: skip
    return pd.DataFrame(rows)


def top_rules_markdown(rules: pd.DataFrame, top: int) -> str:
    """The `top` rules by confidence as a markdown table."""
    if rules.empty:
        return "No sequential rule reached the minimum support and confidence.\n"
    shown = rules.head(top)
    lines = ["| antecedent | next basket | support | confidence | lift |", "|---|---|---|---|---|"]
    lines += [f"| {r.antecedent_text} | {r.consequent_text} | {r.support:.4f} | {r.confidence:.3f} | {r.lift:.2f} |"
              for r in shown.itertuples()]  # fmt: skip
    return "\n".join(lines) + "\n"


def sequence_artifacts(
    fitted: SequentialPatterns, metrics: dict[str, float], k: int, top: int, folder: Path
) -> list[Path]:
    """Write sequential_patterns.csv, sequential_rules.csv, top_sequential_rules.md, sequence_evaluation.csv and
    sequential_patterns.png into `folder`."""
    paths = {name: folder / name for name in (
        "sequential_patterns.csv", "sequential_rules.csv", "top_sequential_rules.md", "sequence_evaluation.csv",
    )}  # fmt: skip
    fitted.patterns_[PATTERN_COLUMNS].to_csv(paths["sequential_patterns.csv"], index=False)
    fitted.rules_[RULE_COLUMNS].to_csv(paths["sequential_rules.csv"], index=False)
    paths["top_sequential_rules.md"].write_text(top_rules_markdown(fitted.rules_, top))
    evaluation_table(metrics, k).to_csv(paths["sequence_evaluation.csv"], index=False)
    plot = top_patterns_plot(fitted.patterns_, folder / "sequential_patterns.png")
    return [*paths.values(), plot]
