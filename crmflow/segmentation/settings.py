"""`segmentation.settings` (conf/segmentation/_settings.yaml), shared by every segmentation option."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from crmflow.config.constraints import Interval, ListOf, Options


@dataclass
class SegmentationSettings:
    """`segmentation.settings`: feature columns to cluster, silhouette sample size, stability resamples,
    noise allowed, and the parameter that sets the number of segments."""

    columns: list[str] | None
    silhouette_sample_size: int
    stability_resamples: int
    max_noise_share: float
    size_parameter: str | None  # the parameter that sets the number of segments (crmflow.segmentation.segmenter)

    constraints: ClassVar[dict] = {
        "columns": [None, ListOf(str)],
        # 0 = silhouette on every customer (crmflow.segmentation.metrics); a sample needs two or more
        "silhouette_sample_size": [Interval(int, 2, None), Options((0,), doc="0 (every customer)")],
        "stability_resamples": [Interval(int, 0, None)],
        "max_noise_share": [Interval(float, 0, 1)],
        "size_parameter": [None, str],
    }
