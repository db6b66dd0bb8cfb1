"""House keeping that a reviewer would otherwise check by hand: ruff finds nothing, modules stay small."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 300


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_ruff_finds_nothing(command: list[str]) -> None:
    ruff = shutil.which("ruff") or pytest.fail("ruff is a dev dependency (pip install -e '.[dev]')")
    result = subprocess.run([ruff, *command, str(ROOT)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_module_is_over_300_lines() -> None:
    sizes = {p.relative_to(ROOT): len(p.read_text().splitlines()) for p in (ROOT / "crmflow").rglob("*.py")}
    assert not {path: n for path, n in sizes.items() if n > MAX_MODULE_LINES}


def test_cli_start_up_does_not_import_the_heavy_libraries() -> None:
    code = "import sys, crmflow.cli; print(sorted(m for m in ('mlflow', 'optuna', 'sklearn') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
