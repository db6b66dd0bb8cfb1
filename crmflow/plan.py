"""Check the whole configuration and build every component spec before any data is read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from crmflow.config.components import ComponentSpec, build_node, parse_component
from crmflow.errors import ConfigError, did_you_mean
from crmflow.forecasting.stage import ForecasterStage
from crmflow.prediction.stage import PredictorStage
from crmflow.preprocessing import build_preprocessor
from crmflow.rules.stage import RulesStage
from crmflow.segmentation.stage import SegmentationStage
from crmflow.stages.base import Stage
from crmflow.tuning import AUTO, TuningSettings

STAGES: tuple[Stage, ...] = (SegmentationStage(), RulesStage(), PredictorStage(), ForecasterStage())
TOP_LEVEL_KEYS = (
    "seed",
    "name",
    "data_dir",
    "data",
    "features",
    "preprocessing",
    "segmentation",
    "rules",
    "predictor",
    "forecaster",
    "tuning",
    "tracking",
)


@dataclass
class RunPlan:
    """A validated run: the data source, feature builder, preprocessing and the active stages."""

    config: dict[str, Any]
    source: Any
    features: Any | None
    preprocessing: Mapping[str, Any]
    stages: list[tuple[Stage, ComponentSpec]]
    tuning: TuningSettings
    tracking_uri: str
    experiment: str

    @property
    def seed(self) -> int:
        return int(self.config.get("seed", 0))


def _resolved(cfg: DictConfig | Mapping[str, Any]) -> dict[str, Any]:
    try:
        return OmegaConf.to_container(OmegaConf.create(cfg) if not isinstance(cfg, DictConfig) else cfg, resolve=True)
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None) or "config"
        raise ConfigError(f"{key}: {str(exc).splitlines()[0]}") from exc


def _section(config: Mapping[str, Any], key: str) -> dict[str, Any]:
    node = config.get(key)
    if not isinstance(node, Mapping):
        raise ConfigError(f"{key}: expected a config group option (e.g. {key}=...); got {node!r}")
    return dict(node)


def _optional_component(config: Mapping[str, Any], key: str) -> Any | None:
    node = _section(config, key)
    return None if node.get("_target_") is None else build_node(node, key)


def _check_forecaster_segments(config: Mapping[str, Any]) -> None:
    """Per-segment forecasts need the segmentation stage's labels."""
    node = config.get("forecaster") or {}
    per_segment = (node.get("settings") or {}).get("per_segment")
    if node.get("_target_") is not None and per_segment and (config.get("segmentation") or {}).get("_target_") is None:
        raise ConfigError(
            "forecaster.settings.per_segment: needs segment labels, but segmentation=none; choose a "
            "segmentation (e.g. segmentation=kmeans) or set forecaster.settings.per_segment=false"
        )


def plan_run(cfg: DictConfig | Mapping[str, Any]) -> RunPlan:
    """Validate keys, targets, parameters, search spaces and objectives; load nothing."""
    config = _resolved(cfg)
    for key in config:
        if key not in TOP_LEVEL_KEYS:
            raise ConfigError(f"unknown top-level key '{key}'{did_you_mean(key, TOP_LEVEL_KEYS)}")
    source = build_node(_section(config, "data"), "data")
    features = _optional_component(config, "features")
    preprocessing = _section(config, "preprocessing")
    build_preprocessor(preprocessing)
    _check_forecaster_segments(config)
    stages = []
    for stage in STAGES:
        node = _section(config, stage.name)
        if node.get("_target_") is not None:
            stages.append((stage, parse_component(node, stage.name, stage.settings_type)))
    tuning = TuningSettings.parse(_section(config, "tuning"), [s.name for s in STAGES])
    for stage, spec in stages:
        objective = tuning.objectives.get(stage.name)
        if objective is not None and objective.metric == AUTO:
            tuning.objectives[stage.name] = objective = stage.default_objective(spec)
        if objective is not None and objective.metric not in stage.metric_names(spec):
            names = stage.metric_names(spec)
            raise ConfigError(
                f"tuning.objectives.{stage.name}.metric: unknown metric '{objective.metric}'"
                f"{did_you_mean(objective.metric, names)} (valid: {', '.join(names)})"
            )
    tracking = _section(config, "tracking")
    for key in sorted(set(tracking) - {"uri", "experiment"}):
        raise ConfigError(f"tracking: unknown key '{key}'{did_you_mean(key, ['uri', 'experiment'])}")
    return RunPlan(
        config, source, features, preprocessing, stages, tuning, str(tracking["uri"]), str(tracking["experiment"])
    )
