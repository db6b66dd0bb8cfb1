"""Benchmark: every forecaster on Online Retail weekly revenue, one crmflow multirun, one table.

Run on demand (not part of the tests):
    CRMFLOW_DATA_DIR=../shared/data python benchmarks/forecasting.py [--trials 10] [--seasonal-period 4] \
        [--forecasters ets] [-- extra crmflow overrides, e.g. forecaster.seasonal=null]
Prints, per forecaster, the rolling-origin backtest metrics of the refit best model beside the
seasonal-naive baseline's (same folds): on the tuning folds and on the held-out latest fold(s) that no
trial saw (holdout_*), the forecaster stage's wall time and the run's status.
Segmentation is off, so only the whole-base series is forecast.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

FORECASTERS = "naive,seasonal_naive,arima,sarimax,ets"
COLUMNS = (
    "mase",
    "baseline_mase",
    "holdout_mase",
    "holdout_baseline_mase",
    "mae",
    "baseline_mae",
    "holdout_mae",
    "holdout_baseline_mae",
    "smape",
    "coverage",
    "seconds",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--forecasters", default=FORECASTERS)
    parser.add_argument("--seasonal-period", type=int, default=None, help="overrides forecaster.settings")
    parser.add_argument("--experiment", default="online_retail_forecast")
    parser.add_argument("overrides", nargs="*", help="more crmflow overrides (after --)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crmflow-bench-") as scratch:
        uri = f"sqlite:///{scratch}/mlflow.db"
        command = [
            sys.executable,
            "-m",
            "crmflow",
            "--multirun",
            f"+experiment={args.experiment}",
            f"forecaster={args.forecasters}",
            "segmentation=none",
            "forecaster.settings.per_segment=false",
            f"tuning.n_trials={args.trials}",
            f"tracking.uri={uri}",
            f"hydra.sweep.dir={Path(scratch) / 'multirun'}",
        ]
        if args.seasonal_period is not None:
            command.append(f"forecaster.settings.seasonal_period={args.seasonal_period}")
        command += args.overrides
        done = subprocess.run(command, check=False, capture_output=True, text=True)
        if done.returncode:
            print(done.stderr.strip().splitlines()[-1], file=sys.stderr)
        from mlflow.tracking import MlflowClient

        client = MlflowClient(uri)
        experiment = client.get_experiment_by_name("crmflow")
        runs = client.search_runs([experiment.experiment_id], "tags.crmflow.sweep_id != ''")
        parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
        print(f"{'forecaster':<16}" + "".join(f"{c:>23}" for c in COLUMNS) + "  status  best params")
        for run in sorted(parents, key=lambda r: FORECASTERS.find(r.data.tags.get("crmflow.choice.forecaster", ""))):
            metrics = run.data.metrics
            values = "".join(f"{metrics.get(f'forecaster.{c}', float('nan')):>23.3f}" for c in COLUMNS)
            best = {
                k.removeprefix("forecaster.best."): v
                for k, v in run.data.params.items()
                if k.startswith("forecaster.best.")
            }
            name = run.data.tags.get("crmflow.choice.forecaster", "?")
            print(f"{name:<16}{values}  {run.info.status}  {best or '-'}")


if __name__ == "__main__":
    main()
