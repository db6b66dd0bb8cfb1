"""The `crmflow` command: Hydra overrides in, one tracked run (or a sweep of runs) out;
`crmflow predict ...` scores new customers with a logged model.

Heavy libraries (scikit-learn, MLflow, Optuna) are imported inside the task function, so
`crmflow --help` stays quick.
"""

from __future__ import annotations

import os
import re
import signal
import sys
from pathlib import Path
from typing import NoReturn

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException, MissingConfigException
from omegaconf import DictConfig, OmegaConf

from crmflow.config.experiments import recipe_keys, register_experiments
from crmflow.errors import CrmflowError, did_you_mean
from crmflow.hydra_callbacks import record_failure
from crmflow.paths import config_dir
from crmflow.redact import redact, redact_overrides

VERBOSE_FLAG = "--verbose"
PREDICT_COMMAND = "predict"  # `crmflow predict ...` scores a table with a logged model
VERBOSE_ENV = "CRMFLOW_VERBOSE"


@hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")
def _task(cfg: DictConfig) -> None:
    from crmflow.run import RunInfo, run
    from crmflow.summary import format_summary

    hydra_cfg = HydraConfig.get()
    sweep_id = None
    if str(hydra_cfg.mode) == "RunMode.MULTIRUN":
        sweep_id = os.path.basename(str(hydra_cfg.sweep.dir).rstrip("/"))
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


def _override_key(message: str) -> str | None:
    found = re.search(r"Could not (?:override|append to config) '([^']+)'", message)
    return found.group(1) if found else None


def _known_keys(parent: str) -> list[str]:
    """Keys at `parent` in the default composition (for "did you mean" on a misspelt override)."""
    from hydra import compose, initialize_config_dir

    try:
        with initialize_config_dir(str(config_dir()), version_base="1.3"):
            cfg = compose("config")
        node = OmegaConf.select(cfg, parent) if parent else cfg
        return [str(k) for k in node] if isinstance(node, DictConfig) else []
    except Exception:  # noqa: BLE001 - suggestions are best effort; the original error is still reported
        return []


def explain(error: BaseException) -> str:
    """One line that names the key or option, what was expected and the closest valid names; no passwords."""
    return redact(_explain(error))


def _explain(error: BaseException) -> str:
    if isinstance(error, MissingConfigException) and error.missing_cfg_file and error.options is not None:
        group, _, option = str(error.missing_cfg_file).rpartition("/")
        valid = sorted(o for o in error.options if not o.startswith("_"))
        return f"{group}: unknown option '{option}'{did_you_mean(option, valid)} (valid: {', '.join(valid)})"
    message = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
    key = _override_key(message)
    if isinstance(error, HydraException) and key:
        parent, _, leaf = key.rpartition(".")
        hint = did_you_mean(leaf, _known_keys(parent))
        if hint:
            return f"{key}: unknown key{hint}"
    return message


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _predict(args: list[str]) -> None:
    """`crmflow predict model=... input=... output=...`: batch scoring, no Hydra composition."""
    from crmflow.scoring import USAGE, PredictRequest, score_file

    if {"-h", "--help"} & set(args):
        print(USAGE)
        return
    try:
        request = PredictRequest.parse(args)
        scored = score_file(request)
    except CrmflowError as error:
        _fail(error)
    print(f"crmflow: wrote {len(scored)} predictions to {request.output}", flush=True)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script; bad input exits 2 with one line, no traceback wall."""
    args = list(sys.argv[1:] if argv is None else argv)
    if VERBOSE_FLAG in args:
        os.environ[VERBOSE_ENV] = "1"
    args = [a for a in args if a != VERBOSE_FLAG]
    if args[:1] == [PREDICT_COMMAND]:
        _predict(args[1:])
        return
    if {"-h", "--help"} & set(args):
        from crmflow.help import help_text, search_path_dirs

        print(help_text(search_path_dirs(args)))
        return
    sys.argv = [sys.argv[0], *args]
    os.environ["HYDRA_FULL_ERROR"] = "1"  # errors reach us; we print them on one line
    signal.signal(signal.SIGTERM, _interrupt)  # a terminated run ends KILLED, not RUNNING
    register_experiments()
    try:
        _task()
    except (CrmflowError, HydraException) as error:
        _fail(error)


if __name__ == "__main__":  # pragma: no cover
    main()
