"""The two errors crmflow raises for bad input, each with a message that names the key or column."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class CrmflowError(Exception):
    """Base class of the errors the CLI reports on one line."""


class ConfigError(CrmflowError, ValueError):
    """A configuration problem: unknown key or option, malformed search space, bad parameter."""


class DataError(CrmflowError, ValueError):
    """A data problem: missing column, unparsable value, empty table, a stage lacking its input."""


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """Return "; did you mean 'x'?" for the closest candidate names, or "" when none is close."""
    close = difflib.get_close_matches(str(name), [str(c) for c in candidates], n=3, cutoff=0.6)
    if not close:
        return ""
    return "; did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
