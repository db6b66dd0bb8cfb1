"""The sweep page: `crmflow report sweep=ID` and `crmflow compare format=html` write one page with the comparison
table and each job's headline figures and report link."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest
from helpers import sweep_parents
from report_fakes import unclosed_tags

from crmflow.cli import main
from crmflow.report.sweep import report_link

SWEEP = ("--multirun", "segmentation=kmeans,gmm", "data.n_customers=300", "data.days=400", "tuning=off",
         "rules=none", "predictor=none")  # fmt: skip


def test_a_local_report_links_relative_to_the_page(tmp_path: Path) -> None:
    store = tmp_path / "mlruns" / "artifacts" / "abc" / "artifacts"
    link = report_link(store.as_uri(), tmp_path / "pages" / "sweep.html")
    assert link == {"href": "../mlruns/artifacts/abc/artifacts/report.html", "text": str(store / "report.html")}
    remote = report_link("mlflow-artifacts:/1/abc/artifacts", tmp_path / "sweep.html")
    assert remote == {"href": None, "text": "mlflow-artifacts:/1/abc/artifacts/report.html"}


@pytest.mark.slow
def test_the_sweep_page_compares_the_jobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    uri, parents = sweep_parents(tmp_path, SWEEP, 2)
    monkeypatch.chdir(tmp_path)
    main(["report", "sweep=multirun", f"tracking_uri={uri}", "output=pages/sweep.html"])
    assert (
        capsys.readouterr().out.strip()
        == "crmflow: wrote the page of sweep 'multirun' (2 of 2 runs) to pages/sweep.html"
    )
    page = (tmp_path / "pages" / "sweep.html").read_text(encoding="utf-8")
    assert unclosed_tags(page) == [] and "<script" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    for parent in parents:
        assert f'id="run-{parent.info.run_id}"' in page
        assert f"{parent.data.metrics['segmentation.silhouette']:.4g}" in page
    assert "segmentation.silhouette" in page and "<th>segmentation</th>" in page  # the varying choice's column
    links = re.findall(r'<a href="([^"#]+)"', page)
    assert len(links) == 2 and all((tmp_path / "pages" / unquote(link)).is_file() for link in links)

    main(["compare", "format=html", f"tracking_uri={uri}"])
    assert capsys.readouterr().out.strip().endswith("to sweep_multirun.html")
    assert (tmp_path / "sweep_multirun.html").read_text(encoding="utf-8").count('class="card"') == 2
