"""An end-to-end run as a user finds it in `mlflow ui`: the server started over the run's SQLite store and
artifact root shows, through its REST API, the parent run, its nested trial runs and the report artifact,
and in headless Chromium the run's page with its name and child runs."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from chromium import blank_reason, chromium_or_skip, load, unavailable
from helpers import compose_config
from mlflow.tracking import MlflowClient
from services import ServiceUnavailable, mlflow_ui

from crmflow.run import run

REQUEST_TIMEOUT = 30  # seconds for one REST call
RENDER_TIMEOUT = 120  # seconds for the UI's scripts to show the run (2 busy cores)
STAGES = ["segmentation", "rules", "predictor"]  # the default run's tuned stages
N_TRIALS = 2


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium_or_skip()


def _api(url: str, endpoint: str, body: dict | None = None, **query: str) -> dict:
    """GET (or POST `body` to) url/api/2.0/mlflow/<endpoint>; the decoded JSON answer."""
    address = f"{url}/api/2.0/mlflow/{endpoint}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(address, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
        return json.load(response)


def _tags(run: dict) -> dict[str, str]:
    return {tag["key"]: tag["value"] for tag in run["data"].get("tags", [])}


@pytest.mark.slow
@pytest.mark.services
def test_mlflow_ui_shows_the_run(browser: Any, tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    overrides = ["data.n_customers=800", "data.days=540", f"tuning.n_trials={N_TRIALS}"]
    result = run(compose_config([*overrides, f"tracking.uri={store}", "tracking.experiment=ui"]))
    artifact_root = MlflowClient(store).get_experiment(result.experiment_id).artifact_location
    with ExitStack() as stack:
        try:
            url = stack.enter_context(mlflow_ui(store, artifact_root))
        except ServiceUnavailable as error:
            unavailable(str(error))
        runs = _api(url, "runs/search", {"experiment_ids": [result.experiment_id], "max_results": 1000})["runs"]
        by_id = {r["info"]["run_id"]: r for r in runs}
        parent = by_id[result.run_id]
        assert parent["info"]["status"] == "FINISHED" and "mlflow.parentRunId" not in _tags(parent)
        trials = [r for r in runs if _tags(r).get("mlflow.parentRunId") == result.run_id]
        expected = {f"{stage} · trial {i}" for stage in STAGES for i in range(N_TRIALS)}
        assert sorted(r["info"]["run_name"] for r in trials) == sorted(expected)
        assert len(runs) == 1 + len(expected)
        files = _api(url, "artifacts/list", run_id=result.run_id)["files"]
        report = [f for f in files if f["path"] == "report.html"]
        assert report and not report[0]["is_dir"] and int(report[0]["file_size"]) > 0, files

        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        load(browser, f"{url}/#/experiments/{result.experiment_id}/runs/{result.run_id}")
        shows = [result.run_name, result.run_id]  # the run's title and its id, and one of its child runs

        def rendered(driver: Any) -> bool:
            text = driver.find_element(By.TAG_NAME, "body").text
            return all(part in text for part in shows) and any(name in text for name in expected)

        WebDriverWait(browser, RENDER_TIMEOUT).until(rendered, f"the run page never showed {shows} and a trial run")
        screenshot = browser.get_screenshot_as_png()
        (tmp_path / "run_page.png").write_bytes(screenshot)
        assert blank_reason(screenshot) is None
