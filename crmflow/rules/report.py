"""Readable rule artifacts: the top rules by lift, and the recommendation metrics beside the baseline."""

from __future__ import annotations

import pandas as pd


def top_rules_markdown(table: pd.DataFrame, n_rules: int) -> str:
    """The `n_rules` rules of highest lift as a Markdown table ("antecedents → consequents")."""
    top = table.sort_values(["lift", "confidence"], ascending=False, kind="stable").head(n_rules)
    lines = [
        f"Top {len(top)} of {len(table)} rules by lift",
        "",
        "| rule | support | confidence | lift | baskets |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in top.itertuples(index=False):
        lines.append(
            f"| {{{row.antecedents}}} → {{{row.consequents}}} | {row.support:.4f} | {row.confidence:.3f} "
            f"| {row.lift:.2f} | {row.support_count} |"
        )
    return "\n".join(lines) + "\n"


def evaluation_table(metrics: dict[str, float], k: int) -> pd.DataFrame:
    """hit-rate@k, precision@k and coverage of the rules beside the most-popular-items baseline."""
    baseline_hit_rate = metrics[f"baseline_hit_rate_at_{k}"]
    return pd.DataFrame(
        {
            "metric": [f"hit_rate_at_{k}", f"precision_at_{k}", "coverage"],
            "rules": [metrics[f"hit_rate_at_{k}"], metrics[f"precision_at_{k}"], metrics["coverage"]],
            "most_popular_baseline": [baseline_hit_rate, baseline_hit_rate / k, 1.0],
        }
    )
