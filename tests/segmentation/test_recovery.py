"""Tuned k-means and GMM recover the synthetic generator's latent segments."""

from __future__ import annotations

import pandas as pd
import pytest
from helpers import compose_config
from mlflow.tracking import MlflowClient
from sklearn.metrics import adjusted_rand_score

from crmflow.plan import plan_run
from crmflow.run import run

# Behavioural features that tell the latent segments apart: visits, spend per visit, lines per visit.
BEHAVIOUR = "segmentation.settings.columns=[frequency,avg_basket_value,avg_basket_size]"


@pytest.mark.slow
@pytest.mark.parametrize("option", ["kmeans", "gmm"])
def test_tuned_segments_match_the_latent_truth(option: str, tracking_overrides: list[str], tmp_path) -> None:
    overrides = [
        f"segmentation={option}",
        BEHAVIOUR,
        "preprocessing=log_standard",
        "rules=none",
        "predictor=none",
        "tuning.n_trials=20",
        "segmentation.settings.stability_resamples=0",
        *tracking_overrides,
    ]
    cfg = compose_config(overrides)
    result = run(cfg)
    client = MlflowClient(result.tracking_uri)
    path = client.download_artifacts(result.run_id, "segmentation/segment_labels.csv", str(tmp_path))
    labels = pd.read_csv(path, index_col="customer_id", dtype={"customer_id": str})["segment"]
    truth = plan_run(cfg).source.load().truth.set_index("customer_id")["segment"]
    ari = adjusted_rand_score(truth.reindex(labels.index), labels)
    assert ari >= 0.8, f"{option}: ARI {ari:.3f} with {labels.nunique()} segments"
