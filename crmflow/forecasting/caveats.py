"""When a forecaster is useless: its backtest (and holdout) error no better than seasonal-naive's."""

from __future__ import annotations

from collections.abc import Mapping

from crmflow.caveats import error_vs_baseline, kept

BASELINE = "seasonal-naive forecast"


def forecaster_caveats(metrics: Mapping[str, float]) -> list[str]:
    """The rolling-origin backtest MASE, the holdout MASE and the per-segment mean MASE against the baseline's."""
    nan = float("nan")
    pairs = {
        "the backtest MASE": ("mase", "baseline_mase"),
        "the holdout MASE": ("holdout_mase", "holdout_baseline_mase"),
        "the per-segment mean MASE": ("segments_mase", "segments_baseline_mase"),
    }
    return kept(
        *(
            error_vs_baseline(what, metrics.get(mine, nan), metrics.get(theirs, nan), BASELINE)
            for what, (mine, theirs) in pairs.items()
        )
    )
