"""Benchmark: trials per second of one CPU-bound study with 1 and with N forked workers (`tuning.n_workers`).

Run on demand (not part of the tests):
    python benchmarks/parallel_tuning.py [--trials 40] [--workers 2] [--repeats 3] [--rows 20000] [--only multirun]
Each trial fits scikit-learn's KMeans (n_init=8) on one fixed standardised matrix and scores it by inertia and
a sampled silhouette, through crmflow's `tune` (1 worker: the study in memory; N workers: a journal in a scratch
folder). Every process is single-threaded (OMP/BLAS threads = 1), as one sizes n_workers to the cores. Prints the
median trials per second of `--repeats` studies per worker count and the speed-up (target >= 1.6x on 2 cores).

Then a 4-job sweep through the `crmflow` command, `--multirun segmentation=kmeans,gmm
predictor=logistic_regression,random_forest data.n_customers=1000 tuning.n_trials=3 rules=none`, with Hydra's basic
launcher (jobs one after another) and with `hydra/launcher=joblib hydra.launcher.n_jobs=2`, interleaved, each sweep in
a fresh temp folder (SQLite store, features cache, sweep dir): the median wall time of `--repeats` sweeps per launcher
and the speed-up.  `--only studies|multirun` runs one part.
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")  # before numpy/sklearn load their thread pools

import argparse  # noqa: E402
import logging  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from contextlib import nullcontext  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

NODE = {
    "_target_": "sklearn.cluster.KMeans",
    "n_clusters": 4,
    "n_init": 8,
    "random_state": 0,
    "search_space": {
        "n_clusters": {"type": "int", "low": 2, "high": 16},
        "tol": {"type": "float", "low": 1e-6, "high": 1e-2, "log": True},
    },
}
SWEEP = [
    "segmentation=kmeans,gmm",
    "predictor=logistic_regression,random_forest",
    "data.n_customers=1000",
    "tuning.n_trials=3",
    "rules=none",
]
LAUNCHERS = {"basic": [], "joblib": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]}


class Quiet:
    """A TrialLogger that logs nothing: the benchmark measures the study, not the tracking store."""

    def child_run(self, name: str, params: Any, tags: Any) -> nullcontext:
        return nullcontext()

    def log_metrics(self, metrics: Any, prefix: str = "") -> None:
        pass

    def worker(self) -> Quiet:
        return self


def make_evaluate(spec: Any, rows: int) -> Any:
    """k-means on a fixed matrix of `rows` customers x 8 features (six planted segments)."""
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(0)
    centres = rng.normal(0, 4, size=(6, 8))
    X = centres[rng.integers(0, 6, rows)] + rng.normal(size=(rows, 8))

    def evaluate(params: dict[str, Any]) -> dict[str, float]:
        model = spec.build(params).fit(X)
        silhouette = silhouette_score(X, model.labels_, sample_size=2000, random_state=0)
        return {"silhouette": float(silhouette), "inertia": float(model.inertia_)}

    return evaluate


def trials_per_second(workers: int, trials: int, rows: int) -> float:
    from crmflow.config.components import parse_component
    from crmflow.config.tuning import TuningSettings
    from crmflow.tuning import tune

    spec = parse_component(NODE, "segmentation")
    node = {"n_trials": trials, "seed": 0, "n_workers": workers, "start_from_config": False}
    node["objectives"] = {"segmentation": {"metric": "silhouette", "direction": "maximize"}}
    settings = TuningSettings.parse(node, ["segmentation"])
    evaluate = make_evaluate(spec, rows)  # built once, before the workers are forked
    with tempfile.TemporaryDirectory(prefix="crmflow-bench-") as scratch:
        started = time.perf_counter()
        result = tune("segmentation", spec, evaluate, settings, Quiet(), workdir=Path(scratch))
        seconds = time.perf_counter() - started
    assert result.n_complete == trials, result.n_complete
    return trials / seconds


def sweep_seconds(launcher: str) -> float:
    """Wall time of one `crmflow --multirun` of the 4 SWEEP jobs with `launcher`, in a fresh folder and store."""
    with tempfile.TemporaryDirectory(prefix="crmflow-bench-") as scratch:
        command = [sys.executable, "-m", "crmflow", "--multirun", *SWEEP, *LAUNCHERS[launcher]]
        command += [f"tracking.uri=sqlite:///{scratch}/mlflow.db", f"hydra.sweep.dir={scratch}/multirun"]
        command += [f"features.cache_dir={scratch}/cache"]
        started = time.perf_counter()
        done = subprocess.run(command, cwd=scratch, capture_output=True, text=True)
        seconds = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"{launcher} sweep: exit {done.returncode}\n{done.stderr[-3000:]}")
    return seconds


def multirun(repeats: int) -> None:
    """Basic launcher vs joblib (2 jobs at a time) on the same 4-job sweep, interleaved; medians and speed-up."""
    times: dict[str, list[float]] = {name: [] for name in LAUNCHERS}
    for _ in range(repeats):
        for name in LAUNCHERS:
            times[name].append(sweep_seconds(name))
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"\n4-job sweep: {' '.join(SWEEP)} (load average {load})")
    for name, values in times.items():
        shown = ", ".join(f"{value:.1f}" for value in values)
        print(f"{name + ' launcher':<16}{statistics.median(values):>7.1f} s (median of {shown})")
    speedup = statistics.median(times["basic"]) / statistics.median(times["joblib"])
    print(f"speed-up with joblib n_jobs=2 on {os.cpu_count()} cores: {speedup:.2f}x")


def studies(args: argparse.Namespace) -> None:
    """Trials per second of one study with 1 and with `args.workers` forked workers."""
    medians = {}
    for workers in (1, args.workers):
        rates = [trials_per_second(workers, args.trials, args.rows) for _ in range(args.repeats)]
        medians[workers] = statistics.median(rates)
        shown = ", ".join(f"{rate:.2f}" for rate in rates)
        print(f"{workers} worker(s): {medians[workers]:.2f} trials/s (median of {shown})")
    print(f"speed-up with {args.workers} workers on {os.cpu_count()} cores: {medians[args.workers] / medians[1]:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=40, help="trials per study (first part)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--only", choices=("studies", "multirun"), help="run one part of the benchmark")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.only != "multirun":
        studies(args)
    if args.only != "studies":
        multirun(args.repeats)


if __name__ == "__main__":
    main()
