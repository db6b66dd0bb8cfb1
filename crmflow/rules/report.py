"""Readable rule artifacts: the top rules by lift, and the recommendation metrics beside the baseline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from crmflow.rules.segments import SegmentRules


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


def readable(table: pd.DataFrame, item_lists: bool = False) -> pd.DataFrame:
    """A rules table with antecedents and consequents as sorted, comma-separated item names; with `item_lists`,
    also `antecedent_items` / `consequent_items` as JSON lists, exact when an item name holds a comma."""
    out = table.copy()
    for column, listed in (("antecedents", "antecedent_items"), ("consequents", "consequent_items")):
        if item_lists:
            out[listed] = out[column].map(lambda items: json.dumps(sorted(map(str, items)), ensure_ascii=False))
        out[column] = out[column].map(lambda items: ", ".join(sorted(items)))
    return out


def segment_rules_markdown(rules: pd.DataFrame, n_rules: int) -> str:
    """The `n_rules` segment rules whose lift is furthest above their global lift, as Markdown."""
    top = rules.head(n_rules)
    lines = [
        f"Top {len(top)} of {len(rules)} segment rules by lift in the segment / lift on all baskets",
        "",
        "| segment | rule | confidence | lift | global lift | ratio | baskets |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in top.itertuples(index=False):
        lines.append(
            f"| {row.segment} | {{{row.antecedents}}} → {{{row.consequents}}} | {row.confidence:.3f} | {row.lift:.2f} "
            f"| {row.global_lift:.2f} | {row.lift_ratio:.2f} | {row.support_count} |"
        )
    return "\n".join(lines) + "\n"


def write_segment_rules(found: SegmentRules, folder: Path, n_rules: int) -> list[Path]:
    """segment_rules.csv, segment_rules_top.md and segment_evaluation.csv under ``folder``."""
    rules = readable(found.rules)
    paths = [folder / "segment_rules.csv", folder / "segment_rules_top.md", folder / "segment_evaluation.csv"]
    rules.to_csv(paths[0], index=False)
    paths[1].write_text(segment_rules_markdown(rules, n_rules))
    found.segments.to_csv(paths[2], index=False)
    return paths
