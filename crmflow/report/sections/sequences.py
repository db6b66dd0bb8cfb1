"""The sequences section: the strongest "bought this, then that" rules and the next-basket hit-rate against the
baselines (most popular items, a customer's own favourites, basket rules)."""

from __future__ import annotations

from typing import Any

from crmflow.caveats import hit_rate_metric
from crmflow.report.figures import key_figures, percent, table_rows
from crmflow.report.source import RunSource

TOP = 10
FIGURES = {"n_patterns": "sequential patterns", "n_rules": "sequential rules", "n_evaluated": "customers evaluated"}


def markdown_rows(text: str, top: int = TOP) -> list[dict[str, str]]:
    """The rows of a markdown table (header cells as keys)."""
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith("|")]
    if len(lines) < 2:
        return []
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    header, body = cells[0], [row for row in cells[2:] if len(row) == len(cells[0])]
    return [dict(zip(header, row, strict=True)) for row in body[:top]]


def sentence(row: dict[str, str]) -> str:
    """One sequential rule in words."""
    before = row.get("antecedent", "").replace("->", "then").replace("{", "").replace("}", "")
    after = row.get("next basket", "").replace("{", "").replace("}", "")
    confidence = row.get("confidence", "")
    shown_confidence = percent(float(confidence)) if confidence.replace(".", "", 1).isdigit() else confidence
    return (
        f"Customers who bought {before} buy {after} next in {shown_confidence} of cases (lift {row.get('lift', '–')})."
    )


def lead(metrics: dict[str, float]) -> str | None:
    name = hit_rate_metric(metrics)
    if name is None:
        return None
    k = name.rpartition("_")[2]
    text = (
        f"Recommending {k} items for the next basket from the sequences hits for {percent(metrics[name])} of customers"
    )
    baseline = metrics.get(f"baseline_{name}")
    if baseline is not None:
        text += f", against {percent(baseline)} when recommending the most popular items"
    return text + "."


def section(run: RunSource) -> dict[str, Any] | None:
    metrics = run.stage_metrics("sequences")
    rules = run.text("sequences/top_sequential_rules.md")
    evaluation = run.csv("sequences/sequence_evaluation.csv")
    return {
        "title": "Purchase sequences",
        "lead": lead(metrics),
        "figures": key_figures(metrics, FIGURES),
        "rules": [sentence(row) for row in markdown_rows(rules or "")],
        "evaluation": None if evaluation is None else table_rows(evaluation),
        "images": run.folder_images("sequences", ("sequential_patterns.png",)),
    }
