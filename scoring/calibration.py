"""Probability calibration: map the model's raw log-odds to probabilities that hold.

Gradient-boosted trees rank invoices well, but their probabilities drift from the
observed rates (early stopping, class balance, a changed base rate since the training
window). A calibrator is fitted on **held-out, later** data: the invoices of the most
recent snapshots, which the trees did not see. It maps the raw score ``s`` (log-odds,
:meth:`scoring.risk.RiskModel.decision_function`) to a probability:

* :class:`IsotonicCalibrator` (isotonic regression, scikit-learn's
  :class:`~sklearn.isotonic.IsotonicRegression`): the best non-decreasing step function
  of ``s``, evaluated by linear interpolation between its thresholds and constant beyond
  them. Flexible; needs a few thousand rows. Its probabilities are kept in
  ``[1 / (2n), 1 − 1 / (2n)]`` for ``n`` calibration rows: no invoice is scored as
  certain to be paid or unpaid.
* :class:`PlattCalibrator` (Platt scaling): ``p = 1 / (1 + exp(−(a · s + b)))``, a
  logistic regression on the log-odds, fitted with Platt's (1999) smoothed targets
  ``(N₊ + 1) / (N₊ + 2)`` and ``1 / (N₋ + 2)``. Two parameters; robust on small samples,
  but only corrects a global slope and shift.

Both are non-decreasing in ``s``, so the ranking of the invoices (and the ROC AUC, up to
ties of the isotonic steps) is unchanged, and the explanations (contributions to the
log-odds) stay valid. Their parameters are plain JSON (:meth:`IsotonicCalibrator.to_dict`,
:func:`calibrator_from_dict`): no pickle, and a reloaded calibrator gives bit-identical
probabilities.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> s = rng.normal(0, 2, 2000)                      # raw log-odds, overconfident
>>> y = (rng.random(2000) < 1 / (1 + np.exp(-0.5 * s))).astype(int)
>>> platt = PlattCalibrator().fit(s, y)
>>> round(platt.a, 2), round(platt.b, 2)
(0.51, 0.06)
>>> iso = IsotonicCalibrator().fit(s, y)
>>> iso.predict(np.array([-4.0, 0.0, 4.0])).round(2)
array([0.06, 0.5 , 0.86])
>>> same = calibrator_from_dict(iso.to_dict())
>>> bool(np.array_equal(same.predict(s), iso.predict(s)))
True
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, Self, TypeAlias

import numpy as np
import numpy.typing as npt
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression

from dunning.errors import DataError, ModelError, PolicyError

__all__ = [
    "CALIBRATION_METHODS",
    "Calibrator",
    "IsotonicCalibrator",
    "PlattCalibrator",
    "calibrator_from_dict",
    "make_calibrator",
]

logger = logging.getLogger(__name__)

#: The calibration methods, by the name used in parameters and ``calibrator.json``.
CALIBRATION_METHODS: tuple[str, ...] = ("isotonic", "platt")

Method: TypeAlias = Literal["isotonic", "platt"]


class IsotonicCalibrator:
    """Isotonic regression from raw log-odds to probability.

    Attributes
    ----------
    x_thresholds : numpy.ndarray
        Raw scores at the knots of the step function, increasing.
    y_thresholds : numpy.ndarray
        Probabilities at the knots, non-decreasing. Between knots the probability is
        interpolated linearly; below the first and above the last it is constant.
    n_samples : int
        Rows the calibrator was fitted on.

    Examples
    --------
    >>> cal = IsotonicCalibrator().fit([-2.0, -1.0, 0.0, 1.0, 2.0, 3.0], [0, 0, 1, 0, 1, 1])
    >>> cal.x_thresholds.tolist(), cal.y_thresholds.round(3).tolist()
    ([-2.0, -1.0, 0.0, 1.0, 2.0, 3.0], [0.083, 0.083, 0.5, 0.5, 0.917, 0.917])
    >>> cal.predict([-5.0, 0.5, 9.0]).round(3)
    array([0.083, 0.5  , 0.917])
    """

    method: ClassVar[str] = "isotonic"

    def __init__(self) -> None:
        self.x_thresholds = np.zeros(0, dtype=np.float64)
        self.y_thresholds = np.zeros(0, dtype=np.float64)
        self.n_samples = 0

    def fit(self, scores: npt.ArrayLike, y: npt.ArrayLike) -> Self:
        """Fit on raw scores and 0/1 outcomes of held-out rows.

        Parameters
        ----------
        scores : array-like of shape (n,)
            Raw log-odds of the model.
        y : array-like of shape (n,)
            Outcomes, 0 or 1, with both present.

        Returns
        -------
        IsotonicCalibrator
            ``self``, fitted.

        Raises
        ------
        DataError
            If the inputs differ in length, are not finite, or ``y`` lacks a class.
        """
        s, outcome = _check_fit_data(scores, y)
        bound = 0.5 / len(s)
        regression = IsotonicRegression(
            y_min=bound, y_max=1.0 - bound, increasing=True, out_of_bounds="clip"
        ).fit(s, outcome)
        self.x_thresholds = np.asarray(regression.X_thresholds_, dtype=np.float64)
        self.y_thresholds = np.asarray(regression.y_thresholds_, dtype=np.float64)
        self.n_samples = len(s)
        return self

    def predict(self, scores: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Calibrated probabilities of the raw scores.

        Parameters
        ----------
        scores : array-like of shape (n,)
            Raw log-odds.

        Returns
        -------
        numpy.ndarray of shape (n,)

        Raises
        ------
        ModelError
            If the calibrator is not fitted.
        """
        if self.n_samples == 0:
            msg = "IsotonicCalibrator is not fitted; call fit(scores, y) first."
            raise ModelError(msg)
        s = np.asarray(scores, dtype=np.float64)
        return np.asarray(np.interp(s, self.x_thresholds, self.y_thresholds), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        """The parameters as plain JSON types (see :func:`calibrator_from_dict`).

        Returns
        -------
        dict
            ``method`` (``"isotonic"``), ``n_samples``, ``x_thresholds``,
            ``y_thresholds`` (lists of floats).
        """
        return {
            "method": self.method,
            "n_samples": int(self.n_samples),
            "x_thresholds": [float(v) for v in self.x_thresholds],
            "y_thresholds": [float(v) for v in self.y_thresholds],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild a fitted calibrator from :meth:`to_dict` output.

        Raises
        ------
        ModelError
            If a field is missing or the thresholds are not increasing knots of a
            non-decreasing function with values in ``[0, 1]``.
        """
        calibrator = cls()
        try:
            x = np.asarray(data["x_thresholds"], dtype=np.float64)
            y = np.asarray(data["y_thresholds"], dtype=np.float64)
            n = int(data["n_samples"])
        except (KeyError, TypeError, ValueError) as exc:
            msg = f"isotonic calibrator parameters are incomplete or not numbers: {exc!r}."
            raise ModelError(msg) from exc
        valid = (
            x.ndim == 1
            and x.shape == y.shape
            and len(x) >= 1
            and n >= 1
            and bool(np.all(np.isfinite(x)) and np.all(np.isfinite(y)))
            and bool(np.all(np.diff(x) > 0) and np.all(np.diff(y) >= 0))
            and bool(y.min() >= 0.0 and y.max() <= 1.0)
        )
        if not valid:
            msg = (
                "isotonic calibrator parameters are invalid: x_thresholds must increase, "
                "y_thresholds must not decrease and lie in [0, 1], both of equal length."
            )
            raise ModelError(msg)
        calibrator.x_thresholds, calibrator.y_thresholds, calibrator.n_samples = x, y, n
        return calibrator


class PlattCalibrator:
    """Platt scaling: ``p = 1 / (1 + exp(−(a · s + b)))`` on the raw log-odds ``s``.

    Fitted by Newton's method on the log-loss with Platt's smoothed targets (no
    penalty); ``a = 1, b = 0`` leaves the model's own probabilities unchanged.

    Attributes
    ----------
    a : float
        Slope on the log-odds (below 1: the model was overconfident).
    b : float
        Shift of the log-odds (the base rate correction).
    n_samples : int
        Rows the calibrator was fitted on.

    Examples
    --------
    >>> cal = PlattCalibrator().fit([-2.0, -1.0, 0.0, 1.0, 2.0, 3.0], [0, 0, 1, 0, 1, 1])
    >>> round(cal.a, 4), round(cal.b, 4)
    (0.5355, -0.2678)
    >>> cal.predict([0.0]).round(4)
    array([0.4335])
    """

    method: ClassVar[str] = "platt"

    def __init__(self) -> None:
        self.a = 1.0
        self.b = 0.0
        self.n_samples = 0

    def fit(self, scores: npt.ArrayLike, y: npt.ArrayLike) -> Self:
        """Fit ``a`` and ``b`` on raw scores and 0/1 outcomes of held-out rows.

        Parameters
        ----------
        scores : array-like of shape (n,)
            Raw log-odds of the model.
        y : array-like of shape (n,)
            Outcomes, 0 or 1, with both present.

        Returns
        -------
        PlattCalibrator
            ``self``, fitted.

        Raises
        ------
        DataError
            If the inputs differ in length, are not finite, or ``y`` lacks a class.
        ModelError
            If Newton's method does not converge.
        """
        s, outcome = _check_fit_data(scores, y)
        positives = float(outcome.sum())
        negatives = float(len(outcome) - positives)
        target = np.where(outcome == 1, (positives + 1) / (positives + 2), 1 / (negatives + 2))
        self.a, self.b = _newton_logistic(s, target)
        self.n_samples = len(s)
        return self

    def predict(self, scores: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Calibrated probabilities of the raw scores.

        Parameters
        ----------
        scores : array-like of shape (n,)
            Raw log-odds.

        Returns
        -------
        numpy.ndarray of shape (n,)

        Raises
        ------
        ModelError
            If the calibrator is not fitted.
        """
        if self.n_samples == 0:
            msg = "PlattCalibrator is not fitted; call fit(scores, y) first."
            raise ModelError(msg)
        s = np.asarray(scores, dtype=np.float64)
        return np.asarray(expit(self.a * s + self.b), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        """The parameters as plain JSON types (see :func:`calibrator_from_dict`).

        Returns
        -------
        dict
            ``method`` (``"platt"``), ``n_samples``, ``a``, ``b``.
        """
        return {"method": self.method, "n_samples": int(self.n_samples), "a": self.a, "b": self.b}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild a fitted calibrator from :meth:`to_dict` output.

        Raises
        ------
        ModelError
            If a field is missing or not a finite number, or ``a`` is negative.
        """
        calibrator = cls()
        try:
            a, b, n = float(data["a"]), float(data["b"]), int(data["n_samples"])
        except (KeyError, TypeError, ValueError) as exc:
            msg = f"Platt calibrator parameters are incomplete or not numbers: {exc!r}."
            raise ModelError(msg) from exc
        if not (math.isfinite(a) and math.isfinite(b) and a >= 0 and n >= 1):
            msg = f"Platt calibrator parameters are invalid: a={a!r}, b={b!r}, n_samples={n!r}."
            raise ModelError(msg)
        calibrator.a, calibrator.b, calibrator.n_samples = a, b, n
        return calibrator


#: Either calibrator.
Calibrator: TypeAlias = IsotonicCalibrator | PlattCalibrator


def make_calibrator(method: str) -> Calibrator:
    """An unfitted calibrator by method name.

    Parameters
    ----------
    method : {"isotonic", "platt"}

    Returns
    -------
    IsotonicCalibrator or PlattCalibrator

    Raises
    ------
    PolicyError
        If ``method`` is not one of :data:`CALIBRATION_METHODS`.

    Examples
    --------
    >>> type(make_calibrator("platt")).__name__
    'PlattCalibrator'
    """
    if method == "isotonic":
        return IsotonicCalibrator()
    if method == "platt":
        return PlattCalibrator()
    msg = f"calibration method must be one of {list(CALIBRATION_METHODS)}. Got {method!r} instead."
    raise PolicyError(msg, field="calibration")


def calibrator_from_dict(data: Mapping[str, Any]) -> Calibrator:
    """Rebuild a fitted calibrator from its JSON parameters.

    Parameters
    ----------
    data : mapping
        The output of ``to_dict()`` (e.g. read from ``calibrator.json``).

    Returns
    -------
    IsotonicCalibrator or PlattCalibrator

    Raises
    ------
    ModelError
        If ``method`` is unknown or the parameters are invalid.

    Examples
    --------
    >>> cal = calibrator_from_dict({"method": "platt", "n_samples": 100, "a": 1.0, "b": -1.0})
    >>> cal.predict([1.0]).tolist()
    [0.5]
    """
    method = data.get("method")
    if method == "isotonic":
        return IsotonicCalibrator.from_dict(data)
    if method == "platt":
        return PlattCalibrator.from_dict(data)
    msg = f"unknown calibration method {method!r}; expected one of {list(CALIBRATION_METHODS)}."
    raise ModelError(msg)


def _check_fit_data(
    scores: npt.ArrayLike, y: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    s = np.asarray(scores, dtype=np.float64)
    outcome = np.asarray(y, dtype=np.float64)
    if s.ndim != 1 or s.shape != outcome.shape:
        msg = (
            f"scores and y must be one-dimensional and of equal length; got shapes "
            f"{s.shape} and {outcome.shape}."
        )
        raise DataError(msg, path="<calibration data>")
    if not (np.all(np.isfinite(s)) and np.all((outcome == 0) | (outcome == 1))):
        msg = "calibration needs finite scores and outcomes 0 or 1; remove rows with NaN."
        raise DataError(msg, path="<calibration data>")
    if len(s) == 0 or outcome.min() == outcome.max():
        msg = (
            f"calibration needs both outcomes (paid and unpaid) in the held-out data; got "
            f"{len(s)} rows with {int(outcome.sum())} unpaid. Hold out more snapshots."
        )
        raise DataError(msg, path="<calibration data>")
    return s, outcome


def _newton_logistic(
    s: npt.NDArray[np.float64], target: npt.NDArray[np.float64]
) -> tuple[float, float]:
    """Minimise the log-loss of ``expit(a s + b)`` against soft targets (Newton, line search)."""
    features = np.column_stack([s, np.ones_like(s)])

    def loss(theta: npt.NDArray[np.float64]) -> float:
        z = features @ theta
        # log(1 + exp(z)) - t z, computed stably
        return float(np.sum(np.logaddexp(0.0, z) - target * z))

    theta = np.array([1.0, 0.0])
    current = loss(theta)
    for _ in range(100):
        p = expit(features @ theta)
        gradient = features.T @ (p - target)
        hessian = (features * (p * (1.0 - p))[:, None]).T @ features
        hessian += 1e-12 * np.eye(2)  # keeps the solve defined on degenerate scores
        step = np.linalg.solve(hessian, gradient)
        scale = 1.0
        while scale > 1e-10:
            candidate = theta - scale * step
            value = loss(candidate)
            if value <= current:
                break
            scale /= 2.0
        else:
            break
        theta, previous, current = candidate, current, value
        if np.max(np.abs(scale * step)) < 1e-10 or previous - current < 1e-14 * max(1.0, current):
            return float(theta[0]), float(theta[1])
    if not np.all(np.isfinite(theta)):
        msg = "Platt calibration did not converge; use method='isotonic' or more data."
        raise ModelError(msg)
    return float(theta[0]), float(theta[1])
