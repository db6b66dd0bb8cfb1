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
    raw = pd.read_parquet(DATA_DIR / "online_retail.parquet")
    raw = raw[raw["CustomerID"].notna() & (raw["Quantity"] > 0)]
    return pd.DataFrame(
        {
            "customer_id": raw["CustomerID"].astype("int64").astype(str),
            "basket_id": raw["InvoiceNo"].astype(str),
            "timestamp": raw["InvoiceDate"],
            "item": raw["StockCode"].astype(str),
            "amount": raw["Quantity"] * raw["UnitPrice"],
        }
    )


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
        "case": case, "rows": len(log), "customers": len(table.X), "seconds": round(elapsed, 2),
        "peak_rss_mb": round(peak / 1024), "rss_before_mb": round(before / 1024),
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
