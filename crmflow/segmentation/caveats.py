"""When a segmentation is useless for a business reader: one dominant segment, mostly noise."""

from __future__ import annotations

import math
from collections.abc import Mapping

from crmflow.caveats import dominant_share, kept

MOSTLY_NOISE = 0.5  # a density segmenter leaving more than this share unassigned


def segmentation_caveats(metrics: Mapping[str, float]) -> list[str]:
    """One segment holding most customers, or most customers left as noise."""
    noise = metrics.get("noise_share", 0.0)
    too_noisy = None
    if math.isfinite(noise) and noise > MOSTLY_NOISE:
        too_noisy = f"{noise:.0%} of the customers are noise, in no segment"
    return kept(dominant_share(metrics.get("largest_segment_share", float("nan"))), too_noisy)
