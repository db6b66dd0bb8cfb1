"""Benchmark: tuning `hist_gradient_boosting` on IBM Telco churn with and without pruning (`tuning.pruner`).

Run on demand (not part of the tests):
    python benchmarks/pruning.py [--trials 30] [--repeats 1] [--pruners none,median,wilcoxon] [--threads 1]
Each arm is one full run of the telco_churn recipe (10-fold stratified CV on 80%, 20% holdout), only the predictor
tuned: `+experiment=telco_churn segmentation=none predictor=hist_gradient_boosting tuning.n_trials=N
tuning.pruner=P`, seed 42, through `crmflow.run.run` with a fresh SQLite tracking store in a temp folder. The data
come from CRMFLOW_DATA_DIR, else ../shared/data. Arms are interleaved over `--repeats`; the table shows medians:
- run s: the whole run (data load, tuning, refit, MLflow logging); stage s: the parent run's `predictor.seconds`
  (tuning + refit + logging); trials s: the sum of the trials' durations (the tuning itself, one worker);
- complete / pruned / failed trials and the mean number of folds a pruned trial ran (`pruned_at_fold` + 1);
- best CV ROC-AUC (`predictor.best_value`), the refit's CV ROC-AUC and its holdout ROC-AUC;
- the speed-up of stage s against the `none` arm.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import optuna
from mlflow.tracking import MlflowClient
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from helpers import compose_config  # noqa: E402

from crmflow.run import run  # noqa: E402

DATA_DIR = Path(os.environ.get("CRMFLOW_DATA_DIR", ROOT.parent / "shared" / "data")).resolve()
TELCO = "WA_Fn-UseC_-Telco-Customer-Churn.csv"
RECIPE = ["+experiment=telco_churn", "segmentation=none", "predictor=hist_gradient_boosting", "seed=42"]
COLUMNS = (  # (key, header, format)
    ("run_s", "run s", ".1f"),
    ("stage_s", "stage s", ".1f"),
    ("trials_s", "trials s", ".1f"),
    ("complete", "complete", ".0f"),
    ("pruned", "pruned", ".0f"),
    ("failed", "failed", ".0f"),
    ("folds_pruned", "folds/pruned", ".1f"),
    ("best_value", "best CV AUC", ".4f"),
    ("roc_auc", "refit CV AUC", ".4f"),
    ("holdout_roc_auc", "holdout AUC", ".4f"),
)


def one_run(pruner: str, trials: int) -> dict[str, float]:
    """One telco_churn run with `tuning.pruner=pruner`, in a scratch folder; its figures for the table."""
    with tempfile.TemporaryDirectory(prefix="crmflow-bench-") as scratch:
        uri = f"sqlite:///{scratch}/mlflow.db"
        overrides = [*RECIPE, f"data_dir={DATA_DIR}", f"tuning.n_trials={trials}", f"tuning.pruner={pruner}"]
        overrides += [f"tracking.uri={uri}", "tracking.experiment=bench"]
        started = time.perf_counter()
        result = run(compose_config(overrides))
        seconds = time.perf_counter() - started
        client = MlflowClient(uri)
        metrics = client.get_run(result.run_id).data.metrics
        killed = client.search_runs([result.experiment_id], "attributes.status = 'KILLED'", max_results=1000)
        (summary,) = [s for s in result.stages if s.stage == "predictor"]
        assert summary.tuning is not None, "the predictor was not tuned"
        durations = summary.tuning.history["duration"].dropna()
        folds = [run.data.metrics["pruned_at_fold"] + 1 for run in killed if "pruned_at_fold" in run.data.metrics]
    pruned = metrics["predictor.tuning.n_trials_pruned"]
    assert len(folds) == pruned, (len(folds), pruned)  # every pruned trial is a KILLED child run with its fold
    return {
        "run_s": seconds,
        "stage_s": metrics["predictor.seconds"],
        "trials_s": float(sum(d.total_seconds() for d in durations)),
        "complete": metrics["predictor.tuning.n_trials_complete"],
        "pruned": pruned,
        "failed": metrics["predictor.tuning.n_trials_failed"],
        "folds_pruned": statistics.mean(folds) if folds else float("nan"),
        "best_value": metrics["predictor.best_value"],
        "roc_auc": metrics["predictor.roc_auc"],
        "holdout_roc_auc": metrics["predictor.holdout_roc_auc"],
        "fold_counts": folds,  # type: ignore[dict-item]  # shown below the table
    }


def median_row(rows: list[dict[str, float]]) -> dict[str, float]:
    """The median of every numeric column over the repeats (NaN when no repeat pruned a trial)."""
    out = {}
    for key, *_ in COLUMNS:
        values = [row[key] for row in rows if row[key] == row[key]]
        out[key] = statistics.median(values) if values else float("nan")
    return out


def table(results: dict[str, list[dict[str, float]]], trials: int, repeats: int) -> None:
    """The side-by-side table of medians, the speed-up against `none`, then each repeat's raw figures."""
    medians = {pruner: median_row(rows) for pruner, rows in results.items()}
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"\nTelco churn, hist_gradient_boosting, {trials} trials, 10-fold CV, median of {repeats} run(s)")
    print(f"({os.cpu_count()} cores, load average {load}; speed-up = none's stage s / the arm's stage s)")
    header = "".join(f"{name:>{max(len(name), 8) + 2}}" for _, name, _ in COLUMNS)
    print(f"{'pruner':<10}{header}{'speed-up':>10}")
    base = medians.get("none", {}).get("stage_s")
    for pruner, row in medians.items():
        cells = "".join(f"{row[key]:>{max(len(name), 8) + 2}{fmt}}" for key, name, fmt in COLUMNS)
        speedup = f"{base / row['stage_s']:.2f}x" if base else "-"
        print(f"{pruner:<10}{cells}{speedup:>10}")
    print("\nfolds run by each pruned trial, per repeat:")
    for pruner, rows in results.items():
        for index, row in enumerate(rows):
            counts = sorted(int(c) for c in row["fold_counts"])  # type: ignore[union-attr]
            shown = ", ".join(f"{fold}x{counts.count(fold)}" for fold in sorted(set(counts))) or "none pruned"
            print(f"  {pruner:<10} repeat {index + 1}: {shown}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=30, help="predictor trials per run")
    parser.add_argument("--repeats", type=int, default=1, help="runs per pruner (medians shown)")
    parser.add_argument("--pruners", default="none,median,wilcoxon", help="comma-separated tuning.pruner values")
    parser.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads per fit (1 on a shared machine)")
    args = parser.parse_args()
    if not (DATA_DIR / TELCO).is_file():
        parser.error(f"{TELCO} not found under {DATA_DIR} (set CRMFLOW_DATA_DIR)")
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("crmflow").setLevel(logging.WARNING)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # WilcoxonPruner
    pruners = args.pruners.split(",")
    results: dict[str, list[dict[str, float]]] = {pruner: [] for pruner in pruners}
    with threadpool_limits(args.threads):
        for repeat in range(args.repeats):
            for pruner in pruners:  # interleaved, so a slow spell of the machine hits every arm
                row = one_run(pruner, args.trials)
                results[pruner].append(row)
                print(
                    f"repeat {repeat + 1} {pruner}: stage {row['stage_s']:.1f} s, {row['pruned']:.0f} pruned, "
                    f"best {row['best_value']:.4f}",
                    flush=True,
                )
    table(results, args.trials, args.repeats)


if __name__ == "__main__":
    main()
