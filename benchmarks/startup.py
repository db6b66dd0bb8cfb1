"""Benchmark: a whole crmflow run against a hand-written Optuna + MLflow loop on the same study.

Run on demand (not part of the tests):
    python benchmarks/startup.py [--sizes 1,4,16] [--x64] [--repeats 3] [--trials 5] [--cases kmeans,default]
        [--features-cache on|off] [--hand-final on|off]
    python benchmarks/startup.py --profile [--profile-size 16] [--profile-case kmeans]   # where the time goes
Sizes grow the synthetic data: 1x = data.n_customers=3000 (4x 12000, 16x 48000, --x64 adds 192000). Cases:
- kmeans: `segmentation=kmeans rules=none predictor=none tuning.n_trials=T`, one study;
- default: the default stages (kmeans segmentation, fpgrowth rules, logistic regression), T trials each.
Each measurement is its own fresh process (OMP/BLAS threads = 1) with a fresh temp SQLite store and features
cache folder; the implementations are interleaved and the medians of `--repeats` runs reported:
- crmflow: `crmflow.run.run(compose(...))`, as the tests call it;
- hand: the same synthetic data and RFM features (`SyntheticCRM(...).load()`, `RFMFeatures().build(...)`; the
  data and features are not what is compared), the same preprocessing pipeline written with scikit-learn, one
  `optuna.create_study` + `study.optimize` per tuned stage (TPE, seed 42, trial 0 = the YAML's values, as crmflow
  does), each trial a nested `mlflow.start_run(nested=True)` logging its params and objective, and a parent run
  logging the best params and one optimisation-history PNG per study. For rules the hand loop calls crmflow's
  miner and leave-one-out scorer (mining is not what is compared); k-means trials score the sampled silhouette,
  logistic regression trials 5-fold stratified ROC AUC on the 80% not held out. Then, per study, the final step
  a hand-written run needs for the same deliverables (`--hand-final off` leaves it out): k-means refit with the
  best parameters, silhouette, labels and profile CSVs; the best miner on the earlier 80% of the baskets scored
  on the latest 20%, then mined on all baskets and its rules CSV logged; the best logistic regression refit on
  the 80%, its holdout ROC AUC, and the pipeline logged with `mlflow.sklearn.log_model` (skops, signature,
  input example). crmflow does more than that in its final steps (stability, plots, importances).
Per case and size: total wall time (launch to exit), time to the first trial (launch to the "trial 1/N" line of
the `crmflow.tuning` logger; the hand loop stamps the same moment), the phases before it, and crmflow/hand
(target <= 1.10). `--profile` runs one crmflow process under cProfile (whole run to /tmp/crm.prof, and the
window from "parent run opens" to "trial 0's run opens" to /tmp/crm_window.prof) and prints the top costs.
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")  # before numpy/sklearn load their thread pools (inherited by the children)

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

BASE_CUSTOMERS = 3000
SEED = 42  # conf/config.yaml's seed: data, sampler, k-means and splits
CASES = {
    "kmeans": ["segmentation=kmeans", "rules=none", "predictor=none"],
    "default": [],
}
PHASES = ("imports", "data", "parent_open", "first_trial")  # stamps, seconds after launch
PROFILE_WINDOW = Path("/tmp/crm_window.prof")
PROFILE_WHOLE = Path("/tmp/crm.prof")
SCRIPT = str(Path(__file__).resolve())  # the children run in their scratch folder


class Stamps(logging.Handler):
    """Time-stamps (time.time()) the first log line of each kind: crmflow's parent run and first trial."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.at: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.name == "crmflow.run" and message.startswith("MLflow run "):
            self.at.setdefault("parent_open", time.time())
        elif record.name == "crmflow.tuning" and ": trial 1/" in message:
            self.at.setdefault("first_trial", time.time())


# ---------------------------------------------------------------- children: one measurement per process


def crmflow_child(case: str, customers: int, trials: int, cache: bool, scratch: Path, window: bool) -> dict:
    from hydra import compose, initialize_config_dir

    import crmflow.run
    from crmflow.config.experiments import register_experiments
    from crmflow.paths import config_dir

    stamps = Stamps()
    logging.getLogger("crmflow").addHandler(stamps)
    logging.getLogger("crmflow").setLevel(logging.INFO)
    _stamp_load(crmflow.run, stamps)
    if window:
        _profile_window(stamps)
    overrides = [
        *CASES[case],
        f"data.n_customers={customers}",
        f"tuning.n_trials={trials}",
        f"tracking.uri=sqlite:///{scratch}/mlflow.db",
        f"features.cache={str(cache).lower()}",
        f"features.cache_dir={scratch}/cache",
    ]
    register_experiments()
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    stamps.at["imports"] = time.time()
    crmflow.run.run(cfg)
    return stamps.at


def _stamp_load(module: Any, stamps: Stamps) -> None:
    """Stamp the end of `crmflow.run._load` (data + features), if it still has that name."""
    load = getattr(module, "_load", None)
    if load is None:
        return

    def timed(*args: Any, **kwargs: Any) -> Any:
        result = load(*args, **kwargs)
        stamps.at.setdefault("data", time.time())
        return result

    module._load = timed


def _profile_window(stamps: Stamps) -> None:
    """Profile from the "MLflow run" log line (parent run open) to trial 0's `child_run` (its run opens)."""
    import cProfile

    from crmflow.tracking import tracker

    profiler = cProfile.Profile()

    class Start(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.name == "crmflow.run" and record.getMessage().startswith("MLflow run "):
                profiler.enable()

    logging.getLogger("crmflow.run").addHandler(Start(logging.INFO))
    child_run = tracker.Tracker.child_run

    def first_child(self: Any, *args: Any, **kwargs: Any) -> Any:
        if "trial0" not in stamps.at:
            profiler.disable()
            stamps.at["trial0"] = time.time()
            profiler.dump_stats(PROFILE_WINDOW)
        return child_run(self, *args, **kwargs)

    tracker.Tracker.child_run = first_child


def hand_child(case: str, customers: int, trials: int, scratch: Path, final_step: bool) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mlflow
    import mlflow.models
    import mlflow.sklearn
    import numpy as np
    import optuna
    import skops.io
    from sklearn.cluster import KMeans
    from sklearn.compose import ColumnTransformer, make_column_selector
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score, silhouette_score
    from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from crmflow.data.synthetic import SyntheticCRM
    from crmflow.features.rfm import RFMFeatures
    from crmflow.features.table import drop_unlabelled

    at: dict[str, float] = {"imports": time.time()}
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    data = SyntheticCRM(n_customers=customers, seed=SEED).load()
    table = drop_unlabelled(RFMFeatures().build(data))
    X, y = table.X, table.y
    at["data"] = time.time()

    def preprocessor() -> Pipeline:
        numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
        categorical = Pipeline(
            [
                ("impute", SimpleImputer(strategy="most_frequent")),
                ("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
            ]
        )
        columns = ColumnTransformer(
            [
                ("numeric", numeric, make_column_selector(dtype_include=["number", "bool"])),
                ("categorical", categorical, make_column_selector(dtype_exclude=["number", "bool"])),
            ],
            verbose_feature_names_out=False,
        )
        return Pipeline([("columns", columns)]).set_output(transform="pandas")

    def segmentation_study() -> tuple[Any, dict[str, Any], str]:
        matrix = preprocessor().fit_transform(X).to_numpy(dtype="float64")

        def evaluate(trial: optuna.Trial) -> dict[str, float]:
            model = KMeans(n_clusters=trial.suggest_int("n_clusters", 2, 10), n_init=4, random_state=SEED)
            labels = model.fit_predict(matrix)
            sample = min(5000, len(matrix))
            return {"silhouette": float(silhouette_score(matrix, labels, sample_size=sample, random_state=SEED))}

        def final(params: dict[str, Any]) -> None:
            labels = KMeans(n_clusters=params["n_clusters"], n_init=4, random_state=SEED).fit_predict(matrix)
            mlflow.log_metric("segmentation.silhouette", float(silhouette_score(matrix, labels, sample_size=5000)))
            segments = X.assign(segment=labels)
            mlflow.log_text(segments.groupby("segment").mean(numeric_only=True).to_csv(), "segmentation/profiles.csv")
            mlflow.log_text(segments[["segment"]].to_csv(), "segmentation/labels.csv")

        return evaluate, {"n_clusters": 4}, "silhouette", final

    def rules_study() -> tuple[Any, dict[str, Any], str]:
        from crmflow.rules.baskets import baskets_from_transactions
        from crmflow.rules.estimator import AssociationRules
        from crmflow.rules.evaluation import evaluate_recommendations

        baskets = baskets_from_transactions(data.transactions)
        train, holdout = baskets.split_by_time(0.2)
        fit, validation = train.split_by_time(0.2)

        def evaluate(trial: optuna.Trial) -> dict[str, float]:
            miner = AssociationRules(
                min_support=trial.suggest_float("min_support", 0.002, 0.05, log=True),
                min_threshold=trial.suggest_float("min_threshold", 0.02, 0.6),
            ).fit(fit)
            return {"hit_rate_at_5": evaluate_recommendations(miner, validation, k=5, seed=SEED)["hit_rate_at_5"]}

        def final(params: dict[str, Any]) -> None:
            scored = evaluate_recommendations(AssociationRules(**params).fit(train), holdout, k=5, seed=SEED)
            mlflow.log_metric("rules.holdout_hit_rate_at_5", scored["hit_rate_at_5"])
            rules = AssociationRules(**params).fit(baskets).rules_
            mlflow.log_text(rules.to_csv(index=False), "rules/rules.csv")

        return evaluate, {"min_support": 0.01, "min_threshold": 0.1}, "hit_rate_at_5", final

    def predictor_study() -> tuple[Any, dict[str, Any], str]:
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, random_state=SEED)
        folds = StratifiedKFold(5, shuffle=True, random_state=SEED)

        def evaluate(trial: optuna.Trial) -> dict[str, float]:
            model = LogisticRegression(
                C=trial.suggest_float("C", 1e-3, 100.0, log=True),
                class_weight=trial.suggest_categorical("class_weight", [None, "balanced"]),
                max_iter=2000,
            )
            pipeline = Pipeline([("preprocess", preprocessor()), ("model", model)])
            scores = cross_val_score(pipeline, X_train, y_train, cv=folds, scoring="roc_auc")
            return {"roc_auc": float(np.mean(scores))}

        def final(params: dict[str, Any]) -> None:
            model = LogisticRegression(**params, max_iter=2000)
            pipeline = Pipeline([("preprocess", preprocessor()), ("model", model)]).fit(X_train, y_train)
            mlflow.log_metric("predictor.holdout_roc_auc", roc_auc_score(y_test, pipeline.predict_proba(X_test)[:, 1]))
            example = X_train.head(5)
            signature = mlflow.models.infer_signature(example, pipeline.predict(example))
            trusted = skops.io.get_untrusted_types(data=skops.io.dumps(pipeline))
            mlflow.sklearn.log_model(
                pipeline, name="model", signature=signature, input_example=example, serialization_format="skops",
                skops_trusted_types=trusted,
            )  # fmt: skip

        return evaluate, {"C": 1.0, "class_weight": None}, "roc_auc", final

    def objective_of(stage: str, evaluate: Any, metric: str) -> Any:
        def objective(trial: optuna.Trial) -> float:
            with mlflow.start_run(run_name=f"{stage} · trial {trial.number}", nested=True):
                metrics = evaluate(trial)
                mlflow.log_params(trial.params)
                mlflow.log_metrics(metrics)
            return metrics[metric]

        return objective

    def first(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        at.setdefault("first_trial", time.time())

    studies = {"segmentation": segmentation_study}
    if case == "default":
        studies.update(rules=rules_study, predictor=predictor_study)
    mlflow.set_tracking_uri(f"sqlite:///{scratch}/mlflow.db")
    mlflow.set_experiment("hand")
    with mlflow.start_run(run_name="hand loop"):
        at["parent_open"] = time.time()
        for stage, make in studies.items():
            evaluate, configured, metric, final = make()
            study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=SEED))
            study.enqueue_trial(configured)
            study.optimize(objective_of(stage, evaluate, metric), n_trials=trials, callbacks=[first])
            mlflow.log_params({f"{stage}.best.{k}": v for k, v in study.best_params.items()})
            values = [t.value for t in study.trials]
            fig, ax = plt.subplots(figsize=(6, 4))
            ax.plot(values, "o", label="trial")
            ax.plot(np.maximum.accumulate(values), "-", label="best so far")
            ax.set(xlabel="trial", ylabel=metric, title=f"{stage}: {metric} per trial")
            ax.legend()
            mlflow.log_figure(fig, f"{stage}/optuna_history.png")
            plt.close(fig)
            if final_step:
                final(study.best_params)
    return at


# ---------------------------------------------------------------- the parent: launch, interleave, summarise


def measure(implementation: str, case: str, customers: int, args: argparse.Namespace) -> dict[str, float]:
    """One fresh process with a fresh store: its phases and total wall time, in seconds after launch."""
    with tempfile.TemporaryDirectory(prefix="crmflow-bench-") as scratch:
        command = [
            sys.executable,
            SCRIPT,
            "--child",
            implementation,
            "--case",
            case,
            "--customers",
            str(customers),
            "--trials",
            str(args.trials),
            "--features-cache",
            args.features_cache,
            "--hand-final",
            args.hand_final,
            "--scratch",
            scratch,
        ]
        launched = time.time()
        done = subprocess.run(command, cwd=scratch, capture_output=True, text=True)
        total = time.time() - launched
    if done.returncode:
        raise RuntimeError(f"{implementation} {case} {customers}: exit {done.returncode}\n{done.stderr[-3000:]}")
    at = json.loads(done.stdout.strip().splitlines()[-1])
    return {**{k: at[k] - launched for k in PHASES if k in at}, "total": total}


def load_average() -> str:
    return "load average " + ", ".join(f"{value:.2f}" for value in os.getloadavg())


def benchmark(args: argparse.Namespace) -> None:
    sizes = [int(s) for s in args.sizes.split(",")] + ([64] if args.x64 else [])
    print(f"{os.cpu_count()} cores, {load_average()}, features cache {args.features_cache} (cold)", flush=True)
    header = f"{'case':<8}{'size':>5}{'impl':>9}" + "".join(f"{p:>12}" for p in (*PHASES, "total"))
    for case in args.cases.split(","):
        print(f"\n{header}   (median seconds after launch; ratio = crmflow/hand)", flush=True)
        for size in sizes:
            customers = BASE_CUSTOMERS * size
            runs: dict[str, list[dict[str, float]]] = {"crmflow": [], "hand": []}
            for _ in range(args.repeats):  # interleaved, so a change of load hits both
                for implementation in runs:
                    runs[implementation].append(measure(implementation, case, customers, args))
            medians = {
                impl: {k: statistics.median(r[k] for r in rs if k in r) for k in (*PHASES, "total")}
                for impl, rs in runs.items()
            }
            for impl, values in medians.items():
                print(f"{case:<8}{size:>4}x{impl:>9}" + "".join(f"{values[p]:>12.2f}" for p in (*PHASES, "total")))
            ratio = {p: medians["crmflow"][p] / medians["hand"][p] for p in ("first_trial", "total")}
            totals = ", ".join(f"{r['total']:.1f}" for r in runs["crmflow"]) + " | "
            totals += ", ".join(f"{r['total']:.1f}" for r in runs["hand"])
            print(
                f"{case:<8}{size:>4}x{'ratio':>9}{'':>36}{ratio['first_trial']:>12.2f}{ratio['total']:>12.2f}"
                f"   (totals {totals}; {load_average()})",
                flush=True,
            )


# crmflow's own steps, by (module path suffix, function): their cumulative seconds in the whole-run profile
OWN_COSTS = (
    ("crmflow/run.py", "_load", "data + features (+ cache write)"),
    ("crmflow/features/cache.py", "fetch", "features cache lookup + build + write"),
    ("/stage.py", "check", "stage.check, every stage (before the parent run)"),
    ("crmflow/rules/baskets.py", "baskets_from_transactions", "baskets built (rules check/prepare)"),
    ("crmflow/tracking/tracker.py", "_open_client", "store open (SQLite created + migrated)"),
    ("crmflow/tracking/tracker.py", "ensure_experiment", "experiment lookup/creation"),
    ("crmflow/run.py", "_tags", "run tags"),
    ("crmflow/tracking/params.py", "git_commit", "git commit lookup"),
    ("crmflow/tracking/params.py", "flatten", "config flattened to params"),
    ("crmflow/tracking/tracker.py", "log_params", "params logged (all)"),
    ("crmflow/tracking/tracker.py", "log_text", "config.yaml logged"),
    ("crmflow/run.py", "_log_inputs", "dataset inputs (3 tables)"),
    ("crmflow/tracking/datasets.py", "_schema", "  of which schema inference"),
    ("crmflow/tuning.py", "tune", "tune() (all trials)"),
    ("crmflow/segmentation/stability.py", "bootstrap_stability", "stability resamples (trials + refit)"),
    ("crmflow/tracking/tracker.py", "child_run", "trial runs opened/ended"),
    ("crmflow/run.py", "_log_history", "history CSV + PNG"),
    ("crmflow/segmentation/stage.py", "finalize", "segmentation refit/profiles/plots"),
    ("crmflow/rules/stage.py", "finalize", "rules holdout + refit + report"),
    ("crmflow/prediction/stage.py", "finalize", "predictor refit/holdout/importances/plots"),
    ("crmflow/prediction/stage.py", "_importances", "  of which permutation importances"),
    ("crmflow/plots/base.py", "save_figure", "PNG plots saved"),
    ("crmflow/tracking/tracker.py", "log_artifacts", "artifacts uploaded"),
    ("crmflow/tracking/models.py", "log_model", "model logged (skops, signature, requirements)"),
)


def own_costs(path: Path) -> None:
    """Cumulative seconds of crmflow's own steps (OWN_COSTS) in a profile; steps absent are left out."""
    import pstats

    stats = pstats.Stats(str(path)).stats  # (file, line, function) -> (cc, nc, tottime, cumtime, callers)
    for suffix, function, label in OWN_COSTS:
        found = [(v[1], v[3]) for (file, _, name), v in stats.items() if file.endswith(suffix) and name == function]
        if found:
            calls, seconds = sum(c for c, _ in found), sum(s for _, s in found)
            print(f"  {seconds:>7.2f} s  {calls:>4} call(s)  {suffix}:{function}  {label}")


def profile(args: argparse.Namespace) -> None:
    """One crmflow run under `python -m cProfile` (whole process), and one more profiled only from "parent run
    opens" to "trial 0's run opens" (one profiler per process: the two cannot nest); top costs of each."""
    import pstats

    customers = BASE_CUSTOMERS * args.profile_size
    print(f"profile: crmflow {args.profile_case} at {args.profile_size}x ({customers} customers), {load_average()}")
    child = [SCRIPT, "--child", "crmflow", "--case", args.profile_case, "--customers", str(customers)]
    child += ["--trials", str(args.trials), "--features-cache", args.features_cache]
    for title, path, command in (
        ("whole run", PROFILE_WHOLE, ["-m", "cProfile", "-o", str(PROFILE_WHOLE), *child]),
        ("parent run opens -> trial 0's run opens", PROFILE_WINDOW, [*child, "--window"]),
    ):
        with tempfile.TemporaryDirectory(prefix="crmflow-bench-") as scratch:
            launched = time.time()
            done = subprocess.run([sys.executable, *command, "--scratch", scratch], cwd=scratch, capture_output=True)
        if done.returncode:
            raise RuntimeError(done.stderr.decode()[-3000:])
        at = json.loads(done.stdout.decode().strip().splitlines()[-1])
        stamps = ", ".join(f"{k} {v - launched:.2f}" for k, v in sorted(at.items(), key=lambda kv: kv[1]))
        print(f"\n== {title} ({path}); stamps, s after launch: {stamps}")
        pstats.Stats(str(path)).sort_stats("cumulative").print_stats(args.top)
        print(f"== {title}: crmflow's own steps")
        own_costs(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,4,16", help="multiples of 3000 customers")
    parser.add_argument("--x64", action="store_true", help="add 64x (192000 customers)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--cases", default="kmeans,default")
    parser.add_argument("--features-cache", choices=("on", "off"), default="on", help="crmflow's features.cache")
    parser.add_argument(
        "--hand-final", choices=("on", "off"), default="on", help="the hand loop's final step per stage (see above)"
    )
    parser.add_argument("--profile", action="store_true", help="profile one crmflow run instead")
    parser.add_argument("--profile-size", type=int, default=16)
    parser.add_argument("--profile-case", choices=tuple(CASES), default="kmeans")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--child", choices=("crmflow", "hand"), help=argparse.SUPPRESS)
    parser.add_argument("--case", choices=tuple(CASES), default="kmeans", help=argparse.SUPPRESS)
    parser.add_argument("--customers", type=int, default=BASE_CUSTOMERS, help=argparse.SUPPRESS)
    parser.add_argument("--scratch", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--window", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "crmflow":
        cache = args.features_cache == "on"
        at = crmflow_child(args.case, args.customers, args.trials, cache, args.scratch, args.window)
    elif args.child == "hand":
        at = hand_child(args.case, args.customers, args.trials, args.scratch, args.hand_final == "on")
    elif args.profile:
        profile(args)
        return
    else:
        benchmark(args)
        return
    print(json.dumps(at), flush=True)


if __name__ == "__main__":
    main()
