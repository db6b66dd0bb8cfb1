"""`crmflow report`: bad arguments are one line and exit 2; a whole run logs report.html and its description,
and `crmflow report run=ID` writes the same page again from the store."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import compose_config, main_error_line
from report_fakes import unclosed_tags

from crmflow.cli import main
from crmflow.report import NOTE_TAG, REPORT_FILE
from crmflow.report.command import ReportRequest

SMALL = ["data.n_customers=400", "data.days=450", "tuning.n_trials=2", "value=bg_nbd", "forecaster=ets"]
SECTIONS = ("data", "value", "segmentation", "rules", "predictor", "forecaster", "tuning", "reproduce")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "report: give either run=<run id> or sweep=<sweep id>"),
        (["run=a", "sweep=b"], "report: give either run=<run id> or sweep=<sweep id>"),
        (["run=a", "log=maybe"], "report.log: must be true or false; got 'maybe'"),
        (["sweep=a", "log=false"], "report.log: only with run=<run id>"),
        (["rnu=a"], "report: unknown argument 'rnu'; did you mean 'run'?"),
        (["run"], "report: expected key=value arguments; got 'run'"),
        (["run=abc", "tracking_uri=sqlite:///nowhere/mlflow.db"], "report.tracking_uri: no tracking store at"),
        (["sweep=abc", "tracking_uri=sqlite:///nowhere/mlflow.db"], "report.tracking_uri: no tracking store at"),
    ],
)
def test_bad_report_arguments_are_one_line_and_exit_2(
    args: list[str], expected: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    line = main_error_line(capsys, "report", *args)
    assert line.startswith(f"crmflow: error: {expected}"), line
    assert not (tmp_path / "mlruns").exists(), "report never creates a store"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["format=csv", "output=x.html"], "compare.output: only with format=html (the sweep page); got format=csv"),
        (["format=htm"], "compare.format: unknown format 'htm'; did you mean 'html'?"),
    ],
)
def test_bad_compare_html_arguments(args: list[str], expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main_error_line(capsys, "compare", *args).startswith(f"crmflow: error: {expected}")


def test_the_request_defaults() -> None:
    assert ReportRequest.parse(["run=abc"]) == ReportRequest(run="abc")
    assert ReportRequest.parse(["run=abc", "log=FALSE", "output=r.html"]).log is False


def test_help_of_every_subcommand_and_a_light_start(capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("report", "compare", "predict"):
        main([name, "--help"])
        assert capsys.readouterr().out.startswith(f"usage: crmflow {name}")
    code = "import sys, crmflow.cli; print(sorted({'mlflow', 'optuna', 'sklearn', 'jinja2'} & set(sys.modules)))"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"


@pytest.mark.slow
def test_a_run_logs_its_report_and_crmflow_report_writes_it_again(
    tracking_overrides: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlflow.tracking import MlflowClient

    from crmflow.run import run

    result = run(compose_config(SMALL + tracking_overrides))
    client = MlflowClient(result.tracking_uri)
    logged = Path(client.download_artifacts(result.run_id, REPORT_FILE, str(tmp_path)))
    html = logged.read_text(encoding="utf-8")
    for section in SECTIONS:
        assert f'<section id="section-{section}">' in html, section
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    sources = re.findall(r"<img [^>]*src=\"([^\"]*)\"", html)
    assert len(sources) >= 8 and all(src.startswith("data:image/png;base64,") for src in sources)
    assert unclosed_tags(html) == []
    assert "could not be built" not in html, "every section builds"
    text = re.sub(r"data:image/png;base64,[^\"]*", "", html)
    assert not re.search(r"C\d{5}", text), "no customer id in the report"  # synthetic ids are C00001...
    note = client.get_run(result.run_id).data.tags[NOTE_TAG]
    assert "| predictor | LogisticRegression | roc_auc |" in note and REPORT_FILE in note

    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    main(["report", f"run={result.run_id[:8]}", f"tracking_uri={result.tracking_uri}", "log=false"])
    out = capsys.readouterr()
    assert out.out.strip() == f"crmflow: wrote the report of run {result.run_id} to report_{result.run_id[:8]}.html"
    assert out.err == "", "no progress bars or warnings"
    again = (tmp_path / f"report_{result.run_id[:8]}.html").read_text(encoding="utf-8")
    assert _without_footer(again) == _without_footer(html)

    client.set_tag(result.run_id, NOTE_TAG, "")
    main(["report", f"run={result.run_id}", f"tracking_uri={result.tracking_uri}", "output=out/page.html"])
    assert capsys.readouterr().out.strip().endswith("to out/page.html and logged it on the run")
    assert (tmp_path / "out" / "page.html").is_file()
    assert client.get_run(result.run_id).data.tags[NOTE_TAG] == note  # logged again: the description is back


def _without_footer(html: str) -> str:
    return re.sub(r"<footer.*?</footer>", "", html, flags=re.S)
