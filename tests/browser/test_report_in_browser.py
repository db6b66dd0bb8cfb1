"""A run's report.html in a real headless Chromium: an end-to-end run with all six stages on small synthetic
data, its report downloaded from the parent run's artifacts alone (it must stand on its own) and opened as
file://: no console errors, every image decoded, every active stage's section there, a screenshot not blank."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chromium import (
    blank_reason,
    broken_images,
    chromium_or_skip,
    console_errors,
    element_text,
    image_count,
    load,
    missing_ids,
)
from helpers import compose_config
from mlflow.tracking import MlflowClient

from crmflow.run import run

REPORT = "report.html"  # at the parent run's artifact root
STAGES = ["value", "segmentation", "rules", "sequences", "predictor", "forecaster"]  # conf/config.yaml's order
RUN = ["data.n_customers=800", "data.days=540", "tuning.n_trials=2"]
RUN += ["value=bg_nbd", "sequences=prefixspan", "forecaster=ets"]  # on top of segmentation, rules, predictor


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium_or_skip()


@pytest.mark.slow
@pytest.mark.services
def test_report_renders_in_chromium(browser: Any, tracking_overrides: list[str], tmp_path: Path) -> None:
    result = run(compose_config(RUN + tracking_overrides))
    assert [s.stage for s in result.stages] == STAGES
    client = MlflowClient(result.tracking_uri)
    assert REPORT in {a.path for a in client.list_artifacts(result.run_id)}, f"no {REPORT} at the run's root"
    page = Path(client.download_artifacts(result.run_id, REPORT, str(tmp_path / "download")))
    assert [p.name for p in page.parent.iterdir()] == [REPORT]  # nothing beside it: images are inside the page

    load(browser, page.as_uri())
    assert console_errors(browser) == []
    assert image_count(browser) >= 1
    assert broken_images(browser) == []
    sections = ["section-data", *(f"section-{s}" for s in STAGES), "section-tuning"]
    assert missing_ids(browser, sections) == []
    assert [s for s in sections if not element_text(browser, s).strip()] == [], "sections without text"
    screenshot = browser.get_screenshot_as_png()
    (tmp_path / "report.png").write_bytes(screenshot)
    assert blank_reason(screenshot) is None
