"""Search-space parsing and drawing."""

from __future__ import annotations

import optuna
import pytest

from crmflow.config.search_space import parse_search_space
from crmflow.errors import ConfigError


def test_draws_each_type_within_bounds() -> None:
    space = parse_search_space(
        {
            "k": {"type": "int", "low": 2, "high": 5},
            "c": {"type": "float", "low": 1e-3, "high": 10.0, "log": True},
            "s": {"type": "float", "low": 0.0, "high": 1.0, "step": 0.25},
            "m": {"type": "categorical", "choices": ["a", None]},
        },
        "x.search_space",
    )
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        params = space.suggest(study.ask())
        assert 2 <= params["k"] <= 5 and isinstance(params["k"], int)
        assert 1e-3 <= params["c"] <= 10.0
        assert params["s"] in {0.0, 0.25, 0.5, 0.75, 1.0}
        assert params["m"] in {"a", None}
    assert space.names == ["k", "c", "s", "m"]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"type": "int", "low": 5, "high": 2}, "x.search_space.k: low must be <= high; got low=5, high=2"),
        ({"type": "integer", "low": 1, "high": 2}, "x.search_space.k.type: expected one of int, float, categorical"),
        ({"type": "int", "low": 1.5, "high": 2}, "x.search_space.k.low: expected an int"),
        ({"type": "float", "low": 0.0, "high": 1.0, "log": True}, "a log range needs low > 0"),
        ({"type": "categorical", "choices": []}, "x.search_space.k.choices: expected a non-empty list"),
        ({"type": "int", "low": 1, "high": 3, "hgh": 4}, "unknown key 'hgh' for type int; did you mean 'high'?"),
    ],
)
def test_malformed_entries_name_the_key(entry: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("?", r"\?")):
        parse_search_space({"k": entry}, "x.search_space")
