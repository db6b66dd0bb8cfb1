"""The `key=value` arguments of crmflow's commands outside Hydra (`crmflow predict`, `crmflow compare`)."""

from __future__ import annotations

from collections.abc import Sequence

from crmflow.errors import ConfigError, did_you_mean


def key_values(args: Sequence[str], keys: Sequence[str], command: str, usage: str) -> dict[str, str]:
    """The arguments as a mapping; a ConfigError naming the command for one without `=` or with an unknown key."""
    given: dict[str, str] = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep:
            raise ConfigError(f"{command}: expected key=value arguments; got {arg!r} ({usage})")
        if key not in keys:
            raise ConfigError(
                f"{command}: unknown argument '{key}'{did_you_mean(key, keys)} (valid: {', '.join(keys)})"
            )
        given[key] = value
    return given
