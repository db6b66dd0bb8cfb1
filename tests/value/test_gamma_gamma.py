"""Gamma-Gamma spend model, its CLV and the frequency-spend correlation, on hand-computed toys."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate

from crmflow.errors import ConfigError, DataError
from crmflow.value.gamma_gamma import DAYS_PER_MONTH, GammaGamma, frequency_spend_correlation

PARAMS = {"p": 6.0, "q": 4.0, "gamma": 15.0}
TOY = pd.DataFrame(
    {"frequency": [0, 2, 5, 1], "monetary_value": [0.0, 20.0, 35.0, 10.0], "recency": [0.0, 3.0, 9.0, 2.0]},
    index=pd.Index(["a", "b", "c", "d"], name="customer_id"),
)


def fitted(params: dict[str, float] = PARAMS) -> GammaGamma:
    model = GammaGamma()
    model.params_ = dict(params)
    return model


def simulated_spend(n: int = 20_000, seed: int = 1) -> pd.DataFrame:
    """Mean repeat spend of n repeat buyers drawn from the model itself (p=6, q=4, gamma=15)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 8, n)
    nu = rng.gamma(4.0, 1 / 15.0, n)
    m = rng.gamma(6.0 * x, 1 / nu) / x  # the sum of x gamma(6, nu) values, averaged
    return pd.DataFrame({"frequency": x, "monetary_value": m})


def test_log_likelihood_is_the_mixed_gamma_density_of_the_mean_spend() -> None:
    p, q, gamma = PARAMS.values()
    x, m = 2, 20.0

    def mixed(nu: float) -> float:  # density of the mean of x gamma(p, nu) spends, times the gamma(q, gamma) of nu
        mean_density = x * math.exp(
            p * x * math.log(nu) + (p * x - 1) * math.log(x * m) - nu * x * m - math.lgamma(p * x)
        )
        return mean_density * math.exp(q * math.log(gamma) + (q - 1) * math.log(nu) - gamma * nu - math.lgamma(q))

    by_hand = integrate.quad(mixed, 0, np.inf, epsabs=0, epsrel=1e-12)[0]
    assert GammaGamma.individual_log_likelihood(PARAMS, x, m) == pytest.approx(math.log(by_hand), rel=1e-9)
    total = integrate.quad(lambda v: math.exp(GammaGamma.individual_log_likelihood(PARAMS, 3, v)), 0, np.inf)[0]
    assert total == pytest.approx(1.0, rel=1e-8)


def test_expected_average_spend_by_hand() -> None:
    p, q, gamma = PARAMS.values()
    spend = fitted().expected_average_spend(TOY)
    assert spend["a"] == pytest.approx(p * gamma / (q - 1))  # no repeats: the population mean, 30
    assert spend["b"] == pytest.approx((gamma + 2 * 20.0) * p / (p * 2 + q - 1))  # 330 / 15 = 22
    assert spend["c"] == pytest.approx((gamma + 5 * 35.0) * p / (p * 5 + q - 1))
    assert fitted().population_mean_spend() == pytest.approx(30.0)


def test_fit_recovers_the_parameters_it_was_simulated_with() -> None:
    model = GammaGamma().fit(simulated_spend())
    assert model.converged_ and model.n_customers_ == 20_000
    estimated = np.array(list(model.params_.values()))
    assert estimated == pytest.approx([6.0, 4.0, 15.0], rel=0.1)  # p and gamma trade off: fewer buyers, wider
    assert model.population_mean_spend() == pytest.approx(30.0, rel=0.02)


def test_fit_uses_only_repeat_buyers_with_positive_spend() -> None:
    data = pd.concat([simulated_spend(300), pd.DataFrame({"frequency": [0, 3], "monetary_value": [0.0, 0.0]})])
    assert GammaGamma().fit(data).n_customers_ == 300


def test_penalizer_shrinks_the_parameters_in_units_of_the_mean_spend() -> None:
    data = simulated_spend(300)
    repeat = data[(data["frequency"] > 0) & (data["monetary_value"] > 0)]
    scale = np.array([1.0, 1.0, repeat["monetary_value"].mean()])
    plain = np.array(list(GammaGamma().fit(data).params_.values())) / scale
    shrunk = np.array(list(GammaGamma(penalizer=0.01).fit(data).params_.values())) / scale
    assert np.sum(shrunk**2) < np.sum(plain**2)


def test_the_fit_is_the_same_in_any_currency() -> None:
    data = simulated_spend(300)
    pounds = GammaGamma(penalizer=0.01).fit(data)
    pennies = GammaGamma(penalizer=0.01).fit(data.assign(monetary_value=data["monetary_value"] * 100))
    assert pennies.params_["p"] == pytest.approx(pounds.params_["p"], rel=1e-6)
    assert pennies.params_["q"] == pytest.approx(pounds.params_["q"], rel=1e-6)
    assert pennies.params_["gamma"] == pytest.approx(100 * pounds.params_["gamma"], rel=1e-6)


def test_no_repeat_buyers_is_a_one_line_data_error() -> None:
    with pytest.raises(DataError) as error:
        GammaGamma().fit(TOY.assign(frequency=0, monetary_value=0.0))
    assert str(error.value).startswith("value.spend: gamma_gamma needs repeat buyers; ")
    assert "\n" not in str(error.value)


def test_negative_penalizer_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"^value.penalizer: The 'penalizer' parameter of GammaGamma must be"):
        GammaGamma(penalizer=-1.0).fit(TOY)


def test_missing_monetary_value_is_named() -> None:
    with pytest.raises(DataError, match="no column 'monetary_value'"):
        GammaGamma().fit(TOY.drop(columns="monetary_value"))


def test_correlation_among_repeat_buyers_only() -> None:
    repeat = TOY[TOY["frequency"] > 0]
    expected = np.corrcoef(repeat["frequency"], repeat["monetary_value"])[0, 1]
    assert frequency_spend_correlation(TOY) == pytest.approx(expected)
    assert math.isnan(frequency_spend_correlation(TOY.iloc[:2]))


class LinearPurchases:
    """A stand-in purchase model: customer i buys rate[i] times per day, for ever."""

    def __init__(self, rates: list[float]) -> None:
        self.rates = np.array(rates)

    def predict_purchases(self, t: float, summary: pd.DataFrame) -> pd.Series:
        return pd.Series(self.rates * t, index=summary.index)


def test_clv_discounts_each_month_by_hand() -> None:
    rates = [0.0, 0.1, 0.2, 0.05]
    spend = fitted().expected_average_spend(TOY).to_numpy()
    months, rate, margin = 3, 0.01, 0.3
    clv = fitted().clv(LinearPurchases(rates), TOY, months, rate, "D", margin=margin)
    per_month = np.array(rates) * DAYS_PER_MONTH
    expected = sum(per_month * spend * margin / (1 + rate) ** i for i in range(1, months + 1))
    np.testing.assert_allclose(clv.to_numpy(), expected)
    assert clv.name == "clv" and clv.index.equals(TOY.index)
    weekly = fitted().clv(LinearPurchases(rates), TOY, months, rate, "W", margin=margin)
    np.testing.assert_allclose(weekly.to_numpy(), expected / 7)  # a month has 1/7 as many weeks as days


@pytest.mark.parametrize(
    ("arguments", "key"),
    [
        ((0, 0.01, "W"), "value.horizon_months"),
        ((12, -0.1, "W"), "value.discount_rate"),
        ((12, 0.01, "M"), "value.time_unit"),
    ],
)
def test_bad_clv_settings_name_the_key(arguments: tuple, key: str) -> None:
    with pytest.raises(ConfigError, match=f"^{key}: "):
        fitted().clv(LinearPurchases([0.0] * 4), TOY, *arguments)
