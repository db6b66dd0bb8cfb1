"""Every forecaster option passes one shared contract; the baselines and models on series with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import compose_config
from sklearn.base import clone

from crmflow.errors import ConfigError, DataError
from crmflow.forecasting import (
    ARIMAForecaster,
    ETSForecaster,
    Forecaster,
    NaiveForecaster,
    RollingOrigin,
    SeasonalNaiveForecaster,
    backtest,
    forecast_metrics,
)
from crmflow.paths import config_dir
from crmflow.plan import plan_run

OPTIONS = sorted(p.stem for p in (config_dir() / "forecaster").glob("*.yaml") if p.stem not in ("_settings", "none"))


def seasonal_series(n: int = 120, period: int = 7, seed: int = 0, freq: str = "D") -> pd.Series:
    """Level 100, a slow upward trend, a weekly pattern and noise: strictly positive."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = 100 + 0.3 * t + 15 * np.sin(2 * np.pi * t / period) + rng.normal(0, 3, n)
    return pd.Series(values, index=pd.date_range("2024-01-01", periods=n, freq=freq), name="daily revenue")


class ForecasterContract:
    """The contract every forecaster honours; subclasses say how to build one."""

    def make(self) -> Forecaster:
        raise NotImplementedError

    @pytest.fixture(scope="class")
    @classmethod
    def fitted(cls) -> Forecaster:
        """One fit per class on the standard series, shared by the tests that only read it."""
        return cls().make().fit(seasonal_series())

    def test_init_only_stores_parameters(self) -> None:
        forecaster = self.make()
        assert not [k for k in vars(forecaster) if k.endswith("_")]
        assert clone(forecaster).get_params() == forecaster.get_params()

    def test_fit_returns_self_and_predicts_the_next_periods(self) -> None:
        series = seasonal_series()
        forecaster = self.make()
        assert forecaster.fit(series) is forecaster
        forecast = forecaster.predict(10, level=0.9)
        expected = pd.date_range(series.index[-1] + pd.Timedelta(days=1), periods=10, freq="D")
        for part in (forecast.mean, forecast.lower, forecast.upper):
            assert part.index.equals(expected) and np.isfinite(part).all()
        assert (forecast.lower <= forecast.mean + 1e-9).all() and (forecast.mean <= forecast.upper + 1e-9).all()
        assert forecast.level == 0.9
        assert forecast.to_frame().columns.tolist() == ["forecast", "lower", "upper"]

    def test_forecasts_stay_near_the_data(self, fitted: Forecaster) -> None:
        series = seasonal_series()
        mean = fitted.predict(14).mean
        assert series.min() - 40 < mean.min() and mean.max() < series.max() + 40

    def test_a_wider_level_gives_a_wider_interval(self, fitted: Forecaster) -> None:
        narrow, wide = fitted.predict(7, level=0.5), fitted.predict(7, level=0.95)
        assert ((wide.upper - wide.lower) > (narrow.upper - narrow.lower)).all()

    def test_refits_are_deterministic(self, fitted: Forecaster) -> None:
        first = fitted.predict(7).to_frame()
        second = self.make().fit(seasonal_series()).predict(7).to_frame()
        pd.testing.assert_frame_equal(first, second)

    def test_too_short_a_series_is_a_data_error(self) -> None:
        forecaster = self.make()
        short = seasonal_series(n=forecaster.min_train_size() - 1)
        with pytest.raises(DataError, match=r"forecaster: the daily revenue series has \d+ periods; .* needs at least"):
            forecaster.fit(short)

    def test_missing_values_and_irregular_index_are_data_errors(self) -> None:
        series = seasonal_series()
        with pytest.raises(DataError, match="1 missing values"):
            self.make().fit(series.where(series.index != series.index[5]))
        with pytest.raises(DataError, match="no regular frequency"):
            self.make().fit(series.drop(series.index[5]))

    def test_predict_checks_its_arguments(self, fitted: Forecaster) -> None:
        with pytest.raises(ValueError, match="not fitted yet"):
            self.make().predict(3)
        owner = f"{type(fitted).__name__}.predict"
        with pytest.raises(
            ConfigError,
            match=rf"^The 'horizon' parameter of {owner} must be an int in the range \[1, inf\)\. Got 0 instead\.$",
        ):
            fitted.predict(0)
        with pytest.raises(
            ConfigError,
            match=rf"^The 'level' parameter of {owner} must be a float in the range \(0, 1\)\. Got 1.5 instead\.$",
        ):
            fitted.predict(3, level=1.5)

    def test_backtest_refits_per_fold(self) -> None:
        series = seasonal_series()
        table = backtest(self.make(), series, RollingOrigin(horizon=7, folds=2, step=5), 7, 0.95)
        assert len(table) == 14 and table["fold"].tolist() == [0] * 7 + [1] * 7
        assert table["origin"].tolist() == [series.index[-13]] * 7 + [series.index[-8]] * 7
        np.testing.assert_allclose(table["actual"], series.iloc[np.r_[-12:-5, -7:0]].to_numpy())
        metrics = forecast_metrics(table)
        assert all(np.isfinite(v) for v in metrics.values())

    def test_summary_describes_the_fit(self, fitted: Forecaster) -> None:
        text = fitted.summary()
        assert type(fitted).__name__ in text or "Results" in text


class TestEveryOptionHasAContract:
    def test_each_yaml_option_is_covered(self) -> None:
        covered = {cls.option for cls in ConfigOptionContract.__subclasses__()}
        assert covered == set(OPTIONS)


class ConfigOptionContract(ForecasterContract):
    """Builds the forecaster from its YAML option (weekly season of 7 daily periods) as a run would."""

    option: str

    def make(self) -> Forecaster:
        if not hasattr(type(self), "_spec"):
            ((_, spec),) = plan_run(
                compose_config(
                    [f"forecaster={self.option}", "segmentation=none", "rules=none", "predictor=none", "tuning=off"]
                )
            ).stages
            type(self)._spec = spec
        return type(self)._spec.build({})


class TestNaiveOption(ConfigOptionContract):
    option = "naive"


class TestSeasonalNaiveOption(ConfigOptionContract):
    option = "seasonal_naive"


class TestARIMAOption(ConfigOptionContract):
    option = "arima"


class TestSARIMAXOption(ConfigOptionContract):
    option = "sarimax"


class TestETSOption(ConfigOptionContract):
    option = "ets"


class TestMultiplicativeETS(ForecasterContract):
    def make(self) -> Forecaster:
        return ETSForecaster(error="mul", trend="add", seasonal="mul", seasonal_period=7, simulate_repetitions=200)

    def test_non_positive_values_are_a_data_error_naming_the_first(self) -> None:
        series = seasonal_series()
        series.iloc[30] = 0.0
        with pytest.raises(
            DataError,
            match=r"is multiplicative and needs strictly positive values; the daily revenue "
            r"series has 1 value\(s\) <= 0 \(first at 2024-01-31\)",
        ):
            self.make().fit(series)


def test_naive_and_seasonal_naive_by_hand() -> None:
    series = pd.Series([1.0, 2.0, 4.0, 3.0, 5.0, 6.0], index=pd.date_range("2024-01-01", periods=6, freq="D"))
    naive = NaiveForecaster().fit(series).predict(3, level=0.95)
    np.testing.assert_allclose(naive.mean, [6.0, 6.0, 6.0])
    sigma = np.std(np.diff(series.to_numpy()), ddof=1)  # one-step errors 1, 2, -1, 2, 1
    np.testing.assert_allclose(naive.upper - naive.mean, 1.959964 * sigma * np.sqrt([1, 2, 3]), rtol=1e-5)
    seasonal = SeasonalNaiveForecaster(seasonal_period=2).fit(series).predict(5, level=0.95)
    np.testing.assert_allclose(seasonal.mean, [5.0, 6.0, 5.0, 6.0, 5.0])
    sigma = np.std([3.0, 1.0, 1.0, 3.0], ddof=1)  # y_t - y_{t-2}
    np.testing.assert_allclose(seasonal.upper - seasonal.mean, 1.959964 * sigma * np.sqrt([1, 1, 2, 2, 3]), rtol=1e-5)


def test_arima_recovers_an_ar1_coefficient() -> None:
    rng = np.random.default_rng(3)
    values = np.zeros(400)
    for t in range(1, 400):
        values[t] = 0.7 * values[t - 1] + rng.normal()
    series = pd.Series(values, index=pd.date_range("2024-01-01", periods=400, freq="D"))
    fitted = ARIMAForecaster(p=1, d=0, q=0).fit(series)
    assert fitted.results_.params["ar.L1"] == pytest.approx(0.7, abs=0.08)


def test_ets_beats_seasonal_naive_on_trend_and_season() -> None:
    series = seasonal_series(n=200, seed=1)
    windows, period = RollingOrigin(horizon=14, folds=4, step=14), 7
    model = forecast_metrics(backtest(ETSForecaster(seasonal="add", seasonal_period=7), series, windows, period, 0.95))
    naive = forecast_metrics(backtest(SeasonalNaiveForecaster(7), series, windows, period, 0.95))
    assert model["mase"] < 0.8 * naive["mase"]
    assert 0.75 <= model["coverage"] <= 1.0


@pytest.mark.parametrize(
    ("forecaster", "message"),
    [
        (
            ETSForecaster(seasonal="add", seasonal_period=1),
            r"forecaster.seasonal_period: .* must be an int in the range \[2, inf\) with seasonal='add'. Got 1",
        ),
        (
            ETSForecaster(trend="linear"),
            r"forecaster.trend: .* must be a str among \{'add', 'mul'\} or None. Got 'linear'",
        ),
        (ARIMAForecaster(P=1, seasonal_period=1), "forecaster.seasonal_period: .* with seasonal orders P=1"),
        (ARIMAForecaster(p=-1), r"forecaster.p: .* must be an int in the range \[0, 10\]. Got -1"),
        (
            SeasonalNaiveForecaster(seasonal_period=0),
            r"forecaster.seasonal_period: .* must be an int in the range \[1, inf\). Got 0",
        ),
    ],
)
def test_bad_parameters_are_config_errors(forecaster: Forecaster, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        forecaster.fit(seasonal_series())


def test_min_train_size_grows_with_the_model() -> None:
    assert ETSForecaster(seasonal="add", seasonal_period=52).min_train_size() == 104
    assert ARIMAForecaster(p=1, d=1, q=1, P=1, D=1, seasonal_period=52).min_train_size() > 104
    assert SeasonalNaiveForecaster(52).min_train_size() == 54
