"""Run parameters and tags that need no MLflow: a config flattened to dotted params, the git commit."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crmflow.redact import HIDDEN, is_secret_key, redact

MAX_PARAM_LENGTH = 500
PACKAGE_DIR = Path(__file__).resolve().parents[1]  # crmflow/, logged with every model as its code


def flatten(node: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested config → dotted keys with string values short enough for MLflow params; URL passwords and the
    values of secret-named keys are `***` (as `redact_config` hides them)."""
    flat: dict[str, str] = {}
    for key, value in node.items():
        name = f"{prefix}{key}"
        if is_secret_key(str(key)) and value not in (None, ""):
            flat[name] = HIDDEN
        elif isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = redact(str(value))[:MAX_PARAM_LENGTH]
    return flat


def git_commit(directory: Path = PACKAGE_DIR) -> str | None:
    """The commit of the crmflow checkout, when it is one."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None
