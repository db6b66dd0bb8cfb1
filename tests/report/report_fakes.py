"""A run as the report reads it, without a tracking store: a folder of artifacts behind the few MlflowClient
methods the report calls (get_run, list_artifacts, download_artifacts, log_artifact, set_tag)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd

RUN_ID = "0123456789abcdef0123456789abcdef"
PNG = b"\x89PNG\r\n\x1a\n-not-a-real-image-"  # the report only base64-encodes the bytes


class FakeClient:
    """The logged record of one run: metrics, params, tags and the files under `root`."""

    def __init__(self, root: Path, metrics: dict[str, float], params: dict[str, str], tags: dict[str, str]) -> None:
        self.root, self.metrics, self.params, self.tags = root, metrics, params, tags
        self.logged: list[str] = []

    def get_run(self, run_id: str) -> Any:
        assert run_id == RUN_ID
        info = SimpleNamespace(run_id=RUN_ID, run_name="kmeans · fpgrowth · logistic_regression", experiment_id="1",
                               start_time=1_700_000_000_000, status="FINISHED", artifact_uri=self.root.as_uri())  # fmt: skip
        return SimpleNamespace(
            info=info, data=SimpleNamespace(metrics=self.metrics, params=self.params, tags=self.tags)
        )

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[Any]:
        folder = self.root / path if path else self.root
        return [
            SimpleNamespace(path=p.relative_to(self.root).as_posix(), is_dir=p.is_dir())
            for p in sorted(folder.iterdir())
        ]

    def download_artifacts(self, run_id: str, path: str, dst_path: str) -> str:
        target = Path(dst_path) / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.root / path, target)
        return str(target)

    def log_artifact(self, run_id: str, local_path: str) -> None:
        shutil.copy(local_path, self.root / Path(local_path).name)
        self.logged.append(Path(local_path).name)

    def set_tag(self, run_id: str, key: str, value: str) -> None:
        self.tags[key] = value


def write(root: Path, path: str, content: str | bytes | pd.DataFrame) -> None:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, pd.DataFrame):
        content.to_csv(target, index=False)
    elif isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content)


SEGMENTS = pd.DataFrame({
    "segment": [0, 1], "name": ["0", "1"], "size": [30, 70], "share": [0.3, 0.7],
    "mean_frequency": [8.0, 2.0], "mean_recency": [10.0, 50.0],
    "lift_frequency": [2.0, 0.5], "lift_recency": [0.25, 1.25],
    "churn_rate": [0.1, 0.8], "top_items": ["milk 90%; bread 80%", "beer 40%"],
    "distinctive_items": ["bread x2.0", ""], "description": ["high frequency", "high recency"],
})  # fmt: skip
RULES = pd.DataFrame({"antecedents": ["bread", "cheese, tortillas"], "consequents": ["butter", "salsa"],
                      "support": [0.02, 0.036], "confidence": [0.5, 0.743], "lift": [3.0, 6.81]})  # fmt: skip
PREDICTIONS = pd.DataFrame({"customer_id": ["C901", "C902", "C903", "C904", "C905"], "actual": [1, 0, 1, 1, 0],
                            "probability": [0.9, 0.7, 0.4, 0.6, 0.1]})  # fmt: skip
METRICS = {
    "data.n_transactions": 1000.0, "data.rows_in": 1200.0, "data.rows_out": 1000.0,
    "data.rows_dropped_duplicates": 150.0, "data.rows_dropped_returns": 50.0,
    "features.n_customers": 100.0, "features.target_rate": 0.59,
    "segmentation.silhouette": 0.4, "segmentation.n_segments": 2.0, "segmentation.largest_segment_share": 0.7,
    "segmentation.best_value": 0.4, "segmentation.tuning.n_trials_complete": 3.0,
    "rules.hit_rate_at_5": 0.4, "rules.baseline_hit_rate_at_5": 0.3, "rules.n_rules": 2.0,
    "predictor.roc_auc": 0.8, "predictor.holdout_roc_auc": 0.75, "predictor.threshold": 0.5,
}  # fmt: skip
PARAMS = {
    "stages.segmentation": "x", "stages.rules": "x", "stages.predictor": "x", "features.target": "churn",
    "segmentation.search_space.n_clusters.type": "int", "segmentation.search_space.n_clusters.low": "2",
    "segmentation.search_space.n_clusters.high": "6", "segmentation.best.n_clusters": "2",
    "tuning.objectives.segmentation.metric": "silhouette", "tuning.objectives.segmentation.direction": "maximize",
}  # fmt: skip
TAGS = {"crmflow.overrides": "segmentation.n_clusters=2 tuning.n_trials=3", "crmflow.version": "0.1.0",
        "crmflow.choice.segmentation": "kmeans", "crmflow.choice.rules": "fpgrowth",
        "crmflow.choice.predictor": "logistic_regression"}  # fmt: skip


def summary(flags: dict[str, list[str]]) -> dict[str, Any]:
    """A run_summary.json of the fake run, its stages' caveats as given."""
    stages = []
    for stage in ("segmentation", "rules", "predictor"):
        prefix = f"{stage}."
        metrics = {k[len(prefix) :]: v for k, v in METRICS.items() if k.startswith(prefix)}
        tuning = {"metric": "silhouette", "direction": "maximize", "n_complete": 3, "n_failed": 0, "n_pruned": 0}
        stages.append({"stage": stage, "component": stage, "choice": TAGS[f"crmflow.choice.{stage}"],
                       "metrics": metrics, "best_params": {"n_clusters": 2} if stage == "segmentation" else {},
                       "tuning": tuning if stage == "segmentation" else None, "flags": flags.get(stage, [])})  # fmt: skip
    data = {k: v for k, v in METRICS.items() if k.startswith(("data.", "features."))}
    return {"run_id": RUN_ID, "run_name": "fake", "experiment": "test", "crmflow_version": "0.1.0",
            "command": "crmflow segmentation.n_clusters=2 tuning.n_trials=3", "data": data, "stages": stages}  # fmt: skip


def fake_run(root: Path, with_summary: bool = True, flags: dict[str, list[str]] | None = None) -> FakeClient:
    """A run of segmentation, rules and predictor with their usual artifacts (and run_summary.json)."""
    write(root, "config.yaml", "seed: 42\n")
    write(root, "segmentation/segment_profiles.csv", SEGMENTS)
    write(root, "segmentation/segments_pca.png", PNG)
    write(root, "segmentation/tuning/segmentation_optuna_history.png", PNG)
    write(root, "rules/rules.csv", RULES)
    write(root, "predictor/predictor_holdout_predictions.csv", PREDICTIONS)
    write(root, "predictor/predictor_curves.png", PNG)
    if with_summary:
        write(root, "run_summary.json", json.dumps(summary(flags or {})))
    return FakeClient(root, dict(METRICS), dict(PARAMS), dict(TAGS))


VOID = {"meta", "img", "br", "hr", "link", "input", "col", "source", "wbr"}


def unclosed_tags(html: str) -> list[str]:
    """The tags of the page that are not closed in order (empty for well-formed HTML)."""
    from html.parser import HTMLParser

    class Checker(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.stack: list[str] = []
            self.errors: list[str] = []

        def handle_starttag(self, tag: str, attrs: list) -> None:
            if tag not in VOID:
                self.stack.append(tag)

        def handle_endtag(self, tag: str) -> None:
            if not self.stack or self.stack[-1] != tag:
                self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            else:
                self.stack.pop()

    checker = Checker()
    checker.feed(html)
    return checker.errors + checker.stack
