"""Benchmark: every segmentation algorithm on Online Retail, one crmflow multirun, one table.

Run on demand (not part of the tests):
    CRMFLOW_DATA_DIR=../shared/data python benchmarks/segmentation.py [--trials 5] [--algorithms kmeans,gmm]
    python benchmarks/segmentation.py --uri sqlite:////path/mlflow.db   # summarise a sweep already run
Prints, per algorithm, the refit best segmentation's silhouette, number of segments, noise share,
bootstrap stability, the segmentation stage's wall time (study + refit) and the whole run's wall time.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ALGORITHMS = "kmeans,minibatch_kmeans,gmm,dbscan,hdbscan,agglomerative,birch,rfm_quantiles,decision_tree"
COLUMNS = ("silhouette", "n_segments", "noise_share", "stability", "seconds")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--algorithms", default=ALGORITHMS)
    parser.add_argument("--experiment", default="online_retail")
    parser.add_argument("--uri", help="summarise the sweep already logged in this MLflow store; run nothing")
    parser.add_argument("--mlflow-experiment", default="crmflow")
    args = parser.parse_args()
    if args.uri:
        summarise(args.uri, args.mlflow_experiment)
        return
    with tempfile.TemporaryDirectory(prefix="crmflow-bench-") as scratch:
        uri = f"sqlite:///{scratch}/mlflow.db"
        command = [
            sys.executable,
            "-m",
            "crmflow",
            "--multirun",
            f"+experiment={args.experiment}",
            f"segmentation={args.algorithms}",
            "rules=none",
            "predictor=none",
            f"tuning.n_trials={args.trials}",
            f"tracking.uri={uri}",
            f"hydra.sweep.dir={Path(scratch) / 'multirun'}",
        ]
        subprocess.run(command, check=True, capture_output=True)
        summarise(uri, args.mlflow_experiment)


def summarise(uri: str, experiment_name: str) -> None:
    """One line per parent run of the sweeps in the store: its segmentation metrics and wall time."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(experiment_name)
    runs = client.search_runs([experiment.experiment_id], "tags.crmflow.sweep_id != ''")
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    print(f"{'algorithm':<18}" + "".join(f"{c:>13}" for c in COLUMNS) + f"{'run_seconds':>13}  status")
    for run in sorted(parents, key=lambda r: r.data.tags.get("crmflow.choice.segmentation", "")):
        metrics = run.data.metrics
        values = "".join(f"{metrics.get(f'segmentation.{c}', float('nan')):>13.3f}" for c in COLUMNS)
        wall = (run.info.end_time - run.info.start_time) / 1000
        print(f"{run.data.tags.get('crmflow.choice.segmentation', '?'):<18}{values}{wall:>13.1f}  {run.info.status}")


if __name__ == "__main__":
    main()
