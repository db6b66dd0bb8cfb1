"""`segmentation.settings` (conf/segmentation/_settings.yaml), shared by every segmentation option."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from crmflow.config.constraints import Interval, ListOf, Options
from crmflow.segmentation.cost import MEMORY_CLASSES


@dataclass
class SegmentationSettings:
    """`segmentation.settings`: feature columns to cluster, silhouette sample size, stability resamples,
    noise allowed, the parameter that sets the number of segments, and what a fit may cost: the option's
    memory class, the memory budget, and the seeded sample to fit on instead of every customer."""

    columns: list[str] | None
    silhouette_sample_size: int
    stability_resamples: int
    max_noise_share: float
    size_parameter: str | None  # the parameter that sets the number of segments (crmflow.segmentation.segmenter)
    memory: str  # how a fit's memory grows with the customers, declared by the option (crmflow.segmentation.cost)
    memory_budget_gib: float
    fit_sample: int | None  # fit on a seeded sample of this many customers, assign the rest (None = all)

    constraints: ClassVar[dict] = {
        "columns": [None, ListOf(str)],
        # 0 = silhouette on every customer (crmflow.segmentation.metrics); a sample needs two or more
        "silhouette_sample_size": [Interval(int, 2, None), Options((0,), doc="0 (every customer)")],
        "stability_resamples": [Interval(int, 0, None)],
        "max_noise_share": [Interval(float, 0, 1)],
        "size_parameter": [None, str],
        "memory": [Options(MEMORY_CLASSES)],
        "memory_budget_gib": [Interval(float, 0, None, closed="neither", doc="a number of GiB > 0")],
        "fit_sample": [None, Interval(int, 3, None, doc="an int >= 3 (customers)")],
    }
