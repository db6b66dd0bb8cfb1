"""Passwords never reach params, tags, config.yaml or messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import compose_config
from mlflow.tracking import MlflowClient

from crmflow.redact import redact, redact_config, redact_overrides
from crmflow.run import RunInfo, run


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql+psycopg://u:pw@127.0.0.1:9/db", "postgresql+psycopg://u:***@127.0.0.1:9/db"),
        ("http://alice:hunter2@host", "http://alice:***@host"),
        ("http://alice:hun@ter2@host:5000/x", "http://alice:***@host:5000/x"),
        ("postgresql://u@h/db?password=abc&x=1", "postgresql://u@h/db?password=***&x=1"),
        ("see postgresql://u:p@h/db and http://a:b@c", "see postgresql://u:***@h/db and http://a:***@c"),
        ("sqlite:///a/b.db", "sqlite:///a/b.db"),
        ("journal:studies/x.log", "journal:studies/x.log"),
        ("http://host:5000", "http://host:5000"),
        ("s3://AKIA:wJal/K7+x@bucket/t.csv", "s3://AKIA:***@bucket/t.csv"),  # S3 secret keys hold "/"
        ("file 's3://k:p@b/x.csv' does not exist", "file 's3://k:***@b/x.csv' does not exist"),
        ("file 's3:/k:p@b/x.csv' does not exist", "file 's3:/k:***@b/x.csv' does not exist"),  # via pathlib.Path
        ("models:/churn@champion", "models:/churn@champion"),
        ('{"uri": "http://u:p@h"}', '{"uri": "http://u:***@h"}'),
        ("+data.token=abc seed=1", "+data.token=*** seed=1"),
        ("x?X-Amz-Security-Token=abc&b=1", "x?X-Amz-Security-Token=***&b=1"),
        (
            "s={url:'postgresql://r@h/db',connect_args:{password:abc}}",
            "s={url:'postgresql://r@h/db',connect_args:{password:***}}",
        ),
        ("{'password': 'x', 'a': 1}", "{'password': '***', 'a': 1}"),
        ("data.token: expected a string; got 5", "data.token: expected a string; got 5"),  # an error names the key
        ("secret.path=/x", "secret.path=/x"),  # only the last key segment counts
    ],
)
def test_url_passwords_are_hidden(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_config_and_overrides_are_redacted() -> None:
    node = {"tracking": {"uri": "http://a:b@h"}, "db": {"password": "x", "token": None, "n": 3}, "l": ["http://u:p@h"]}
    assert redact_config(node) == {
        "tracking": {"uri": "http://a:***@h"},
        "db": {"password": "***", "token": None, "n": 3},
        "l": ["http://u:***@h"],
    }
    assert redact_overrides(["tracking.uri=http://a:b@h", "+db.password=xyz", "seed=1"]) == [
        "tracking.uri=http://a:***@h",
        "+db.password=***",
        "seed=1",
    ]


@pytest.mark.slow
@pytest.mark.services
def test_a_study_password_reaches_no_param_tag_or_artifact(postgres_url: str, tmp_path: Path) -> None:
    password = postgres_url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    overrides = [
        f"tuning.storage={postgres_url}",
        "tuning.study_name=redacted",
        "tuning.n_trials=2",
        "rules=none",
        "predictor=none",
        "data.n_customers=300",
        f"tracking.uri=sqlite:///{tmp_path}/mlruns/mlflow.db",
    ]
    result = run(compose_config(overrides), RunInfo(overrides=overrides))
    client = MlflowClient(result.tracking_uri)
    parent = client.get_run(result.run_id)
    assert parent.data.params["tuning.storage"] == postgres_url.replace(f":{password}@", ":***@")
    assert f":{password}@" not in " ".join(parent.data.tags.values())
    config = Path(client.download_artifacts(result.run_id, "config.yaml", str(tmp_path))).read_text()
    assert f":{password}@" not in config and ":***@" in config
