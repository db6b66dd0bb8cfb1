"""Where crmflow's packaged configs live, in a source checkout and in an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _first_existing(*candidates: Path) -> Path:
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("crmflow cannot find its folder; looked in " + ", ".join(map(str, candidates)))


def config_dir() -> Path:
    """The `conf/` folder: inside the package in a wheel, beside it in a source checkout."""
    return _first_existing(_PACKAGE / "conf", _PACKAGE.parent / "conf")


def experiments_dir() -> Path:
    """The `experiments/` folder of `+experiment=NAME` recipes."""
    return _first_existing(_PACKAGE / "experiments", _PACKAGE.parent / "experiments")
