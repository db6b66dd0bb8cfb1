"""Check the whole configuration and build every component spec before any data is read."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from crmflow.config.components import (
    ALLOWED_PACKAGES_KEY,
    ComponentSpec,
    build_node,
    check_user_packages,
    parse_component,
    user_packages,
)
from crmflow.config.constraints import Interval, Text
from crmflow.config.pinning import pinned_parameters
from crmflow.config.search_space import SearchSpace, configured_value
from crmflow.config.tracking import trial_logging
from crmflow.config.tuning import TuningSettings
from crmflow.config.validation import validate, validate_parameters
from crmflow.errors import ConfigError, did_you_mean
from crmflow.features.cache import cached_features, split_cache_settings
from crmflow.paths import config_dir
from crmflow.preprocessing import build_preprocessor
from crmflow.privacy import NONE, privacy_mode
from crmflow.stages.contract import Stage
from crmflow.stages.registry import KEY as STAGES_KEY
from crmflow.stages.registry import check_handoffs, registered_stages
from crmflow.tuning_checks import check_tuning

logger = logging.getLogger(__name__)
RUN_KEYS = (
    "seed",
    "data_dir",
    "data",
    "features",
    "preprocessing",
    "tuning",
    "tracking",
    STAGES_KEY,
    ALLOWED_PACKAGES_KEY,
)
TRACKING_KEYS = ("uri", "experiment", "privacy", "trials")


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
    allowed_packages: tuple[str, ...] = ()
    privacy: str = NONE  # tracking.privacy: none | hash | omit

    @property
    def seed(self) -> int:
        return int(self.config.get("seed", 0))


def config_groups() -> set[str]:
    """The config groups crmflow ships (folders of conf/)."""
    return {p.name for p in config_dir().iterdir() if p.is_dir()}


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


def _pinned(spec: ComponentSpec, stage: str, keys: Collection[str]) -> tuple[ComponentSpec, str | None]:
    """The spec without the tunable parameters the user set by hand, and the line that says so."""
    pinned = pinned_parameters(stage, keys, spec.search_space.names)
    if not pinned:
        return spec, None
    rest = [d for d in spec.search_space.dimensions if d.name not in pinned]
    values = ", ".join(
        f"{stage}.{name.replace('__', '.')} pinned to {configured_value(spec.params, name)!r}" for name in pinned
    )
    left = f"tuning the rest: {', '.join(d.name for d in rest)}" if rest else "nothing left to tune: one fit"
    return dataclasses.replace(spec, search_space=SearchSpace(tuple(rest))), f"{values}; {left}"


def _active_stages(
    config: Mapping[str, Any], registered: list[Stage], user_keys: Collection[str]
) -> list[tuple[Stage, ComponentSpec]]:
    active = []
    for stage in registered:
        node = _section(config, stage.name)
        if node.get("_target_") is not None:
            spec, pins = _pinned(parse_component(node, stage.name, stage.settings_type), stage.name, user_keys)
            validate_parameters(spec.build(), stage.name)  # the configured (and pinned) values, typed
            _check_search_space(spec)
            stage.check_config(spec)
            if pins:
                logger.info(pins)
            active.append((stage, spec))
    return active


def _check_search_space(spec: ComponentSpec) -> None:
    """Every choice, and both ends of every range, must be a value the component accepts: a trial that
    could only fail is a config error, named before any data is read."""
    for dimension in spec.search_space.dimensions:
        for value in dimension.edges():
            try:
                validate_parameters(spec.build({dimension.name: value}), spec.key)
            except (ConfigError, TypeError, ValueError) as error:
                raise ConfigError(
                    f"{spec.key}.search_space.{dimension.name}: {value!r} is not a valid {dimension.name} "
                    f"({str(error).split(': ', 1)[-1]})"
                ) from error


def plan_run(cfg: DictConfig | Mapping[str, Any], user_keys: Collection[str] = ()) -> RunPlan:
    """Validate keys, targets, parameters, search spaces, hand-offs and objectives; load nothing.

    `user_keys` are the dotted keys the user set by hand (command line, recipe): tunable
    parameters among them are pinned.
    """
    config = _resolved(cfg)
    packages = check_user_packages(config.get(ALLOWED_PACKAGES_KEY) or [])
    with user_packages(packages):
        return _plan(config, user_keys, packages)


def _plan(config: dict[str, Any], user_keys: Collection[str], packages: tuple[str, ...]) -> RunPlan:
    registered = registered_stages(config.get(STAGES_KEY))
    known = [*RUN_KEYS, *(s.name for s in registered)]
    for key in config:
        if key in config_groups():
            if key not in known:
                raise ConfigError(
                    f"{key}: a config group with no stage under {STAGES_KEY}: (add it there, or drop ~{key})"
                )
        elif key not in known:
            raise ConfigError(f"unknown top-level key '{key}'{did_you_mean(key, known)}")
    validate({"seed": config.get("seed", 0)}, {"seed": [Interval(int, 0, None)]}, "")  # before data.seed uses it
    source = build_node(_section(config, "data"), "data")
    validate_parameters(source, "data")
    features_node, caching = split_cache_settings(_section(config, "features"))
    features = _optional_component({"features": features_node}, "features")
    if features is not None:
        validate_parameters(features, "features")
        features = cached_features(features, caching, source, config["data"], features_node)
    preprocessing = _section(config, "preprocessing")
    build_preprocessor(preprocessing)
    stages = _active_stages(config, registered, user_keys)
    check_handoffs(stages, registered)
    tuning = TuningSettings.parse(_section(config, "tuning"), [s.name for s in registered])
    if tuning.sampler is not None:
        build_node(tuning.sampler, "tuning.sampler")  # the sampler's class and parameter names, before any data
    check_tuning(tuning, stages)
    tracking = _section(config, "tracking")
    for key in sorted(set(tracking) - set(TRACKING_KEYS)):
        raise ConfigError(f"tracking: unknown key '{key}'{did_you_mean(key, TRACKING_KEYS)}")
    experiment_rule = Text(hint="; it is the recipe's or the data's name unless set: give tracking.experiment=...")
    validate(
        tracking, {"uri": [Text()], "experiment": [experiment_rule]}, "tracking"
    )  # `tracking.experiment=` leaves it empty
    uri, experiment = str(tracking["uri"]), str(tracking["experiment"])
    privacy = privacy_mode(tracking)
    trial_logging(tracking)  # tracking.trials: runs | steps | none, before any data
    return RunPlan(config, source, features, preprocessing, stages, tuning, uri, experiment, packages, privacy)
