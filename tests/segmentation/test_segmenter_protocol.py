"""Segmenter capabilities are declared (class attributes, methods, a YAML size parameter), not sniffed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from helpers import compose_config
from sklearn.cluster import DBSCAN, KMeans
from sklearn.ensemble import BaggingClassifier
from sklearn.mixture import GaussianMixture

from crmflow.errors import ConfigError, DataError
from crmflow.paths import config_dir
from crmflow.plots.segments import objective_by_size
from crmflow.segmentation.rfm_scores import RFMQuantileSegmenter
from crmflow.segmentation.segmenter import (
    Segmenter,
    check_features,
    reads_raw_features,
    requested_segments,
    segment_names,
)
from crmflow.segmentation.tree_segments import DecisionTreeSegmenter

SIZES = {"kmeans": "n_clusters", "minibatch_kmeans": "n_clusters", "agglomerative": "n_clusters"}
SIZES |= {"birch": "n_clusters", "gmm": "n_components", "hmm": "n_states"}
OPTIONS = sorted(p.stem for p in (config_dir() / "segmentation").glob("*.yaml") if p.stem not in ("_settings", "none"))


def test_rule_based_segmenters_declare_raw_features_and_clusterers_do_not() -> None:
    assert reads_raw_features(RFMQuantileSegmenter()) and reads_raw_features(DecisionTreeSegmenter())
    assert not reads_raw_features(KMeans()) and not reads_raw_features(DBSCAN())
    assert isinstance(KMeans(), Segmenter) and isinstance(RFMQuantileSegmenter(), Segmenter)


def test_feature_check_runs_only_when_declared() -> None:
    X = pd.DataFrame({"recency": [1.0, 2.0]})
    check_features(KMeans(), X)  # no check declared: nothing to do
    with pytest.raises(DataError, match="decision_tree needs a target"):
        check_features(DecisionTreeSegmenter(), X, None)


def test_segment_names_of_a_fitted_segmenter() -> None:
    X = pd.DataFrame({"recency": [5.0, 10, 200, 300], "monetary": [50.0, 40, 45, 55]})
    tree = DecisionTreeSegmenter(max_depth=1, min_samples_leaf=1, random_state=0).fit(X, pd.Series([0, 0, 1, 1]))
    assert segment_names(tree) == {0: "recency <= 105", 1: "recency > 105"}
    assert segment_names(KMeans(2, n_init=1).fit(X)) == {}


def test_requested_segments_reads_the_declared_size_parameter() -> None:
    assert requested_segments(KMeans(n_clusters=7), "n_clusters") == 7
    assert requested_segments(GaussianMixture(n_components=3), "n_components") == 3
    assert requested_segments(KMeans(n_clusters=7), None) is None
    assert requested_segments(BaggingClassifier(KMeans(5)), "estimator__n_clusters") == 5  # nested names too
    with pytest.raises(ConfigError, match="size_parameter: 'n_cluster' is not a parameter of KMeans; did you mean"):
        requested_segments(KMeans(), "n_cluster")


@pytest.mark.parametrize("option", OPTIONS)
def test_each_option_declares_its_size_parameter(option: str) -> None:
    settings = compose_config([f"segmentation={option}"]).segmentation.settings
    assert settings.size_parameter == SIZES.get(option)


def test_objective_by_size_plots_the_declared_parameter(tmp_path: Path) -> None:
    history = pd.DataFrame(
        {"state": ["COMPLETE"] * 3, "value": [0.2, 0.4, 0.3], "params_n_clusters": [2, 3, 4], "params_tol": [1, 2, 3]}
    )
    assert objective_by_size(history, "silhouette", tmp_path / "a.png", "n_clusters") == tmp_path / "a.png"
    assert (tmp_path / "a.png").is_file()
    assert objective_by_size(history, "silhouette", tmp_path / "b.png", None) is None
    assert objective_by_size(history, "silhouette", tmp_path / "c.png", "n_components") is None  # not tuned
