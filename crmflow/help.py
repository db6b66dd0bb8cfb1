"""`crmflow --help`: the config groups with their options and defaults, read from `conf/` as files.

Files whose names start with `_` (settings shared by a group's options) are not options.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from crmflow.paths import config_dir, experiments_dir

USAGE = """\
usage: crmflow [group=option ...] [key=value ...] [+experiment=NAME] [--multirun] [--verbose]
       crmflow predict model=<MLflow model URI> input=<csv|parquet> output=<csv|parquet>

Each run composes conf/config.yaml with one option per group, then your overrides."""

EXAMPLES = """\
examples:
  crmflow segmentation=gmm predictor=random_forest tuning.n_trials=20
  crmflow --multirun segmentation=kmeans,gmm,dbscan
  crmflow +experiment=online_retail rules.settings.per_segment=true
  crmflow --cfg job segmentation=dbscan        print the composed config, run nothing
  crmflow --hydra-help                         Hydra's own flags
  mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db"""


def options(folder: Path) -> list[str]:
    """The option names of a config group folder (its YAML files, `_`-prefixed ones left out)."""
    return sorted(p.stem for p in folder.glob("*.yaml") if not p.stem.startswith("_"))


def defaults(config: Path) -> dict[str, str]:
    """group -> default option, from the defaults list of `config`."""
    entries = (yaml.safe_load(config.read_text()) or {}).get("defaults") or []
    return {k: str(v) for entry in entries if isinstance(entry, dict) for k, v in entry.items()}


def help_text() -> str:
    """The whole `crmflow --help` text."""
    root = config_dir()
    chosen = defaults(root / "config.yaml")
    lines = [USAGE, "", "groups (default first):"]
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        names = options(folder)
        default = chosen.get(folder.name)
        ordered = ([f"{default} (default)"] if default in names else []) + [n for n in names if n != default]
        lines.append(f"  {folder.name + ':':<15}{', '.join(ordered)}")
    lines.append(f"  {'+experiment=':<15}{', '.join(options(experiments_dir()))}")
    return "\n".join([*lines, "", EXAMPLES])
