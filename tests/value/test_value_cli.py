"""The value stage from the command line: bad input stops with one line naming the key or column (exit 2, before
any fit or MLflow run), and the CDNOW recipe reproduces the published BG/NBD and Gamma-Gamma fits end to end."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from helpers import artifact_paths, assert_one_line_error, data_file, run_cli
from mlflow.tracking import MlflowClient

ONLY_VALUE = ["segmentation=none", "rules=none", "predictor=none", "tuning=off", "value=bg_nbd"]
CSV = ["data=csv", "data.transactions.path=tx.csv", "features._target_=null"]


def _write(folder: Path, rows: list[tuple[str, str, float]]) -> None:
    pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"]).to_csv(folder / "tx.csv", index=False)


ONCE = [(f"c{i}", f"2024-01-{i + 1:02d}", 10.0) for i in range(20)]  # nobody buys twice
ZERO_REPEAT = [*ONCE, ("c0", "2024-01-10", 0.0), ("c1", "2024-01-12", 5.0), ("c2", "2024-02-10", 5.0)]

CASES = {
    "no_repeat_buyers": (
        ONCE,
        ["value.settings.calibration_end=2024-01-15"],
        "value: no customer made a repeat purchase by the calibration end 2024-01-15",
    ),
    "no_repeat_buyers_spend_none": (
        ONCE,
        ["value.spend=none", "value.settings.calibration_end=2024-01-15"],
        "value: no customer made a repeat purchase",
    ),
    "non_positive_repeat_spend": (
        ZERO_REPEAT,
        ["value.settings.calibration_end=2024-01-20"],
        "value.spend: gamma_gamma needs positive spend, but column 'amount' is <= 0 in 1 repeat transaction(s)",
    ),
    "calibration_end_after_the_data": (
        ZERO_REPEAT,
        ["value.settings.calibration_end=2030-01-01"],
        "value.settings.calibration_end: 2030-01-01 is on or after the last transaction",
    ),
    "calibration_end_before_the_data": (
        ZERO_REPEAT,
        ["value.settings.calibration_end=2020-01-01"],
        "value.settings.calibration_end: 2020-01-01 is before the first transaction",
    ),
    "calibration_end_needs_features": (
        ZERO_REPEAT,
        [],
        "value.settings.calibration_end: null means the features cutoff, but these features have none",
    ),
    "horizon_not_positive": (
        ZERO_REPEAT,
        ["value.settings.calibration_end=2024-01-20", "value.settings.horizon=0"],
        "value.settings.horizon: must be a float in the range (0, inf)",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_gets_one_line(case: str, tmp_path: Path) -> None:
    rows, overrides, expected = CASES[case]
    _write(tmp_path, rows)
    result = run_cli(*ONLY_VALUE, *CSV, *overrides, cwd=tmp_path)
    assert_one_line_error(result, expected, tmp_path)


@pytest.mark.slow
@pytest.mark.real_data
def test_cdnow_recipe_reproduces_the_published_fits(tmp_path: Path) -> None:
    data_dir = data_file("CDNOW_sample.txt").parent.resolve()
    uri = f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    result = run_cli("+experiment=cdnow_value", f"data_dir={data_dir}", f"tracking.uri={uri}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    client = MlflowClient(uri)
    (parent,) = client.search_runs([client.get_experiment_by_name("cdnow_value").experiment_id])
    assert parent.info.status == "FINISHED"
    metrics = parent.data.metrics
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # Fader, Hardie & Lee (2005)
    for name, value in published.items():
        assert metrics[f"value.{name}"] == pytest.approx(value, abs=5e-4), name
    assert metrics["value.log_likelihood"] == pytest.approx(-9582.4, abs=0.1)
    spend = {"p": 6.25, "q": 3.74, "gamma": 15.44}  # Fader & Hardie's Gamma-Gamma note
    for name, value in spend.items():
        assert metrics[f"value.spend.{name}"] == pytest.approx(value, abs=5e-3), name
    assert 0 < metrics["value.spend.frequency_spend_correlation"] < 0.3  # weak, as the model assumes
    assert metrics["value.n_customers"] == 2357 and metrics["value.n_repeat_buyers"] == 946
    assert metrics["value.horizon"] == 39
    assert metrics["value.holdout_mae"] < metrics["value.baseline_holdout_mae"]
    assert abs(metrics["value.holdout_total_error_pct"]) < abs(metrics["value.baseline_holdout_total_error_pct"])
    artifacts = artifact_paths(client, parent.info.run_id)
    for name in (
        "customer_value.csv",
        "value_model.txt",
        "value_holdout_by_frequency.csv",
        "value_holdout_by_frequency.png",
        "value_cumulative_purchases.png",
        "value_p_alive.png",
    ):
        assert f"value/{name}" in artifacts, name
    table = pd.read_csv(client.download_artifacts(parent.info.run_id, "value/customer_value.csv", str(tmp_path)))
    assert len(table) == 2357 and table["clv"].gt(0).all() and table["p_alive"].between(0, 1).all()
