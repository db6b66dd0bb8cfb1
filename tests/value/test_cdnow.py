"""The published fits on the CDNOW sample (2,357 customers, 39-week calibration to 1997-09-30, weeks)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import data_file

from crmflow.value import BGNBD, MBGNBD, GammaGamma, ParetoNBD, customer_summary, frequency_spend_correlation
from crmflow.value.summary import holdout_summary

pytestmark = [pytest.mark.slow, pytest.mark.real_data]

END = pd.Timestamp("1997-09-30")


@pytest.fixture(scope="module")
def transactions() -> pd.DataFrame:
    columns = ["customer_id", "sample_id", "date", "cds", "amount"]
    frame = pd.read_csv(data_file("CDNOW_sample.txt"), sep=r"\s+", header=None, names=columns, dtype={0: str})
    frame["timestamp"] = pd.to_datetime(frame["date"].astype(str), format="%Y%m%d")
    return frame


@pytest.fixture(scope="module")
def summary(transactions: pd.DataFrame) -> pd.DataFrame:
    return customer_summary(transactions, END, time_unit="W")


@pytest.fixture(scope="module")
def bg_nbd(summary: pd.DataFrame) -> BGNBD:
    return BGNBD().fit(summary)


def test_summary_counts_match_the_published_sample(transactions: pd.DataFrame, summary: pd.DataFrame) -> None:
    assert len(transactions) == 6919
    assert len(summary) == 2357
    assert (summary["frequency"] > 0).sum() == 946
    assert summary["frequency"].sum() == 2457
    # Fader, Hardie & Lee's customer 1: x = 2, t_x = 30.43, T = 38.86 (T counts days to 1997-09-30, not past it)
    assert summary.loc["00004", ["frequency", "recency", "T"]].round(2).tolist() == [2, 30.43, 38.86]


def test_bg_nbd_reproduces_fader_hardie_lee(summary: pd.DataFrame, bg_nbd: BGNBD) -> None:
    assert {name: round(value, 2) for name, value in bg_nbd.params_.items()} == {
        "r": 0.24,
        "alpha": 4.41,
        "a": 0.79,
        "b": 2.43,
    }
    assert bg_nbd.params_["r"] == pytest.approx(0.243, abs=5e-4)
    assert bg_nbd.params_["alpha"] == pytest.approx(4.414, abs=5e-4)
    assert bg_nbd.params_["a"] == pytest.approx(0.793, abs=5e-4)
    assert bg_nbd.params_["b"] == pytest.approx(2.426, abs=5e-4)
    assert bg_nbd.log_likelihood_ == pytest.approx(-9582.4, abs=0.1)
    # the paper's worked example: E[Y(39) | x=2, t_x=30.43, T=38.86] = 1.226
    example = pd.DataFrame({"frequency": [2], "recency": [30.43], "T": [38.86]})
    assert bg_nbd.predict_purchases(39, example).iloc[0] == pytest.approx(1.226, abs=1e-3)
    assert (bg_nbd.probability_alive(summary)[summary["frequency"] == 0] == 1).all()


def test_bg_nbd_tracks_the_holdout_in_aggregate(
    transactions: pd.DataFrame, summary: pd.DataFrame, bg_nbd: BGNBD
) -> None:
    actual = holdout_summary(transactions, END, 39, time_unit="W")["frequency_holdout"]
    assert actual.index.equals(summary.index)
    assert actual.sum() == 1882  # merged same-day purchases in weeks 40-78
    predicted = bg_nbd.predict_purchases(39, summary)
    assert predicted.sum() == pytest.approx(1653.4, abs=0.5)  # 12% below: the model under-forecasts this holdout
    assert np.corrcoef(predicted, actual)[0, 1] > 0.5


def test_pareto_nbd_reproduces_the_published_fit(summary: pd.DataFrame) -> None:
    model = ParetoNBD().fit(summary)
    assert {name: round(value, 2) for name, value in model.params_.items()} == {
        "r": 0.55,
        "alpha": 10.58,
        "s": 0.61,
        "beta": 11.67,
    }
    assert model.log_likelihood_ == pytest.approx(-9595.0, abs=0.1)
    assert model.probability_alive(summary).between(0, 1).all()


def test_mbg_nbd_fits_in_a_sane_range(summary: pd.DataFrame, bg_nbd: BGNBD) -> None:
    model = MBGNBD().fit(summary)
    r, alpha, a, b = model.params_.values()
    assert 0.1 < r < 2 and 1 < alpha < 20 and 0.1 < a < 5 and 0.1 < b < 10
    assert model.log_likelihood_ == pytest.approx(bg_nbd.log_likelihood_, abs=5)
    no_repeat = model.probability_alive(summary)[summary["frequency"] == 0]
    assert (no_repeat < 1).all() and (no_repeat > 0).all()


def test_gamma_gamma_reproduces_the_published_fit(summary: pd.DataFrame, bg_nbd: BGNBD) -> None:
    model = GammaGamma().fit(summary)
    assert model.n_customers_ == 946
    assert model.params_["p"] == pytest.approx(6.25, abs=0.01)
    assert model.params_["q"] == pytest.approx(3.74, abs=0.01)
    assert model.params_["gamma"] == pytest.approx(15.44, abs=0.02)
    assert frequency_spend_correlation(summary) == pytest.approx(0.11, abs=0.01)
    spend = model.expected_average_spend(summary)
    np.testing.assert_allclose(spend[summary["frequency"] == 0], model.population_mean_spend())
    clv = model.clv(bg_nbd, summary, 12, 0.01, "W")
    assert np.isfinite(clv).all() and (clv > 0).all()
