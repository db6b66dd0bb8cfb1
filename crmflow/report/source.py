"""What one run logged, read through `mlflow.MlflowClient`: metrics, params, tags, `run_summary.json` and the
artifacts a section asks for, downloaded one at a time into a scratch folder, silently."""

from __future__ import annotations

import base64
import json
import math
import struct
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from crmflow.environ import environment

SUMMARY_FILE = "run_summary.json"  # written by crmflow.run_summary at the parent run's artifact root
PROGRESS_BAR = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"  # MLflow draws tqdm bars on stderr while downloading
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IMAGE_TYPES = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


def no_progress_bar() -> AbstractContextManager[None]:
    """MLflow's artifact progress bar off while the block runs (the variable restored after)."""
    return environment(PROGRESS_BAR, "false")


def artifact_paths(client: Any, run_id: str, folder: str | None = None) -> list[str]:
    """Every artifact file of the run (paths relative to its artifact root)."""
    found: list[str] = []
    for item in client.list_artifacts(run_id, folder):
        found += artifact_paths(client, run_id, item.path) if item.is_dir else [item.path]
    return found


def is_wide(path: Path | None, ratio: float = 2.0) -> bool:
    """A PNG more than `ratio` times as wide as it is high (from its header)."""
    if path is None:
        return False
    with path.open("rb") as file:
        head = file.read(24)
    if len(head) < 24 or head[:8] != PNG_SIGNATURE:
        return False
    width, height = struct.unpack(">II", head[16:24])
    return height > 0 and width / height > ratio


@dataclass
class RunSource:
    """One run's logged record, and its artifacts on demand (downloaded into `scratch`)."""

    client: Any
    run: Any
    scratch: Path
    artifacts: list[str]
    summary: dict[str, Any] | None = None
    _downloaded: dict[str, Path | None] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return str(self.run.info.run_id)

    @property
    def metrics(self) -> dict[str, float]:
        return dict(self.run.data.metrics)

    @property
    def params(self) -> dict[str, str]:
        return dict(self.run.data.params)

    @property
    def tags(self) -> dict[str, str]:
        return dict(self.run.data.tags)

    @property
    def stages(self) -> list[str]:
        """The stages that ran, in run order: run_summary.json's, else those that logged metrics."""
        if self.summary is not None and self.summary.get("stages") is not None:
            return [str(s["stage"]) for s in self.summary["stages"]]
        from crmflow.compare import stages_of

        return stages_of(self.run)

    def stage_metrics(self, stage: str) -> dict[str, float]:
        """The stage's metrics without the `stage.` prefix (from run_summary.json when it has the stage)."""
        record = self.stage_record(stage)
        if record is not None:
            return {k: (math.nan if v is None else float(v)) for k, v in record.get("metrics", {}).items()}
        prefix = f"{stage}."
        return {k[len(prefix) :]: v for k, v in self.metrics.items() if k.startswith(prefix)}

    @property
    def target(self) -> str:
        """The name of the predictor's target: from run_summary.json, else the config's target key."""
        named = (self.summary or {}).get("target")
        return str(named or self.params.get("features.target") or self.params.get("data.customers.target") or "target")

    def stage_record(self, stage: str) -> dict[str, Any] | None:
        """The stage's entry in run_summary.json, if the run has one."""
        stages = (self.summary or {}).get("stages") or []
        return next((s for s in stages if s.get("stage") == stage), None)

    def has(self, path: str) -> bool:
        return path in self.artifacts

    def matching(self, folder: str, prefix: str = "", suffix: str = "") -> list[str]:
        """The artifacts directly in `folder` whose file name starts with `prefix` and ends with `suffix`."""
        names = [p for p in self.artifacts if p.rpartition("/")[0] == folder]
        return sorted(p for p in names if p.rpartition("/")[2].startswith(prefix) and p.endswith(suffix))

    def local(self, path: str) -> Path | None:
        """The artifact as a local file (downloaded once), None when the run did not log it."""
        if path not in self._downloaded:
            self._downloaded[path] = self._download(path) if self.has(path) else None
        return self._downloaded[path]

    def _download(self, path: str) -> Path:
        with no_progress_bar():
            return Path(self.client.download_artifacts(self.run_id, path, str(self.scratch)))

    def csv(self, path: str, **options: Any) -> pd.DataFrame | None:
        found = self.local(path)
        return None if found is None else pd.read_csv(found, **options)

    def text(self, path: str) -> str | None:
        found = self.local(path)
        return None if found is None else found.read_text(encoding="utf-8")

    def image(self, path: str) -> str | None:
        """The image as a `data:` URI, for the page to carry it inline."""
        found = self.local(path)
        kind = IMAGE_TYPES.get(Path(path).suffix.lower())
        if found is None or kind is None:
            return None
        return f"data:{kind};base64,{base64.b64encode(found.read_bytes()).decode('ascii')}"

    def folder_images(self, folder: str, first: tuple[str, ...] = ()) -> list[dict[str, str]]:
        """The images directly in `folder`: those named in `first` in that order, then any other the stage
        logged (plots added later show up by themselves)."""
        named = [f"{folder}/{name}" for name in first]
        rest = [p for p in self.matching(folder) if Path(p).suffix.lower() in IMAGE_TYPES and p not in named]
        return self.images(*named, *rest)

    def images(self, *paths: str) -> list[dict[str, Any]]:
        """The logged ones among the images, as `{"src", "alt", "wide"}` for the template (a wide plot, such as
        the profile heat-map, takes the page's whole width)."""
        shown = [(path, self.image(path)) for path in paths]
        return [
            {"src": src, "alt": Path(path).stem.replace("_", " "), "wide": is_wide(self.local(path))}
            for path, src in shown
            if src
        ]


def read_run(client: Any, run_id: str, scratch: Path) -> RunSource:
    """The run's record, with `run_summary.json` read when it was logged."""
    run = client.get_run(run_id)
    source = RunSource(client, run, scratch, artifact_paths(client, run_id))
    text = source.text(SUMMARY_FILE)
    source.summary = json.loads(text) if text else None
    return source
