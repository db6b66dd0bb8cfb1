"""What crmflow asks of a segmenter, with its optional capabilities declared on the class, not sniffed.

Every segmenter has `fit_predict(X, y=None)` (scikit-learn clusterers, crmflow's rule-based
segmenters). A class may also declare:

- `raw_features = True`: it reads the raw customer features (and the label), not the preprocessed matrix;
- `activity_panel = True`: it reads the transaction log's per-period activity (`panel(transactions, cutoff)`, an
  `ActivityPanel`) and labels the panel's customers (`labels_`, by customer id), e.g. hidden Markov states;
- `objective = (metric, direction)`: what `tuning.objectives.segmentation: {metric: auto}` means for it, and
  `criteria`: the names of the extra metrics every fit reports (`criteria_`, learned);
- `check_features(X, y)`: raises a DataError when it cannot segment these features, before any fit;
- `segment_names_` (learned): segment id -> readable name, e.g. a tree leaf's path;
- `wraps = "<parameter>"`: it fits the segmenter held in that parameter differently (e.g. on a sample:
  `crmflow.segmentation.sampling.SampledSegmenter`); the helpers then ask the wrapped segmenter.

The stage and the segment-feature transformer ask through the helpers below. Which parameter sets the
number of segments is an option's YAML setting (`segmentation.settings.size_parameter`), not a guess.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from crmflow.errors import ConfigError, did_you_mean

__all__ = [
    "FeatureChecker",
    "NamedSegments",
    "Segmenter",
    "check_features",
    "reads_activity",
    "reads_raw_features",
    "requested_segments",
    "segment_names",
    "wrapped",
]


@runtime_checkable
class Segmenter(Protocol):
    """Labels customers: one segment id per row of X (-1 = noise, for density methods)."""

    def fit_predict(self, X: Any, y: Any = None) -> Any: ...


@runtime_checkable
class FeatureChecker(Protocol):
    """A segmenter that checks its features (e.g. named columns present, numeric) before fitting."""

    def check_features(self, X: Any, y: Any = None) -> None: ...


@runtime_checkable
class NamedSegments(Protocol):
    """A fitted segmenter that names its segments."""

    segment_names_: dict[int, str]


def wrapped(segmenter: Segmenter) -> Segmenter:
    """The segmenter a wrapper class fits (it declares `wraps = "<parameter>"`), else the segmenter itself."""
    name = getattr(type(segmenter), "wraps", None)
    return wrapped(getattr(segmenter, name)) if isinstance(name, str) else segmenter


def reads_raw_features(segmenter: Segmenter) -> bool:
    """Whether the (wrapped) segmenter's class declares `raw_features = True`."""
    return getattr(type(wrapped(segmenter)), "raw_features", False) is True


def reads_activity(segmenter: Segmenter) -> bool:
    """Whether the (wrapped) segmenter's class declares `activity_panel = True`."""
    return getattr(type(wrapped(segmenter)), "activity_panel", False) is True


def check_features(segmenter: Segmenter, X: Any, y: Any = None) -> None:
    """Run the (wrapped) segmenter's own feature check, when its class declares one."""
    segmenter = wrapped(segmenter)
    if isinstance(segmenter, FeatureChecker):
        segmenter.check_features(X, y)


def segment_names(fitted: Segmenter) -> dict[int, str]:
    """Segment id -> name from a fitted segmenter that names its segments; {} for the others."""
    return dict(fitted.segment_names_) if isinstance(fitted, NamedSegments) else {}


def requested_segments(
    segmenter: Segmenter, size_parameter: str | None, key: str = "segmentation.settings.size_parameter"
) -> int | None:
    """The number of segments the segmenter will make, read from its `size_parameter`; None when unknown."""
    if size_parameter is None:
        return None
    segmenter = wrapped(segmenter)
    get_params = getattr(segmenter, "get_params", None)
    params = get_params(deep=True) if callable(get_params) else vars(segmenter)
    if size_parameter not in params:
        raise ConfigError(
            f"{key}: '{size_parameter}' is not a parameter of {type(segmenter).__name__}"
            f"{did_you_mean(size_parameter, params)} (valid: {', '.join(sorted(params))})"
        )
    value = params[size_parameter]
    return value if isinstance(value, int) and not isinstance(value, bool) else None
