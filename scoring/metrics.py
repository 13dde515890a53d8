"""How good is a risk score: discrimination, calibration, and their uncertainty.

The functions take the observed outcome ``y_true`` (1 = the invoice stayed unpaid, 0 =
paid) and a predicted probability ``y_prob`` of the outcome 1, as arrays of equal length.

* :func:`risk_metrics`: ROC AUC, PR AUC (average precision), Brier score and expected
  calibration error (ECE) in one dictionary, with the number of rows and positives.
* :func:`expected_calibration_error` and :func:`calibration_table`: the predictions cut
  into equal-width bins on ``[0, 1]`` (10 by default, :data:`CALIBRATION_BINS`); bin
  ``k`` (``k = 0 … B - 1``) holds the predictions with ``floor(p · B) == k``, and ``p = 1``
  goes to the last bin. With ``n_k`` rows in bin ``k``, mean prediction ``p̄_k`` and
  observed rate ``ȳ_k``::

      ECE = Σ_k (n_k / n) · |ȳ_k − p̄_k|

  (empty bins add nothing).
* :func:`bootstrap_intervals`: percentile bootstrap confidence intervals of the same
  metrics, with an explicit seed (rows resampled with replacement; a resample with only
  one class has no AUC and is left out of the AUC intervals).
* :func:`expected_roc_auc` and :func:`oracle_comparison`: comparing a model with known
  true probabilities (the demo portfolio's ground truth). The expected AUC counts every
  pair of rows ``i ≠ j`` with the probability ``p_i (1 − p_j)`` that ``i`` is a positive
  and ``j`` a negative, so it measures the ranking without the noise of one draw of
  outcomes.

Definitions follow scikit-learn where it has them: ``roc_auc`` is
:func:`sklearn.metrics.roc_auc_score`, ``pr_auc`` is
:func:`sklearn.metrics.average_precision_score` (step-wise, not interpolated), ``brier``
is the mean squared difference ``mean((p − y)²)``.

Examples
--------
>>> y = [0, 0, 1, 1, 0, 1]
>>> p = [0.1, 0.4, 0.35, 0.8, 0.05, 0.95]
>>> m = risk_metrics(y, p)
>>> {k: round(v, 4) for k, v in m.items()}  # doctest: +NORMALIZE_WHITESPACE
{'n': 6, 'positives': 3, 'prevalence': 0.5, 'roc_auc': 0.8889, 'pr_auc': 0.9167,
 'brier': 0.1063, 'ece': 0.2417}
>>> calibration_table(y, p, n_bins=2)
   bin  lower  upper  count  mean_predicted  observed_rate
0    1    0.0    0.5      4           0.225           0.25
1    2    0.5    1.0      2           0.875           1.00
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from dunning.errors import DataError, PolicyError

__all__ = [
    "CALIBRATION_BINS",
    "METRIC_NAMES",
    "bootstrap_intervals",
    "calibration_table",
    "expected_calibration_error",
    "expected_roc_auc",
    "oracle_comparison",
    "risk_metrics",
]

logger = logging.getLogger(__name__)

#: Number of equal-width bins on ``[0, 1]`` for the ECE and the calibration table.
CALIBRATION_BINS = 10

#: The metrics :func:`bootstrap_intervals` reports, in order.
METRIC_NAMES: tuple[str, ...] = ("roc_auc", "pr_auc", "brier", "ece")


def risk_metrics(
    y_true: npt.ArrayLike, y_prob: npt.ArrayLike, *, n_bins: int = CALIBRATION_BINS
) -> dict[str, Any]:
    """ROC AUC, PR AUC, Brier score and ECE of predicted probabilities.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Observed outcomes, 0 or 1 (booleans allowed).
    y_prob : array-like of shape (n,)
        Predicted probabilities of outcome 1, in ``[0, 1]``.
    n_bins : int
        Equal-width bins of the expected calibration error.

    Returns
    -------
    dict
        ``n`` and ``positives`` (int), ``prevalence``, ``roc_auc``, ``pr_auc``,
        ``brier``, ``ece`` (float). The AUCs are ``nan`` when ``y_true`` has only one
        class.

    Raises
    ------
    DataError
        If the arrays are empty, of different lengths, or hold other values than 0/1
        (``y_true``) or probabilities (``y_prob``).
    PolicyError
        If ``n_bins`` is not an int >= 1.

    Examples
    --------
    >>> round(risk_metrics([0, 1], [0.2, 0.7])["brier"], 6)
    0.065
    """
    y, p = _check_pair(y_true, y_prob)
    return _metrics(y, p, _check_bins(n_bins))


def expected_calibration_error(
    y_true: npt.ArrayLike, y_prob: npt.ArrayLike, *, n_bins: int = CALIBRATION_BINS
) -> float:
    """Expected calibration error over ``n_bins`` equal-width probability bins.

    ``ECE = Σ_k (n_k / n) · |ȳ_k − p̄_k|``: the gap between the observed rate and the mean
    prediction in each bin, weighted by the bin's share of the rows.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Observed outcomes, 0 or 1.
    y_prob : array-like of shape (n,)
        Predicted probabilities of outcome 1.
    n_bins : int
        Number of bins; bin ``k`` holds ``floor(p · n_bins) == k`` (``p = 1`` in the last).

    Returns
    -------
    float

    Raises
    ------
    DataError
        If the inputs are not outcomes and probabilities of equal length.
    PolicyError
        If ``n_bins`` is not an int >= 1.

    Examples
    --------
    Two bins: rows predicted 0.2 are unpaid in 1 of 2 cases (gap 0.3), the row
    predicted 0.9 is unpaid (gap 0.1); ``(2 · 0.3 + 1 · 0.1) / 3``:

    >>> round(expected_calibration_error([0, 1, 1], [0.2, 0.2, 0.9], n_bins=2), 6)
    0.233333
    """
    y, p = _check_pair(y_true, y_prob)
    return _ece(y, p, _check_bins(n_bins))


def calibration_table(
    y_true: npt.ArrayLike, y_prob: npt.ArrayLike, *, n_bins: int = CALIBRATION_BINS
) -> pd.DataFrame:
    """Rows, mean prediction and observed rate per equal-width probability bin.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Observed outcomes, 0 or 1.
    y_prob : array-like of shape (n,)
        Predicted probabilities of outcome 1.
    n_bins : int
        Number of bins (as in :func:`expected_calibration_error`).

    Returns
    -------
    pandas.DataFrame
        One row per bin (empty bins included): ``bin`` (1 … ``n_bins``), ``lower``,
        ``upper`` (the bin's range), ``count``, ``mean_predicted``, ``observed_rate``
        (``nan`` for empty bins).

    Raises
    ------
    DataError
        If the inputs are not outcomes and probabilities of equal length.
    PolicyError
        If ``n_bins`` is not an int >= 1.

    Examples
    --------
    >>> t = calibration_table([0, 1, 1], [0.2, 0.2, 0.9], n_bins=2)
    >>> t[["bin", "count", "mean_predicted", "observed_rate"]].to_dict("list")
    {'bin': [1, 2], 'count': [2, 1], 'mean_predicted': [0.2, 0.9], 'observed_rate': [0.5, 1.0]}
    """
    y, p = _check_pair(y_true, y_prob)
    return _table(y, p, _check_bins(n_bins))


def bootstrap_intervals(
    y_true: npt.ArrayLike,
    y_prob: npt.ArrayLike,
    *,
    n_resamples: int = 200,
    confidence: float = 0.95,
    random_state: int = 0,
    n_bins: int = CALIBRATION_BINS,
) -> pd.DataFrame:
    """Percentile bootstrap confidence intervals of :data:`METRIC_NAMES`.

    Rows are drawn with replacement ``n_resamples`` times with
    ``numpy.random.default_rng(random_state)``; each metric's interval is the
    ``(1 − confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of its resampled
    values. Resamples with a single class are left out of the AUC intervals.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Observed outcomes, 0 or 1.
    y_prob : array-like of shape (n,)
        Predicted probabilities of outcome 1.
    n_resamples : int
        Number of bootstrap resamples, >= 1.
    confidence : float
        Coverage of the interval, in ``(0, 1)``.
    random_state : int
        Seed of the resampling.
    n_bins : int
        Bins of the expected calibration error.

    Returns
    -------
    pandas.DataFrame
        Index ``metric`` (:data:`METRIC_NAMES`); columns ``estimate`` (on all rows),
        ``lower``, ``upper`` and ``resamples`` (how many resamples had a value).

    Raises
    ------
    DataError
        If the inputs are not outcomes and probabilities of equal length.
    PolicyError
        If ``n_resamples``, ``confidence`` or ``n_bins`` is invalid.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> p = rng.random(500)
    >>> y = (rng.random(500) < p).astype(int)
    >>> ci = bootstrap_intervals(y, p, n_resamples=100, random_state=0)
    >>> ci.round(3).loc[["roc_auc", "ece"]]  # doctest: +NORMALIZE_WHITESPACE
             estimate  lower  upper  resamples
    metric
    roc_auc     0.828  0.796  0.862        100
    ece         0.055  0.042  0.097        100
    """
    y, p = _check_pair(y_true, y_prob)
    bins = _check_bins(n_bins)
    if not _is_int(n_resamples, 1):
        msg = f"n_resamples must be an int >= 1. Got {n_resamples!r} instead."
        raise PolicyError(msg, field="n_resamples")
    if not (isinstance(confidence, float | int) and 0.0 < float(confidence) < 1.0):
        msg = f"confidence must be a number in (0, 1). Got {confidence!r} instead."
        raise PolicyError(msg, field="confidence")
    if not _is_int(random_state, 0):
        msg = f"random_state must be an int >= 0. Got {random_state!r} instead."
        raise PolicyError(msg, field="random_state")
    estimate = _metrics(y, p, bins)
    rng = np.random.default_rng(random_state)
    values = np.full((int(n_resamples), len(METRIC_NAMES)), np.nan)
    for i in range(int(n_resamples)):
        rows = rng.integers(0, len(y), len(y))
        resampled = _metrics(y[rows], p[rows], bins)
        values[i] = [resampled[name] for name in METRIC_NAMES]
    alpha = (1.0 - float(confidence)) / 2.0
    counts = np.sum(~np.isnan(values), axis=0)
    lower, upper = np.full(len(METRIC_NAMES), np.nan), np.full(len(METRIC_NAMES), np.nan)
    for j in np.flatnonzero(counts):
        column = values[:, j][~np.isnan(values[:, j])]
        lower[j], upper[j] = np.quantile(column, [alpha, 1.0 - alpha])
    return pd.DataFrame(
        {
            "estimate": [float(estimate[name]) for name in METRIC_NAMES],
            "lower": lower,
            "upper": upper,
            "resamples": counts.astype(np.int64),
        },
        index=pd.Index(list(METRIC_NAMES), name="metric"),
    )


def expected_roc_auc(y_score: npt.ArrayLike, p_true: npt.ArrayLike) -> float:
    """ROC AUC of a score against known outcome probabilities instead of outcomes.

    Every ordered pair of distinct rows ``(i, j)`` counts with weight ``p_i (1 − p_j)``
    (the probability that ``i`` is a positive and ``j`` a negative); the AUC is the
    weighted share of pairs ranked correctly, ties counting one half::

        Σ_{i≠j} p_i (1 − p_j) [1(s_i > s_j) + ½ · 1(s_i = s_j)] / Σ_{i≠j} p_i (1 − p_j)

    It is what the AUC tends to when the outcomes are drawn from ``p_true`` many times,
    so two scores can be compared without the noise of one draw.

    Parameters
    ----------
    y_score : array-like of shape (n,)
        Any score, higher meaning more likely positive (probabilities or log-odds).
    p_true : array-like of shape (n,)
        The true probability of outcome 1 of each row.

    Returns
    -------
    float
        ``nan`` when no pair has a positive weight (fewer than 2 rows, or every
        ``p_true`` 0, or every one 1).

    Raises
    ------
    DataError
        If the arrays differ in length, ``y_score`` is not finite or ``p_true`` is not
        a probability.

    Examples
    --------
    >>> expected_roc_auc([1.0, 2.0], [0.0, 1.0]), expected_roc_auc([2.0, 1.0], [0.0, 1.0])
    (1.0, 0.0)
    >>> round(expected_roc_auc([0.1, 0.5, 0.9], [0.1, 0.5, 0.9]), 4)
    0.9396
    """
    score = _as_float_array(y_score, "y_score")
    p = _as_float_array(p_true, "p_true")
    if len(score) != len(p):
        msg = f"y_score has {len(score)} rows but p_true has {len(p)}; pass one value per row."
        raise DataError(msg, path="<p_true>")
    _check_probabilities(p, "p_true")
    return _expected_auc(score, p)


def oracle_comparison(
    y_true: npt.ArrayLike,
    y_prob: npt.ArrayLike,
    p_oracle: npt.ArrayLike,
    *,
    n_bins: int = CALIBRATION_BINS,
) -> dict[str, float]:
    """Compare a model's probabilities with the true ones (an oracle).

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Outcomes, e.g. drawn from ``p_oracle`` with a fixed seed.
    y_prob : array-like of shape (n,)
        The model's probabilities.
    p_oracle : array-like of shape (n,)
        The true probabilities (the demo portfolio's ``truth.p_unpaid``).
    n_bins : int
        Bins of the expected calibration error.

    Returns
    -------
    dict
        ``model_auc``, ``oracle_auc`` and ``auc_ratio`` (model / oracle) on
        ``y_true``; ``model_expected_auc``, ``oracle_expected_auc`` and
        ``expected_auc_ratio`` (:func:`expected_roc_auc`, no outcome noise);
        ``model_ece`` and ``oracle_ece`` on ``y_true``; ``model_brier`` and
        ``oracle_brier``; ``mean_abs_error``, the mean ``|y_prob − p_oracle|`` (how far
        the model's probabilities are from the true ones).

    Raises
    ------
    DataError
        If the arrays are not outcomes and probabilities of equal length.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.random(2000)
    >>> y = (rng.random(2000) < truth).astype(int)
    >>> model = np.clip(truth + rng.normal(0, 0.1, 2000), 0, 1)
    >>> c = oracle_comparison(y, model, truth)
    >>> round(c["expected_auc_ratio"], 3), round(c["mean_abs_error"], 3)
    (0.98, 0.074)
    """
    y, p = _check_pair(y_true, y_prob)
    _, oracle = _check_pair(y, p_oracle, name="p_oracle")
    bins = _check_bins(n_bins)
    model, best = _metrics(y, p, bins), _metrics(y, oracle, bins)
    model_expected, oracle_expected = _expected_auc(p, oracle), _expected_auc(oracle, oracle)
    return {
        "model_auc": model["roc_auc"],
        "oracle_auc": best["roc_auc"],
        "auc_ratio": model["roc_auc"] / best["roc_auc"],
        "model_expected_auc": model_expected,
        "oracle_expected_auc": oracle_expected,
        "expected_auc_ratio": model_expected / oracle_expected,
        "model_ece": model["ece"],
        "oracle_ece": best["ece"],
        "model_brier": model["brier"],
        "oracle_brier": best["brier"],
        "mean_abs_error": float(np.mean(np.abs(p - oracle))),
    }


def _metrics(y: npt.NDArray[np.int64], p: npt.NDArray[np.float64], n_bins: int) -> dict[str, Any]:
    both = bool(y.min() != y.max())
    return {
        "n": len(y),
        "positives": int(y.sum()),
        "prevalence": float(y.mean()),
        "roc_auc": float(roc_auc_score(y, p)) if both else math.nan,
        "pr_auc": float(average_precision_score(y, p)) if both else math.nan,
        "brier": float(np.mean((p - y) ** 2)),
        "ece": _ece(y, p, n_bins),
    }


def _bin_index(p: npt.NDArray[np.float64], n_bins: int) -> npt.NDArray[np.intp]:
    return np.minimum(np.floor(p * n_bins).astype(np.intp), n_bins - 1)


def _ece(y: npt.NDArray[np.int64], p: npt.NDArray[np.float64], n_bins: int) -> float:
    k = _bin_index(p, n_bins)
    count = np.bincount(k, minlength=n_bins)
    gap = np.abs(np.bincount(k, y, n_bins) - np.bincount(k, p, n_bins))
    return float(gap.sum() / count.sum())


def _table(y: npt.NDArray[np.int64], p: npt.NDArray[np.float64], n_bins: int) -> pd.DataFrame:
    k = _bin_index(p, n_bins)
    count = np.bincount(k, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_predicted = np.bincount(k, p, n_bins) / count
        observed = np.bincount(k, y, n_bins) / count
    edges = np.arange(n_bins + 1) / n_bins
    return pd.DataFrame(
        {
            "bin": np.arange(1, n_bins + 1),
            "lower": edges[:-1],
            "upper": edges[1:],
            "count": count.astype(np.int64),
            "mean_predicted": mean_predicted,
            "observed_rate": observed,
        }
    )


def _expected_auc(score: npt.NDArray[np.float64], p: npt.NDArray[np.float64]) -> float:
    levels, group = np.unique(score, return_inverse=True)
    positive = np.bincount(group, p, len(levels))
    negative = np.bincount(group, 1.0 - p, len(levels))
    below = np.cumsum(negative) - negative
    self_pairs = float(np.sum(p * (1.0 - p)))
    numerator = float(np.sum(positive * (below + 0.5 * negative))) - 0.5 * self_pairs
    denominator = float(p.sum() * (1.0 - p).sum()) - self_pairs
    return numerator / denominator if denominator > 0 else math.nan


def _check_bins(n_bins: int) -> int:
    if not _is_int(n_bins, 1):
        msg = f"n_bins must be an int >= 1. Got {n_bins!r} instead."
        raise PolicyError(msg, field="n_bins")
    return int(n_bins)


def _is_int(value: object, minimum: int) -> bool:
    return bool(
        isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= minimum
    )


def _as_float_array(values: npt.ArrayLike, name: str) -> npt.NDArray[np.float64]:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        msg = f"{name} must be numbers; could not convert it ({exc})."
        raise DataError(msg, path=f"<{name}>") from exc
    if array.ndim != 1:
        msg = f"{name} must be one-dimensional, got shape {array.shape}."
        raise DataError(msg, path=f"<{name}>")
    if not np.all(np.isfinite(array)):
        msg = f"{name} contains NaN or infinite values; remove or fill those rows first."
        raise DataError(msg, path=f"<{name}>")
    return array


def _check_probabilities(p: npt.NDArray[np.float64], name: str) -> None:
    if len(p) and (p.min() < 0.0 or p.max() > 1.0):
        msg = (
            f"{name} must be probabilities in [0, 1]; got values from {p.min():.6g} to "
            f"{p.max():.6g}. Pass predict_proba(X)[:, 1], not raw scores."
        )
        raise DataError(msg, path=f"<{name}>")


def _check_pair(
    y_true: npt.ArrayLike, y_prob: npt.ArrayLike, *, name: str = "y_prob"
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    y = _as_float_array(y_true, "y_true")
    p = _as_float_array(y_prob, name)
    if len(y) == 0:
        msg = "y_true is empty; metrics need at least one row."
        raise DataError(msg, path="<y_true>")
    if len(y) != len(p):
        msg = f"y_true has {len(y)} rows but {name} has {len(p)}; pass one value per row."
        raise DataError(msg, path=f"<{name}>")
    if not np.all((y == 0) | (y == 1)):
        odd = np.unique(y[(y != 0) & (y != 1)])[:5].tolist()
        msg = f"y_true must hold outcomes 0 or 1; found {odd}."
        raise DataError(msg, path="<y_true>")
    _check_probabilities(p, name)
    return y.astype(np.int64), p


def _jsonable(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Metrics with ``nan`` as ``None`` (JSON has no NaN)."""
    return {
        key: None if isinstance(value, float) and math.isnan(value) else value
        for key, value in metrics.items()
    }
