"""Customer lifetime value: BG/NBD purchase counts, Gamma-Gamma spend, contractual CLV.

What a customer is worth informs the *offer and the tone* of a dunning letter (a valued
customer gets an instalment plan and a friendlier wording); it never raises a customer's
risk. The estimates here are statistics (``float``), not amounts owed: convert one with
:func:`estimate_to_money` before it appears in an offer or a letter.

* :func:`summary_from_transactions` turns a ledger of purchases (invoices or payments)
  into the per-customer summary the models need: ``frequency`` (repeat purchase periods),
  ``recency`` and ``T`` (age), and ``monetary_value`` (mean spend per repeat period).
* :class:`BetaGeoModel` is the BG/NBD model of Fader, Hardie & Lee (2005), "Counting Your
  Customers the Easy Way": how many purchases a customer will make, and whether they are
  still "alive". Non-contractual, continuous time, repeat purchases only.
* :class:`GammaGammaModel` is the Gamma-Gamma spend model of Fader & Hardie (2013), "The
  Gamma-Gamma Model of Monetary Value"; :meth:`GammaGammaModel.customer_lifetime_value`
  combines both into a discounted CLV over a horizon in months.
* :func:`contractual_clv` is the simple margin · retention / (1 + discount − retention)
  for subscription customers without a purchase history.

Both models are fitted by maximum likelihood (L-BFGS-B on the log-parameters, analytic
gradients, log-space likelihoods), keep only their parameters (never the training data),
and can be rebuilt from saved parameters with ``from_params`` (no pickle). The methodology
page ``docs/clv.md`` gives the formulas, assumptions and limits.

Examples
--------
>>> from datetime import date
>>> import pandas as pd
>>> ledger = pd.DataFrame({
...     "customer_id": ["K1", "K1", "K1", "K2"],
...     "issue_date": pd.to_datetime(["2026-01-05", "2026-02-05", "2026-04-05", "2026-03-01"]),
...     "amount": [100.0, 40.0, 60.0, 80.0]})
>>> summary_from_transactions(ledger, "customer_id", "issue_date", "amount",
...                           date(2026, 6, 30), freq="W")  # doctest: +NORMALIZE_WHITESPACE
             frequency  recency     T  monetary_value
customer_id
K1                   2     12.0  25.0            50.0
K2                   0      0.0  18.0             0.0

With the parameters published for the CDNOW data (time unit: weeks), the expected number
of purchases in the next 39 weeks of a customer who bought twice more after the first
purchase, the last time in week 30.43 of 38.86 (Fader, Hardie & Lee 2005, section 5):

>>> bgf = BetaGeoModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
>>> bgf.expected_purchases(39, [2], [30.43], [38.86]).round(3)
array([1.226])
>>> ggf = GammaGammaModel.from_params({"p": 6.25, "q": 3.74, "v": 15.44})
>>> ggf.expected_average_value([2], [45.0]).round(2)
array([43.24])
>>> clv = ggf.customer_lifetime_value(bgf, [2], [30.43], [38.86], [45.0],
...                                   horizon_months=12, time_unit_days=7)
>>> clv.round(2)
array([63.66])
>>> estimate_to_money(float(clv[0]), "EUR")
Decimal('63.66')
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Self, overload

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.optimize import minimize
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from dunning.errors import DataError, ModelError, PolicyError
from dunning.money import quantize
from scoring._clv_likelihood import (
    BGNBDData,
    GammaGammaData,
    bgnbd_expected_purchases,
    bgnbd_loglik,
    bgnbd_objective,
    bgnbd_probability_alive,
    bgnbd_unconditional_expected_purchases,
    dot,
    gamma_gamma_loglik,
    gamma_gamma_objective,
    prepare_bgnbd,
    prepare_gamma_gamma,
)

__all__ = [
    "BetaGeoModel",
    "GammaGammaModel",
    "contractual_clv",
    "estimate_to_money",
    "summary_from_transactions",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: Days per month used to convert a horizon in months into model time units (365.25 / 12).
DAYS_PER_MONTH = 365.25 / 12
# Log-parameters are kept in [-20, 20] (parameters in [2e-9, 5e8]) so that a degenerate
# data set drives a parameter to a bound instead of to overflow.
_LOG_BOUND = 20.0
# A fit that stops for a line-search reason but has this small a projected gradient (of
# the mean log-likelihood) is at the optimum up to floating-point noise.
_GRADIENT_TOLERANCE = 1e-4


# --------------------------------------------------------------------------- validation


def _labels(values: object) -> pd.Index | None:
    return values.index if isinstance(values, pd.Series) else None


def _where(mask: npt.NDArray[np.bool_], labels: pd.Index | None) -> str:
    """Say how many rows are flagged and where the first one is."""
    first = int(np.flatnonzero(mask)[0])
    place = f"customer {labels[first]!r}" if labels is not None else f"position {first}"
    count = int(mask.sum())
    return f"{count} row{'s' if count != 1 else ''} (first: {place})"


def _is_number_value(value: object) -> bool:
    """A single value usable as a number: Decimal, int or float (not bool, not text)."""
    return isinstance(value, Decimal | int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _float_array(values: object, name: str, owner: str) -> FloatArray:
    """Convert one input column to a 1-D float64 array; text and booleans are rejected.

    Decimal values are converted explicitly with ``float()``: the models compute
    statistics, not money. Missing values become NaN (checked by the caller).
    """
    if (
        isinstance(values, pd.Series)
        and pd.api.types.is_numeric_dtype(values.dtype)
        and not pd.api.types.is_bool_dtype(values.dtype)
    ):
        raw = values.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        raw = np.asarray(values.to_numpy() if isinstance(values, pd.Series) else values)
    if raw.dtype.kind == "O":
        flat = raw.ravel().tolist()
        bad = [v for v in flat if not (_is_number_value(v) or v is None or v is pd.NA)]
        if bad:
            msg = (
                f"{owner}: {name} must hold numbers (Decimal, int or float); got {bad[0]!r}. "
                "Convert the column to numbers first."
            )
            raise DataError(msg)
        raw = np.array([np.nan if v is None or v is pd.NA else float(v) for v in flat]).reshape(
            raw.shape
        )
    elif raw.dtype.kind not in "iuf":
        msg = (
            f"{owner}: {name} must hold numbers (Decimal, int or float); got values of dtype "
            f"{raw.dtype}. Convert the column to numbers first."
        )
        raise DataError(msg)
    array = np.atleast_1d(raw.astype(np.float64))
    if array.ndim != 1:
        msg = f"{owner}: {name} must be one-dimensional, got shape {array.shape}."
        raise DataError(msg)
    return array


def _customer_arrays(
    owner: str, **columns: object
) -> tuple[dict[str, FloatArray], pd.Index | None]:
    """Convert and check per-customer inputs: same length, finite, non-negative."""
    arrays: dict[str, FloatArray] = {}
    labels: pd.Index | None = None
    for name, values in columns.items():
        labels = labels if labels is not None else _labels(values)
        arrays[name] = _float_array(values, name, owner)
    lengths = {name: a.size for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        msg = f"{owner}: the inputs must have one value per customer; got lengths {lengths}."
        raise DataError(msg)
    if next(iter(lengths.values())) == 0:
        msg = f"{owner}: no customers given; pass at least one."
        raise DataError(msg)
    for name, a in arrays.items():
        bad = ~np.isfinite(a)
        if bad.any():
            msg = (
                f"{owner}: {name} is missing (NaN) or infinite in {_where(bad, labels)}; "
                "drop or fill those customers first."
            )
            raise DataError(msg)
        bad = a < 0
        if bad.any():
            msg = (
                f"{owner}: {name} must not be negative, but is in {_where(bad, labels)}; "
                "check the summary (see summary_from_transactions)."
            )
            raise DataError(msg)
    if "frequency" in arrays:
        x = arrays["frequency"]
        bad = x != np.floor(x)
        if bad.any():
            msg = (
                f"{owner}: frequency must be a whole number of repeat purchases, but is not "
                f"in {_where(bad, labels)}."
            )
            raise DataError(msg)
    return arrays, labels


def _rft(
    owner: str, frequency: object, recency: object, T: object
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Validated (frequency, recency, T) arrays for the BG/NBD model."""
    arrays, labels = _customer_arrays(owner, frequency=frequency, recency=recency, T=T)
    x, t_x, age = arrays["frequency"], arrays["recency"], arrays["T"]
    bad = t_x > age
    if bad.any():
        msg = (
            f"{owner}: recency must not exceed T, but does in {_where(bad, labels)}. Both "
            "count from the customer's first purchase; T ends at the as-of date, recency at "
            "the last purchase."
        )
        raise DataError(msg)
    bad = (x == 0) & (t_x > 0)
    if bad.any():
        msg = (
            f"{owner}: a customer with frequency 0 (no repeat purchase) must have recency 0, "
            f"but {_where(bad, labels)} has recency > 0."
        )
        raise DataError(msg)
    return x, t_x, age


def _weights(weights: object, n: int, owner: str) -> FloatArray | None:
    if weights is None:
        return None
    arrays, _ = _customer_arrays(owner, weights=weights)
    w = arrays["weights"]
    if w.size != n:
        msg = f"{owner}: weights must have one value per customer ({n}), got {w.size}."
        raise DataError(msg)
    if not w.sum() > 0:
        msg = f"{owner}: the weights sum to 0; at least one customer must count."
        raise DataError(msg)
    return w


def _check_params(params: Mapping[str, float], names: Sequence[str], owner: str) -> None:
    if set(params) != set(names):
        msg = f"{owner}: params must have exactly the keys {list(names)}, got {sorted(params)}."
        raise PolicyError(msg, field="params")
    for name in names:
        value = params[name]
        if not (_is_number(value) and value > 0):
            msg = f"{owner}: parameter {name!r} must be a finite number > 0. Got {value!r}."
            raise PolicyError(msg, field=name)


def _check_penalizer(model: BetaGeoModel | GammaGammaModel) -> float:
    value = model.penalizer_coef
    if not (_is_number(value) and value >= 0):
        msg = (
            f"The 'penalizer_coef' parameter of {type(model).__name__} must be a finite "
            f"number >= 0. Got {value!r} instead."
        )
        raise PolicyError(msg, field="penalizer_coef")
    return float(value)


def _maximize(
    objective: Callable[[FloatArray, Any, float], tuple[float, FloatArray]],
    data: BGNBDData | GammaGammaData,
    n_params: int,
    penalizer: float,
    owner: str,
) -> tuple[FloatArray, int, int]:
    """Minimize the penalized mean negative log-likelihood over the log-parameters."""
    result = minimize(
        objective,
        np.zeros(n_params),
        args=(data, penalizer),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-_LOG_BOUND, _LOG_BOUND)] * n_params,
        options={"maxiter": 1000, "ftol": 1e-12, "gtol": 1e-7},
    )
    log_params = np.asarray(result.x, dtype=np.float64)
    gradient = np.asarray(result.jac, dtype=np.float64)
    # the projected gradient: at a bound, only a push further out is no sign of trouble
    at_lower = (log_params <= -_LOG_BOUND) & (gradient > 0)
    at_upper = (log_params >= _LOG_BOUND) & (gradient < 0)
    projected = np.where(at_lower | at_upper, 0.0, gradient)
    converged = result.success or np.abs(projected).max() < _GRADIENT_TOLERANCE
    if not (converged and np.isfinite(result.fun)):
        msg = (
            f"{owner}: the maximum-likelihood fit did not converge after {result.nit} "
            f"iterations ({result.message}). Check the summary for implausible values, or "
            "fit with a small penalizer_coef (e.g. 0.001)."
        )
        raise ModelError(msg)
    if (np.abs(log_params) >= _LOG_BOUND).any():
        # A boundary optimum is a valid answer (for BG/NBD, a -> 0 means nobody seems to
        # drop out), so this is information, not a data-quality warning.
        logger.info(
            "%s: a parameter reached its bound (log-parameters %s); the data hardly "
            "identify it. Consider a penalizer_coef > 0.",
            owner,
            np.round(log_params, 3).tolist(),
        )
    return np.exp(log_params), int(result.nit), int(result.nfev)


def _time_array(t: object, owner: str) -> FloatArray:
    array = _float_array(t, "t", owner)
    if not np.isfinite(array).all() or (array < 0).any():
        msg = f"{owner}: t (the prediction horizon) must be finite and >= 0. Got {t!r}."
        raise PolicyError(msg, field="t")
    return array


# --------------------------------------------------------------------------- BG/NBD


class BetaGeoModel(BaseEstimator):  # type: ignore[misc]
    """BG/NBD model of repeat purchases (Fader, Hardie & Lee 2005).

    While alive, a customer buys according to a Poisson process with rate ``λ``; after
    each repeat purchase they drop out for good with probability ``p``. Across customers
    ``λ ~ Gamma(r, α)`` (shape ``r``, rate ``α``) and ``p ~ Beta(a, b)``. Time is in the
    unit of ``recency`` and ``T`` (days, weeks, ...), counted from each customer's first
    purchase, which itself is not a repeat purchase.

    Parameters
    ----------
    penalizer_coef : float
        L2 penalty ``penalizer_coef · (r² + α² + a² + b²)`` added to the mean negative
        log-likelihood; > 0 shrinks the parameters towards 0 and stabilises fits on
        small or degenerate data. Default 0 (plain maximum likelihood).

    Attributes
    ----------
    params_ : dict of str to float
        Fitted ``r``, ``alpha``, ``a``, ``b``.
    log_likelihood_ : float
        Total (weighted) log-likelihood at ``params_``, without the penalty. Only set by
        :meth:`fit`.
    n_iter_ : int
        Optimizer iterations. Only set by :meth:`fit`.
    n_evaluations_ : int
        Log-likelihood (and gradient) evaluations of the optimizer. Only set by :meth:`fit`.

    Examples
    --------
    Simulate 5,000 customers over 52 weeks and fit the model back:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> n, T = 5_000, np.full(5_000, 52.0)
    >>> lam, p = rng.gamma(0.5, 1 / 5.0, n), rng.beta(1.0, 3.0, n)
    >>> bought = rng.poisson(lam * T)
    >>> x = np.minimum(rng.geometric(p), bought)
    >>> t_x = np.where(x > 0, T * rng.beta(np.maximum(x, 1), bought - x + 1), 0.0)
    >>> bgf = BetaGeoModel().fit(x, t_x, T)
    >>> {k: round(v, 2) for k, v in bgf.params_.items()}
    {'r': 0.5, 'alpha': 5.09, 'a': 0.97, 'b': 2.88}
    >>> bgf.probability_alive([0, 3, 3], [0.0, 50.0, 10.0], [52.0, 52.0, 52.0]).round(3)
    array([1.   , 0.816, 0.045])
    >>> bgf.fit([1, 2], [5.0, 60.0], [50.0, 50.0])
    Traceback (most recent call last):
    ...
    dunning.errors.DataError: BetaGeoModel.fit: recency must not exceed T, but does in 1 row (first: position 1). Both count from the customer's first purchase; T ends at the as-of date, recency at the last purchase.
    """  # noqa: E501

    def __init__(self, *, penalizer_coef: float = 0.0) -> None:
        self.penalizer_coef = penalizer_coef

    @classmethod
    def from_params(cls, params: Mapping[str, float], *, penalizer_coef: float = 0.0) -> Self:
        """Build a fitted model from known parameters (published, or saved as JSON).

        Parameters
        ----------
        params : mapping
            ``r``, ``alpha``, ``a`` and ``b``, each a finite number > 0.
        penalizer_coef : float
            Recorded for reference; it has no effect on predictions.

        Returns
        -------
        BetaGeoModel
            A model with ``params_`` set (``log_likelihood_`` is not set).

        Examples
        --------
        >>> import json
        >>> bgf = BetaGeoModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
        >>> BetaGeoModel.from_params(json.loads(json.dumps(bgf.params_))).params_ == bgf.params_
        True
        """
        _check_params(params, ("r", "alpha", "a", "b"), f"{cls.__name__}.from_params")
        model = cls(penalizer_coef=penalizer_coef)
        model.params_ = {name: float(params[name]) for name in ("r", "alpha", "a", "b")}
        return model

    def fit(self, frequency: Any, recency: Any, T: Any, weights: Any = None) -> Self:
        """Fit the model by maximum likelihood.

        Parameters
        ----------
        frequency : array-like of int
            Number of repeat purchases (periods with a purchase after the first), >= 0.
        recency : array-like of float
            Time from the first to the last purchase; 0 when ``frequency`` is 0.
        T : array-like of float
            Time from the first purchase to the end of observation, >= ``recency``.
        weights : array-like of float or None
            Optional number of customers each row stands for (e.g. after grouping
            identical rows).

        Returns
        -------
        BetaGeoModel
            ``self``, fitted.

        Raises
        ------
        DataError
            If an input is missing, negative, non-numeric, of the wrong length, if
            ``frequency`` is not whole, if ``recency > T``, or if ``frequency`` is 0
            with ``recency > 0``.
        PolicyError
            If ``penalizer_coef`` is negative or not finite.
        ModelError
            If the optimizer does not converge.

        Examples
        --------
        >>> bgf = BetaGeoModel().fit([0, 1, 4, 2, 0, 7], [0, 5, 30, 9, 0, 35],
        ...                          [40, 38, 36, 34, 32, 39])
        >>> sorted(bgf.params_), round(bgf.log_likelihood_, 3)
        (['a', 'alpha', 'b', 'r'], -50.018)
        """
        owner = f"{type(self).__name__}.fit"
        penalizer = _check_penalizer(self)
        x, t_x, age = _rft(owner, frequency, recency, T)
        data = prepare_bgnbd(x, t_x, age, _weights(weights, x.size, owner))
        params, self.n_iter_, self.n_evaluations_ = _maximize(
            bgnbd_objective, data, 4, penalizer, owner
        )
        r, alpha, a, b = (float(v) for v in params)
        self.params_ = {"r": r, "alpha": alpha, "a": a, "b": b}
        self.log_likelihood_ = dot(data.weights, bgnbd_loglik(r, alpha, a, b, data))
        logger.debug(
            "%s: params %s, log-likelihood %.6g", owner, self.params_, self.log_likelihood_
        )
        return self

    def _params(self) -> tuple[float, float, float, float]:
        check_is_fitted(self, "params_")
        p = self.params_
        return p["r"], p["alpha"], p["a"], p["b"]

    def score_samples(self, frequency: Any, recency: Any, T: Any) -> FloatArray:
        """Log-likelihood of each customer's (frequency, recency, T) under the fitted model.

        Returns
        -------
        numpy.ndarray
            One float per customer; their sum is ``log_likelihood_`` on the training data.

        Examples
        --------
        >>> bgf = BetaGeoModel.from_params({"r": 1.0, "alpha": 1.0, "a": 1.0, "b": 1.0})
        >>> bgf.score_samples([0], [0.0], [1.0]).round(6)  # 1/2 · 1/(1+1)^0 ... = log(1/2)
        array([-0.693147])
        """
        r, alpha, a, b = self._params()
        x, t_x, age = _rft(f"{type(self).__name__}.score_samples", frequency, recency, T)
        return bgnbd_loglik(r, alpha, a, b, prepare_bgnbd(x, t_x, age))

    def expected_purchases(self, t: Any, frequency: Any, recency: Any, T: Any) -> FloatArray:
        """Expected number of repeat purchases in the next ``t`` time units.

        The conditional expectation ``E[Y(t) | x, t_x, T]`` of Fader, Hardie & Lee (2005),
        eq. 10: it accounts for the chance that the customer has already dropped out.

        Parameters
        ----------
        t : float or array-like of float
            Horizon (>= 0) in the model's time unit; a scalar or one value per customer.
        frequency, recency, T : array-like
            As in :meth:`fit`.

        Returns
        -------
        numpy.ndarray
            One float per customer.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the model is neither fitted nor built with :meth:`from_params`.

        Examples
        --------
        >>> bgf = BetaGeoModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
        >>> bgf.expected_purchases(39, [0, 2, 2], [0, 30.43, 5.0], [38.86, 38.86, 38.86]).round(3)
        array([0.195, 1.226, 0.209])
        >>> BetaGeoModel().expected_purchases(39, [0], [0], [38.86])
        Traceback (most recent call last):
        ...
        sklearn.exceptions.NotFittedError: This BetaGeoModel instance is not fitted yet. Call 'fit' with appropriate arguments before using this estimator.
        """  # noqa: E501
        r, alpha, a, b = self._params()
        owner = f"{type(self).__name__}.expected_purchases"
        x, t_x, age = _rft(owner, frequency, recency, T)
        horizon = np.broadcast_to(_time_array(t, owner), x.shape)
        return bgnbd_expected_purchases(r, alpha, _away_from_one(a), b, horizon, x, t_x, age)

    def probability_alive(self, frequency: Any, recency: Any, T: Any) -> FloatArray:
        """Probability that each customer is still active at ``T``.

        ``P(alive) = 1 / (1 + δ(x>0) · a/(b+x-1) · ((α+T)/(α+t_x))^(r+x))``; it is 1 for
        customers without a repeat purchase, since in the BG/NBD model a customer can only
        drop out right after a repeat purchase.

        Returns
        -------
        numpy.ndarray
            One probability per customer.

        Examples
        --------
        >>> bgf = BetaGeoModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
        >>> bgf.probability_alive([0, 2, 2], [0, 30.43, 5.0], [38.86, 38.86, 38.86]).round(3)
        array([1.   , 0.727, 0.124])
        """
        r, alpha, a, b = self._params()
        x, t_x, age = _rft(f"{type(self).__name__}.probability_alive", frequency, recency, T)
        return bgnbd_probability_alive(r, alpha, a, b, x, t_x, age)

    def unconditional_expected_purchases(self, t: Any) -> FloatArray:
        """Expected repeat purchases ``E[X(t)]`` of a new customer in ``t`` time units (eq. 9).

        Examples
        --------
        >>> bgf = BetaGeoModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
        >>> bgf.unconditional_expected_purchases([0.0, 39.0, 78.0]).round(3)
        array([0.   , 1.197, 1.861])
        """
        r, alpha, a, b = self._params()
        horizon = _time_array(t, f"{type(self).__name__}.unconditional_expected_purchases")
        return bgnbd_unconditional_expected_purchases(r, alpha, _away_from_one(a), b, horizon)


def _away_from_one(a: float) -> float:
    """Nudge ``a`` off 1, where eq. 9/10 are 0/0 (the limit is continuous there)."""
    return a if abs(a - 1.0) > 1e-9 else 1.0 + 1e-9


# --------------------------------------------------------------------------- Gamma-Gamma


class GammaGammaModel(BaseEstimator):  # type: ignore[misc]
    """Gamma-Gamma model of the spend per transaction (Fader & Hardie 2013).

    A customer's transactions have values ``z ~ Gamma(p, ν)`` (shape ``p``, rate ``ν``),
    so their mean value is ``p/ν``; across customers ``ν ~ Gamma(q, v)`` (shape ``q``,
    rate ``v``). The model assumes that spend does not depend on purchase frequency;
    check that the correlation between ``frequency`` and ``monetary_value`` is small.

    Spend values are statistical inputs (``float``); the expected values it returns are
    estimates, not amounts owed.

    Parameters
    ----------
    penalizer_coef : float
        L2 penalty ``penalizer_coef · (p² + q² + v²)`` on the mean negative
        log-likelihood. Default 0.

    Attributes
    ----------
    params_ : dict of str to float
        Fitted ``p``, ``q``, ``v``.
    log_likelihood_ : float
        Total (weighted) log-likelihood at ``params_``, without the penalty. Only set by
        :meth:`fit`.
    n_iter_, n_evaluations_ : int
        Optimizer iterations and evaluations. Only set by :meth:`fit`.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.integers(1, 10, 5_000)
    >>> nu = rng.gamma(4.0, 1 / 20.0, 5_000)
    >>> mean_spend = rng.gamma(5.0 * x, 1 / nu) / x
    >>> ggf = GammaGammaModel().fit(x, mean_spend)
    >>> {k: round(v, 2) for k, v in ggf.params_.items()}
    {'p': 4.74, 'q': 4.03, 'v': 21.08}
    >>> GammaGammaModel().fit([0, 2], [0.0, 10.0])
    Traceback (most recent call last):
    ...
    dunning.errors.DataError: GammaGammaModel.fit: the model is fitted on customers with at least one repeat purchase, but frequency is 0 in 1 row (first: position 0); select them with summary[summary['frequency'] > 0].
    """  # noqa: E501

    def __init__(self, *, penalizer_coef: float = 0.0) -> None:
        self.penalizer_coef = penalizer_coef

    @classmethod
    def from_params(cls, params: Mapping[str, float], *, penalizer_coef: float = 0.0) -> Self:
        """Build a fitted model from known parameters ``p``, ``q``, ``v``.

        Examples
        --------
        >>> GammaGammaModel.from_params({"p": 6.25, "q": 3.74, "v": 15.44}).params_["q"]
        3.74
        """
        _check_params(params, ("p", "q", "v"), f"{cls.__name__}.from_params")
        model = cls(penalizer_coef=penalizer_coef)
        model.params_ = {name: float(params[name]) for name in ("p", "q", "v")}
        return model

    def fit(self, frequency: Any, monetary_value: Any, weights: Any = None) -> Self:
        """Fit the model by maximum likelihood on customers with a repeat purchase.

        Parameters
        ----------
        frequency : array-like of int
            Number of repeat purchases, each >= 1.
        monetary_value : array-like of float
            Mean value of those repeat purchases, each > 0 (``float`` or ``Decimal``).
        weights : array-like of float or None
            Optional number of customers each row stands for.

        Returns
        -------
        GammaGammaModel
            ``self``, fitted.

        Raises
        ------
        DataError
            If an input is missing, negative or non-numeric, a frequency is 0 or not
            whole, or a monetary value is not positive.
        ModelError
            If the optimizer does not converge.

        Examples
        --------
        >>> ggf = GammaGammaModel().fit([1, 2, 5, 3, 1, 4], [20.0, 35.5, 28.0, 91.0, 15.0, 7.5])
        >>> sorted(ggf.params_), round(ggf.log_likelihood_, 3)
        (['p', 'q', 'v'], -26.083)
        """
        owner = f"{type(self).__name__}.fit"
        penalizer = _check_penalizer(self)
        arrays, labels = _customer_arrays(owner, frequency=frequency, monetary_value=monetary_value)
        x, m = arrays["frequency"], arrays["monetary_value"]
        bad = x == 0
        if bad.any():
            msg = (
                f"{owner}: the model is fitted on customers with at least one repeat purchase, "
                f"but frequency is 0 in {_where(bad, labels)}; select them with "
                "summary[summary['frequency'] > 0]."
            )
            raise DataError(msg)
        bad = m == 0
        if bad.any():
            msg = (
                f"{owner}: monetary_value must be > 0 for customers with repeat purchases, "
                f"but is 0 in {_where(bad, labels)}; leave out customers whose repeat "
                "purchases were fully credited."
            )
            raise DataError(msg)
        data = prepare_gamma_gamma(x, m, _weights(weights, x.size, owner))
        params, self.n_iter_, self.n_evaluations_ = _maximize(
            gamma_gamma_objective, data, 3, penalizer, owner
        )
        p, q, v = (float(t) for t in params)
        self.params_ = {"p": p, "q": q, "v": v}
        self.log_likelihood_ = dot(data.weights, gamma_gamma_loglik(p, q, v, data))
        logger.debug(
            "%s: params %s, log-likelihood %.6g", owner, self.params_, self.log_likelihood_
        )
        return self

    def _params(self) -> tuple[float, float, float]:
        check_is_fitted(self, "params_")
        params = self.params_
        return params["p"], params["q"], params["v"]

    def score_samples(self, frequency: Any, monetary_value: Any) -> FloatArray:
        """Log-likelihood of each customer's mean spend under the fitted model.

        Examples
        --------
        >>> ggf = GammaGammaModel.from_params({"p": 1.0, "q": 1.0, "v": 1.0})
        >>> ggf.score_samples([1], [1.0]).round(6)
        array([-1.386294])
        """
        p, q, v = self._params()
        owner = f"{type(self).__name__}.score_samples"
        arrays, _ = _customer_arrays(owner, frequency=frequency, monetary_value=monetary_value)
        x, m = arrays["frequency"], arrays["monetary_value"]
        if not ((x > 0) & (m > 0)).all():
            msg = f"{owner}: frequency and monetary_value must be > 0 for every customer."
            raise DataError(msg)
        return gamma_gamma_loglik(p, q, v, prepare_gamma_gamma(x, m))

    def expected_average_value(self, frequency: Any, monetary_value: Any) -> FloatArray:
        """Expected mean value of a customer's future transactions.

        ``E[Z | x, z̄] = p (v + x z̄) / (p x + q - 1)``, a weighted average of the population
        mean ``p v / (q - 1)`` and the customer's own mean ``z̄``: the more repeat purchases,
        the more weight on the customer's own mean. Customers with frequency 0 get the
        population mean.

        Parameters
        ----------
        frequency : array-like of int
            Number of repeat purchases, >= 0.
        monetary_value : array-like of float
            Mean value of the repeat purchases (ignored where frequency is 0).

        Returns
        -------
        numpy.ndarray
            One estimate per customer (``float``; see :func:`estimate_to_money`).

        Raises
        ------
        ModelError
            If the fitted ``q`` is so small that the expectation is infinite (``q <= 1``).

        Examples
        --------
        >>> ggf = GammaGammaModel.from_params({"p": 6.25, "q": 3.74, "v": 15.44})
        >>> ggf.expected_average_value([0, 1, 10], [0.0, 100.0, 100.0]).round(2)
        array([35.22, 80.26, 97.28])
        """
        p, q, v = self._params()
        owner = f"{type(self).__name__}.expected_average_value"
        arrays, _ = _customer_arrays(owner, frequency=frequency, monetary_value=monetary_value)
        return _expected_average_value(p, q, v, arrays["frequency"], arrays["monetary_value"])

    def customer_lifetime_value(
        self,
        beta_geo: BetaGeoModel,
        frequency: Any,
        recency: Any,
        T: Any,
        monetary_value: Any,
        *,
        horizon_months: int = 12,
        discount_rate_monthly: float = 0.01,
        margin: float = 1.0,
        time_unit_days: float = 1.0,
    ) -> FloatArray:
        """Discounted expected margin of each customer's purchases over a horizon.

        ``CLV = margin · E[Z | x, z̄] · Σ_{k=1..H} (E[Y(k·L)] − E[Y((k−1)·L)]) / (1 + d)^k``,
        with ``E[Y]`` the BG/NBD conditional expected purchases, ``L`` one month in model
        time units (``365.25 / 12 / time_unit_days``) and ``d`` the monthly discount rate:
        the expected purchases of each month, valued at the expected spend, discounted to
        today at the end of the month (as in lifetimes' ``customer_lifetime_value``).

        Parameters
        ----------
        beta_geo : BetaGeoModel
            A fitted purchase-count model, in the time unit of ``recency`` and ``T``.
        frequency, recency, T : array-like
            As in :meth:`BetaGeoModel.fit`.
        monetary_value : array-like of float
            Mean value of the repeat purchases (0 where frequency is 0).
        horizon_months : int
            Number of months ``H`` (>= 1).
        discount_rate_monthly : float
            Monthly discount rate ``d`` (>= 0), e.g. 0.01 for about 12.7 % a year.
        margin : float
            Share of the spend that is profit, in [0, 1]; 1 gives discounted revenue.
        time_unit_days : float
            Length of one model time unit in days: 1 for a summary with ``freq="D"``,
            7 for ``freq="W"``.

        Returns
        -------
        numpy.ndarray
            One CLV estimate per customer (``float``, not an amount owed).

        Raises
        ------
        PolicyError
            If a setting is out of range.
        sklearn.exceptions.NotFittedError
            If either model is not fitted.

        Examples
        --------
        >>> bgf = BetaGeoModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
        >>> ggf = GammaGammaModel.from_params({"p": 6.25, "q": 3.74, "v": 15.44})
        >>> ggf.customer_lifetime_value(bgf, [0, 2], [0, 30.43], [38.86, 38.86], [0, 45.0],
        ...     horizon_months=24, margin=0.3, time_unit_days=7).round(2)
        array([ 4.29, 31.15])
        """
        owner = f"{type(self).__name__}.customer_lifetime_value"
        p, q, v = self._params()
        if not isinstance(beta_geo, BetaGeoModel):
            msg = f"{owner}: beta_geo must be a BetaGeoModel, got {type(beta_geo).__name__}."
            raise PolicyError(msg, field="beta_geo")
        r, alpha, a, b = beta_geo._params()
        settings: dict[str, tuple[object, bool, str]] = {
            "horizon_months": (
                horizon_months,
                isinstance(horizon_months, int | np.integer) and horizon_months >= 1,
                "an int >= 1",
            ),
            "discount_rate_monthly": (
                discount_rate_monthly,
                _is_number(discount_rate_monthly) and discount_rate_monthly >= 0,
                "a finite number >= 0",
            ),
            "margin": (margin, _is_number(margin) and 0 <= margin <= 1, "a number in [0, 1]"),
            "time_unit_days": (
                time_unit_days,
                _is_number(time_unit_days) and time_unit_days > 0,
                "a finite number > 0",
            ),
        }
        for name, (setting, ok, requirement) in settings.items():
            if not ok:
                msg = f"{owner}: {name} must be {requirement}. Got {setting!r} instead."
                raise PolicyError(msg, field=name)
        x, t_x, age = _rft(owner, frequency, recency, T)
        arrays, _ = _customer_arrays(owner, monetary_value=monetary_value)
        m = arrays["monetary_value"]
        if m.size != x.size:
            msg = f"{owner}: monetary_value must have one value per customer ({x.size})."
            raise DataError(msg)
        value = _expected_average_value(p, q, v, x, m)
        month = DAYS_PER_MONTH / float(time_unit_days)
        a = _away_from_one(a)
        cumulative = np.zeros_like(x)
        discounted = np.zeros_like(x)
        for k in range(1, int(horizon_months) + 1):
            horizon = np.full_like(x, k * month)
            expected = bgnbd_expected_purchases(r, alpha, a, b, horizon, x, t_x, age)
            discounted += (expected - cumulative) / (1.0 + float(discount_rate_monthly)) ** k
            cumulative = expected
        return np.asarray(float(margin) * value * discounted, dtype=np.float64)


def _is_number(value: object) -> bool:
    return (
        isinstance(value, int | float | np.integer | np.floating)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def _expected_average_value(
    p: float, q: float, v: float, x: FloatArray, m: FloatArray
) -> FloatArray:
    denominator = p * x + q - 1.0
    if (denominator <= 0).any():
        msg = (
            f"GammaGammaModel: with q = {q:.4g} <= 1 the expected spend is infinite for "
            "customers with few purchases; refit with more customers or a penalizer_coef."
        )
        raise ModelError(msg)
    m = np.where(x > 0, m, 0.0)
    return np.asarray(p * (v + x * m) / denominator, dtype=np.float64)


# --------------------------------------------------------------------------- money


def estimate_to_money(value: float, currency: str) -> Decimal:
    """Convert a CLV or spend estimate to a ``Decimal`` amount for display.

    The shortest decimal form of the float (its ``repr``) is quantized to the currency's
    minor unit with :func:`dunning.money.quantize` (half up). The result is still an
    estimate: show it as "expected value", never as an amount owed.

    Raises
    ------
    DataError
        If ``value`` is NaN or infinite.

    Examples
    --------
    >>> estimate_to_money(1234.5678, "EUR")
    Decimal('1234.57')
    >>> estimate_to_money(0.125, "EUR")
    Decimal('0.13')
    >>> estimate_to_money(99.5, "JPY")
    Decimal('100')
    """
    number = float(value)
    if not math.isfinite(number):
        msg = f"estimate_to_money: {value!r} is not a finite number and cannot be shown as money."
        raise DataError(msg)
    return quantize(Decimal(repr(number)), currency)


# --------------------------------------------------------------------------- summary


def summary_from_transactions(
    transactions: pd.DataFrame,
    customer_col: str,
    date_col: str,
    value_col: str | None,
    as_of: date,
    freq: str = "D",
) -> pd.DataFrame:
    """Per-customer frequency, recency, age and mean repeat spend from a purchase ledger.

    Time is counted in periods of ``freq`` (``"D"`` days, ``"W"`` weeks, ``"M"`` months).
    Transactions in the same period count as one purchase (their values summed);
    transactions dated after ``as_of`` are ignored, and customers without a transaction
    on or before ``as_of`` do not appear.

    * ``frequency``: number of periods with a purchase after the first one (repeat
      purchases; the first purchase is excluded).
    * ``recency``: periods from the first to the last purchase (0 without repeats).
    * ``T``: periods from the first purchase to ``as_of``.
    * ``monetary_value``: mean value of the repeat purchase periods (the first period is
      excluded); 0 when ``frequency`` is 0.

    Parameters
    ----------
    transactions : pandas.DataFrame
        One row per purchase (an invoice or a payment).
    customer_col, date_col : str
        Columns with the customer id and the purchase date (datetime or date values).
    value_col : str or None
        Column with the purchase value (``Decimal``, int or float; converted to float for
        the statistics); ``None`` leaves out ``monetary_value``.
    as_of : datetime.date
        End of observation; transactions dated later are ignored.
    freq : str
        A pandas period alias: ``"D"``, ``"W"``, ``"M"``, ...

    Returns
    -------
    pandas.DataFrame
        Index: customer id (named ``customer_col``, sorted); columns ``frequency``
        (int64), ``recency``, ``T`` and ``monetary_value`` (float64).

    Raises
    ------
    DataError
        If a column is absent, or a customer id, date or value is missing or unreadable.
    PolicyError
        If ``freq`` is not a pandas period alias.

    Examples
    --------
    >>> from datetime import date
    >>> from decimal import Decimal
    >>> ledger = pd.DataFrame({
    ...     "customer": ["A", "A", "A", "A", "B"],
    ...     "day": pd.to_datetime(["2026-01-01", "2026-01-01", "2026-01-11", "2026-01-21",
    ...                            "2026-01-05"]),
    ...     "amount": [Decimal("10.00"), Decimal("5.00"), Decimal("20.00"), Decimal("40.00"),
    ...                Decimal("7.50")]})
    >>> summary_from_transactions(ledger, "customer", "day", "amount", date(2026, 1, 31))
    ... # doctest: +NORMALIZE_WHITESPACE
              frequency  recency     T  monetary_value
    customer
    A                 2     20.0  30.0            30.0
    B                 0      0.0  26.0             0.0
    """
    owner = "summary_from_transactions"
    if not isinstance(transactions, pd.DataFrame):
        msg = (
            f"{owner}: transactions must be a pandas DataFrame, got {type(transactions).__name__}."
        )
        raise DataError(msg, path="<DataFrame>")
    needed = [customer_col, date_col] + ([value_col] if value_col is not None else [])
    missing = [c for c in needed if c not in transactions.columns]
    if missing:
        msg = (
            f"{owner}: required column(s) {missing} missing from transactions; available: "
            f"{list(map(str, transactions.columns))}."
        )
        raise DataError(msg, path="<DataFrame>", missing=missing)
    try:
        as_of_period = pd.Period(as_of, freq=freq)
    except (TypeError, ValueError) as exc:
        msg = f"{owner}: freq must be a pandas period alias such as 'D', 'W' or 'M'. Got {freq!r}."
        raise PolicyError(msg, field="freq") from exc

    customers = transactions[customer_col]
    _no_missing(customers.isna().to_numpy(), customers.index, customer_col, owner)
    try:
        dates = pd.to_datetime(transactions[date_col])
    except (TypeError, ValueError) as exc:
        msg = f"{owner}: column {date_col!r} holds values that are not dates ({exc})."
        raise DataError(msg, path="<DataFrame>") from exc
    _no_missing(dates.isna().to_numpy(), dates.index, date_col, owner)
    if dates.dt.tz is not None:
        dates = dates.dt.tz_localize(None)  # keep the local calendar date
    values = (
        _values_as_float(transactions[value_col], value_col, owner)
        if value_col is not None
        else np.zeros(len(transactions))
    )

    keep = (dates.dt.normalize() <= pd.Timestamp(as_of)).to_numpy()
    frame = pd.DataFrame(
        {
            "customer": customers.to_numpy()[keep],
            "period": pd.DatetimeIndex(dates[keep]).to_period(freq).asi8,
            "value": values[keep],
        }
    )
    per_period = frame.groupby(["customer", "period"], sort=True)["value"].sum().reset_index()
    by_customer = per_period.groupby("customer", sort=True)
    first = by_customer["period"].min()
    n_periods = by_customer["period"].size()
    frequency = (n_periods - 1).astype(np.int64)
    summary = pd.DataFrame(
        {
            "frequency": frequency,
            "recency": (by_customer["period"].max() - first).astype(np.float64),
            "T": (as_of_period.ordinal - first).astype(np.float64),
        }
    )
    if value_col is not None:
        repeat_total = by_customer["value"].sum() - by_customer["value"].first()
        summary["monetary_value"] = np.where(
            frequency > 0, repeat_total / frequency.clip(lower=1), 0.0
        )
    summary.index.name = customer_col
    logger.debug(
        "%s: %d transactions on or before %s, %d customers",
        owner,
        int(keep.sum()),
        as_of,
        len(summary),
    )
    return summary


def _no_missing(mask: npt.NDArray[np.bool_], index: pd.Index, column: str, owner: str) -> None:
    if mask.any():
        rows = index[mask][:3].tolist()
        msg = (
            f"{owner}: column {column!r} is missing in {int(mask.sum())} transaction(s) "
            f"(rows {rows}); fill or drop them first."
        )
        raise DataError(msg, path="<DataFrame>")


def _values_as_float(column: pd.Series, name: str, owner: str) -> FloatArray:
    """Purchase values as float64 for the statistics (Decimal values converted explicitly)."""
    _no_missing(column.isna().to_numpy(), column.index, name, owner)
    try:
        converted = _float_array(column, f"column {name!r}", owner)
    except DataError as exc:
        raise DataError(str(exc), path="<DataFrame>") from None
    if not np.isfinite(converted).all():
        msg = f"{owner}: column {name!r} holds a non-finite value (infinity)."
        raise DataError(msg, path="<DataFrame>")
    return converted


# --------------------------------------------------------------------------- contractual


@overload
def contractual_clv(
    margin_per_period: float | Decimal,
    retention: float,
    discount_rate: float,
    *,
    periods: int | None = None,
) -> float: ...


@overload
def contractual_clv(
    margin_per_period: npt.ArrayLike,
    retention: npt.ArrayLike,
    discount_rate: float,
    *,
    periods: int | None = None,
) -> FloatArray: ...


def contractual_clv(
    margin_per_period: Any,
    retention: Any,
    discount_rate: float,
    *,
    periods: int | None = None,
) -> float | FloatArray:
    """Simple contractual CLV of a subscription customer: ``m · r / (1 + d − r)``.

    For customers billed per period (a subscription) without a purchase history to fit
    :class:`BetaGeoModel` on. Assumptions:

    * the customer is alive now and the current period's margin is already earned (not
      counted); each following period the customer renews with probability ``r``,
      independently of past periods and the same for every period (constant retention);
    * the margin ``m`` per period is constant and received at the end of each period the
      customer is retained;
    * cash flows are discounted at ``d`` per period.

    Then ``CLV = Σ_{t≥1} m r^t / (1+d)^t = m r / (1 + d − r)``; with ``periods = n`` the sum
    stops at ``t = n``: ``m q (1 − q^n) / (1 − q)`` with ``q = r / (1 + d)``. A constant
    retention overstates the value of new subscribers (whose churn is usually higher)
    and understates that of long-standing ones.

    Parameters
    ----------
    margin_per_period : float, Decimal or array-like
        Profit margin per period (a ``Decimal`` is converted to float: the result is an
        estimate).
    retention : float or array-like
        Probability ``r`` of renewing each period, 0 <= r < 1.
    discount_rate : float
        Discount rate ``d`` per period, >= 0.
    periods : int or None
        Finite horizon in periods (>= 1); ``None`` for the infinite horizon.

    Returns
    -------
    float or numpy.ndarray
        A float for scalar inputs, else an array.

    Raises
    ------
    DataError
        If the margin or retention is not finite or the retention is outside [0, 1).
    PolicyError
        If ``discount_rate`` is negative or ``periods`` is below 1.

    Examples
    --------
    >>> round(contractual_clv(100.0, 0.8, 0.1), 10)  # 100 · 0.8 / 0.3
    266.6666666667
    >>> round(contractual_clv(Decimal("100"), 0.8, 0.1, periods=2), 10)
    125.6198347107
    >>> contractual_clv([50.0, 50.0], [0.5, 0.9], 0.0)
    array([ 50., 450.])
    >>> contractual_clv(100.0, 1.0, 0.1)
    Traceback (most recent call last):
    ...
    dunning.errors.DataError: contractual_clv: retention must be in [0, 1), got 1.0 (position 0); a retention of 1 means the customer never leaves and the value is unbounded.
    """  # noqa: E501
    owner = "contractual_clv"
    scalar = np.ndim(margin_per_period) == 0 and np.ndim(retention) == 0
    margin = _float_array(
        float(margin_per_period) if isinstance(margin_per_period, Decimal) else margin_per_period,
        "margin_per_period",
        owner,
    )
    r = _float_array(retention, "retention", owner)
    if not np.isfinite(margin).all():
        msg = f"{owner}: margin_per_period must be finite, got {margin_per_period!r}."
        raise DataError(msg)
    bad = ~(np.isfinite(r) & (r >= 0) & (r < 1))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        msg = (
            f"{owner}: retention must be in [0, 1), got {float(r[first])!r} (position {first}); a "
            "retention of 1 means the customer never leaves and the value is unbounded."
        )
        raise DataError(msg)
    if not (_is_number(discount_rate) and discount_rate >= 0):
        msg = f"{owner}: discount_rate must be a finite number >= 0. Got {discount_rate!r}."
        raise PolicyError(msg, field="discount_rate")
    if periods is not None and not (
        isinstance(periods, int | np.integer) and not isinstance(periods, bool) and periods >= 1
    ):
        msg = f"{owner}: periods must be None (infinite horizon) or an int >= 1. Got {periods!r}."
        raise PolicyError(msg, field="periods")
    try:
        margin, r = np.broadcast_arrays(margin, r)
    except ValueError as exc:
        msg = f"{owner}: margin_per_period and retention must have matching lengths ({exc})."
        raise DataError(msg) from exc
    q = r / (1.0 + float(discount_rate))
    finite = 1.0 if periods is None else 1.0 - q ** int(periods)
    value = np.asarray(margin * q * finite / (1.0 - q), dtype=np.float64)
    return float(value[0]) if scalar else value
