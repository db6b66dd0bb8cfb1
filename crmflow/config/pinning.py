"""Parameters the user set by hand are pinned: taken out of their stage's search space.

A value given on the command line (`rules.min_support=25`) or in a recipe (`+experiment=NAME`)
is what the user asked for, so a study must not draw it. A recipe that also declares the
parameter's search space (`rules.search_space.min_support`) asks for it to be tuned from that
value, so it stays tuned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

SEARCH_SPACE = "search_space"


def override_keys(overrides: Iterable[str]) -> set[str]:
    """Dotted keys set by `key=value`, `+key=value` or `++key=value` overrides (deletions `~key` set nothing)."""
    keys = set()
    for override in overrides:
        key, equals, _ = str(override).partition("=")
        if equals and not key.startswith("~"):
            keys.add(key.lstrip("+"))
    return keys


def recipe_keys(node: Mapping[str, Any], prefix: str = "") -> set[str]:
    """Every dotted leaf key a recipe sets, its defaults list left out."""
    keys = set()
    for key, value in node.items():
        if not prefix and key == "defaults":
            continue
        name = f"{prefix}{key}"
        keys |= recipe_keys(value, f"{name}.") if isinstance(value, Mapping) and value else {name}
    return keys


def pinned_parameters(stage: str, keys: Iterable[str], tunable: Iterable[str]) -> list[str]:
    """The stage's tunable parameters (scikit-learn names, `estimator__C`) that `keys` set by hand.

    `predictor.estimator.C` pins `estimator__C`; a parameter whose own search space is among
    `keys` is left to the study.
    """
    keys = set(keys)
    prefix, spaced = f"{stage}.", f"{stage}.{SEARCH_SPACE}."
    given = {k[len(prefix) :].replace(".", "__") for k in keys if k.startswith(prefix) and not k.startswith(spaced)}
    if f"{stage}.{SEARCH_SPACE}" in keys:  # the whole search space replaced: all of it is to be tuned
        return []
    ranged = {k[len(spaced) :].split(".")[0] for k in keys if k.startswith(spaced)}
    return [name for name in tunable if name in given and name not in ranged]
