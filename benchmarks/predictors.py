"""Benchmark: every classifier on IBM Telco churn and every regressor on a spend target, one table each.

Run on demand (not part of the tests), in-process without MLflow:
    CRMFLOW_DATA_DIR=../shared/data python benchmarks/predictors.py [--trials 0] [--regression-data synthetic]
Classifiers: the telco_churn recipe (one-hot + scaling, 10-fold stratified CV on 80%, 20% stratified holdout).
Regressors: features.target=spend (amount spent in the 90 days after the cutoff) on the synthetic default data
(`--regression-data synthetic`) or on the online_retail_value recipe (`--regression-data online_retail`).
With --trials N each algorithm is first tuned by N TPE trials of its search space on the CV objective.
Each row: CV metrics (mean over folds), holdout metrics, and the stage's wall time (tuning + refit).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import optuna
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers import compose_config

from crmflow.plan import plan_run
from crmflow.run import _load

CLASSIFIERS = "logistic_regression,decision_tree,random_forest,hist_gradient_boosting,svm,naive_bayes,knn"
REGRESSORS = "linear_regression,ridge,lasso,random_forest_regressor,hist_gradient_boosting_regressor"
CASES = {
    "telco": (["+experiment=telco_churn"], ("roc_auc", "pr_auc", "accuracy", "f1", "log_loss")),
    "synthetic": (["features.target=spend", "rules=none"], ("rmse", "mae", "r2")),
    "online_retail": (["+experiment=online_retail_value"], ("rmse", "mae", "r2")),
}


def benchmark(case: str, algorithms: str, trials: int) -> None:
    overrides, columns = CASES[case]
    base = [*overrides, "segmentation=none", "tuning=off"]
    with tempfile.TemporaryDirectory(prefix="crmflow-bench-") as scratch:
        ctx, _ = _load(plan_run(compose_config(base)), Path(scratch))
        header = "".join(f"{c:>11}" for c in columns) + "".join(f"{'ho_' + c:>12}" for c in columns)
        print(f"\n{case}: {len(ctx.table.y)} customers\n{'algorithm':<34}{header}{'seconds':>9}")
        for algorithm in algorithms.split(","):
            ((stage, spec),) = plan_run(compose_config([*base, f"predictor={algorithm}"])).stages
            started = time.perf_counter()
            prepared = stage.prepare(spec, ctx)
            params = tune(stage, spec, prepared, trials) if trials and spec.search_space else {}
            metrics = stage.finalize(spec.build(params), prepared, spec, ctx).metrics
            seconds = time.perf_counter() - started
            values = "".join(f"{metrics[c]:>11.4f}" for c in columns)
            values += "".join(f"{metrics['holdout_' + c]:>12.4f}" for c in columns)
            print(f"{algorithm:<34}{values}{seconds:>9.1f}", flush=True)


def tune(stage, spec, prepared, trials: int) -> dict:
    """The best parameters of an Optuna TPE study on the stage's default objective."""
    objective = stage.default_objective(spec)
    study = optuna.create_study(direction=objective.direction, sampler=optuna.samplers.TPESampler(seed=0))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(
        lambda t: stage.score(spec.build(spec.search_space.suggest(t)), prepared, spec)[objective.metric],
        n_trials=trials,
    )
    return study.best_params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=0)
    parser.add_argument("--classifiers", default=CLASSIFIERS)
    parser.add_argument("--regressors", default=REGRESSORS)
    parser.add_argument("--regression-data", default="synthetic", choices=["synthetic", "online_retail"])
    parser.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads per fit (1 on a shared machine)")
    args = parser.parse_args()
    with threadpool_limits(args.threads):
        if args.classifiers:
            benchmark("telco", args.classifiers, args.trials)
        if args.regressors:
            benchmark(args.regression_data, args.regressors, args.trials)


if __name__ == "__main__":
    main()
