"""tracking.privacy: with hash or omit no raw customer id reaches a run's store; hash tokens are keyed and stable;
input examples are synthetic rows with the real rows' signature; a bad mode is one line before any data."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import compose_config
from mlflow.models import Model, infer_signature
from mlflow.tracking import MlflowClient
from mlflow.types import Schema

from crmflow.data.synthetic import SyntheticCRM
from crmflow.errors import ConfigError
from crmflow.plan import plan_run
from crmflow.privacy import KEY_ENV, Privacy, synthetic_row
from crmflow.run import RunResult, run

KEY = "privacy-test-key"
C00001_TOKEN = "d29e07ef8980cb82"  # HMAC-SHA256(b"privacy-test-key", b"C00001"), first 16 hex characters, by hand
N_CUSTOMERS, DAYS, SEED = 300, 400, 42
SMALL = [
    f"data.n_customers={N_CUSTOMERS}",
    f"data.days={DAYS}",
    f"seed={SEED}",
    "forecaster=none",
    "segmentation.settings.stability_resamples=0",
    "rules.settings.per_segment=true",
    "rules.settings.segment_min_baskets=10",
    "predictor.settings.cv_folds=3",
    "predictor.settings.permutation_repeats=1",
]
# name -> (tracking.privacy, tuning overrides): the second hash run is tuned (one trial) to cover trial runs too
RUNS = {
    "none": ("none", ["tuning=off"]),
    "hash": ("hash", ["tuning=off"]),
    "hash_again": ("hash", ["tuning.n_trials=1"]),
    "omit": ("omit", ["tuning=off"]),
}
ID_ARTIFACTS = (
    "segmentation/segment_labels.csv",
    "predictor/predictor_oof_predictions.csv",
    "predictor/predictor_holdout_predictions.csv",
    "rules/segment_rules.csv",
)


@dataclass
class Logged:
    """A finished run and the folder holding its whole store (SQLite file, artifacts, logged models)."""

    result: RunResult
    store: Path

    @property
    def client(self) -> MlflowClient:
        return MlflowClient(self.result.tracking_uri)

    def artifact(self, path: str) -> Path:
        return Path(self.client.download_artifacts(self.result.run_id, path, str(self.store.parent / "download")))


def hmac_token(customer_id: str, key: str = KEY) -> str:
    return hmac.new(key.encode(), customer_id.encode(), hashlib.sha256).hexdigest()[:16]


@pytest.fixture(scope="module")
def raw_ids() -> list[str]:
    """Every customer id of the synthetic data the runs read ("C00001", ...: no number of an artifact looks so)."""
    data = SyntheticCRM(n_customers=N_CUSTOMERS, days=DAYS, seed=SEED).load()
    ids = sorted(set(data.customers["customer_id"]) | set(data.transactions["customer_id"]))
    assert len(ids) == N_CUSTOMERS and all(i.startswith("C0") and len(i) == 6 for i in ids)
    return ids


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Logged]:
    """Run one of RUNS once per module (with CRMFLOW_PRIVACY_KEY set), each into a store of its own."""
    done: dict[str, Logged] = {}

    def get(name: str) -> Logged:
        if name not in done:
            mode, tuning = RUNS[name]
            store = tmp_path_factory.mktemp(f"privacy-{name}") / "mlruns"
            overrides = [*SMALL, *tuning, f"tracking.privacy={mode}", f"tracking.uri=sqlite:///{store}/mlflow.db"]
            with pytest.MonkeyPatch.context() as env:
                env.setenv(KEY_ENV, KEY)
                done[name] = Logged(run(compose_config(overrides)), store)
        return done[name]

    return get


def every_file(logged: Logged) -> dict[str, bytes]:
    """The store on disk (database, artifacts, model folders) and every run's artifacts downloaded through MLflow."""
    files = {str(p.relative_to(logged.store)): p.read_bytes() for p in logged.store.rglob("*") if p.is_file()}
    client, result = logged.client, logged.result
    runs = client.search_runs([result.experiment_id])
    assert result.run_id in {r.info.run_id for r in runs}
    for found in runs:
        folder = logged.store.parent / "downloaded" / found.info.run_id
        folder.mkdir(parents=True)
        local = Path(client.download_artifacts(found.info.run_id, "", str(folder)))
        files.update(
            {f"{found.info.run_id}/{p.relative_to(local)}": p.read_bytes() for p in local.rglob("*") if p.is_file()}
        )
    model = Path(result.model_uri)
    files.update({f"model/{p.relative_to(model)}": p.read_bytes() for p in model.rglob("*") if p.is_file()})
    return files


def columns(schema: Schema) -> list[tuple[str, str]]:
    """A signature's column names and types; not whether a column may be absent, which MLflow infers from
    missing values in the example rows (NaN in the first training rows: never in a row of medians)."""
    return [(c.name, str(c.type)) for c in schema.inputs]


def leaks(files: dict[str, bytes], ids: list[str]) -> dict[str, list[str]]:
    found = {name: [i for i in ids if i.encode() in content] for name, content in files.items()}
    return {name: hits[:3] for name, hits in found.items() if hits}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["hash", "hash_again", "omit"])
def test_no_raw_customer_id_anywhere_in_the_store(
    logged: Callable[[str], Logged], raw_ids: list[str], name: str
) -> None:
    files = every_file(logged(name))
    names = "\n".join(files)
    for expected in (*ID_ARTIFACTS, "mlflow.db", "input_example.json", "model.skops"):
        assert expected in names, expected  # the check below has the files that would hold ids
    assert not leaks(files, raw_ids)
    assert not [n for n, content in files.items() if KEY.encode() in content], "the key is never logged"


@pytest.mark.slow
def test_none_keeps_ids_and_the_scan_sees_them(logged: Callable[[str], Logged], raw_ids: list[str]) -> None:
    none = logged("none")
    assert none.client.get_run(none.result.run_id).data.params["tracking.privacy"] == "none"
    labels = pd.read_csv(none.artifact("segmentation/segment_labels.csv"), index_col=0)
    assert len(labels) > N_CUSTOMERS / 2 and set(labels.index) <= set(raw_ids)
    found = {Path(name).name for name in leaks(every_file(none), raw_ids)}
    assert {"segment_labels.csv", "predictor_oof_predictions.csv", "predictor_holdout_predictions.csv"} <= found


@pytest.mark.slow
def test_hash_tokens_are_the_keyed_hmac_and_match_across_runs(logged: Callable[[str], Logged]) -> None:
    none, first, again = logged("none"), logged("hash"), logged("hash_again")
    ids = pd.read_csv(none.artifact("segmentation/segment_labels.csv"), index_col=0).index
    for path in ID_ARTIFACTS[:3]:
        raw = pd.read_csv(none.artifact(path), index_col=0)
        hashed = pd.read_csv(first.artifact(path), index_col=0)
        assert list(hashed.index) == [hmac_token(i) for i in raw.index], path
        assert hashed.index.name == raw.index.name == "customer_id"
        assert list(hashed.columns) == list(raw.columns)
    tokens = pd.read_csv(again.artifact("segmentation/segment_labels.csv"), index_col=0).index
    assert list(tokens) == [hmac_token(i) for i in ids]  # the same customers, the same tokens, in another run
    assert "C00001" in ids and tokens[list(ids).index("C00001")] == C00001_TOKEN
    params = first.client.get_run(first.result.run_id).data.params
    assert params["tracking.privacy"] == "hash" and params["tracking.privacy_key_from_env"] == "true"


@pytest.mark.slow
def test_omit_drops_the_id_columns(logged: Callable[[str], Logged]) -> None:
    none, omit = logged("none"), logged("omit")
    for path in ID_ARTIFACTS[:3]:
        kept = pd.read_csv(none.artifact(path), index_col=0)
        dropped = pd.read_csv(omit.artifact(path))
        assert list(dropped.columns) == list(kept.columns) and len(dropped) == len(kept), path


@pytest.mark.slow
def test_input_example_is_one_synthetic_row_with_the_same_signature(logged: Callable[[str], Logged]) -> None:
    none, hashed = logged("none"), logged("hash")
    real, synthetic = Model.load(none.result.model_uri), Model.load(hashed.result.model_uri)
    assert columns(synthetic.signature.inputs) == columns(real.signature.inputs)
    assert synthetic.signature.outputs == real.signature.outputs
    rows = real.load_input_example(none.result.model_uri)
    row = synthetic.load_input_example(hashed.result.model_uri)
    assert len(rows) == 5 and len(row) == 1 and list(row.columns) == list(rows.columns)


def test_an_unknown_mode_is_one_line_before_any_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def load(self: SyntheticCRM) -> None:
        raise AssertionError("data read before the config was checked")

    monkeypatch.setattr(SyntheticCRM, "load", load)
    with pytest.raises(ConfigError) as error:
        run(compose_config(["tracking.privacy=hsh", f"tracking.uri=sqlite:///{tmp_path}/mlruns/mlflow.db"]))
    assert str(error.value) == (
        "tracking.privacy: must be a str among {'hash', 'none', 'omit'}; got 'hsh'; did you mean 'hash'?"
    )
    assert not (tmp_path / "mlruns").exists()


def test_the_default_mode_is_none() -> None:
    assert plan_run(compose_config()).privacy == "none"
    assert plan_run(compose_config(["tracking.privacy=omit"])).privacy == "omit"


def test_an_unset_key_draws_a_random_one_and_says_so_in_one_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="crmflow.privacy"):
        first, second = Privacy.for_run("hash", environ={}), Privacy.for_run("hash", environ={})
    assert [r.getMessage() for r in caplog.records] == [
        "tracking.privacy=hash: CRMFLOW_PRIVACY_KEY is not set, so a random key was drawn for this run; its "
        "customer tokens will not match other runs' (set CRMFLOW_PRIVACY_KEY to join runs)"
    ] * 2
    assert first.token("C00001") != second.token("C00001")
    assert first.params == {"tracking.privacy": "hash", "tracking.privacy_key_from_env": "false"}
    assert repr(first) == "Privacy(mode='hash', key_from_env=False)"  # the key is in no repr or message


def test_ids_are_hashed_dropped_or_kept() -> None:
    labels = pd.Series([0, 1], index=pd.Index(["C1", "C2"], name="customer_id"), name="segment")
    hashed = Privacy.for_run("hash", environ={KEY_ENV: KEY})
    assert list(hashed.ids(labels).index) == [hmac_token("C1"), hmac_token("C2")]
    assert hashed.ids(labels).index.name == "customer_id" and list(hashed.ids(labels)) == [0, 1]
    assert list(hashed.ids(labels.index)) == [hmac_token("C1"), hmac_token("C2")]
    rows = pd.DataFrame({"customer_id": ["C1", "C2"], "amount": [1.0, 2.0]})
    assert list(hashed.ids(rows)["customer_id"]) == [hmac_token("C1"), hmac_token("C2")]
    assert list(hashed.ids(rows).index) == [0, 1]  # a positional index holds no ids
    omit = Privacy("omit")
    assert isinstance(omit.ids(labels).index, pd.RangeIndex) and list(omit.ids(rows).columns) == ["amount"]
    assert Privacy().ids(labels) is labels and Privacy().ids(rows) is rows


def test_csv_without_ids_with_omit(tmp_path: Path) -> None:
    frame = pd.DataFrame({"actual": [1, 0]}, index=pd.Index(["C1", "C2"], name="customer_id"))
    assert Privacy("omit").to_csv(frame, tmp_path / "p.csv").read_text() == "actual\n1\n0\n"
    assert Privacy().to_csv(frame, tmp_path / "q.csv").read_text() == "customer_id,actual\nC1,1\nC2,0\n"


@pytest.mark.filterwarnings("ignore:Hint. Inferred schema contains integer")
def test_synthetic_row_is_no_customer_and_keeps_dtypes_and_signature() -> None:
    X = pd.DataFrame(
        {
            "recency": [1, 2, 9, 10],
            "monetary": [10.0, 20.0, np.nan, 40.0],
            "region": ["north", "south", "south", "east"],
            "member": [True, False, False, False],
            "tier": pd.Categorical(["a", "b", "b", "a"], categories=["a", "b"]),
        },
        index=pd.Index(["C1", "C2", "C3", "C4"], name="customer_id"),
    )
    row = synthetic_row(X)
    assert row.to_dict("records") == [{"recency": 6, "monetary": 20.0, "region": "south", "member": False, "tier": "a"}]
    assert row.dtypes.equals(X.dtypes) and isinstance(row.index, pd.RangeIndex)
    assert not (X.reset_index(drop=True) == row.iloc[0]).all(axis=1).any()
    assert columns(infer_signature(row).inputs) == columns(infer_signature(X.head(5)).inputs)
    assert Privacy("hash").example(X).equals(row) and Privacy().example(X, 2).equals(X.head(2))
