"""A customer table without transactions: the stages that need transactions are left out unless chosen."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import compose_config

from crmflow.errors import DataError
from crmflow.run import RunInfo, run


def customers_only(tmp_path: Path, tracking_overrides: list[str]) -> list[str]:
    rng = np.random.default_rng(0)
    income = rng.normal(50, 10, 200)
    churned = (income + rng.normal(0, 5, 200) < 50).astype(int)
    pd.DataFrame({"id": range(200), "income": income, "churned": churned}).to_csv(tmp_path / "c.csv", index=False)
    return [
        "data=csv",
        "data.transactions=null",
        "features=none",
        "segmentation=none",
        "tuning=off",
        f"+data.customers={{path: {tmp_path}/c.csv, id_column: id, target: churned, numeric_columns: [income]}}",
        *tracking_overrides,
    ]


@pytest.mark.slow
def test_the_default_rules_stage_is_left_out_without_transactions(
    tmp_path: Path, tracking_overrides: list[str]
) -> None:
    result = run(compose_config(customers_only(tmp_path, tracking_overrides)))
    assert [stage.stage for stage in result.stages] == ["predictor"]
    assert result.run_name.startswith("LogisticRegression · ")  # the left-out stage is not in the name
    assert result.metrics["predictor.holdout_roc_auc"] > 0.7


def test_a_chosen_rules_stage_says_what_it_lacks(tmp_path: Path, tracking_overrides: list[str]) -> None:
    overrides = customers_only(tmp_path, tracking_overrides)
    with pytest.raises(DataError, match="rules: the data has no 'item' column"):
        run(compose_config([*overrides, "rules=fpgrowth"]), RunInfo(overrides=["rules=fpgrowth"]))
