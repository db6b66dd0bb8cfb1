"""Component specs: allow-listed targets, parameter and settings validation."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from crmflow.config.components import build_node, parse_component, resolve_target
from crmflow.errors import ConfigError


@dataclass
class Settings:
    k: int


def test_builds_with_overrides_and_keeps_reserved_keys_out() -> None:
    node = {
        "_target_": "sklearn.cluster.KMeans",
        "n_clusters": 3,
        "search_space": {"n_clusters": {"type": "int", "low": 2, "high": 4}},
        "settings": {"k": 5},
    }
    spec = parse_component(node, "segmentation", Settings)
    assert spec.settings == Settings(k=5)
    assert spec.build().n_clusters == 3
    assert spec.build({"n_clusters": 4}).n_clusters == 4


def test_target_outside_allow_list_is_refused() -> None:
    with pytest.raises(ConfigError, match="segmentation._target_: 'os.system' is not allowed"):
        resolve_target("os.system", "segmentation")


def test_misspelt_target_suggests_the_class() -> None:
    with pytest.raises(ConfigError, match="has no 'KMean'; did you mean 'KMeans'"):
        resolve_target("sklearn.cluster.KMean", "segmentation")


def test_unknown_parameter_suggests_the_closest() -> None:
    with pytest.raises(
        ConfigError, match="segmentation: unknown parameter 'n_cluster' for KMeans; did you mean 'n_clusters'"
    ):
        parse_component({"_target_": "sklearn.cluster.KMeans", "n_cluster": 3}, "segmentation")


def test_search_space_parameter_must_exist() -> None:
    node = {"_target_": "sklearn.cluster.KMeans", "search_space": {"n_cluster": {"type": "int", "low": 2, "high": 4}}}
    with pytest.raises(ConfigError, match="segmentation.search_space: unknown parameter 'n_cluster'.*'n_clusters'"):
        parse_component(node, "segmentation")


def test_settings_unknown_and_missing_keys() -> None:
    base = {"_target_": "sklearn.cluster.KMeans"}
    with pytest.raises(ConfigError, match="segmentation.settings: unknown setting 'kk'; did you mean 'k'"):
        parse_component({**base, "settings": {"k": 1, "kk": 2}}, "segmentation", Settings)
    with pytest.raises(ConfigError, match="segmentation.settings: missing setting 'k'"):
        parse_component({**base, "settings": {}}, "segmentation", Settings)


def test_build_node_checks_parameters() -> None:
    assert build_node({"_target_": "sklearn.preprocessing.StandardScaler", "with_mean": False}, "p").with_mean is False
    with pytest.raises(ConfigError, match="p: unknown parameter 'with_men'"):
        build_node({"_target_": "sklearn.preprocessing.StandardScaler", "with_men": False}, "p")
