"""Internal quality measures of a segmentation."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import (
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)

NOISE = -1  # label of customers a density segmenter leaves unassigned; not a segment
SEGMENTATION_METRICS = (
    "silhouette",
    "davies_bouldin",
    "calinski_harabasz",
    "n_segments",
    "noise_share",
    "smallest_segment_share",
    "largest_segment_share",
    "stability",
)


def segmentation_metrics(X: pd.DataFrame, labels: np.ndarray, sample_size: int, seed: int) -> dict[str, float]:
    """Silhouette (sampled above `sample_size` rows), Davies–Bouldin, Calinski–Harabasz and sizes.

    Noise points (label -1, density methods) are left out of the scores and reported as a share.
    Raises ValueError when fewer than two segments remain: such a candidate must not win a study.
    """
    labels = np.asarray(labels)
    clustered = labels != NOISE
    segments, sizes = np.unique(labels[clustered], return_counts=True)
    if len(segments) < 2:
        raise ValueError(f"segmentation found {len(segments)} segment(s) besides noise; at least 2 are needed")
    values = X.to_numpy(dtype="float64")[clustered]
    kept = labels[clustered]
    if len(segments) >= len(kept):
        raise ValueError("segmentation put every customer in a segment of its own")
    sample = min(sample_size, len(kept)) if sample_size else None
    return {
        "silhouette": float(silhouette_score(values, kept, sample_size=sample, random_state=seed)),
        "davies_bouldin": float(davies_bouldin_score(values, kept)),
        "calinski_harabasz": float(calinski_harabasz_score(values, kept)),
        "n_segments": float(len(segments)),
        "noise_share": float(1 - clustered.mean()),
        "smallest_segment_share": float(sizes.min() / len(labels)),
        "largest_segment_share": float(sizes.max() / len(labels)),
    }
