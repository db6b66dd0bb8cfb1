"""`crmflow --help`: the config groups with their options and defaults, read from `conf/` as files.

Files whose names start with `_` (settings shared by a group's options) are not options. Config folders
the command line adds to Hydra's search path (`--config-dir DIR`, `hydra.searchpath=[file://DIR]`)
contribute their options, groups and `experiment/` recipes to the listing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from crmflow.paths import config_dir, experiments_dir

USAGE = """\
usage: crmflow [--config-dir DIR] [group=option ...] [key=value ...] [+experiment=NAME] [--multirun] [--verbose]
       crmflow predict model=<MLflow model URI> input=<csv|parquet> output=<csv|parquet>
       crmflow compare [sweep=ID | experiment=NAME] [metric=STAGE.METRIC] [top=10] [format=table|csv|markdown|html]
                       [output=PATH]
       crmflow report run=ID [output=PATH] [log=false] | crmflow report sweep=ID [output=PATH]

Each run composes conf/config.yaml with one option per group, then your overrides. Your own options
and recipes live in a folder of your own: DIR/GROUP/NAME.yaml and DIR/experiment/NAME.yaml."""

EXAMPLES = """\
examples:
  crmflow segmentation=gmm predictor=random_forest tuning.n_trials=20
  crmflow --multirun segmentation=kmeans,gmm,dbscan
  crmflow +experiment=online_retail rules.settings.per_segment=true
  crmflow --config-dir my_conf segmentation=my_clusterer     options from your own config folder
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


def search_path_dirs(args: Sequence[str]) -> list[Path]:
    """Config folders the command line adds to the search path: `--config-dir DIR` (`-cd`), `hydra.searchpath`."""
    folders: list[Path] = []
    for position, arg in enumerate(args):
        flag, equals, value = arg.partition("=")
        if flag in ("--config-dir", "-cd"):
            value = value if equals else (args[position + 1] if position + 1 < len(args) else "")
            folders.append(Path(value))
        elif flag.lstrip("+") == "hydra.searchpath" and equals:
            entries = _searchpath(arg)
            folders += [Path(e.removeprefix("file://")) for e in entries if e.startswith("file://")]
    return folders


def _searchpath(override: str) -> list[str]:
    """The entries of a `hydra.searchpath=[...]` override, parsed as Hydra parses it ([] if malformed)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    try:
        value = OverridesParser.create().parse_override(override).value()
    except OverrideParseException:
        return []
    return [str(entry) for entry in value] if isinstance(value, list) else []


def _groups(folders: Sequence[Path]) -> dict[str, list[str]]:
    """group -> option names found in any of `folders` (the experiment folder left to `+experiment=`)."""
    found: dict[str, set[str]] = {}
    for folder in folders:
        groups = (p for p in folder.iterdir() if p.is_dir() and p.name != "experiment" and p.name[0] not in "._")
        for group in groups:
            found.setdefault(group.name, set()).update(options(group))
    return {group: sorted(names) for group, names in sorted(found.items())}


def help_text(user_dirs: Sequence[Path] = ()) -> str:
    """The whole `crmflow --help` text; `user_dirs` are config folders added to the search path."""
    root = config_dir()
    extra = [d.resolve() for d in user_dirs if d.is_dir() and d.resolve() != root]
    chosen = defaults(root / "config.yaml")
    lines = [USAGE, "", "groups (default first):"]
    for group, names in _groups([root, *extra]).items():
        default = chosen.get(group)
        ordered = ([f"{default} (default)"] if default in names else []) + [n for n in names if n != default]
        lines.append(f"  {group + ':':<15}{', '.join(ordered)}")
    recipes = sorted({*options(experiments_dir()), *(n for d in extra for n in options(d / "experiment"))})
    lines.append(f"  {'+experiment=':<15}{', '.join(recipes)}")
    missing = [str(d) for d in user_dirs if not d.is_dir()]
    if extra or missing:
        lines += ["", "config search path: " + ", ".join([f"{root} (crmflow)", *map(str, extra)])]
        lines += [f"  not a folder: {', '.join(missing)}"] if missing else []
    return "\n".join([*lines, "", EXAMPLES])
