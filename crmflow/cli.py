"""The `crmflow` command: Hydra overrides in, one tracked run (or a sweep of runs) out; `crmflow predict|compare|
report ...` (crmflow.subcommands) score customers, rank a sweep's runs, write a run's or a sweep's report.

Heavy libraries (scikit-learn, MLflow, Optuna) are imported inside the task function, so
`crmflow --help` stays quick.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import traceback
from pathlib import Path
from types import TracebackType
from typing import NoReturn

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException, MissingConfigException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from crmflow.config.experiments import recipe_keys, register_experiments
from crmflow.environ import SWEEP_JOB_ENV
from crmflow.errors import CrmflowError, did_you_mean
from crmflow.hydra_callbacks import record_failure, redact_hydra_outputs
from crmflow.hydra_callbacks import sweep_id as sweep_of
from crmflow.paths import config_dir
from crmflow.redact import redact, redact_logging, redact_overrides
from crmflow.subcommands import dispatch

VERBOSE_FLAG = "--verbose"
VERBOSE_ENV = "CRMFLOW_VERBOSE"
MLFLOW_LINKS_OFF = "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"  # MLflow prints each ended run's link, password and all


@hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")
def _task(cfg: DictConfig) -> None:
    from crmflow.run import RunInfo, run
    from crmflow.summary import format_summary

    hydra_cfg = HydraConfig.get()
    redact_hydra_outputs(hydra_cfg)  # done by the callback already, unless hydra.callbacks was replaced
    redact_logging()  # done by main() and the callback already, unless this is a worker without them
    _hide_mlflow_links(cfg)
    sweep_id = None
    if str(hydra_cfg.mode) == "RunMode.MULTIRUN":
        sweep_id = sweep_of(str(hydra_cfg.sweep.dir))
        os.environ[SWEEP_JOB_ENV] = "1"  # parallel jobs share the terminal: progress as lines, not bars
    choices = {k: str(v) for k, v in hydra_cfg.runtime.choices.items() if not k.startswith("hydra")}
    recipe = choices.get("experiment")
    info = RunInfo(
        choices=choices,
        overrides=list(hydra_cfg.overrides.task),
        sweep_id=sweep_id,
        recipe_keys=recipe_keys(recipe, _search_dirs(hydra_cfg)) if recipe and recipe != "None" else set(),
    )
    try:
        result = run(cfg, info)
    except CrmflowError as error:
        if sweep_id is None:
            _fail(error)
        job = " ".join(redact_overrides(info.overrides)) or "defaults"
        # the job may run in a joblib worker: its record goes to its output folder, and the sweep
        # callback (crmflow.hydra_callbacks) lists the failed jobs and exits 2 when the sweep ends
        record_failure(hydra_cfg.runtime.output_dir, hydra_cfg.job.num, job, explain(error))
        print(f"crmflow: error in sweep job [{job}]: {explain(error)}; the sweep goes on", file=sys.stderr, flush=True)
        return
    print(format_summary(result), flush=True)


def _hide_mlflow_links(cfg: DictConfig) -> None:
    """MLflow prints "View run ... at: <tracking URI>/#/..." when a run on a server ends, with the URI's password:
    not when it has one (credentials belong in MLFLOW_TRACKING_USERNAME/PASSWORD)."""
    try:
        uri = OmegaConf.select(cfg, "tracking.uri")
    except OmegaConfBaseException:  # plan_run reports it, naming the key
        return
    if isinstance(uri, str) and redact(uri) != uri:
        os.environ[MLFLOW_LINKS_OFF] = "true"


def _redact_output() -> None:
    """No password in what this process prints: its log records (Hydra's lines with each sweep job's overrides,
    crmflow's, MLflow's and Optuna's) and the traceback --verbose (or a crash) shows."""
    sys.excepthook = _redacted_traceback
    redact_logging()


def _redacted_traceback(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
    """The command's `sys.excepthook`: the traceback of --verbose (or of a crash), passwords hidden."""
    sys.stderr.write(redact("".join(traceback.format_exception(kind, error, trace))))
    sys.stderr.flush()


def _search_dirs(hydra_cfg: DictConfig) -> list[Path | None]:
    """Hydra's search path in its order: config folders (a user's --config-dir among them), and
    None where the config store (crmflow's recipes) stands."""
    places: list[Path | None] = []
    for source in hydra_cfg.runtime.config_sources:
        if str(source.schema) == "file" and source.path:
            places.append(Path(str(source.path)))
        elif str(source.schema) == "structured" and None not in places:
            places.append(None)
    return places if None in places else [*places, None]


def _fail(error: BaseException) -> NoReturn:
    """Print one line and exit 2, or re-raise for the traceback with --verbose."""
    if os.environ.get(VERBOSE_ENV) == "1":
        raise error
    print(f"crmflow: error: {explain(error)}", file=sys.stderr, flush=True)
    sys.exit(2)


def _override_key(error: BaseException, message: str) -> str | None:
    """The key a failed override names, down to the nested key Hydra found unknown (`tuning.sampler.seeds`)."""
    found = re.search(r"Could not (?:override|append to config) '([^']+)'", message)
    if not found:
        return None
    nested = getattr(error.__cause__, "full_key", None)
    return str(nested) if nested and str(nested).startswith(found.group(1)) else found.group(1)


def _composition() -> DictConfig | None:
    """The config as this command line composes it (its group choices and config folders, without the override
    that failed), else the default composition; None when neither composes."""
    from hydra import compose, initialize_config_dir

    from crmflow.help import search_path_dirs

    args = sys.argv[1:]
    folders = [f"file://{folder.resolve()}" for folder in search_path_dirs(args)]
    choices = [a for a in args if "=" in a and not a.startswith("-") and "." not in a.partition("=")[0]]
    extra = [f"hydra.searchpath=[{','.join(folders)}]"] if folders else []
    for overrides in ([*extra, *choices], extra, []):
        try:
            with initialize_config_dir(str(config_dir()), version_base="1.3"):
                return compose("config", overrides=overrides)
        except Exception:  # noqa: BLE001, S112 - suggestions are best effort; try a plainer composition
            continue
    return None


def _unknown_key(key: str) -> str | None:
    """`KEY: unknown key; did you mean ...` at the first part of the key its config lacks; for a component (a
    node with `_target_`) from the parameters its class accepts, and `+KEY=...` when the class takes it but the
    YAML does not set it."""
    cfg, parts = _composition(), key.split(".")
    if cfg is None:
        return None
    depth = next(
        d for d in range(len(parts) - 1, -1, -1) if isinstance(OmegaConf.select(cfg, ".".join(parts[:d])), DictConfig)
    )
    node, leaf, key = OmegaConf.select(cfg, ".".join(parts[:depth])), parts[depth], ".".join(parts[: depth + 1])
    known = [str(k) for k in node if not str(k).startswith("_")]
    target = node.get("_target_")
    if isinstance(target, str):
        names = _parameters(target)
        short = target.rpartition(".")[2]
        if leaf in names:
            return f"{key}: {short} takes '{leaf}' but this option's YAML does not set it; add it with +{key}=..."
        if names:
            valid = ", ".join(sorted(names))
            return f"{key}: {short} has no parameter '{leaf}'{did_you_mean(leaf, sorted(names))} (valid: {valid})"
    hint = did_you_mean(leaf, known)
    return f"{key}: unknown key{hint} (valid: {', '.join(known)})" if known else None


def _parameters(target: str) -> set[str]:
    """The constructor parameters of an allow-listed `_target_` class (empty when it cannot be resolved)."""
    from crmflow.config.components import accepted_parameters, resolve_target

    try:
        return accepted_parameters(resolve_target(target, "")) or set()
    except Exception:  # noqa: BLE001 - the plan reports a bad target by itself
        return set()


def explain(error: BaseException) -> str:
    """One line that names the key or option, what was expected and the closest valid names; no passwords."""
    return redact(_explain(error))


def _explain(error: BaseException) -> str:
    mark = getattr(error, "problem_mark", None)  # a YAML syntax error in a config file
    if mark is not None:
        problem = getattr(error, "problem", None) or "syntax error"
        return f"{mark.name}: YAML syntax error at line {mark.line + 1}, column {mark.column + 1}: {problem}"
    if isinstance(error, MissingConfigException) and error.missing_cfg_file and error.options is not None:
        group, _, option = str(error.missing_cfg_file).rpartition("/")
        valid = sorted(o for o in error.options if not o.startswith("_"))
        return f"{group}: unknown option '{option}'{did_you_mean(option, valid)} (valid: {', '.join(valid)})"
    message = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
    merged = re.match(r"Error merging override \+*([\w.]+)=", message)
    if merged and "Cannot merge DictConfig with ListConfig" in str(error.__cause__):
        key = merged.group(1)
        example = (
            f"{key}.metric=[silhouette,stability]" if key.startswith("tuning.objectives.") else f"{key}.<name>=..."
        )
        return (
            f"{key}: an override cannot put a list where the config has a mapping (Hydra merges them); set the "
            f"mapping's keys instead, e.g. {example}, or drop it first: ~{key} '+{key}=[...]'"
        )
    key = _override_key(error, message)
    if isinstance(error, HydraException) and key:
        return _unknown_key(key) or message
    return message


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script; bad input exits 2 with one line, no traceback wall."""
    args = list(sys.argv[1:] if argv is None else argv)
    if VERBOSE_FLAG in args:
        os.environ[VERBOSE_ENV] = "1"
    args = [a for a in args if a != VERBOSE_FLAG]
    if dispatch(args, _fail, _redact_output):  # predict, compare, report (crmflow.subcommands)
        return
    if {"-h", "--help"} & set(args):
        from crmflow.help import help_text, search_path_dirs

        print(help_text(search_path_dirs(args)))
        return
    _redact_output()
    sys.argv = [sys.argv[0], *args]
    os.environ["HYDRA_FULL_ERROR"] = "1"  # errors reach us; we print them on one line
    signal.signal(signal.SIGTERM, _interrupt)  # a terminated run ends KILLED, not RUNNING
    register_experiments()
    import yaml

    try:
        _task()
    except (CrmflowError, HydraException, yaml.YAMLError) as error:
        _fail(error)


if __name__ == "__main__":  # pragma: no cover
    main()
