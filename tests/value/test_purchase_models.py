"""The contract every purchase model keeps, one subclass per model: hand-computed likelihoods, predictions
checked against numerical integration over the individual-level model, and the parameter checks."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from scipy import integrate
from scipy.special import roots_genlaguerre, roots_jacobi

from crmflow.errors import ConfigError, DataError
from crmflow.value import base
from crmflow.value.base import PurchaseModel
from crmflow.value.bg_nbd import BGNBD
from crmflow.value.errors import FitError
from crmflow.value.mbg_nbd import MBGNBD
from crmflow.value.models import PURCHASE_MODELS
from crmflow.value.pareto_nbd import ParetoNBD

# Three histories: no repeat, x=2 at t_x=3 with T=5, and an active buyer.
HISTORIES = pd.DataFrame({"frequency": [0, 2, 6], "recency": [0.0, 3.0, 20.0], "T": [5.0, 5.0, 24.0]})


def simulated_summary(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Histories drawn from a BG/NBD-like process: gamma purchase rates, beta dropout after each purchase."""
    rng = np.random.default_rng(seed)
    rates, dropout, T = rng.gamma(0.6, 1 / 4.0, n), rng.beta(1.0, 3.0, n), rng.uniform(10, 40, n)
    rows = []
    for rate, p, end in zip(rates, dropout, T):
        times, now = [], rng.exponential(1 / rate)
        while now <= end:
            times.append(now)
            if rng.random() < p:
                break
            now += rng.exponential(1 / rate)
        rows.append((len(times), times[-1] if times else 0.0, end))
    return pd.DataFrame(rows, columns=["frequency", "recency", "T"])


def gamma_nodes(shape: float, rate: float, n: int = 160) -> tuple[np.ndarray, np.ndarray]:
    """Generalised Gauss-Laguerre nodes and weights for the expectation over a gamma(shape, rate)."""
    nodes, weights = roots_genlaguerre(n, shape - 1)
    return nodes / rate, weights / weights.sum()


def beta_nodes(a: float, b: float, n: int = 160) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Jacobi nodes and weights for the expectation over a beta(a, b) on (0, 1)."""
    nodes, weights = roots_jacobi(n, b - 1, a - 1)
    return (nodes + 1) / 2, weights / weights.sum()


class PurchaseModelContract:
    """Subclass with `model`, `params`, a hand-computed `hand_likelihood(x, t_x, T)`, and the individual-level
    model for the integration checks: `nodes()` (quadrature over the heterogeneity of u and v),
    `alive(u, v, x, t_x, T)` and `total(u, v, x, t_x, T)` likelihoods, and `future(u, v, t)`, the expected
    purchases in (T, T + t] of a customer alive at T."""

    model: ClassVar[type[PurchaseModel]]
    params: ClassVar[dict[str, float]]

    def hand_likelihood(self, x: int, t_x: float, T: float) -> float:
        raise NotImplementedError

    def nodes(self) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        raise NotImplementedError

    def alive(self, u: np.ndarray, v: np.ndarray, x: int, t_x: float, T: float) -> np.ndarray:
        raise NotImplementedError

    def total(self, u: np.ndarray, v: np.ndarray, x: int, t_x: float, T: float) -> np.ndarray:
        raise NotImplementedError

    def future(self, u: np.ndarray, v: np.ndarray, t: float) -> np.ndarray:
        raise NotImplementedError

    def fitted_at_params(self) -> PurchaseModel:
        model = self.model()
        model.params_ = dict(self.params)
        return model

    def integral(self, f: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> float:
        (u, wu), (v, wv) = self.nodes()
        return float(np.sum(np.outer(wu, wv) * f(u[:, None], v[None, :])))

    @pytest.mark.parametrize("history", [(0, 0.0, 5.0), (2, 3.0, 5.0)])
    def test_log_likelihood_matches_the_hand_computed_closed_form(self, history: tuple) -> None:
        got = self.model.individual_log_likelihood(self.params, *history)
        assert got == pytest.approx(math.log(self.hand_likelihood(*history)), rel=1e-10)

    @pytest.mark.parametrize("row", [0, 1, 2])
    def test_predictions_match_integration_over_the_individual_model(self, row: int) -> None:
        x, t_x, T = HISTORIES.iloc[row]
        model = self.fitted_at_params()
        evidence = self.integral(lambda u, v: self.total(u, v, x, t_x, T))
        alive = self.integral(lambda u, v: self.alive(u, v, x, t_x, T)) / evidence
        expected = self.integral(lambda u, v: self.alive(u, v, x, t_x, T) * self.future(u, v, 10.0)) / evidence
        assert model.probability_alive(HISTORIES).iloc[row] == pytest.approx(alive, rel=1e-6)
        assert model.predict_purchases(10.0, HISTORIES).iloc[row] == pytest.approx(expected, rel=1e-6)
        assert np.exp(self.model.individual_log_likelihood(self.params, x, t_x, T)) == pytest.approx(evidence, rel=1e-6)

    def test_new_customer_curve_matches_integration(self) -> None:
        model = self.fitted_at_params()
        expected = self.integral(lambda u, v: self.alive(u, v, 0, 0.0, 0.0) * self.future(u, v, 10.0))
        assert model.expected_purchases_new(10.0) == pytest.approx(expected, rel=1e-6)

    def test_predictions_are_non_negative_and_grow_with_the_horizon(self) -> None:
        model = self.fitted_at_params()
        horizons = [0.0, 1.0, 5.0, 20.0, 100.0]
        table = np.column_stack([model.predict_purchases(t, HISTORIES) for t in horizons])
        assert np.all(table >= 0) and np.all(np.diff(table, axis=1) > -1e-12)
        assert np.all(table[:, 0] == 0)
        curve = model.expected_purchases_new(np.array(horizons))
        assert curve[0] == 0 and np.all(np.diff(curve) > 0)
        alive = model.probability_alive(HISTORIES)
        assert alive.between(0, 1).all() and alive.index.equals(HISTORIES.index)

    def test_fit_learns_the_fitted_attributes(self) -> None:
        summary = simulated_summary()
        model = self.model().fit(summary)
        assert set(model.params_) == set(self.model.param_names) and model.converged_
        assert model.n_customers_ == len(summary)
        summed = self.model.individual_log_likelihood(
            model.params_, *(summary[c] for c in ("frequency", "recency", "T"))
        )
        assert model.log_likelihood_ == pytest.approx(summed.sum())
        worse = {name: value * 1.2 for name, value in model.params_.items()}
        assert (
            self.model.individual_log_likelihood(worse, summary["frequency"], summary["recency"], summary["T"]).sum()
            < model.log_likelihood_
        )

    def test_penalizer_shrinks_the_parameters(self) -> None:
        summary = simulated_summary()
        plain = np.array(list(self.model().fit(summary).params_.values()))
        shrunk = np.array(list(self.model(penalizer=0.1).fit(summary).params_.values()))
        assert np.sum(shrunk**2) < np.sum(plain**2)

    @pytest.mark.parametrize("bad", [-0.1, "0.1", None])
    def test_bad_penalizer_is_one_line_naming_the_key(self, bad: Any) -> None:
        with pytest.raises(ConfigError) as error:
            self.model(penalizer=bad).fit(simulated_summary())
        message = str(error.value)
        assert "\n" not in message
        assert message.startswith(f"value.penalizer: The 'penalizer' parameter of {self.model.__name__} must be")

    @pytest.mark.parametrize("column", ["frequency", "recency", "T"])
    def test_missing_summary_column_is_named(self, column: str) -> None:
        with pytest.raises(DataError, match=f"no column '{column}'"):
            self.model().fit(HISTORIES.drop(columns=column))

    def test_non_convergence_is_a_fit_error_with_the_optimiser_message(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def failing(fun: Any, x0: np.ndarray, **kwargs: Any) -> Any:
            return type(
                "Result", (), {"success": False, "fun": 1.0, "x": x0, "message": "Maximum number of iterations"}
            )

        monkeypatch.setattr(base, "minimize", failing)
        with pytest.raises(FitError, match="did not converge \\(Maximum number of iterations\\)"):
            self.model().fit(simulated_summary())


class TestBGNBD(PurchaseModelContract):
    model = BGNBD
    params = {"r": 0.5, "alpha": 2.0, "a": 0.8, "b": 2.5}

    def hand_likelihood(self, x: int, t_x: float, T: float) -> float:
        r, alpha, a, b = self.params.values()
        if x == 0:
            return (alpha / (alpha + T)) ** r
        beta_ratio = b * (b + 1) / ((a + b) * (a + b + 1))  # B(a, b+2) / B(a, b)
        tail = (alpha + T) ** -(r + 2) + a / (b + 1) * (alpha + t_x) ** -(r + 2)
        return beta_ratio * r * (r + 1) * alpha**r * tail

    def nodes(self) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        r, alpha, a, b = self.params.values()  # u = purchase rate lambda, v = dropout probability p
        return gamma_nodes(r, alpha), beta_nodes(a, b)

    def alive(self, u: np.ndarray, v: np.ndarray, x: int, t_x: float, T: float) -> np.ndarray:
        return u**x * (1 - v) ** x * np.exp(-u * T)

    def total(self, u: np.ndarray, v: np.ndarray, x: int, t_x: float, T: float) -> np.ndarray:
        dropped = v * (1 - v) ** (x - 1) * u**x * np.exp(-u * t_x) if x > 0 else 0.0
        return self.alive(u, v, x, t_x, T) + dropped

    def future(self, u: np.ndarray, v: np.ndarray, t: float) -> np.ndarray:
        return -np.expm1(-u * v * t) / v

    def test_no_repeat_customer_is_alive_for_sure(self) -> None:
        assert self.fitted_at_params().probability_alive(HISTORIES).iloc[0] == 1.0


class TestMBGNBD(TestBGNBD):
    model = MBGNBD

    def hand_likelihood(self, x: int, t_x: float, T: float) -> float:
        r, alpha, a, b = self.params.values()
        beta_ratio = math.prod((b + k) / (a + b + k) for k in range(x + 1))  # B(a, b+x+1) / B(a, b)
        rate = math.prod(r + k for k in range(x))  # Gamma(r+x) / Gamma(r)
        tail = (alpha + T) ** -(r + x) + a / (b + x) * (alpha + t_x) ** -(r + x)
        return beta_ratio * rate * alpha**r * tail

    def alive(self, u: np.ndarray, v: np.ndarray, x: int, t_x: float, T: float) -> np.ndarray:
        return u**x * (1 - v) ** (x + 1) * np.exp(-u * T)

    def total(self, u: np.ndarray, v: np.ndarray, x: int, t_x: float, T: float) -> np.ndarray:
        return self.alive(u, v, x, t_x, T) + v * (1 - v) ** x * u**x * np.exp(-u * t_x)

    def test_no_repeat_customer_is_alive_for_sure(self) -> None:
        alive = self.fitted_at_params().probability_alive(HISTORIES).iloc[0]
        r, alpha, a, b = self.params.values()
        assert alive == pytest.approx(1 / (1 + a / b * ((alpha + 5) / alpha) ** r)) and alive < 1


class TestParetoNBD(PurchaseModelContract):
    model = ParetoNBD
    params = {"r": 0.55, "alpha": 10.6, "s": 0.6, "beta": 7.0}  # alpha > beta

    def hand_likelihood(self, x: int, t_x: float, T: float) -> float:
        r, alpha, s, beta = self.params.values()
        rate = math.exp(math.lgamma(r + x) - math.lgamma(r)) * alpha**r * beta**s
        integral = integrate.quad(lambda y: (alpha + y) ** -(r + x) * (beta + y) ** -(s + 1), t_x, T, epsabs=0)[0]
        return rate * ((alpha + T) ** -(r + x) * (beta + T) ** -s + s * integral)

    def nodes(self) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        r, alpha, s, beta = self.params.values()  # u = purchase rate lambda, v = dropout rate mu
        return gamma_nodes(r, alpha), gamma_nodes(s, beta)

    def alive(self, u: np.ndarray, v: np.ndarray, x: int, t_x: float, T: float) -> np.ndarray:
        return u**x * np.exp(-(u + v) * T)

    def total(self, u: np.ndarray, v: np.ndarray, x: int, t_x: float, T: float) -> np.ndarray:
        dead = u**x * v / (u + v) * (np.exp(-(u + v) * t_x) - np.exp(-(u + v) * T))
        return self.alive(u, v, x, t_x, T) + dead

    def future(self, u: np.ndarray, v: np.ndarray, t: float) -> np.ndarray:
        return -u / v * np.expm1(-v * t)

    def test_no_hypergeometric_term_when_alpha_equals_beta(self) -> None:
        r, s, alpha, T = 0.5, 0.7, 3.0, 5.0
        closed = (alpha / (alpha + T)) ** (r + s) + s / (r + s) * (1 - (alpha / (alpha + T)) ** (r + s))
        got = ParetoNBD.individual_log_likelihood({"r": r, "alpha": alpha, "s": s, "beta": alpha}, 0, 0.0, T)
        assert got == pytest.approx(math.log(closed), rel=1e-12)

    def test_last_purchase_at_the_end(self) -> None:
        got = ParetoNBD.individual_log_likelihood(self.params, 3, 5.0, 5.0)
        assert got == pytest.approx(math.log(self.hand_likelihood(3, 5.0, 5.0)), rel=1e-10)


class TestParetoNBDBetaAboveAlpha(TestParetoNBD):
    params = {"r": 0.55, "alpha": 4.0, "s": 1.3, "beta": 11.7}  # the other hypergeometric branch


def test_registry_names_every_purchase_model() -> None:
    assert PURCHASE_MODELS == {"bg_nbd": BGNBD, "pareto_nbd": ParetoNBD, "mbg_nbd": MBGNBD}
    assert all(issubclass(model, PurchaseModel) for model in PURCHASE_MODELS.values())


def test_summary_checks_name_the_column() -> None:
    bad = HISTORIES.assign(recency=[1.0, 3.0, 20.0])
    with pytest.raises(DataError, match="'recency' must be 0 where frequency is 0"):
        BGNBD().fit(bad)
    with pytest.raises(DataError, match="'frequency' must hold whole numbers"):
        BGNBD().fit(HISTORIES.assign(frequency=[0, 2.5, 6]))
    with pytest.raises(DataError, match="'T' must hold finite non-negative numbers"):
        BGNBD().fit(HISTORIES.assign(T=[5.0, np.nan, 24.0]))


@pytest.mark.parametrize("model", list(PURCHASE_MODELS.values()))
def test_clone_keeps_the_arguments_and_drops_the_fit(model: type[PurchaseModel]) -> None:
    from sklearn.base import clone

    fitted = model(penalizer=0.05).fit(simulated_summary())
    fresh = clone(fitted)
    assert fresh.get_params() == {"penalizer": 0.05} and not hasattr(fresh, "params_")


@pytest.mark.parametrize("model", list(PURCHASE_MODELS.values()))
def test_heavy_buyers_stay_finite(model: type[PurchaseModel]) -> None:
    heavy = pd.DataFrame({"frequency": [300, 1000], "recency": [99.0, 499.9], "T": [100.0, 500.0]})
    params = dict(zip(model.param_names, [0.3, 2.0, 0.9, 3.0]))
    assert np.isfinite(model.individual_log_likelihood(params, heavy["frequency"], heavy["recency"], heavy["T"])).all()
    fitted = model()
    fitted.params_ = params
    assert (
        np.isfinite(fitted.predict_purchases(52, heavy)).all() and fitted.probability_alive(heavy).between(0, 1).all()
    )


@pytest.mark.parametrize("beta", [3.0 * (1 - 1e-9), 3.0, 3.0 * (1 + 1e-9)])
def test_pareto_nbd_is_continuous_where_alpha_meets_beta(beta: float) -> None:
    params = {"r": 0.5, "alpha": 3.0, "s": 0.7, "beta": beta}
    at_equal = ParetoNBD.individual_log_likelihood(
        {**params, "beta": 3.0}, [0, 4, 40], [0.0, 8.0, 30.0], [10.0, 10.0, 31.0]
    )
    got = ParetoNBD.individual_log_likelihood(params, [0, 4, 40], [0.0, 8.0, 30.0], [10.0, 10.0, 31.0])
    np.testing.assert_allclose(got, at_equal, rtol=1e-7)


@pytest.mark.parametrize("horizon", [-1.0, float("nan")])
def test_bad_horizon_names_the_key(horizon: float) -> None:
    model = BGNBD()
    model.params_ = dict(TestBGNBD.params)
    with pytest.raises(ConfigError, match="^value.horizon: "):
        model.predict_purchases(horizon, HISTORIES)


def test_empty_summary_is_a_data_error() -> None:
    with pytest.raises(DataError, match="summary is empty"):
        BGNBD().fit(HISTORIES.iloc[:0])


@pytest.mark.parametrize("c", [0.3, -0.4, 1e-4, -1e-4])
def test_scaled_complement_is_the_direct_formula_away_from_zero(c: float) -> None:
    from scipy.special import hyp2f1

    A, B, z, u = 2.5, 1.2, 0.35, 0.7
    assert base.scaled_complement(c, A, B, z, math.log(u)) == pytest.approx(c * (1 - u * hyp2f1(A, B, c, z)))


def test_scaled_complement_meets_its_limit_at_zero() -> None:
    A, B, z, u = 2.5, 1.2, 0.35, 0.7
    near = [float(base.scaled_complement(c, A, B, z, math.log(u))) for c in (1e-5, 1e-6, 2e-7, 5e-8, 1e-12, 0.0)]
    assert near == pytest.approx([near[-1]] * len(near), rel=1e-4)


@pytest.mark.parametrize("model", [BGNBD, MBGNBD])
def test_a_fit_without_dropout_predicts_finite_purchases(model: type[PurchaseModel]) -> None:
    fitted = model()
    fitted.params_ = {"r": 1.57, "alpha": 9.42, "a": 2.4e-29, "b": 7.8e-16}  # a + b + x - 1 ~ 0 at x = 1
    summary = pd.DataFrame({"frequency": [0, 1, 1, 4], "recency": [0.0, 7.4, 19.3, 20.0], "T": [5.0, 9.1, 25.1, 30.0]})
    with np.errstate(all="raise"):
        short, long = fitted.predict_purchases(4.0, summary), fitted.predict_purchases(13.0, summary)
    assert np.isfinite(short).all() and (short >= 0).all() and (long >= short).all()
    assert np.isfinite(fitted.expected_purchases_new(np.array([1.0, 10.0]))).all()
