"""Tracking keys that crmflow derives or checks: the default MLflow experiment and `tracking.trials`.

`tracking.experiment` defaults to `${crmflow.experiment:}` (conf/tracking/*.yaml): the recipe's name when one is
used (`+experiment=NAME`), else the data's `name`, else the data group's option (e.g. `synthetic`; outside Hydra
the module of `data._target_`), so every recipe and dataset gets an experiment of its own; an explicit
`tracking.experiment=...` wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig, OmegaConf

from crmflow.config.constraints import Options
from crmflow.config.validation import validate

RESOLVER = "crmflow.experiment"
RUNS, STEPS, NONE = "runs", "steps", "none"
TRIAL_MODES = (RUNS, STEPS, NONE)  # a nested run per trial | steps and a table on the parent | nothing per trial
FALLBACK = "crmflow"


def trial_logging(tracking: Mapping[str, Any]) -> str:
    """`tracking.trials` (default runs), checked: ConfigError naming the key and the valid values otherwise."""
    values = {"trials": tracking.get("trials", RUNS)}
    validate(values, {"trials": [Options(TRIAL_MODES)]}, "tracking")
    return values["trials"]


def _choices(root: DictConfig) -> Mapping[str, Any]:
    """The group choices of the composing Hydra run: of this job, else of the config's own `hydra` node."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        return HydraConfig.get().runtime.choices
    found = OmegaConf.select(root, "hydra.runtime.choices", default=None)
    return found if isinstance(found, Mapping) else {}


def default_experiment(*candidates: Any) -> str:
    """The first name given (the recipe, the data's name, its group option, its module), else "crmflow"."""
    for value in candidates:
        if isinstance(value, str) and value and value != "None":
            return value.rsplit("/", 1)[-1]
    return FALLBACK


def _resolve(*, _root_: DictConfig) -> str:
    choices = _choices(_root_)
    name = OmegaConf.select(_root_, "data.name", default=None)
    target = OmegaConf.select(_root_, "data._target_", default=None)
    module = target.rsplit(".", 2)[-2] if isinstance(target, str) and target.count(".") >= 1 else None
    return default_experiment(choices.get("experiment"), name, choices.get("data"), module)


def register_resolver() -> None:
    """Make `${crmflow.experiment:}` resolvable (idempotent)."""
    if not OmegaConf.has_resolver(RESOLVER):
        OmegaConf.register_new_resolver(RESOLVER, _resolve)
