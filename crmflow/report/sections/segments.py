"""The segments section: one card per segment (size, description, key figures against the population, items,
target rate, and CLV / P(alive) when the value stage ran), the profile heat-map and the scatter."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from crmflow.report.figures import key_figures, percent, shown, times
from crmflow.report.source import RunSource

N_FEATURES = 4  # key figures per card: the features furthest from the population
FIGURES = {
    "n_segments": "segments",
    "silhouette": "silhouette (-1 to 1, higher = better separated)",
    "stability": "stability (0 to 1, same segments on resampled customers)",
    "largest_segment_share": "largest segment's share",
}
VALUE_COLUMNS = {"clv": "mean CLV", "p_alive": "mean P(alive)"}
IMAGES = ("segment_sizes.png", "segment_profile_heatmap.png", "segments_pca.png", "objective_by_size.png")


def feature_figures(row: pd.Series, top: int = N_FEATURES) -> list[dict[str, str]]:
    """The segment's features whose mean is furthest from the population's (by |log lift|): its mean, the
    population's and the multiple."""
    lifts = {c[len("lift_") :]: float(row[c]) for c in row.index if c.startswith("lift_")}
    usable = {k: v for k, v in lifts.items() if math.isfinite(v) and v > 0 and f"mean_{k}" in row.index}
    ranked = sorted(usable, key=lambda k: -abs(math.log(usable[k])))[:top]
    return [
        {
            "feature": name.replace("_", " "),
            "segment": shown(row[f"mean_{name}"]),
            "population": shown(float(row[f"mean_{name}"]) / usable[name]),
            "lift": times(usable[name]),
        }
        for name in ranked
    ]


def target_columns(profiles: pd.DataFrame) -> list[str]:
    """The target's per-segment rate or mean (`churn_rate`, `spend_mean`): not a feature's mean_/median_."""
    derived = ("mean_", "median_", "lift_", "percentile_")  # a feature's statistics, even of a feature named *_rate
    return [c for c in profiles.columns if c.endswith(("_rate", "_mean")) and not c.startswith(derived)]


def value_by_segment(run: RunSource, profiles: pd.DataFrame) -> pd.DataFrame | None:
    """Mean CLV and P(alive) per segment: the profile's own columns, else the value stage's customer table joined
    with the segment labels (only aggregates leave this function)."""
    own = {k: f"mean_{k}" for k in VALUE_COLUMNS if f"mean_{k}" in profiles}
    if own:
        return profiles[list(own.values())].rename(columns={v: k for k, v in own.items()})
    values, labels = run.csv("value/customer_value.csv"), run.csv("segmentation/segment_labels.csv")
    if values is None or labels is None or "customer_id" not in values or "customer_id" not in labels:
        return None
    joined = labels.merge(values, on="customer_id", how="inner")
    kept = [k for k in VALUE_COLUMNS if k in joined]
    if joined.empty or not kept:
        return None
    return joined.groupby("segment")[kept].mean()


def card(segment: Any, row: pd.Series, targets: list[str], value: pd.DataFrame | None) -> dict[str, Any]:
    """One segment's card."""
    name = row.get("name")
    shown_name = str(name) if isinstance(name, str) and name and name != str(segment) else f"Segment {segment}"
    figures = [{"label": c.replace("_", " "), "value": percent(row[c]) if c.endswith("_rate") else shown(row[c])}
               for c in targets]  # fmt: skip
    if value is not None and segment in value.index:
        figures += [
            {"label": VALUE_COLUMNS[c], "value": shown(value.loc[segment, c])}
            for c in value.columns
            if np.isfinite(value.loc[segment, c])
        ]
    return {
        "name": shown_name,
        "size": shown(row.get("size")),
        "share": percent(row.get("share")),
        "description": _text(row.get("description")).replace("_", " "),  # "high avg basket value"
        "features": feature_figures(row),
        "top_items": _text(row.get("top_items")),
        "distinctive_items": _text(row.get("distinctive_items")),
        "figures": figures,
    }


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def section(run: RunSource) -> dict[str, Any] | None:
    metrics = run.stage_metrics("segmentation")
    profiles = run.csv("segmentation/segment_profiles.csv", index_col="segment")
    cards, targets = [], []
    if profiles is not None:
        targets = target_columns(profiles)
        value = value_by_segment(run, profiles)
        cards = [card(segment, row, targets, value) for segment, row in profiles.iterrows()]
    overall = (run.summary or {}).get("data", {}).get("features.target_rate", run.metrics.get("features.target_rate"))
    count = metrics.get("n_segments", len(cards))  # the noise row of a density segmenter is no segment
    lead = f"The customers fall into {shown(count)} segments." if cards else None
    if cards and overall is not None and targets:
        value = percent(overall) if targets[0].endswith("_rate") else shown(overall)
        lead = f"{lead} Across all customers the {targets[0].replace('_', ' ')} is {value}."
    return {
        "title": "Customer segments",
        "lead": lead,
        "figures": key_figures(metrics, FIGURES),
        "cards": cards,
        "images": run.folder_images("segmentation", IMAGES),
    }
