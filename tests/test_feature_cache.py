"""The customer table cache: a hit gives the identical table, any change of what it depends on is a miss,
`features.cache: false` turns it off, and an entry appears whole or not at all."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
from helpers import compose_config
from pandas.testing import assert_frame_equal, assert_series_equal

from crmflow.errors import ConfigError
from crmflow.features import cache as cache_module
from crmflow.features.cache import META, CachedFeatures, TableStore
from crmflow.features.rfm import RFMFeatures
from crmflow.features.table import CustomerTable
from crmflow.plan import RunPlan, plan_run
from crmflow.run import _load

SMALL = ["data.n_customers=300", "data.days=400"]


def plan_for(cache_dir: Path, *overrides: str) -> RunPlan:
    return plan_run(compose_config([*SMALL, f"features.cache_dir={cache_dir}", *overrides]))


def entries(cache_dir: Path) -> list[str]:
    folder = cache_dir / "features"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def assert_same_table(got: CustomerTable, expected: CustomerTable) -> None:
    assert_frame_equal(got.X, expected.X)
    if expected.y is None:
        assert got.y is None
    else:
        assert_series_equal(got.y, expected.y)
    assert got.cutoff == expected.cutoff
    assert got.report == expected.report


def test_a_miss_stores_the_table_and_a_hit_gives_it_back_identical(tmp_path: Path) -> None:
    first = plan_for(tmp_path)
    assert isinstance(first.features, CachedFeatures)
    built, hit = first.features.fetch(first.source.load())
    assert not hit and entries(tmp_path) == [first.features.key]
    second = plan_for(tmp_path)  # a later job of the sweep: a new plan, the same key
    assert second.features.key == first.features.key
    cached, hit = second.features.fetch(second.source.load())
    assert hit
    assert_same_table(cached, built)
    assert_same_table(cached, RFMFeatures().build(second.source.load()))  # what the uncached builder makes


def test_the_key_follows_the_data_and_features_config_not_the_cache_folder(tmp_path: Path) -> None:
    key = plan_for(tmp_path).features.key
    assert len(key) == 64
    assert plan_for(tmp_path / "elsewhere").features.key == key
    assert plan_for(tmp_path, "data.seed=1").features.key != key
    assert plan_for(tmp_path, "seed=7").features.key != key  # the synthetic source's seed is ${seed}
    assert plan_for(tmp_path, "features.horizon_days=60").features.key != key
    assert plan_for(tmp_path, "segmentation=gmm").features.key == key  # stages do not shape the table


def write_log(path: Path, n_rows: int, amount: float) -> None:
    days = pd.date_range("2023-01-01", periods=n_rows, freq="5D").strftime("%Y-%m-%d")
    customers = [f"c{i % 7}" for i in range(n_rows)]
    pd.DataFrame({"cid": customers, "ts": days, "amt": [amount] * n_rows}).to_csv(path, index=False)


def csv_plan(cache_dir: Path, log: Path) -> RunPlan:
    columns = "{customer_id: cid, timestamp: ts, amount: amt}"
    overrides = ["data=csv", f"data.transactions.path={log}", f"data.transactions.columns={columns}"]
    return plan_run(compose_config([*overrides, f"features.cache_dir={cache_dir}", "rules=none"]))


def test_a_changed_input_file_is_a_miss(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    write_log(log, 60, 10.0)
    before = csv_plan(tmp_path / "cache", log)
    table, hit = before.features.fetch(before.source.load())
    assert not hit
    assert csv_plan(tmp_path / "cache", log).features.key == before.features.key  # unchanged file: same key

    stat = log.stat()
    write_log(log, 60, 20.0)  # same size, same mtime: only the content differs
    os.utime(log, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert log.stat().st_size == stat.st_size
    after = csv_plan(tmp_path / "cache", log)
    assert after.features.key != before.features.key
    changed, hit = after.features.fetch(after.source.load())
    assert not hit
    assert changed.X["monetary"].sum() == pytest.approx(2 * table.X["monetary"].sum())
    assert len(entries(tmp_path / "cache")) == 2


def test_cache_false_builds_the_table_and_writes_nothing(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, "features.cache=false")
    assert isinstance(plan.features, RFMFeatures)
    state, metrics = _load(plan, tmp_path)
    assert state.table is not None and "features.cache_hit" not in metrics
    assert not (tmp_path / "features").exists()


def test_a_bad_cache_setting_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^features.cache: must be an instance of 'bool'; got 'maybe'$"):
        plan_for(tmp_path, "features.cache=maybe")


def test_the_run_metrics_are_the_same_after_a_hit(tmp_path: Path) -> None:
    state, missed = _load(plan_for(tmp_path), tmp_path)
    cached_state, hit = _load(plan_for(tmp_path), tmp_path)
    assert (missed.pop("features.cache_hit"), hit.pop("features.cache_hit")) == (0.0, 1.0)
    missed.pop("features.seconds"), hit.pop("features.seconds")
    assert hit == missed
    assert_same_table(cached_state.table, state.table)
    assert cached_state.data.transactions is not None  # stages still get the data


def small_table(y: pd.Series | None) -> CustomerTable:
    index = pd.Index(["a", "b", "c"], name="customer_id")
    X = pd.DataFrame({"recency": [1.0, 2.0, None], "region": ["n", "s", None]}, index=index)
    cutoff = pd.Timestamp("2024-03-01")
    return CustomerTable(X, None if y is None else y.set_axis(index), cutoff, {"customers_unmatched": 1.0})


@pytest.mark.parametrize(
    "y",
    [None, pd.Series([1, 0, pd.NA], dtype="Int64", name="Churn"), pd.Series([0.0, 3.5, 1.0], name="spend")],
    ids=["no-target", "nullable-classes", "amounts"],
)
def test_dtypes_and_target_survive_the_round_trip(tmp_path: Path, y: pd.Series | None) -> None:
    store, table = TableStore(tmp_path), small_table(y)
    assert store.save("k" * 64, table)
    assert_same_table(store.load("k" * 64), table)
    assert store.load("0" * 64) is None


def test_an_entry_appears_whole_in_one_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, key, seen, replace = TableStore(tmp_path), "a" * 64, [], os.replace

    def observed_replace(source: str | Path, target: str | Path) -> None:
        seen.append((sorted(p.name for p in Path(source).iterdir()), Path(target).exists(), store.load(key)))
        replace(source, target)

    monkeypatch.setattr(cache_module.os, "replace", observed_replace)
    assert store.save(key, small_table(pd.Series([1, 0, 1], name="churn")))
    assert seen == [(["X.parquet", META, "y.parquet"], False, None)]  # complete before, invisible until then
    assert entries(tmp_path) == [key]  # and no scratch folder left behind


def test_a_failed_write_leaves_no_entry(tmp_path: Path) -> None:
    store, key = TableStore(tmp_path), "b" * 64
    unstorable = small_table(pd.Series([1, "x", 2.5], name="churn"))  # mixed objects: Parquet refuses
    assert not store.save(key, unstorable)
    assert entries(tmp_path) == [] and store.load(key) is None


def test_parallel_writers_of_one_key_leave_one_readable_entry(tmp_path: Path) -> None:
    store, key, table = TableStore(tmp_path), "c" * 64, small_table(pd.Series([1, 0, 1], name="churn"))
    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(lambda _: store.save(key, table), range(16)))
    assert entries(tmp_path) == [key]
    assert_same_table(store.load(key), table)


def test_an_unreadable_entry_is_removed_and_rebuilt(tmp_path: Path) -> None:
    store, key, table = TableStore(tmp_path), "d" * 64, small_table(None)
    store.save(key, table)
    (store.entry(key) / "X.parquet").write_bytes(b"not parquet")
    assert store.load(key) is None and entries(tmp_path) == []
    assert store.save(key, table)
    assert_same_table(store.load(key), table)
