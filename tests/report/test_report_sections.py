"""report.html from a fake run's logged record: sections chosen by what was logged, the cards, the flags, the
headline, self-contained HTML with no customer id, and the run's description."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pandas as pd
import pytest
from report_fakes import PREDICTIONS, RUN_ID, fake_run, unclosed_tags, write

from crmflow.report import NOTE_TAG, REPORT_FILE, log_run_report, run_report
from crmflow.report.sections import build_sections
from crmflow.report.source import read_run


def section_ids(client, tmp_path: Path) -> list[str]:
    return [s["id"] for s in build_sections(read_run(client, RUN_ID, tmp_path / "scratch"))]


def test_sections_follow_the_stages_that_ran(tmp_path: Path) -> None:
    client = fake_run(tmp_path / "run")
    assert section_ids(client, tmp_path) == ["data", "segmentation", "rules", "predictor", "tuning"]


def test_without_run_summary_the_stages_come_from_the_metrics(tmp_path: Path) -> None:
    client = fake_run(tmp_path / "run", with_summary=False)
    client.params["stages.forecaster"] = "x"  # configured but logged nothing: no section
    assert section_ids(client, tmp_path) == ["data", "segmentation", "rules", "predictor", "tuning"]
    html, _ = run_report(client, RUN_ID)
    assert "crmflow segmentation.n_clusters=2 tuning.n_trials=3" in html  # the command from the overrides tag


def test_a_stage_without_its_own_section_gets_the_plain_one(tmp_path: Path) -> None:
    client = fake_run(tmp_path / "run", with_summary=False)
    client.params["stages.churn_timing"] = "x"
    client.metrics["churn_timing.c_index"] = 0.71
    write(tmp_path / "run", "churn_timing/survival.png", b"png")
    run = read_run(client, RUN_ID, tmp_path / "scratch")
    plain = next(s for s in build_sections(run) if s["id"] == "churn_timing")
    assert plain["template"] == "sections/other.html.j2"
    assert plain["figures"] == [{"label": "c index", "value": "0.71"}] and len(plain["images"]) == 1


def test_the_page_reads_for_a_business_reader(tmp_path: Path) -> None:
    html, _ = run_report(fake_run(tmp_path / "run"), RUN_ID)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "Customers who buy cheese and tortillas also buy salsa: 6.8× more often than average." in text
    assert "flags 600 of every 1,000 customers" in text and "66.7% truly had churn" in text  # 3 of 5, 2 of 3
    assert "cleaning removed 200 of 1,200 rows (16.7%)" in text and "duplicates" in text
    assert "30 customers (30.0%)" in text and "10.0% churn rate" in text  # segment 0's card
    assert "frequency 8 4 2.0×" in text  # its mean, the population's (8 / 2.0) and the multiple
    assert "40.0% of customers, against 30.0%" in text  # the rules against the popularity baseline


def test_flags_top_and_in_their_section_and_the_page_is_self_contained(tmp_path: Path) -> None:
    flag = "the rules' hit_rate_at_5 0.4 is within noise of the most-popular baseline's 0.3"
    html, note = run_report(fake_run(tmp_path / "run", flags={"rules": [flag]}), RUN_ID)
    shown = flag.replace("'", "&#39;")
    assert html.count(shown) == 2  # the caveats box at the top and the rules section
    assert html.index('class="caveats"') < html.index('id="section-data"') < html.index('id="section-rules"')
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "the page must load nothing"
    assert re.findall(r"<img [^>]*src=\"([^\"]{0,11})", html) == ["data:image/"] * 3
    assert html.count("<style>") == 1 and "<script" not in html
    assert unclosed_tags(html) == []
    for customer in ("C901", "C902", "C905"):
        assert customer not in html and customer not in note
    assert "| rules | fpgrowth | hit_rate_at_5 | 0.4 | – | 0.3 | 1 |" in note and flag in note


def test_autoescape_keeps_logged_text_as_text(tmp_path: Path) -> None:
    client = fake_run(tmp_path / "run", with_summary=False)
    client.tags["crmflow.overrides"] = "name=<script>alert(1)</script>"
    html, _ = run_report(client, RUN_ID)
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_log_run_report_logs_the_page_and_sets_the_description(tmp_path: Path) -> None:
    client = fake_run(tmp_path / "run")
    html = log_run_report(client, RUN_ID)
    assert client.logged == [REPORT_FILE] and (tmp_path / "run" / REPORT_FILE).read_text() == html
    assert client.tags[NOTE_TAG].startswith("**crmflow run**") and f"run={RUN_ID}" in client.tags[NOTE_TAG]


def test_a_section_that_cannot_be_built_says_so_and_the_rest_stands(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = fake_run(tmp_path / "run")
    write(tmp_path / "run", "segmentation/segment_profiles.csv", "not,a\n1,2,3,4\n")  # unreadable
    with caplog.at_level(logging.WARNING, "crmflow.report"):
        html = log_run_report(client, RUN_ID)
    assert html is not None and client.logged == [REPORT_FILE]
    assert "This section could not be built" in html and html.count("could not be built") == 1
    assert "Customers who buy cheese and tortillas also buy salsa" in html
    assert "report: the segmentation section could not be built: ParserError" in caplog.text


def test_a_report_failure_is_a_warning_not_an_error(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    client = fake_run(tmp_path / "run")
    client.get_run = lambda run_id: (_ for _ in ()).throw(RuntimeError("store gone"))  # the store fails
    with caplog.at_level(logging.WARNING, "crmflow.report.run_report"):
        assert log_run_report(client, RUN_ID) is None
    assert client.logged == [] and NOTE_TAG not in client.tags
    assert f"report.html not written for run {RUN_ID}: RuntimeError: store gone" in caplog.text


def test_an_amount_target_is_a_mean_not_a_share(tmp_path: Path) -> None:
    client = fake_run(tmp_path / "run", with_summary=False)
    client.metrics["features.target_rate"] = 789.59  # the mean spend of a regression target
    client.params["features.target"] = "spend"
    data = next(s for s in build_sections(read_run(client, RUN_ID, tmp_path / "scratch")) if s["id"] == "data")
    assert (data["target_rate"], data["target_mean"]) == (None, "790")


def test_segment_cards_carry_clv_and_p_alive_when_the_value_stage_ran(tmp_path: Path) -> None:
    client = fake_run(tmp_path / "run")
    labels = pd.DataFrame({"customer_id": ["C901", "C902", "C903"], "segment": [0, 0, 1]})
    values = pd.DataFrame(
        {"customer_id": ["C901", "C902", "C903"], "clv": [10.0, 30.0, 5.0], "p_alive": [0.5, 1.0, 0.2]}
    )
    write(tmp_path / "run", "segmentation/segment_labels.csv", labels)
    write(tmp_path / "run", "value/customer_value.csv", values)
    segments = next(
        s for s in build_sections(read_run(client, RUN_ID, tmp_path / "scratch")) if s["id"] == "segmentation"
    )
    figures = [{f["label"]: f["value"] for f in card["figures"]} for card in segments["cards"]]
    assert figures == [
        {"churn rate": "10.0%", "mean CLV": "20", "mean P(alive)": "0.75"},
        {"churn rate": "80.0%", "mean CLV": "5", "mean P(alive)": "0.2"},
    ]


def test_predictions_without_ids_still_give_the_flagged_share(tmp_path: Path) -> None:
    client = fake_run(tmp_path / "run")
    write(tmp_path / "run", "predictor/predictor_holdout_predictions.csv", PREDICTIONS.drop(columns="customer_id"))
    predictor = next(
        s for s in build_sections(read_run(client, RUN_ID, tmp_path / "scratch")) if s["id"] == "predictor"
    )
    assert predictor["flagged"] == {
        "threshold": "0.5",
        "per_thousand": "600",
        "true_per_thousand": "400",
        "precision": "66.7%",
    }
