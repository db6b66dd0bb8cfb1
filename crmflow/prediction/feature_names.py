"""Readable names for a fitted pipeline's one-hot columns: `Contract=Month-to-month`, `segment=champions`.

scikit-learn's one-hot encoder names its columns `<column>_<value>`, so the segment feature (values `segment_<id>`)
reads `segment_segment_0`. The fitted model keeps its own names (its signature and raw scoring do not change);
only the importance table and plot show these.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from crmflow.segmentation.assign import SegmentAssigner
from crmflow.segmentation.segmenter import segment_names

__all__ = ["one_hot_name", "readable_names"]

NAME_WIDTH = 40  # longer segment names (e.g. a tree leaf's path) are shortened


def one_hot_name(column: str, value: str, names: Mapping[str, str] | None = None) -> str:
    """`column=value`, a value repeating its column's prefix shortened (`segment_0` of `segment` -> `0`), and a
    value with a name in `names` shown by it."""
    value = names.get(value, value) if names else value
    short = value.removeprefix(f"{column}_") or value
    short = short if len(short) <= NAME_WIDTH else short[: NAME_WIDTH - 1] + "…"
    return f"{column}={short}"


def _fitted_steps(model: Any) -> Iterator[Any]:
    """Every fitted estimator inside `model`: pipeline steps, column-transformer parts, wrapped estimators."""
    yield model
    inner = getattr(model, "estimator_", None)
    if inner is not None:
        yield from _fitted_steps(inner)
    for _, step in getattr(model, "steps", []):
        yield from _fitted_steps(step)
    for _, part, _ in getattr(model, "transformers_", []):
        if not isinstance(part, str):
            yield from _fitted_steps(part)


def _segment_value_names(model: Any) -> dict[str, str]:
    """`segment_<id>` -> the segment's name, for a segment feature whose segmenter names its segments."""
    for step in _fitted_steps(model):
        if isinstance(step, SegmentAssigner) and hasattr(step, "assigner_"):
            return {f"segment_{i}": str(name) for i, name in segment_names(step.assigner_).items()}
    return {}


MANY_LEVELS = 50  # a one-hot column with more values is id-like (a customer id, an e-mail): its values stay unnamed


def readable_names(model: Any) -> dict[str, str]:
    """Output column name -> readable name for every one-hot column of the fitted `model`; the values of a column
    with more than MANY_LEVELS of them (an id or free text) are numbered, never shown."""
    values = _segment_value_names(model)
    mapping: dict[str, str] = {}
    for step in _fitted_steps(model):
        if not hasattr(step, "categories_") or not hasattr(step, "feature_names_in_"):
            continue
        for column, categories in zip(step.feature_names_in_, step.categories_, strict=True):
            many = len(categories) > MANY_LEVELS
            for number, value in enumerate(categories, start=1):
                shown = f"{column}=value {number} of {len(categories)}" if many else None
                mapping[f"{column}_{value}"] = shown or one_hot_name(str(column), str(value), values)
    return mapping
