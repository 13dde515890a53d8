"""Log-likelihoods of the BG/NBD and Gamma-Gamma models and their gradients (private).

Everything here works on plain float64 arrays that :mod:`scoring.clv` has validated, and
evaluates in log space so that customers with many purchases or long observation windows
neither overflow nor underflow. The gradients are with respect to the *logarithms* of
the parameters, the scale on which the optimizer works.

Examples
--------
>>> import numpy as np
>>> x, t_x, T = np.array([0.0, 2.0]), np.array([0.0, 30.43]), np.array([38.86, 38.86])
>>> bgnbd_loglik(0.243, 4.414, 0.793, 2.426, prepare_bgnbd(x, t_x, T)).round(4)
array([-0.5547, -9.4586])
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

__all__: list[str] = []

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]


def dot(u: FloatArray, w: FloatArray) -> float:
    """Inner product of two vectors without BLAS.

    ``u @ w`` calls a multi-threaded BLAS whose idle worker threads keep spinning; on a
    busy machine that made a fit several times slower. ``einsum`` sums in NumPy's own
    loop on the calling thread.

    Examples
    --------
    >>> dot(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    11.0
    """
    return float(np.einsum("i,i->", u, w))


class BGNBDData(NamedTuple):
    """Validated BG/NBD inputs with the per-frequency bookkeeping done once.

    Terms that depend on the frequency alone (the gamma and beta functions) are evaluated
    once per distinct frequency and gathered, which makes an evaluation cost a few
    vectorised logarithms per customer.
    """

    x: FloatArray
    t_x: FloatArray
    T: FloatArray
    weights: FloatArray
    x_unique: FloatArray
    x_index: IntArray
    weight_by_x: FloatArray
    repeat: BoolArray


def prepare_bgnbd(
    x: FloatArray, t_x: FloatArray, T: FloatArray, weights: FloatArray | None = None
) -> BGNBDData:
    """Bundle validated arrays for :func:`bgnbd_objective` and :func:`bgnbd_loglik`.

    Examples
    --------
    >>> data = prepare_bgnbd(np.array([0.0, 2.0, 2.0]), np.array([0.0, 5.0, 6.0]),
    ...                      np.full(3, 9.0))
    >>> data.x_unique.tolist(), data.x_index.tolist(), data.weight_by_x.tolist()
    ([0.0, 2.0], [0, 1, 1], [1.0, 2.0])
    """
    w = np.ones_like(x) if weights is None else weights
    x_unique, x_index = np.unique(x, return_inverse=True)
    weight_by_x = np.bincount(x_index, weights=w, minlength=x_unique.size).astype(np.float64)
    return BGNBDData(x, t_x, T, w, x_unique, x_index.astype(np.intp), weight_by_x, x > 0)


def bgnbd_loglik(r: float, alpha: float, a: float, b: float, data: BGNBDData) -> FloatArray:
    """Per-customer BG/NBD log-likelihood (Fader, Hardie & Lee 2005, eq. 6).

    ``L = B(a, b+x)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+T)^(r+x))
    + δ(x>0) · B(a+1, b+x-1)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+t_x)^(r+x))``.

    Examples
    --------
    >>> one = np.ones(1)
    >>> float(bgnbd_loglik(1.0, 1.0, 1.0, 1.0, prepare_bgnbd(0 * one, 0 * one, one))[0])
    -0.6931471805599453
    """
    ll, _ = _bgnbd_terms(r, alpha, a, b, data, gradient=False)
    return ll


def bgnbd_objective(
    log_params: FloatArray, data: BGNBDData, penalizer_coef: float
) -> tuple[float, FloatArray]:
    """Penalized mean negative log-likelihood and its gradient in log-parameters.

    The penalty is ``penalizer_coef · (r² + α² + a² + b²)``, added to the weighted mean
    negative log-likelihood.

    Examples
    --------
    >>> one = np.ones(1)
    >>> value, grad = bgnbd_objective(np.zeros(4), prepare_bgnbd(one, one, 2 * one), 0.0)
    >>> round(value, 6), grad.shape
    (1.711717, (4,))
    """
    params = np.exp(log_params)
    r, alpha, a, b = (float(p) for p in params)
    ll, grad = _bgnbd_terms(r, alpha, a, b, data, gradient=True)
    total_weight = float(data.weight_by_x.sum())
    value = -dot(data.weights, ll) / total_weight + penalizer_coef * dot(params, params)
    # d/d(log θ) = θ · d/dθ
    g = -grad / total_weight * params + 2.0 * penalizer_coef * params**2
    return value, g


def _bgnbd_terms(
    r: float, alpha: float, a: float, b: float, data: BGNBDData, *, gradient: bool
) -> tuple[FloatArray, FloatArray]:
    """Log-likelihood per customer and, if asked, the weighted sum of its gradient."""
    ux, idx, repeat = data.x_unique, data.x_index, data.repeat
    log_alpha_T = np.log(alpha + data.T)
    log_alpha_tx = np.log(alpha + data.t_x)
    # Per distinct frequency: log of Γ(r+x) α^r / Γ(r) · B(a, b+x) / B(a, b), and
    # log(a / (b+x-1)) (only used where x > 0; b + x - 1 >= b > 0 there).
    u_const = gammaln(r + ux) - gammaln(r) + r * np.log(alpha) + betaln(a, b + ux) - betaln(a, b)
    u_b_x1 = np.where(ux > 0, b + ux - 1.0, 1.0)
    u_log_odds = np.log(a) - np.log(u_b_x1)
    # log of e^A2 / e^A1, (dropped out after the last purchase) / (alive at T):
    # log[a / (b+x-1)] + (r+x) (log(α+T) - log(α+t_x)); -inf when x = 0 (no dropout yet).
    r_x = r + data.x
    log_ratio = np.where(repeat, u_log_odds[idx] + r_x * (log_alpha_T - log_alpha_tx), -np.inf)
    # log(e^A1 + e^A2) = A1 + log(1 + e^(A2 - A1)), computed stably by logaddexp.
    ll = u_const[idx] - r_x * log_alpha_T + np.logaddexp(0.0, log_ratio)
    if not gradient:
        return ll, np.empty(4)
    w = data.weights
    wx = data.weight_by_x
    # p2 = e^A2 / (e^A1 + e^A2), the dropout term's share of the likelihood; p1 = 1 - p2.
    p2 = expit(log_ratio)
    p1 = 1.0 - p2
    w_p2 = w * p2
    psi_abx = digamma(a + b + ux)
    # Sums over customers of w_i · dℓ_i/dθ; frequency-only parts are summed per
    # distinct frequency with the weights aggregated by frequency.
    d_r = dot(wx, digamma(r + ux) - digamma(r) + np.log(alpha)) - (
        dot(w * p1, log_alpha_T) + dot(w_p2, log_alpha_tx)
    )
    d_alpha = wx.sum() * r / alpha - dot(w * r_x, p1 / (alpha + data.T) + p2 / (alpha + data.t_x))
    # dA1/da = ψ(a+b) - ψ(a+b+x); dA2/da = dA1/da + 1/a
    d_a = dot(wx, digamma(a + b) - psi_abx) + w_p2.sum() / a
    # dA1/db = ψ(b+x) - ψ(a+b+x) - ψ(b) + ψ(a+b); dA2/db = dA1/db - 1/(b+x-1)
    d_b = dot(wx, digamma(b + ux) - psi_abx - digamma(b) + digamma(a + b)) - dot(
        w_p2, 1.0 / u_b_x1[idx]
    )
    return ll, np.array([d_r, d_alpha, d_a, d_b])


def bgnbd_expected_purchases(
    r: float,
    alpha: float,
    a: float,
    b: float,
    t: FloatArray,
    x: FloatArray,
    t_x: FloatArray,
    T: FloatArray,
) -> FloatArray:
    """Conditional expected repeat purchases in ``(T, T+t]`` (Fader, Hardie & Lee 2005, eq. 10).

    ``E[Y(t) | x, t_x, T] = (a+b+x-1)/(a-1) · [1 - ((α+T)/(α+T+t))^(r+x)
    ₂F₁(r+x, b+x; a+b+x-1; t/(α+T+t))] / [1 + δ(x>0) a/(b+x-1) ((α+T)/(α+t_x))^(r+x)]``.

    The hypergeometric term is evaluated after Euler's transformation
    ``₂F₁(α₁, α₂; c; z) = (1-z)^(c-α₁-α₂) ₂F₁(c-α₁, c-α₂; c; z)``, which turns
    ``(1-z)^(r+x) ₂F₁(r+x, b+x; a+b+x-1; z)`` into ``(1-z)^(a-1) ₂F₁(a+b-1-r, a-1; a+b+x-1; z)``:
    the parameters no longer grow with ``x`` and the series stays well conditioned.

    Examples
    --------
    >>> one = np.ones(1)
    >>> e = bgnbd_expected_purchases(0.243, 4.414, 0.793, 2.426, 39 * one, 2 * one,
    ...                              30.43 * one, 38.86 * one)
    >>> round(float(e[0]), 3)
    1.226
    """
    z = t / (alpha + T + t)
    log_1mz = np.log(alpha + T) - np.log(alpha + T + t)
    tail = np.exp((a - 1.0) * log_1mz) * hyp2f1(a + b - 1.0 - r, a - 1.0, a + b + x - 1.0, z)
    expected_if_alive = np.where(t > 0, (a + b + x - 1.0) / (a - 1.0) * (1.0 - tail), 0.0)
    return expected_if_alive * bgnbd_probability_alive(r, alpha, a, b, x, t_x, T)


def bgnbd_probability_alive(
    r: float, alpha: float, a: float, b: float, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> FloatArray:
    """P(alive at T | x, t_x, T) = 1 / (1 + δ(x>0) a/(b+x-1) ((α+T)/(α+t_x))^(r+x)).

    Examples
    --------
    >>> bgnbd_probability_alive(1.0, 1.0, 1.0, 1.0, np.array([0.0, 1.0]),
    ...                         np.array([0.0, 1.0]), np.array([1.0, 1.0])).tolist()
    [1.0, 0.5]
    """
    repeat = x > 0
    b_x1 = np.where(repeat, b + x - 1.0, 1.0)
    log_ratio = np.where(
        repeat,
        np.log(a) - np.log(b_x1) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x)),
        -np.inf,
    )
    return np.asarray(expit(-log_ratio), dtype=np.float64)


def bgnbd_unconditional_expected_purchases(
    r: float, alpha: float, a: float, b: float, t: FloatArray
) -> FloatArray:
    """E[X(t)] for a new customer (Fader, Hardie & Lee 2005, eq. 9).

    ``E[X(t)] = (a+b-1)/(a-1) · [1 - (α/(α+t))^r ₂F₁(r, b; a+b-1; t/(α+t))]``, evaluated
    after the same Euler transformation as :func:`bgnbd_expected_purchases`.

    Examples
    --------
    >>> float(bgnbd_unconditional_expected_purchases(0.243, 4.414, 0.793, 2.426,
    ...                                              np.zeros(1))[0])
    0.0
    """
    z = t / (alpha + t)
    log_1mz = np.log(alpha) - np.log(alpha + t)
    tail = np.exp((a - 1.0) * log_1mz) * hyp2f1(a + b - 1.0 - r, a - 1.0, a + b - 1.0, z)
    expected = (a + b - 1.0) / (a - 1.0) * (1.0 - tail)
    return np.asarray(np.where(t > 0, expected, 0.0), dtype=np.float64)


class GammaGammaData(NamedTuple):
    """Validated Gamma-Gamma inputs (frequency ``x`` > 0, mean spend ``m`` > 0), prepared once."""

    x: FloatArray
    m: FloatArray
    weights: FloatArray
    x_unique: FloatArray
    x_index: IntArray
    weight_by_x: FloatArray
    xm: FloatArray
    log_xm: FloatArray
    log_x: FloatArray


def prepare_gamma_gamma(
    x: FloatArray, m: FloatArray, weights: FloatArray | None = None
) -> GammaGammaData:
    """Bundle validated arrays for :func:`gamma_gamma_objective` and :func:`gamma_gamma_loglik`.

    Examples
    --------
    >>> data = prepare_gamma_gamma(np.array([1.0, 3.0, 1.0]), np.array([2.0, 4.0, 6.0]))
    >>> data.x_unique.tolist(), data.xm.tolist()
    ([1.0, 3.0], [2.0, 12.0, 6.0])
    """
    w = np.ones_like(x) if weights is None else weights
    x_unique, x_index = np.unique(x, return_inverse=True)
    weight_by_x = np.bincount(x_index, weights=w, minlength=x_unique.size).astype(np.float64)
    xm = x * m
    return GammaGammaData(
        x, m, w, x_unique, x_index.astype(np.intp), weight_by_x, xm, np.log(xm), np.log(x)
    )


def gamma_gamma_loglik(p: float, q: float, v: float, data: GammaGammaData) -> FloatArray:
    """Per-customer Gamma-Gamma log-likelihood of the mean spend ``m`` over ``x`` purchases.

    The density of the average ``z̄`` of ``x`` transactions (Fader & Hardie 2013, eq. 3)::

        f(z̄ | p, q, γ; x) = Γ(px+q) / (Γ(px) Γ(q)) · γ^q (x z̄)^(px-1) x / (γ + x z̄)^(px+q)

    Examples
    --------
    >>> one = np.ones(1)
    >>> float(gamma_gamma_loglik(1.0, 1.0, 1.0, prepare_gamma_gamma(one, one))[0])
    -1.3862943611198906
    """
    ll, _ = _gamma_gamma_terms(p, q, v, data, gradient=False)
    return ll


def gamma_gamma_objective(
    log_params: FloatArray, data: GammaGammaData, penalizer_coef: float
) -> tuple[float, FloatArray]:
    """Penalized mean negative Gamma-Gamma log-likelihood and its gradient in log-parameters.

    The penalty is ``penalizer_coef · (p² + q² + v²)``.

    Examples
    --------
    >>> one = np.ones(1)
    >>> value, grad = gamma_gamma_objective(np.zeros(3), prepare_gamma_gamma(one, one), 0.0)
    >>> round(value, 6), grad.shape
    (1.386294, (3,))
    """
    params = np.exp(log_params)
    p, q, v = (float(t) for t in params)
    ll, grad = _gamma_gamma_terms(p, q, v, data, gradient=True)
    total_weight = float(data.weight_by_x.sum())
    value = -dot(data.weights, ll) / total_weight + penalizer_coef * dot(params, params)
    g = -grad / total_weight * params + 2.0 * penalizer_coef * params**2
    return value, g


def _gamma_gamma_terms(
    p: float, q: float, v: float, data: GammaGammaData, *, gradient: bool
) -> tuple[FloatArray, FloatArray]:
    ux, idx = data.x_unique, data.x_index
    px = p * data.x
    log_v_xm = np.log(v + data.xm)
    u_const = gammaln(p * ux + q) - gammaln(p * ux) - gammaln(q) + q * np.log(v)
    ll = u_const[idx] + (px - 1.0) * data.log_xm + data.log_x - (px + q) * log_v_xm
    if not gradient:
        return ll, np.empty(3)
    w, wx = data.weights, data.weight_by_x
    u_psi_pxq = digamma(p * ux + q)
    d_p = dot(wx * ux, u_psi_pxq - digamma(p * ux)) + dot(w * data.x, data.log_xm - log_v_xm)
    d_q = dot(wx, u_psi_pxq - digamma(q) + np.log(v)) - dot(w, log_v_xm)
    d_v = wx.sum() * q / v - dot(w, (px + q) / (v + data.xm))
    return ll, np.array([d_p, d_q, d_v])
