"""A config runs no code outside the allow-listed classes: the aliases of os, subprocess and pickle functions that
allowed packages re-export are refused from the command line, a user config folder and a recipe, and nothing runs.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import run_cli

from crmflow.config.components import resolve_target
from crmflow.errors import ConfigError

# Aliases of functions that run commands, Python source, unpickle or delete files, as allowed modules expose them.
ALIASES = {
    "sklearn.utils._testing.check_output": "args: [touch, {marker}]",  # subprocess.check_output
    "sklearn.utils._testing.assert_run_python_script_without_output": (
        "source_code: \"open('{marker}', 'w').close()\""  # runs Python source
    ),
    "statsmodels.iolib.smpickle.load_pickle": "fname: {marker}.pickle",  # unpickles a file
    "sklearn.datasets._olivetti_faces.remove": "path: {victim}",  # os.remove
}
DANGEROUS = ("os", "posix", "subprocess", "pickle", "_pickle", "shutil", "marshal", "shelve", "runpy", "ctypes")
SCANNED = ("crmflow", "sklearn", "mlxtend", "optuna.samplers", "optuna.pruners", "statsmodels.iolib")


def _where(folder: Path) -> dict[str, str]:
    victim = folder / "keep.txt"
    victim.write_text("not deleted")
    return {"marker": str(folder / "ran"), "victim": str(victim)}


def _assert_refused_and_nothing_ran(result, target: str, folder: Path) -> None:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and f"'{target}' is not allowed" in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not (folder / "ran").exists(), "the alias ran"
    assert (folder / "keep.txt").read_text() == "not deleted"
    assert not (folder / "mlruns").exists()


@pytest.mark.slow
@pytest.mark.parametrize("target", sorted(ALIASES))
def test_an_alias_from_the_command_line_is_refused_and_runs_nothing(target: str, tmp_path: Path) -> None:
    where = _where(tmp_path)
    key, _, value = ALIASES[target].format(**where).partition(": ")
    result = run_cli(f"data._target_={target}", f"+data.{key}={value}", cwd=tmp_path)
    _assert_refused_and_nothing_ran(result, target, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("target", sorted(ALIASES))
def test_an_alias_in_a_user_config_or_a_recipe_is_refused_and_runs_nothing(target: str, tmp_path: Path) -> None:
    where = _where(tmp_path)
    conf = tmp_path / "conf"
    (conf / "preprocessing").mkdir(parents=True)
    (conf / "experiment").mkdir()
    node = f"{{_target_: {target}, {ALIASES[target].format(**where)}}}"
    (conf / "preprocessing" / "evil.yaml").write_text(
        f"columns:\n  numeric:\n    select: numeric\n    steps:\n      - {node}\nfinal: []\n"
    )
    (conf / "experiment" / "evil.yaml").write_text(f"# @package _global_\ntuning:\n  sampler: {node}\n")
    for choice in ("preprocessing=evil", "+experiment=evil"):
        result = run_cli(f"--config-dir={conf}", choice, cwd=tmp_path)
        _assert_refused_and_nothing_ran(result, target, tmp_path)


def _modules(package: str) -> Iterator[object]:
    """The package and its submodules that import cleanly (test and vendored modules left out)."""
    root = importlib.import_module(package)
    yield root
    for info in pkgutil.walk_packages(getattr(root, "__path__", []), prefix=f"{package}."):
        if any(part in ("tests", "externals", "_build_utils", "conftest", "__main__") for part in info.name.split(".")):
            continue
        try:
            yield importlib.import_module(info.name)
        except Exception:  # optional dependencies missing: such a module cannot be a target either
            continue


def _re_exported_dangers() -> list[str]:
    found = set()
    for package in SCANNED:
        for module in _modules(package):
            for name, value in list(vars(module).items()):
                home = getattr(value, "__module__", None) or ""
                if callable(value) and home.split(".")[0] in DANGEROUS and home != module.__name__:
                    found.add(f"{module.__name__}.{name}")
    return sorted(found)


@pytest.mark.slow
def test_every_re_exported_os_subprocess_or_pickle_callable_in_allowed_packages_is_refused() -> None:
    found = _re_exported_dangers()
    assert {"sklearn.utils._testing.check_output", "sklearn.datasets._olivetti_faces.remove"} <= set(found)
    assert len(found) >= 15, found  # the scan reaches the allowed packages
    accepted = []
    for target in found:
        try:
            resolve_target(target, "data")
        except ConfigError:
            continue
        accepted.append(target)
    assert accepted == [], accepted
    assert "subprocess" in sys.modules  # the scan imported them: refusing is the check, not their absence


def test_a_class_of_an_allowed_package_is_a_target_and_its_module_is_where_it_is_defined() -> None:
    found = resolve_target("sklearn.cluster.KMeans", "segmentation")
    assert inspect.isclass(found) and found.__module__ == "sklearn.cluster._kmeans"
