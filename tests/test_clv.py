"""Customer lifetime value: BG/NBD, Gamma-Gamma, the RFM summary and contractual CLV."""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from dunning.errors import DataError, ModelError, PolicyError
from scoring.clv import (
    BetaGeoModel,
    GammaGammaModel,
    contractual_clv,
    estimate_to_money,
    summary_from_transactions,
)

FloatArray = npt.NDArray[np.float64]

# Published estimates on the CDNOW sample (time unit: weeks).
# Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way", section 5.
CDNOW_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
# Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value", section 4.
CDNOW_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "v": 15.44}


def simulate_bgnbd(
    n: int, params: dict[str, float], T: FloatArray, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """Draw (frequency, recency) from the BG/NBD story, independently of the library.

    Each customer buys at Poisson rate λ ~ Gamma(r, rate α) and drops out right after a
    repeat purchase with probability p ~ Beta(a, b), so the number of repeat purchases
    before dropping out is Geometric(p) on {1, 2, ...}. With N ~ Poisson(λT) purchases
    if alive throughout, the customer makes x = min(J, N) repeat purchases in (0, T], and
    the x-th of N uniform arrival times in (0, T] is T · Beta(x, N − x + 1).
    """
    lam = rng.gamma(params["r"], 1.0 / params["alpha"], n)
    p = rng.beta(params["a"], params["b"], n)
    dropout_after = rng.geometric(p)
    arrivals = rng.poisson(lam * T)
    x = np.minimum(dropout_after, arrivals)
    t_x = np.where(x > 0, T * rng.beta(np.maximum(x, 1), arrivals - x + 1), 0.0)
    return x.astype(np.float64), t_x


def simulate_mean_spend(
    x: FloatArray, params: dict[str, float], rng: np.random.Generator
) -> FloatArray:
    """Mean of x transaction values z ~ Gamma(p, rate ν), with ν ~ Gamma(q, rate v)."""
    nu = rng.gamma(params["q"], 1.0 / params["v"], x.size)
    # the sum of x Gamma(p, ν) values is Gamma(px, ν)
    return np.asarray(rng.gamma(params["p"] * x, 1.0 / nu) / x, dtype=np.float64)


def direct_bgnbd_loglik(
    params: dict[str, float], x: FloatArray, t_x: FloatArray, T: FloatArray
) -> float:
    """Sum over customers of log L, eq. 6 of the paper written out with math.lgamma."""
    r, alpha, a, b = params["r"], params["alpha"], params["a"], params["b"]

    def lbeta(u: float, w: float) -> float:
        return math.lgamma(u) + math.lgamma(w) - math.lgamma(u + w)

    total = 0.0
    for xi, ti, Ti in zip(x.tolist(), t_x.tolist(), T.tolist(), strict=True):
        gamma_part = math.lgamma(r + xi) + r * math.log(alpha) - math.lgamma(r)
        alive = math.exp(
            lbeta(a, b + xi) - lbeta(a, b) + gamma_part - (r + xi) * math.log(alpha + Ti)
        )
        dead = 0.0
        if xi > 0:
            dead = math.exp(
                lbeta(a + 1, b + xi - 1)
                - lbeta(a, b)
                + gamma_part
                - (r + xi) * math.log(alpha + ti)
            )
        total += math.log(alive + dead)
    return total


def direct_gamma_gamma_loglik(params: dict[str, float], x: FloatArray, m: FloatArray) -> float:
    """Sum of log f(z̄ | p, q, v; x) (Fader & Hardie 2013, eq. 3) with math.lgamma."""
    p, q, v = params["p"], params["q"], params["v"]
    total = 0.0
    for xi, mi in zip(x.tolist(), m.tolist(), strict=True):
        total += (
            math.lgamma(p * xi + q)
            - math.lgamma(p * xi)
            - math.lgamma(q)
            + q * math.log(v)
            + (p * xi - 1) * math.log(xi * mi)
            + math.log(xi)
            - (p * xi + q) * math.log(v + xi * mi)
        )
    return total


# --------------------------------------------------------------------------- recovery


def test_bgnbd_recovers_simulated_parameters() -> None:
    """BG/NBD data simulated with the CDNOW parameters is fitted back within 10 % each."""
    rng = np.random.default_rng(20050101)
    n = 100_000
    # Observation windows of one to two years (weeks). At this size the standard errors
    # (inverse Fisher information) are about 0.6 %, 1.1 %, 2.1 % and 2.9 % for r, alpha,
    # a, b: the 10 % bound is more than 3 standard errors for every parameter.
    T = rng.uniform(52.0, 104.0, n)
    x, t_x = simulate_bgnbd(n, CDNOW_BGNBD, T, rng)
    model = BetaGeoModel().fit(x, t_x, T)
    for name, true in CDNOW_BGNBD.items():
        assert model.params_[name] == pytest.approx(true, rel=0.10), name


def test_gamma_gamma_recovers_simulated_parameters() -> None:
    """Gamma-Gamma spend simulated with the CDNOW parameters is fitted back within 10 % each."""
    rng = np.random.default_rng(20130101)
    n = 100_000
    # Few repeat purchases (1 to 4) carry most of the information about p; at this size
    # the standard errors are about 2.2 %, 1.0 % and 2.9 % for p, q, v (> 3 per 10 %).
    x = rng.integers(1, 5, n).astype(np.float64)
    m = simulate_mean_spend(x, CDNOW_GAMMA_GAMMA, rng)
    model = GammaGammaModel().fit(x, m)
    for name, true in CDNOW_GAMMA_GAMMA.items():
        assert model.params_[name] == pytest.approx(true, rel=0.10), name


def test_fit_is_deterministic() -> None:
    """Fitting the same data twice gives bit-identical parameters."""
    rng = np.random.default_rng(7)
    T = np.full(2_000, 52.0)
    x, t_x = simulate_bgnbd(2_000, CDNOW_BGNBD, T, rng)
    first = BetaGeoModel().fit(x, t_x, T).params_
    assert BetaGeoModel().fit(x, t_x, T).params_ == first


# --------------------------------------------------------------------------- likelihood


def test_bgnbd_log_likelihood_equals_direct_evaluation() -> None:
    """log_likelihood_ equals eq. 6 summed customer by customer with math.lgamma."""
    rng = np.random.default_rng(3)
    T = rng.uniform(20.0, 60.0, 500)
    x, t_x = simulate_bgnbd(500, CDNOW_BGNBD, T, rng)
    model = BetaGeoModel().fit(x, t_x, T)
    expected = direct_bgnbd_loglik(model.params_, x, t_x, T)
    assert model.log_likelihood_ == pytest.approx(expected, rel=1e-9)
    assert model.score_samples(x, t_x, T).sum() == pytest.approx(expected, rel=1e-9)


def test_bgnbd_log_likelihood_at_cdnow_parameters() -> None:
    """score_samples matches the direct formula at the published parameters, also for x = 40."""
    x = np.array([0.0, 1.0, 2.0, 7.0, 40.0])
    t_x = np.array([0.0, 1.5, 30.43, 20.0, 38.0])
    T = np.array([38.86, 30.0, 38.86, 39.0, 38.5])
    model = BetaGeoModel.from_params(CDNOW_BGNBD)
    for i in range(x.size):
        row = slice(i, i + 1)
        direct = direct_bgnbd_loglik(CDNOW_BGNBD, x[row], t_x[row], T[row])
        assert model.score_samples(x[row], t_x[row], T[row])[0] == pytest.approx(direct, rel=1e-12)


def test_gamma_gamma_log_likelihood_equals_direct_evaluation() -> None:
    """log_likelihood_ equals the Gamma-Gamma density of the mean spend, summed directly."""
    rng = np.random.default_rng(4)
    x = rng.integers(1, 8, 400).astype(np.float64)
    m = simulate_mean_spend(x, CDNOW_GAMMA_GAMMA, rng)
    model = GammaGammaModel().fit(x, m)
    expected = direct_gamma_gamma_loglik(model.params_, x, m)
    assert model.log_likelihood_ == pytest.approx(expected, rel=1e-9)


def test_weights_count_as_repeated_customers() -> None:
    """A weight of k gives the same fit and log-likelihood as k identical rows."""
    x = np.array([0.0, 1.0, 3.0, 2.0, 0.0, 6.0])
    t_x = np.array([0.0, 10.0, 30.0, 5.0, 0.0, 35.0])
    T = np.array([40.0, 38.0, 36.0, 34.0, 32.0, 39.0])
    w = np.array([3, 1, 2, 1, 4, 1])
    weighted = BetaGeoModel().fit(x, t_x, T, weights=w)
    repeated = BetaGeoModel().fit(np.repeat(x, w), np.repeat(t_x, w), np.repeat(T, w))
    assert weighted.log_likelihood_ == pytest.approx(repeated.log_likelihood_, rel=1e-9)
    for name in CDNOW_BGNBD:
        assert weighted.params_[name] == pytest.approx(repeated.params_[name], rel=1e-4)


def test_penalizer_shrinks_parameters() -> None:
    """An L2 penalizer shrinks the parameters and costs log-likelihood, for both models."""
    rng = np.random.default_rng(5)
    T = rng.uniform(30.0, 52.0, 3_000)
    x, t_x = simulate_bgnbd(3_000, CDNOW_BGNBD, T, rng)
    plain = BetaGeoModel().fit(x, t_x, T)
    shrunk = BetaGeoModel(penalizer_coef=0.05).fit(x, t_x, T)
    norm = sum(v**2 for v in plain.params_.values())
    assert sum(v**2 for v in shrunk.params_.values()) < 0.8 * norm
    assert shrunk.log_likelihood_ < plain.log_likelihood_

    repeat = x > 0
    m = simulate_mean_spend(x[repeat], CDNOW_GAMMA_GAMMA, rng)
    plain_gg = GammaGammaModel().fit(x[repeat], m)
    shrunk_gg = GammaGammaModel(penalizer_coef=0.01).fit(x[repeat], m)
    for name in CDNOW_GAMMA_GAMMA:
        assert shrunk_gg.params_[name] < plain_gg.params_[name], name
    assert shrunk_gg.log_likelihood_ < plain_gg.log_likelihood_


# --------------------------------------------------------------------------- predictions


def test_expected_purchases_reproduces_published_example() -> None:
    """x=2, t_x=30.43, T=38.86 weeks: 1.226 purchases expected in the next 39 weeks (eq. 10)."""
    model = BetaGeoModel.from_params(CDNOW_BGNBD)
    expected = model.expected_purchases(39.0, [2], [30.43], [38.86])
    assert expected[0] == pytest.approx(1.226, abs=1e-3)


def test_expectations_match_monte_carlo() -> None:
    """E[X(t)] (eq. 9) and E[Y(t) | x=0, T] (eq. 10) match a simulation of the model."""
    rng = np.random.default_rng(11)
    n, T, t = 400_000, 38.86, 39.0
    lam = rng.gamma(CDNOW_BGNBD["r"], 1.0 / CDNOW_BGNBD["alpha"], n)
    p = rng.beta(CDNOW_BGNBD["a"], CDNOW_BGNBD["b"], n)
    dropout_after = rng.geometric(p)
    before = rng.poisson(lam * T)
    after = before + rng.poisson(lam * t)
    x_T = np.minimum(dropout_after, before)
    x_T_plus_t = np.minimum(dropout_after, after)
    model = BetaGeoModel.from_params(CDNOW_BGNBD)

    # A new customer observed for T weeks makes x_T repeat purchases.
    mc = x_T.mean()
    se = x_T.std() / math.sqrt(n)
    assert abs(model.unconditional_expected_purchases(T)[0] - mc) < 4 * se

    # Customers without a repeat purchase in (0, T]: purchases in (T, T + t].
    future = (x_T_plus_t - x_T)[x_T == 0]
    mc = future.mean()
    se = future.std() / math.sqrt(future.size)
    assert abs(model.expected_purchases(t, [0], [0.0], [T])[0] - mc) < 4 * se


def test_probability_alive_is_one_without_repeat_purchases() -> None:
    """P(alive) is 1 when x = 0: in the BG/NBD a customer drops out only after a repeat purchase."""
    model = BetaGeoModel.from_params(CDNOW_BGNBD)
    alive = model.probability_alive([0, 0, 0], [0.0, 0.0, 0.0], [1.0, 38.86, 500.0])
    assert alive.tolist() == [1.0, 1.0, 1.0]


def test_probability_alive_hand_value() -> None:
    """P(alive) = 1 / (1 + a/(b+x-1) · ((α+T)/(α+t_x))^(r+x)), checked by hand."""
    r, alpha, a, b = CDNOW_BGNBD.values()
    x, t_x, T = 2, 30.43, 38.86
    by_hand = 1.0 / (1.0 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x))
    model = BetaGeoModel.from_params(CDNOW_BGNBD)
    assert model.probability_alive([x], [t_x], [T])[0] == pytest.approx(by_hand, rel=1e-12)


def test_expected_purchases_grow_with_horizon_and_start_at_zero() -> None:
    """Expected purchases are 0 for t = 0 and increase with the horizon."""
    model = BetaGeoModel.from_params(CDNOW_BGNBD)
    horizons = np.array([0.0, 1.0, 10.0, 100.0, 1000.0])
    expected = model.expected_purchases(horizons, [3] * 5, [20.0] * 5, [30.0] * 5)
    assert expected[0] == 0.0
    assert np.all(np.diff(expected) > 0)
    assert model.unconditional_expected_purchases(0.0).tolist() == [0.0]


def test_expected_average_value_hand_values() -> None:
    """E[Z | x, z̄] = p(v + x z̄)/(px + q − 1); x = 0 gives the population mean pv/(q − 1)."""
    p, q, v = CDNOW_GAMMA_GAMMA.values()
    model = GammaGammaModel.from_params(CDNOW_GAMMA_GAMMA)
    got = model.expected_average_value([0, 1, 10], [0.0, 100.0, 100.0])
    by_hand = [p * v / (q - 1), p * (v + 100) / (p + q - 1), p * (v + 1000) / (10 * p + q - 1)]
    assert got.tolist() == pytest.approx(by_hand, rel=1e-12)


def test_customer_lifetime_value_is_discounted_monthly_sum() -> None:
    """CLV = margin · E[Z] · Σ_k (E[Y(k months)] − E[Y(k−1 months)]) / (1 + d)^k."""
    bgf = BetaGeoModel.from_params(CDNOW_BGNBD)
    ggf = GammaGammaModel.from_params(CDNOW_GAMMA_GAMMA)
    x, t_x, T, m = [0, 2, 5], [0.0, 30.43, 10.0], [38.86, 38.86, 52.0], [0.0, 45.0, 20.0]
    month = 365.25 / 12 / 7  # weeks
    spend = ggf.expected_average_value(x, m)
    by_hand = np.zeros(3)
    for k in range(1, 25):
        step = bgf.expected_purchases(k * month, x, t_x, T) - bgf.expected_purchases(
            (k - 1) * month, x, t_x, T
        )
        by_hand += step / 1.02**k
    clv = ggf.customer_lifetime_value(
        bgf,
        x,
        t_x,
        T,
        m,
        horizon_months=24,
        discount_rate_monthly=0.02,
        margin=0.3,
        time_unit_days=7,
    )
    assert clv == pytest.approx(0.3 * spend * by_hand, rel=1e-12)


def test_undiscounted_clv_is_expected_purchases_times_value() -> None:
    """With no discount and full margin, CLV telescopes to E[Z] · E[Y(horizon)]."""
    bgf = BetaGeoModel.from_params(CDNOW_BGNBD)
    ggf = GammaGammaModel.from_params(CDNOW_GAMMA_GAMMA)
    clv = ggf.customer_lifetime_value(
        bgf, [2], [60.0], [90.0], [45.0], horizon_months=12, discount_rate_monthly=0.0
    )
    purchases = bgf.expected_purchases(365.25, [2], [60.0], [90.0])
    value = ggf.expected_average_value([2], [45.0])
    assert clv[0] == pytest.approx(purchases[0] * value[0], rel=1e-9)


def test_estimate_to_money_quantizes_for_display() -> None:
    """Estimates become Decimal amounts in the currency's minor unit, half up."""
    assert estimate_to_money(1234.5678, "EUR") == Decimal("1234.57")
    assert estimate_to_money(0.125, "EUR") == Decimal("0.13")
    assert estimate_to_money(99.5, "JPY") == Decimal("100")
    with pytest.raises(DataError, match="not a finite number"):
        estimate_to_money(float("nan"), "EUR")


# --------------------------------------------------------------------------- contract


def test_unfitted_models_raise_not_fitted() -> None:
    """Predicting with an unfitted model raises scikit-learn's NotFittedError."""
    bgf, ggf = BetaGeoModel(), GammaGammaModel()
    with pytest.raises(NotFittedError):
        bgf.expected_purchases(10, [1], [2.0], [5.0])
    with pytest.raises(NotFittedError):
        bgf.probability_alive([1], [2.0], [5.0])
    with pytest.raises(NotFittedError):
        bgf.unconditional_expected_purchases(10)
    with pytest.raises(NotFittedError):
        ggf.expected_average_value([1], [10.0])
    fitted_gg = GammaGammaModel.from_params(CDNOW_GAMMA_GAMMA)
    with pytest.raises(NotFittedError):
        fitted_gg.customer_lifetime_value(bgf, [1], [2.0], [5.0], [10.0])


def test_models_keep_parameters_not_data() -> None:
    """A fitted model holds its parameters and fit statistics, never the training data."""
    rng = np.random.default_rng(8)
    T = np.full(1_000, 52.0)
    x, t_x = simulate_bgnbd(1_000, CDNOW_BGNBD, T, rng)
    model = BetaGeoModel().fit(x, t_x, T)
    assert sorted(vars(model)) == [
        "log_likelihood_",
        "n_evaluations_",
        "n_iter_",
        "params_",
        "penalizer_coef",
    ]
    assert all(isinstance(v, float) for v in model.params_.values())


def test_models_follow_the_estimator_contract() -> None:
    """get_params, set_params and clone work; __init__ only stores its arguments."""
    model = BetaGeoModel(penalizer_coef=0.1)
    assert model.get_params() == {"penalizer_coef": 0.1}
    assert clone(model).penalizer_coef == 0.1
    assert GammaGammaModel().set_params(penalizer_coef=0.2).penalizer_coef == 0.2


def test_from_params_round_trips_and_validates() -> None:
    """from_params rebuilds a model from saved parameters and rejects bad ones."""
    model = BetaGeoModel.from_params(CDNOW_BGNBD)
    assert model.params_ == CDNOW_BGNBD
    with pytest.raises(PolicyError, match="exactly the keys"):
        BetaGeoModel.from_params({"r": 1.0, "alpha": 1.0, "a": 1.0})
    with pytest.raises(PolicyError, match="'q' must be a finite number > 0"):
        GammaGammaModel.from_params({"p": 1.0, "q": -1.0, "v": 1.0})


@pytest.mark.parametrize(
    ("frequency", "recency", "T", "message"),
    [
        ([1, 2], [5.0, 60.0], [50.0, 50.0], r"recency must not exceed T.*position 1"),
        ([1, -2], [5.0, 6.0], [50.0, 50.0], r"frequency must not be negative.*position 1"),
        ([1, 2], [-5.0, 6.0], [50.0, 50.0], r"recency must not be negative.*position 0"),
        ([1.5, 2], [5.0, 6.0], [50.0, 50.0], r"frequency must be a whole number.*position 0"),
        ([0, 2], [5.0, 6.0], [50.0, 50.0], r"frequency 0 .* must have recency 0"),
        ([1, 2], [5.0, float("nan")], [50.0, 50.0], r"recency is missing \(NaN\).*position 1"),
        ([1, 2], [5.0, 6.0], [50.0, float("inf")], r"T is missing \(NaN\) or infinite"),
        ([1, 2], [5.0], [50.0, 50.0], r"one value per customer"),
        (["one"], [5.0], [50.0], r"frequency must hold numbers"),
        ([], [], [], r"no customers given"),
    ],
)
def test_invalid_bgnbd_inputs_raise_clear_errors(
    frequency: list[float], recency: list[float], T: list[float], message: str
) -> None:
    """Inputs that violate the model raise DataError (a ValueError) naming the problem."""
    with pytest.raises(DataError, match=message) as info:
        BetaGeoModel().fit(frequency, recency, T)
    assert isinstance(info.value, ValueError)
    with pytest.raises(DataError, match=message):
        BetaGeoModel.from_params(CDNOW_BGNBD).probability_alive(frequency, recency, T)


def test_errors_name_the_customer_of_a_series() -> None:
    """With pandas input the error names the offending customer's index label."""
    summary = pd.DataFrame(
        {"frequency": [1, 2], "recency": [5.0, 60.0], "T": [50.0, 50.0]},
        index=pd.Index(["K1", "K2"], name="customer_id"),
    )
    with pytest.raises(DataError, match="customer 'K2'"):
        BetaGeoModel().fit(summary["frequency"], summary["recency"], summary["T"])


def test_invalid_gamma_gamma_inputs_raise_clear_errors() -> None:
    """Gamma-Gamma rejects customers without repeat purchases and non-positive spend."""
    with pytest.raises(DataError, match=r"frequency is 0 in 1 row \(first: position 0\)"):
        GammaGammaModel().fit([0, 2], [0.0, 10.0])
    with pytest.raises(DataError, match=r"monetary_value must be > 0"):
        GammaGammaModel().fit([1, 2], [0.0, 10.0])
    with pytest.raises(DataError, match=r"monetary_value must not be negative"):
        GammaGammaModel().fit([1, 2], [-3.0, 10.0])


def test_invalid_settings_raise_policy_errors() -> None:
    """Out-of-range settings raise PolicyError naming the field."""
    with pytest.raises(PolicyError, match="'penalizer_coef' parameter") as info:
        BetaGeoModel(penalizer_coef=-1.0).fit([1], [1.0], [2.0])
    assert info.value.field == "penalizer_coef"
    bgf = BetaGeoModel.from_params(CDNOW_BGNBD)
    ggf = GammaGammaModel.from_params(CDNOW_GAMMA_GAMMA)
    for setting, value in [
        ("horizon_months", 0),
        ("discount_rate_monthly", -0.01),
        ("margin", 1.5),
        ("time_unit_days", 0.0),
    ]:
        with pytest.raises(PolicyError, match=setting) as info:
            kwargs: dict[str, Any] = {setting: value}
            ggf.customer_lifetime_value(bgf, [1], [2.0], [5.0], [10.0], **kwargs)
        assert info.value.field == setting
    with pytest.raises(PolicyError, match=r"t \(the prediction horizon\)"):
        bgf.expected_purchases(-1.0, [1], [2.0], [5.0])


def test_infinite_expected_spend_raises_model_error() -> None:
    """With q <= 1 the expected spend of a new customer is infinite: ModelError, not inf."""
    ggf = GammaGammaModel.from_params({"p": 2.0, "q": 0.9, "v": 10.0})
    with pytest.raises(ModelError, match=r"q = 0\.9 <= 1"):
        ggf.expected_average_value([0], [0.0])


# --------------------------------------------------------------------------- summary


LEDGER = pd.DataFrame(
    {
        "customer_id": ["A", "A", "A", "A", "A", "B", "B", "C", "D"],
        "booked": pd.to_datetime(
            [
                "2026-01-01",
                "2026-01-01",  # same day as the first purchase: one period, summed
                "2026-01-11",
                "2026-01-21",
                "2026-02-15",  # after as_of: ignored
                "2026-01-05",
                "2026-01-05",
                "2026-01-31",  # on as_of: counts
                "2026-02-01",  # only after as_of: customer absent
            ]
        ),
        "amount": [
            Decimal("10.00"),
            Decimal("5.00"),
            Decimal("20.00"),
            Decimal("40.00"),
            Decimal("999.00"),
            Decimal("7.50"),
            Decimal("2.50"),
            Decimal("12.34"),
            Decimal("1.00"),
        ],
    }
)


def test_summary_from_transactions_daily() -> None:
    """Daily summary: repeat periods only, same-day purchases merged, post-as_of ignored."""
    summary = summary_from_transactions(
        LEDGER, "customer_id", "booked", "amount", date(2026, 1, 31)
    )
    assert summary.index.name == "customer_id"
    assert summary.index.tolist() == ["A", "B", "C"]
    assert summary["frequency"].tolist() == [2, 0, 0]
    assert summary["recency"].tolist() == [20.0, 0.0, 0.0]
    assert summary["T"].tolist() == [30.0, 26.0, 0.0]
    # A: repeat purchases 20.00 and 40.00 (the first day's 15.00 excluded)
    assert summary["monetary_value"].tolist() == [30.0, 0.0, 0.0]
    assert summary["frequency"].dtype == np.int64


def test_summary_from_transactions_weekly_without_values() -> None:
    """Weekly periods count weeks; without a value column there is no monetary_value."""
    summary = summary_from_transactions(
        LEDGER, "customer_id", "booked", None, date(2026, 2, 28), freq="W"
    )
    assert list(summary.columns) == ["frequency", "recency", "T"]
    assert summary.index.tolist() == ["A", "B", "C", "D"]
    # A: Thu 1 Jan, Sun 11 Jan, Wed 21 Jan, Sun 15 Feb are in four different Mon-Sun weeks
    # (weeks 0, 1, 3 and 6 from the first); as_of Sat 28 Feb is in week 8.
    assert summary.to_numpy()[0].tolist() == [3.0, 6.0, 8.0]
    # D: its only purchase (Sun 1 Feb) is in week 4 after 1 Jan; as_of is 4 weeks later.
    assert summary.to_numpy()[3].tolist() == [0.0, 0.0, 4.0]


def test_summary_feeds_the_models() -> None:
    """The summary's columns go straight into the models."""
    summary = summary_from_transactions(
        LEDGER, "customer_id", "booked", "amount", date(2026, 1, 31)
    )
    bgf = BetaGeoModel.from_params(CDNOW_BGNBD)
    alive = bgf.probability_alive(summary["frequency"], summary["recency"], summary["T"])
    assert alive.shape == (3,)


def test_summary_rejects_unusable_ledgers() -> None:
    """Missing columns, dates, values or a bad freq raise errors that say where."""
    with pytest.raises(DataError, match=r"\['amount_eur'\] missing") as info:
        summary_from_transactions(LEDGER, "customer_id", "booked", "amount_eur", date(2026, 1, 31))
    assert info.value.missing == ("amount_eur",)
    broken = LEDGER.assign(booked=LEDGER["booked"].where(LEDGER.index != 2))
    with pytest.raises(
        DataError, match=r"'booked' is missing in 1 transaction\(s\) \(rows \[2\]\)"
    ):
        summary_from_transactions(broken, "customer_id", "booked", "amount", date(2026, 1, 31))
    texts = LEDGER.assign(amount=LEDGER["amount"].astype(str))
    with pytest.raises(DataError, match=r"'amount' must hold numbers"):
        summary_from_transactions(texts, "customer_id", "booked", "amount", date(2026, 1, 31))
    with pytest.raises(PolicyError, match="pandas period alias"):
        summary_from_transactions(
            LEDGER, "customer_id", "booked", "amount", date(2026, 1, 31), freq="fortnight"
        )


# --------------------------------------------------------------------------- contractual


def test_contractual_clv_hand_example() -> None:
    """m=100, r=0.8, d=0.1: 100 · 0.8 / (1.1 − 0.8) = 800/3; two periods: 100(q + q²), q=8/11."""
    assert contractual_clv(100.0, 0.8, 0.1) == pytest.approx(800 / 3, rel=1e-12)
    q = 0.8 / 1.1
    assert contractual_clv(Decimal("100"), 0.8, 0.1, periods=2) == pytest.approx(
        100 * (q + q**2), rel=1e-12
    )
    assert contractual_clv(100.0, 0.0, 0.1) == 0.0


def test_contractual_clv_finite_horizon_approaches_infinite() -> None:
    """The finite-horizon value grows with the horizon towards the infinite-horizon value."""
    values = [contractual_clv(50.0, 0.9, 0.01, periods=n) for n in (1, 12, 120, 1200)]
    assert values == sorted(values)
    assert values[-1] == pytest.approx(contractual_clv(50.0, 0.9, 0.01), rel=1e-12)


def test_contractual_clv_validates_inputs() -> None:
    """Retention outside [0, 1) is a DataError; a negative discount or periods < 1 a PolicyError."""
    with pytest.raises(DataError, match=r"retention must be in \[0, 1\)"):
        contractual_clv(100.0, 1.0, 0.1)
    with pytest.raises(DataError, match=r"retention must be in \[0, 1\)"):
        contractual_clv(100.0, -0.1, 0.1)
    with pytest.raises(PolicyError, match="discount_rate must be"):
        contractual_clv(100.0, 0.5, -0.1)
    with pytest.raises(PolicyError, match="periods must be"):
        contractual_clv(100.0, 0.5, 0.1, periods=0)


def test_decimal_and_nullable_inputs() -> None:
    """Decimal spend converts to float; pandas NA counts as missing, text is refused."""
    spend = pd.Series([Decimal("20.00"), Decimal("35.50"), Decimal("28.00")])
    model = GammaGammaModel.from_params(CDNOW_GAMMA_GAMMA)
    assert model.expected_average_value([1, 2, 3], spend).tolist() == pytest.approx(
        model.expected_average_value([1, 2, 3], [20.0, 35.5, 28.0]).tolist(), rel=1e-15
    )
    frequency = pd.Series([1, None], dtype="Int64", index=["K1", "K2"])
    with pytest.raises(DataError, match=r"frequency is missing \(NaN\).*customer 'K2'"):
        BetaGeoModel().fit(frequency, [1.0, 0.0], [2.0, 2.0])
    with pytest.raises(DataError, match=r"recency must hold numbers .* got '1.0'"):
        BetaGeoModel().fit([1], pd.Series(["1.0"]), [2.0])
