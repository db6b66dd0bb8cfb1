"""Numbers in words for a business reader: shares, multiples, the rule sentence, customers flagged per 1,000."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import pandas as pd

SHARES = ("_share", "_rate")  # metric names that are fractions of customers


def shown(value: Any, digits: int = 3) -> str:
    """A number with `digits` significant digits and thousands separators; "–" when missing."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, bool | str):
        return str(value)
    number = float(value)
    if number.is_integer() and abs(number) >= 1:
        return f"{int(number):,}"
    if abs(number) >= 10**digits:
        return f"{number:,.0f}"
    return f"{number:.{digits}g}"


def percent(value: Any) -> str:
    """A share (0.254) as "25.4%"."""
    if value is None or not math.isfinite(float(value)):
        return "–"
    return f"{float(value):.1%}"


def times(value: Any) -> str:
    """A multiple (lift 8.04) as "8.0×"."""
    if value is None or not math.isfinite(float(value)):
        return "–"
    return f"{float(value):.1f}×" if abs(float(value)) >= 1 else f"{float(value):.2g}×"


def item_list(items: Iterable[str]) -> str:
    """["a", "b", "c"] as "a, b and c"."""
    names = [str(item).strip() for item in items if str(item).strip()]
    if len(names) < 2:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def rule_sentence(antecedents: str | list[str], consequents: str | list[str], lift: float) -> str:
    """One association rule in words: "Customers who buy cheese and tortillas also buy salsa: 6.8× more often
    than average." (the items as lists, or as the rules table writes them, comma-separated)."""
    bought, also = (
        item_list(items if isinstance(items, list) else items.split(",")) for items in (antecedents, consequents)
    )
    return f"Customers who buy {bought} also buy {also}: {times(lift)} more often than average."


def flagged_per_thousand(predictions: pd.DataFrame, threshold: float) -> dict[str, float]:
    """Of every 1,000 customers scored, how many the threshold flags (score >= threshold) and, of those flagged,
    the share that truly churned (precision); from the holdout predictions (`actual`, `probability`)."""
    scores = predictions["probability"].to_numpy(dtype=float)
    flagged = scores >= threshold
    n_flagged = int(flagged.sum())
    hits = int(predictions["actual"].to_numpy()[flagged].astype(bool).sum())
    return {
        "per_thousand": 1000.0 * n_flagged / len(scores) if len(scores) else math.nan,
        "precision": hits / n_flagged if n_flagged else math.nan,
        "true_per_thousand": 1000.0 * hits / len(scores) if len(scores) else math.nan,
        "n_scored": float(len(scores)),
    }


def key_figures(metrics: dict[str, float], names: dict[str, str]) -> list[dict[str, str]]:
    """`[{"label", "value"}]` for the metrics present, labelled as `names` says, in its order; shares and rates
    as percentages."""
    return [
        {"label": label, "value": percent(metrics[name]) if name.endswith(SHARES) else shown(metrics[name])}
        for name, label in names.items()
        if name in metrics
    ]


def param_value(value: Any) -> str:
    """A parameter as the config writes it: None as "None", numbers shown short."""
    return "None" if value is None else shown(value) if isinstance(value, int | float) else str(value)


def table_rows(frame: pd.DataFrame, first_as_text: bool = True) -> dict[str, Any]:
    """A small table for the template: its header (underscores as spaces) and rows of shown values."""
    header = [str(column).replace("_", " ") for column in frame.columns]
    rows = [
        [str(v) if (i == 0 and first_as_text) or isinstance(v, str) else shown(v) for i, v in enumerate(row)]
        for row in frame.itertuples(index=False)
    ]
    return {"header": header, "rows": rows}
