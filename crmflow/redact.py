"""Secrets kept out of everything crmflow writes: params, tags, config.yaml, messages, the summary.

A password in a URL (`postgresql://user:pw@host/db`, `http://alice:hunter2@host`) becomes `***`,
and so does the value of any config key named like a secret (password, token, secret, api_key).
Light on purpose: the config layer and the CLI use it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

HIDDEN = "***"
# scheme://user:password@ — the password runs to the last "@" before the host, so it may hold "@" itself
_URL_PASSWORD = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@\s]*):[^\s/]*@(?=[^@\s/]*(?:[/:?#\s]|$))")
_QUERY_PASSWORD = re.compile(r"([?&](?:password|passwd|pwd)=)[^&#\s]*", re.IGNORECASE)
_SECRET_KEY = re.compile(r"(password|passwd|secret|token|api_key|apikey|credential)", re.IGNORECASE)


def redact(text: str) -> str:
    """`text` with every URL password (and `?password=` query value) replaced by `***`."""
    return _QUERY_PASSWORD.sub(rf"\1{HIDDEN}", _URL_PASSWORD.sub(rf"\1:{HIDDEN}@", text))


def redact_config(node: Any, key: str = "") -> Any:
    """A copy of a config tree with URL passwords and the values of secret-named keys hidden."""
    if isinstance(node, Mapping):
        return {k: redact_config(v, str(k)) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [redact_config(v, key) for v in node]
    if key and _SECRET_KEY.search(key) and node not in (None, ""):
        return HIDDEN
    return redact(node) if isinstance(node, str) else node


def redact_overrides(overrides: list[str]) -> list[str]:
    """Command-line overrides as they may be shown: `key=value` with the value redacted like the config."""
    shown = []
    for override in overrides:
        key, equals, value = override.partition("=")
        hidden = equals and _SECRET_KEY.search(key.rpartition(".")[2]) and value
        shown.append(f"{key}={HIDDEN}" if hidden else redact(override))
    return shown
