"""Benchmark: RFM features from Online Retail (541,909 rows) and a synthetic 10-million-row log.

Run on demand (not part of the tests):  python benchmarks/rfm_features.py [--rows 10000000]
Each case runs in its own process so its peak memory is its own. Target: 10M rows in < 30 s, < 4 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from crmflow.data.base import CRMData
from crmflow.features.rfm import RFMFeatures

DATA_DIR = Path(os.environ.get("CRMFLOW_DATA_DIR", "data"))


def online_retail() -> pd.DataFrame:
    """The 541,909 raw lines loaded and cleaned as `+experiment=online_retail` does."""
    from hydra import compose, initialize_config_dir

    from crmflow.config.experiments import register_experiments
    from crmflow.paths import config_dir
    from crmflow.plan import plan_run

    register_experiments()
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose("config", overrides=["+experiment=online_retail", f"data_dir={DATA_DIR.resolve()}"])
    start = time.perf_counter()
    data = plan_run(cfg).source.load()
    print(
        json.dumps(
            {
                "case": "online_retail load+clean",
                "rows_in": data.report["rows_in"],
                "rows_out": len(data.transactions),
                "seconds": round(time.perf_counter() - start, 2),
            }
        )
    )
    return data.transactions


def synthetic_log(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    customers = max(rows // 50, 10)
    start = np.datetime64("2022-01-01T00:00:00")
    seconds = rng.integers(0, 2 * 365 * 86_400, rows)
    return pd.DataFrame(
        {
            "customer_id": pd.Series(rng.integers(0, customers, rows)).map("C{:07d}".format).astype("str"),
            "timestamp": start + seconds.astype("timedelta64[s]"),
            "item": pd.Series(rng.integers(0, 5_000, rows)).map("item_{:04d}".format).astype("str"),
            "amount": np.round(rng.gamma(2.0, 10.0, rows), 2),
        }
    )


def measure(case: str, rows: int) -> dict[str, float | str]:
    log = online_retail() if case == "online_retail" else synthetic_log(rows)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    table = RFMFeatures(horizon_days=90).build(CRMData(case, transactions=log))
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "case": case,
        "rows": len(log),
        "customers": len(table.X),
        "seconds": round(elapsed, 2),
        "peak_rss_mb": round(peak / 1024),
        "rss_before_mb": round(before / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--case", choices=["online_retail", "synthetic"], default=None)
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(measure(args.case, args.rows)))
        return
    for case in ("online_retail", "synthetic"):
        command = [sys.executable, __file__, "--case", case, "--rows", str(args.rows)]
        subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
