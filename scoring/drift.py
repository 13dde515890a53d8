"""Drift: has the population the model scores moved away from the one it was trained on?

The population stability index (PSI) compares the shares of a reference sample (the
training data) and a new batch over the same bins::

    PSI = Σ_i (a_i - e_i) · ln(a_i / e_i)

with ``e_i`` the expected (reference) and ``a_i`` the actual share of bin ``i``. Every
term is ≥ 0, so PSI ≥ 0, and it is 0 exactly when the shares agree. Shares below
``epsilon`` (default 1e-4) are raised to it before the sum, so that an empty bin on either
side never makes PSI infinite; shares are not renormalised afterwards, so two equal
distributions still give exactly 0. Reading (the usual thresholds): below 0.1 *stable*,
0.1 up to and including 0.25 *moderate*, above 0.25 *significant*.

Bins
----
* **Numeric** data: the interior edges are the ``1/bins, 2/bins, …`` quantiles of the
  reference (``numpy.quantile`` with ``method="inverted_cdf"``, so every edge is a
  reference value; non-finite values left out; repeated edges merged, so a 0/1 flag
  gets two bins, not ten). Bins are closed on the
  right and the outer ones are open-ended: ``(-inf, e_1], (e_1, e_2], …, (e_k, inf)``.
* **Categorical** data (``category``, string, object or bool dtype): one bin per category
  seen in the reference (compared as strings), plus one bin for all categories the
  reference did not see.
* **Missing values** (``NaN``, ``None``, ``NA``) always count in a bin of their own, last.

:class:`ReferenceDistribution` keeps these bins and shares per feature (and optionally for
the score) so that a model bundle can carry them as plain JSON; :func:`drift_report`
compares a new batch with it.

Examples
--------
>>> round(psi_from_shares([0.25] * 4, [0.10, 0.20, 0.30, 0.40]), 4)
0.2282
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> round(population_stability_index(rng.normal(size=5000), rng.normal(0.5, 1, 5000)), 2)
0.27
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from dunning.errors import DataError, FeatureMismatchError, ModelError, PolicyError

__all__ = [
    "DRIFT_STATUSES",
    "REFERENCE_FORMAT",
    "SCORE_ROW",
    "DriftReport",
    "FeatureBins",
    "ReferenceDistribution",
    "drift_report",
    "population_stability_index",
    "psi_from_shares",
    "reference_from_frame",
]

logger = logging.getLogger(__name__)

Float = npt.NDArray[np.float64]
Kind = Literal["numeric", "categorical"]

#: Status of a row of the drift table, by PSI: below the first threshold, up to the
#: second, above it; ``"no data"`` when the new batch is empty.
DRIFT_STATUSES: tuple[str, ...] = ("stable", "moderate", "significant", "no data")
#: The ``format`` tag of :meth:`ReferenceDistribution.to_dict`.
REFERENCE_FORMAT = "dunning.drift.reference/1"
#: Name of the score row in the drift table.
SCORE_ROW = "score"
# Shares must add up to 1 within this tolerance (they may be rounded).
_SUM_TOLERANCE = 1e-3


def psi_from_shares(
    expected_shares: Sequence[float] | npt.ArrayLike,
    actual_shares: Sequence[float] | npt.ArrayLike,
    *,
    epsilon: float = 1e-4,
) -> float:
    """Population stability index of two share vectors over the same bins.

    Parameters
    ----------
    expected_shares, actual_shares : array-like of float
        Share of each bin in the reference and in the new data, each adding up to 1
        (within 0.001); the same bins in the same order.
    epsilon : float, default 1e-4
        Shares below it are raised to it, so that empty bins give a finite PSI.

    Returns
    -------
    float
        ``Σ (a - e) · ln(a / e)`` over the bins; ≥ 0, and symmetric in the two arguments.

    Raises
    ------
    DataError
        If the vectors differ in length, are empty, hold a negative or non-finite share,
        or do not add up to 1.
    PolicyError
        If ``epsilon`` is not in ``(0, 1)``.

    Examples
    --------
    >>> round(psi_from_shares([0.25, 0.25, 0.25, 0.25], [0.10, 0.20, 0.30, 0.40]), 4)
    0.2282
    >>> round(psi_from_shares([0.5, 0.5], [0.6, 0.4]), 4)
    0.0405
    >>> psi_from_shares([0.5, 0.5, 0.0], [0.5, 0.5, 0.0])
    0.0
    >>> round(psi_from_shares([1.0, 0.0], [0.0, 1.0]), 2)  # finite despite empty bins
    18.42
    """
    _check_epsilon(epsilon)
    expected = _shares(expected_shares, "expected_shares")
    actual = _shares(actual_shares, "actual_shares")
    if expected.shape != actual.shape:
        msg = (
            f"expected_shares has {expected.size} bins but actual_shares has {actual.size}; "
            "pass the shares of the same bins in the same order."
        )
        raise DataError(msg)
    return _psi(expected, actual, epsilon)


def _psi(expected: Float, actual: Float, epsilon: float) -> float:
    e = np.maximum(expected, epsilon)
    a = np.maximum(actual, epsilon)
    return float(np.sum((a - e) * np.log(a / e)))


def _shares(values: Sequence[float] | npt.ArrayLike, name: str) -> Float:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        msg = f"{name} must be a non-empty 1-d sequence of shares. Got shape {array.shape}."
        raise DataError(msg)
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        msg = f"{name} must hold finite shares ≥ 0. Got {array.tolist()[:10]}."
        raise DataError(msg)
    total = float(array.sum())
    if abs(total - 1.0) > _SUM_TOLERANCE:
        msg = (
            f"{name} must add up to 1. Got {total:.6g}; divide counts by their total "
            "(and percentages by 100) first."
        )
        raise DataError(msg)
    return array


def _check_epsilon(epsilon: float) -> None:
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not 0 < epsilon < 1:
        msg = f"epsilon must be a number in (0, 1). Got {epsilon!r} instead."
        raise PolicyError(msg, field="epsilon")


def _check_bins(bins: int) -> None:
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        msg = f"bins must be an int ≥ 1. Got {bins!r} instead."
        raise PolicyError(msg, field="bins")


def _kind_of(series: pd.Series) -> Kind:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
        return "categorical"
    return "numeric"


def _as_series(values: Any) -> pd.Series:
    if isinstance(values, pd.Series):
        return values.reset_index(drop=True)
    if np.ndim(values) != 1:
        msg = f"expected a 1-d array of values. Got shape {np.shape(values)}."
        raise DataError(msg)
    return pd.Series(values if hasattr(values, "dtype") else list(values))


@dataclass(frozen=True, slots=True)
class FeatureBins:
    """The bins of one variable and the reference share of each.

    Parameters
    ----------
    kind : {"numeric", "categorical"}
        How values are binned (see the module docstring).
    shares : tuple of float
        Reference share per bin, adding up to 1. Numeric: ``len(edges) + 1`` interval bins
        then the missing bin. Categorical: one per category, then the bin of unseen
        categories, then the missing bin.
    edges : tuple of float
        Numeric only: the finite, strictly increasing interior edges.
    categories : tuple of str
        Categorical only: the categories seen in the reference, sorted.
    count : int
        Number of reference values the shares come from.

    Raises
    ------
    ModelError
        If the parts do not fit together (e.g. a bundle was edited by hand).

    Examples
    --------
    >>> b = FeatureBins.fit([1.0, 2.0, 3.0, 4.0, None], bins=2)
    >>> b.edges, b.shares
    ((2.0,), (0.4, 0.4, 0.2))
    >>> b.labels()
    ['(-inf, 2]', '(2, inf)', 'missing']
    >>> FeatureBins.fit(["B2B", "B2C", "B2C", "B2C"]).shares
    (0.25, 0.75, 0.0, 0.0)
    """

    kind: Kind
    shares: tuple[float, ...]
    edges: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()
    count: int = 0

    def __post_init__(self) -> None:
        problem = None
        if self.kind == "numeric":
            edges = np.asarray(self.edges, dtype=np.float64)
            if self.categories:
                problem = "a numeric variable has no categories"
            elif not np.all(np.isfinite(edges)) or np.any(np.diff(edges) <= 0):
                problem = "edges must be finite and strictly increasing"
            elif len(self.shares) != len(self.edges) + 2:
                problem = f"{len(self.edges)} edges need {len(self.edges) + 2} shares"
        elif self.kind == "categorical":
            if self.edges:
                problem = "a categorical variable has no edges"
            elif len(set(self.categories)) != len(self.categories):
                problem = "categories must be unique"
            elif len(self.shares) != len(self.categories) + 2:
                problem = (
                    f"{len(self.categories)} categories need {len(self.categories) + 2} shares"
                )
        else:
            problem = f"kind must be 'numeric' or 'categorical', not {self.kind!r}"
        shares = np.asarray(self.shares, dtype=np.float64)
        if problem is None and (
            not np.all(np.isfinite(shares))
            or np.any(shares < 0)
            or abs(float(shares.sum()) - 1.0) > _SUM_TOLERANCE
        ):
            problem = "shares must be finite, ≥ 0 and add up to 1"
        if problem is None and (isinstance(self.count, bool) or self.count < 1):
            problem = "count must be an int ≥ 1"
        if problem is not None:
            msg = f"Invalid FeatureBins: {problem}. Rebuild the reference from the training data."
            raise ModelError(msg)

    @classmethod
    def fit(
        cls, values: Any, *, bins: int = 10, kind: Kind | None = None, name: str = "values"
    ) -> FeatureBins:
        """Bins and shares of a reference sample.

        Parameters
        ----------
        values : array-like
            The reference values (a Series, an array or a list); missing values allowed.
        bins : int, default 10
            Number of quantile bins for numeric data (fewer when quantiles coincide).
        kind : {"numeric", "categorical"} or None
            ``None`` decides by dtype: numeric dtypes except bool are numeric.
        name : str
            The variable's name, for error messages.

        Returns
        -------
        FeatureBins

        Raises
        ------
        DataError
            If ``values`` is empty, or not numeric while ``kind="numeric"``.
        PolicyError
            If ``bins`` is not an int ≥ 1.

        Examples
        --------
        >>> FeatureBins.fit([0, 0, 0, 1, 1], bins=10).edges  # a 0/1 flag: two bins
        (0.0, 1.0)
        """
        _check_bins(bins)
        series = _as_series(values)
        if len(series) == 0:
            msg = f"{name}: the reference sample is empty; at least one value is needed."
            raise DataError(msg)
        kind = _kind_of(series) if kind is None else kind
        edges: tuple[float, ...] = ()
        categories: tuple[str, ...] = ()
        if kind == "numeric":
            numbers = _numbers(series, name)
            finite = numbers[np.isfinite(numbers)]
            if finite.size and bins > 1:
                probs = np.arange(1, bins) / bins
                quantiles = np.quantile(finite, probs, method="inverted_cdf")
                edges = tuple(float(e) for e in np.unique(quantiles))
        else:
            categories = tuple(sorted(series.astype("str").dropna().unique().tolist()))
        counts = _counts(series, kind, edges, categories, name)
        shares = tuple(float(c) for c in counts / counts.sum())
        return cls(kind, shares, edges, categories, len(series))

    def labels(self) -> list[str]:
        """A readable label per bin, in the order of :attr:`shares`.

        Examples
        --------
        >>> bins = FeatureBins("categorical", (0.5, 0.5, 0.0, 0.0), categories=("A", "B"), count=2)
        >>> bins.labels()
        ['A', 'B', 'unseen', 'missing']
        """
        if self.kind == "categorical":
            return [*self.categories, "unseen", "missing"]
        bounds = ["-inf", *(f"{e:.6g}" for e in self.edges), "inf"]
        return [
            f"({lo}, {hi}" + (")" if hi == "inf" else "]") for lo, hi in itertools.pairwise(bounds)
        ] + ["missing"]

    def shares_of(self, values: Any, *, name: str = "values") -> Float:
        """Share of ``values`` in each bin (empty input: all zeros).

        Raises
        ------
        FeatureMismatchError
            If the bins are numeric and ``values`` are not numbers.

        Examples
        --------
        >>> b = FeatureBins.fit(["A", "A", "B"])
        >>> b.shares_of(["A", "C", None, None]).tolist()
        [0.25, 0.0, 0.25, 0.5]
        """
        counts = _counts(_as_series(values), self.kind, self.edges, self.categories, name)
        total = counts.sum()
        return counts / total if total else counts.astype(np.float64)

    def breakdown(
        self, values: Any, *, epsilon: float = 1e-4, name: str = "values"
    ) -> pd.DataFrame:
        """Per bin: reference share, new share and the bin's part of the PSI.

        Returns
        -------
        pandas.DataFrame
            Columns ``bin`` (label), ``expected``, ``actual``, ``psi``; the ``psi`` column
            adds up to the variable's PSI. It shows *where* a distribution moved.

        Examples
        --------
        >>> b = FeatureBins.fit(["A", "A", "B", "B"])
        >>> print(b.breakdown(["A", "B", "B", "B"]).round(3).to_string(index=False))
            bin  expected  actual   psi
              A       0.5    0.25 0.173
              B       0.5    0.75 0.101
         unseen       0.0    0.00 0.000
        missing       0.0    0.00 0.000
        """
        _check_epsilon(epsilon)
        expected = np.asarray(self.shares)
        actual = self.shares_of(values, name=name)
        e = np.maximum(expected, epsilon)
        a = np.maximum(actual, epsilon)
        return pd.DataFrame(
            {
                "bin": self.labels(),
                "expected": expected,
                "actual": actual,
                "psi": (a - e) * np.log(a / e),
            }
        )

    def psi(self, values: Any, *, epsilon: float = 1e-4, name: str = "values") -> float:
        """PSI of ``values`` against these reference shares.

        Examples
        --------
        >>> FeatureBins.fit([1.0, 2.0, 3.0, 4.0], bins=4).psi([1.0, 2.0, 3.0, 4.0])
        0.0
        """
        _check_epsilon(epsilon)
        return _psi(np.asarray(self.shares), self.shares_of(values, name=name), epsilon)

    def to_dict(self) -> dict[str, Any]:
        """A plain JSON-compatible dict (see :meth:`ReferenceDistribution.to_dict`).

        Examples
        --------
        >>> FeatureBins.fit([1.0, 2.0], bins=2).to_dict()
        {'kind': 'numeric', 'edges': [1.0], 'shares': [0.5, 0.5, 0.0], 'count': 2}
        """
        out: dict[str, Any] = {"kind": self.kind}
        if self.kind == "numeric":
            out["edges"] = list(self.edges)
        else:
            out["categories"] = list(self.categories)
        out["shares"] = list(self.shares)
        out["count"] = self.count
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, name: str = "values") -> FeatureBins:
        """Rebuild from :meth:`to_dict` output.

        Raises
        ------
        ModelError
            If keys are missing or unknown, or values do not fit together.

        Examples
        --------
        >>> b = FeatureBins.fit(["x", "y", None])
        >>> FeatureBins.from_dict(b.to_dict()) == b
        True
        """
        if not isinstance(data, Mapping):
            msg = f"reference of {name!r} must be a JSON object. Got {type(data).__name__}."
            raise ModelError(msg)
        kind = data.get("kind")
        if kind not in ("numeric", "categorical"):
            msg = f"reference of {name!r}: kind must be 'numeric' or 'categorical', not {kind!r}."
            raise ModelError(msg)
        allowed = {"kind", "shares", "count", "edges" if kind == "numeric" else "categories"}
        unknown = sorted(set(data) - allowed)
        missing = sorted(allowed - set(data))
        if unknown or missing:
            msg = (
                f"reference of {name!r}: unknown keys {unknown}, missing keys {missing} "
                f"(kind {kind!r}). Expected {sorted(allowed)}."
            )
            raise ModelError(msg)
        try:
            return cls(
                kind=kind,
                shares=tuple(float(s) for s in data["shares"]),
                edges=tuple(float(e) for e in data.get("edges", ())),
                categories=tuple(str(c) for c in data.get("categories", ())),
                count=int(data["count"]),
            )
        except (TypeError, ValueError) as exc:
            msg = f"reference of {name!r} holds a value of the wrong type: {exc}."
            raise ModelError(msg) from exc


def _counts(
    series: pd.Series,
    kind: Kind,
    edges: tuple[float, ...],
    categories: tuple[str, ...],
    name: str,
) -> Float:
    """Number of values in each bin: intervals or categories, then unseen, then missing."""
    missing = np.asarray(series.isna(), dtype=bool)
    if kind == "numeric":
        if _kind_of(series) != "numeric" and not missing.all():
            msg = (
                f"{name}: the reference is numeric but the values have dtype "
                f"{series.dtype}; convert the column to numbers."
            )
            raise FeatureMismatchError(msg, column=name)
        numbers = series.to_numpy(np.float64, na_value=np.nan)
        index = np.searchsorted(np.asarray(edges, dtype=np.float64), numbers, side="left")
        n_bins = len(edges) + 2
    else:
        known = pd.Index(categories, dtype="str")
        codes = known.get_indexer(pd.Index(series.astype("str"))).astype(np.int64)
        index = np.where(codes < 0, len(categories), codes)
        n_bins = len(categories) + 2
    index = np.where(missing, n_bins - 1, index)
    return np.bincount(index, minlength=n_bins).astype(np.float64)


def _numbers(series: pd.Series, name: str) -> Float:
    if _kind_of(series) != "numeric" and not series.isna().all():
        msg = f"{name}: expected numbers, got dtype {series.dtype}; pass kind='categorical'."
        raise DataError(msg)
    return series.to_numpy(np.float64, na_value=np.nan)


@dataclass(frozen=True, slots=True)
class ReferenceDistribution:
    """The reference bins of every feature (and optionally of the score) of a model.

    Build it with :func:`reference_from_frame` from the training data, keep it in the
    model bundle with :meth:`to_dict`, and compare new batches with :func:`drift_report`.

    Parameters
    ----------
    features : mapping of str to FeatureBins
        One entry per feature, in column order.
    score : FeatureBins or None
        Bins of the model score on the reference data.
    bins : int
        Number of quantile bins asked for when the reference was built.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"days": [1, 5, 9, 30], "segment": ["B2B", "B2C", "B2C", "B2C"]})
    >>> ref = reference_from_frame(X, bins=2)
    >>> list(ref.features)
    ['days', 'segment']
    >>> ReferenceDistribution.from_dict(ref.to_dict()) == ref
    True
    """

    features: Mapping[str, FeatureBins]
    score: FeatureBins | None = None
    bins: int = 10

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", MappingProxyType(dict(self.features)))

    def to_dict(self) -> dict[str, Any]:
        """A plain JSON-compatible dict, e.g. for a model bundle's ``metadata.json``.

        The format (``format`` is :data:`REFERENCE_FORMAT`)::

            {"format": "dunning.drift.reference/1",
             "bins": 10,
             "features": {
               "<numeric feature>": {"kind": "numeric", "edges": [e1, …, ek],
                                     "shares": [s_1, …, s_k+1, s_missing], "count": n},
               "<categorical feature>": {"kind": "categorical", "categories": ["A", …],
                                         "shares": [s_A, …, s_unseen, s_missing],
                                         "count": n}},
             "score": {<as a numeric feature>} or null}

        Numeric bins are ``(-inf, e1], (e1, e2], …, (ek, inf)``; all numbers are finite
        floats, so ``json.dumps`` needs no options and the round trip is exact.

        Examples
        --------
        >>> import json, pandas as pd
        >>> ref = reference_from_frame(pd.DataFrame({"x": [1.0, 2.0]}), bins=2)
        >>> json.dumps(ref.to_dict())
        '{"format": "dunning.drift.reference/1", "bins": 2, "features": {"x": {"kind": "numeric", "edges": [1.0], "shares": [0.5, 0.5, 0.0], "count": 2}}, "score": null}'
        """  # noqa: E501
        return {
            "format": REFERENCE_FORMAT,
            "bins": self.bins,
            "features": {name: bins.to_dict() for name, bins in self.features.items()},
            "score": None if self.score is None else self.score.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReferenceDistribution:
        """Rebuild from :meth:`to_dict` output (e.g. read back from ``metadata.json``).

        Raises
        ------
        ModelError
            If the format tag, a key or a value is wrong.

        Examples
        --------
        >>> ReferenceDistribution.from_dict({"format": "other"})
        Traceback (most recent call last):
        ...
        dunning.errors.ModelError: Not a drift reference: format is 'other', expected 'dunning.drift.reference/1'.
        """  # noqa: E501
        if not isinstance(data, Mapping) or data.get("format") != REFERENCE_FORMAT:
            found = data.get("format") if isinstance(data, Mapping) else type(data).__name__
            msg = f"Not a drift reference: format is {found!r}, expected {REFERENCE_FORMAT!r}."
            raise ModelError(msg)
        features = data.get("features")
        if not isinstance(features, Mapping):
            msg = "Drift reference: 'features' must be a JSON object of feature name to bins."
            raise ModelError(msg)
        score = data.get("score")
        bins = data.get("bins", 10)
        if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
            msg = f"Drift reference: 'bins' must be an int ≥ 1. Got {bins!r}."
            raise ModelError(msg)
        return cls(
            features={str(k): FeatureBins.from_dict(v, name=str(k)) for k, v in features.items()},
            score=None if score is None else FeatureBins.from_dict(score, name=SCORE_ROW),
            bins=bins,
        )


def reference_from_frame(
    X: pd.DataFrame, *, bins: int = 10, scores: npt.ArrayLike | None = None
) -> ReferenceDistribution:
    """Reference bins of every column of a training frame (and of its scores).

    Parameters
    ----------
    X : pandas.DataFrame
        The training features (e.g. ``TrainingSet.X``); each column is binned by its dtype.
    bins : int, default 10
        Number of quantile bins for numeric columns.
    scores : array-like of float or None
        The model's scores on ``X`` (or on the calibration data), one per row.

    Returns
    -------
    ReferenceDistribution

    Raises
    ------
    DataError
        If ``X`` has no rows or duplicate column names, or ``scores`` has another length.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"days": [1, 2, 3, 4], "segment": pd.Categorical(["B2B", "B2C", "B2C", None])})
    >>> ref = reference_from_frame(X, bins=2, scores=[0.1, 0.2, 0.3, 0.4])
    >>> ref.features["segment"].shares, ref.score.edges
    ((0.25, 0.5, 0.0, 0.25), (0.2,))
    """  # noqa: E501
    _check_bins(bins)
    if len(X) == 0:
        msg = "reference_from_frame: X has no rows; pass the training features."
        raise DataError(msg, path="<DataFrame>")
    if not X.columns.is_unique:
        duplicated = X.columns[X.columns.duplicated()].tolist()
        msg = f"reference_from_frame: column names {duplicated} occur more than once."
        raise DataError(msg, path="<DataFrame>")
    features = {str(c): FeatureBins.fit(X[c], bins=bins, name=str(c)) for c in X.columns}
    score = None
    if scores is not None:
        values = np.asarray(scores, dtype=np.float64)
        if values.shape != (len(X),):
            msg = f"scores has shape {values.shape}, expected ({len(X)},): one score per row of X."
            raise DataError(msg)
        score = FeatureBins.fit(values, bins=bins, kind="numeric", name=SCORE_ROW)
    return ReferenceDistribution(features=features, score=score, bins=bins)


def population_stability_index(
    expected: Any,
    actual: Any,
    *,
    bins: int = 10,
    epsilon: float = 1e-4,
    kind: Kind | None = None,
) -> float:
    """PSI between a reference sample and a new sample of one variable.

    Parameters
    ----------
    expected : array-like
        Reference values (e.g. a training column); defines the bins.
    actual : array-like
        New values.
    bins : int, default 10
        Number of quantile bins for numeric data.
    epsilon : float, default 1e-4
        Floor of every share (see :func:`psi_from_shares`).
    kind : {"numeric", "categorical"} or None
        ``None`` decides by the dtype of ``expected``.

    Returns
    -------
    float
        The PSI, finite and ≥ 0.

    Raises
    ------
    DataError
        If either sample is empty.
    FeatureMismatchError
        If ``expected`` is numeric and ``actual`` is not.

    Examples
    --------
    >>> population_stability_index([1, 2, 3, 4], [4, 3, 2, 1])
    0.0
    >>> round(population_stability_index(["a", "a", "b", "b"], ["a", "b", "b", "c"]), 4)
    2.1285
    """
    _check_epsilon(epsilon)
    reference = FeatureBins.fit(expected, bins=bins, kind=kind, name="expected")
    new = _as_series(actual)
    if len(new) == 0:
        msg = "actual is empty; at least one value is needed to compare."
        raise DataError(msg)
    return reference.psi(new, epsilon=epsilon, name="actual")


@dataclass(frozen=True, eq=False)
class DriftReport:
    """PSI per feature (and for the score) between a reference and a new batch.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per feature in reference order, then the score row if compared:
        ``feature`` (name; ``"score"`` for the score row), ``role`` (``"feature"`` or
        ``"score"``), ``kind``, ``psi`` (``NaN`` when the batch is empty), ``status``
        (one of :data:`DRIFT_STATUSES`), ``n_reference`` and ``n_new``.
    thresholds : tuple of float
        The PSI limits of ``moderate`` and ``significant`` used for ``status``.

    Examples
    --------
    >>> import pandas as pd
    >>> ref = reference_from_frame(pd.DataFrame({"days": [3, 8, 15, 40]}), bins=2)
    >>> report = drift_report(ref, pd.DataFrame({"days": [50, 60, 70, 80]}))
    >>> report.table[["feature", "psi", "status"]].round(2).to_dict("records")
    [{'feature': 'days', 'psi': 4.6, 'status': 'significant'}]
    >>> report.alarm
    True
    """

    table: pd.DataFrame
    thresholds: tuple[float, float] = (0.1, 0.25)

    @property
    def alarm(self) -> bool:
        """Whether any feature or the score shifted significantly."""
        return bool((self.table["status"] == "significant").any())

    def text(self, lang: Literal["en", "de"] = "en", *, limit: int = 5) -> str:
        """A short summary in plain sentences, for the run report.

        Parameters
        ----------
        lang : {"en", "de"}
            Language.
        limit : int, default 5
            At most this many features are named per status, largest PSI first.

        Raises
        ------
        PolicyError
            If ``lang`` is not ``"en"`` or ``"de"``.

        Examples
        --------
        >>> import pandas as pd
        >>> table = pd.DataFrame({"feature": ["days_overdue", "segment", "score"],
        ...     "role": ["feature", "feature", "score"], "kind": ["numeric", "categorical", "numeric"],
        ...     "psi": [0.31, 0.12, 0.02], "status": ["significant", "moderate", "stable"],
        ...     "n_reference": [100] * 3, "n_new": [50] * 3})
        >>> report = DriftReport(table)
        >>> print(report.text())
        1 of 2 features shifted significantly: days_overdue (PSI 0.31). 1 shifted moderately: segment (PSI 0.12). The score is stable (PSI 0.02). Drift alarm: check the model before relying on its scores.
        >>> print(report.text("de"))
        1 von 2 Merkmalen hat sich deutlich verschoben: days_overdue (PSI 0,31). 1 hat sich mäßig verschoben: segment (PSI 0,12). Der Score ist stabil (PSI 0,02). Drift-Alarm: Modell prüfen, bevor seine Scores verwendet werden.
        """  # noqa: E501
        if lang not in _TEXTS:
            msg = f"lang must be 'en' or 'de'. Got {lang!r} instead."
            raise PolicyError(msg, field="lang")
        words = _TEXTS[lang]
        table = self.table
        features = table.loc[table["role"] == "feature"]
        n = len(features)
        if n == 0 or (features["status"] == "no data").all():
            return words["empty"]

        def number(value: float) -> str:
            text = f"{value:.2f}"
            return text.replace(".", ",") if lang == "de" else text

        def listing(rows: pd.DataFrame) -> str:
            rows = rows.sort_values("psi", ascending=False, kind="stable")
            named = [
                f"{f} (PSI {number(p)})" for f, p in zip(rows["feature"], rows["psi"], strict=True)
            ]
            more = len(named) - limit
            text = ", ".join(named[:limit])
            return text + (words["more"].format(more) if more > 0 else "")

        significant = features.loc[features["status"] == "significant"]
        moderate = features.loc[features["status"] == "moderate"]
        sentences = []
        if len(significant):
            key = "significant_one" if len(significant) == 1 else "significant_many"
            sentences.append(words[key].format(k=len(significant), n=n, names=listing(significant)))
        if len(moderate):
            lead = "moderate_one" if len(moderate) == 1 else "moderate_many"
            if not len(significant):
                lead += "_of"
            sentences.append(words[lead].format(k=len(moderate), n=n, names=listing(moderate)))
        if not len(significant) and not len(moderate) and n:
            top = features.sort_values("psi", ascending=False, kind="stable").iloc[0]
            sentences.append(
                words["stable"].format(n=n, psi=number(float(top["psi"])), name=top["feature"])
            )
        score = table.loc[table["role"] == "score"]
        if len(score):
            row = score.iloc[0]
            sentences.append(
                words["score_" + str(row["status"])].format(psi=number(float(row["psi"])))
            )
        if self.alarm:
            sentences.append(words["alarm"])
        return " ".join(sentences)


_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "empty": "No drift check: the new batch is empty.",
        "more": " and {} more",
        "significant_one": "{k} of {n} features shifted significantly: {names}.",
        "significant_many": "{k} of {n} features shifted significantly: {names}.",
        "moderate_one": "{k} shifted moderately: {names}.",
        "moderate_many": "{k} shifted moderately: {names}.",
        "moderate_one_of": (
            "No feature shifted significantly; {k} of {n} shifted moderately: {names}."
        ),
        "moderate_many_of": (
            "No feature shifted significantly; {k} of {n} shifted moderately: {names}."
        ),
        "stable": "All {n} features are stable (largest PSI {psi}: {name}).",
        "score_stable": "The score is stable (PSI {psi}).",
        "score_moderate": "The score shifted moderately (PSI {psi}).",
        "score_significant": "The score shifted significantly (PSI {psi}).",
        "alarm": "Drift alarm: check the model before relying on its scores.",
    },
    "de": {
        "empty": "Keine Drift-Prüfung: der neue Bestand ist leer.",
        "more": " und {} weitere",
        "significant_one": "{k} von {n} Merkmalen hat sich deutlich verschoben: {names}.",
        "significant_many": "{k} von {n} Merkmalen haben sich deutlich verschoben: {names}.",
        "moderate_one": "{k} hat sich mäßig verschoben: {names}.",
        "moderate_many": "{k} haben sich mäßig verschoben: {names}.",
        "moderate_one_of": (
            "Kein Merkmal hat sich deutlich verschoben; {k} von {n} hat sich mäßig verschoben: "
            "{names}."
        ),
        "moderate_many_of": (
            "Kein Merkmal hat sich deutlich verschoben; {k} von {n} haben sich mäßig "
            "verschoben: {names}."
        ),
        "stable": "Alle {n} Merkmale sind stabil (größter PSI {psi}: {name}).",
        "score_stable": "Der Score ist stabil (PSI {psi}).",
        "score_moderate": "Der Score hat sich mäßig verschoben (PSI {psi}).",
        "score_significant": "Der Score hat sich deutlich verschoben (PSI {psi}).",
        "alarm": "Drift-Alarm: Modell prüfen, bevor seine Scores verwendet werden.",
    },
}


def _status(psi: float, thresholds: tuple[float, float]) -> str:
    if np.isnan(psi):
        return "no data"
    if psi < thresholds[0]:
        return "stable"
    return "moderate" if psi <= thresholds[1] else "significant"


def drift_report(
    reference: ReferenceDistribution,
    X_new: pd.DataFrame,
    *,
    score_reference: FeatureBins | npt.ArrayLike | None = None,
    score_new: npt.ArrayLike | None = None,
    thresholds: tuple[float, float] = (0.1, 0.25),
    epsilon: float = 1e-4,
) -> DriftReport:
    """PSI of every reference feature (and of the score) in a new batch.

    Parameters
    ----------
    reference : ReferenceDistribution
        The training reference (:func:`reference_from_frame`, or read from a bundle).
    X_new : pandas.DataFrame
        The new batch, with at least the reference's columns (others are ignored).
    score_reference : FeatureBins, array-like of float, or None
        Reference for the score: bins, or the reference scores themselves (binned with
        ``reference.bins``). ``None`` uses ``reference.score``.
    score_new : array-like of float or None
        The scores of the new batch; ``None`` leaves the score row out.
    thresholds : (float, float), default (0.1, 0.25)
        PSI below the first is ``stable``, up to the second ``moderate``, above it
        ``significant``.
    epsilon : float, default 1e-4
        Floor of every share (see :func:`psi_from_shares`).

    Returns
    -------
    DriftReport
        ``.table``, ``.text(lang)`` and ``.alarm``. An empty batch gives ``NaN`` PSIs with
        status ``"no data"`` and no alarm.

    Raises
    ------
    FeatureMismatchError
        If a reference column is absent from ``X_new`` or has a numeric/categorical kind
        other than the reference's (``.column`` names it).
    ModelError
        If ``score_new`` is given but there is no score reference.
    PolicyError
        If ``thresholds`` or ``epsilon`` are invalid.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> train = pd.DataFrame({"days": rng.integers(1, 60, 2000), "share": rng.random(2000)})
    >>> ref = reference_from_frame(train, scores=rng.random(2000))
    >>> new = pd.DataFrame({"days": rng.integers(20, 90, 500), "share": rng.random(500)})
    >>> report = drift_report(ref, new, score_new=rng.random(500))
    >>> report.table[["feature", "status"]].to_dict("list")
    {'feature': ['days', 'share', 'score'], 'status': ['significant', 'stable', 'stable']}
    >>> report.alarm
    True
    """
    low, high = _check_thresholds(thresholds)
    _check_epsilon(epsilon)
    absent = [name for name in reference.features if name not in X_new.columns]
    if absent:
        msg = (
            f"X_new lacks the reference columns {absent[:5]}; pass features built with the "
            "same feature list as the model's training data."
        )
        raise FeatureMismatchError(msg, column=absent[0])
    empty = len(X_new) == 0
    rows: list[dict[str, Any]] = []
    for name, bins in reference.features.items():
        column = X_new[name]
        if not empty and not column.isna().all() and _kind_of(column) != bins.kind:
            msg = (
                f"column {name!r} is {_kind_of(column)} (dtype {column.dtype}) in X_new but "
                f"{bins.kind} in the reference; convert it as it was at training."
            )
            raise FeatureMismatchError(msg, column=name)
        psi = np.nan if empty else bins.psi(column, epsilon=epsilon, name=name)
        rows.append(_row(name, "feature", bins, psi, len(column), (low, high)))
    if score_new is not None:
        scores = np.asarray(score_new, dtype=np.float64)
        score_bins: FeatureBins | None
        if score_reference is None:
            score_bins = reference.score
        elif isinstance(score_reference, FeatureBins):
            score_bins = score_reference
        else:
            score_bins = FeatureBins.fit(
                score_reference, bins=reference.bins, kind="numeric", name=SCORE_ROW
            )
        if score_bins is None:
            msg = (
                "score_new was given but there is no score reference: pass score_reference "
                "or build the reference with reference_from_frame(X, scores=...)."
            )
            raise ModelError(msg)
        psi = (
            np.nan if scores.size == 0 else score_bins.psi(scores, epsilon=epsilon, name=SCORE_ROW)
        )
        rows.append(_row(SCORE_ROW, "score", score_bins, psi, scores.size, (low, high)))
    table = pd.DataFrame(
        rows, columns=["feature", "role", "kind", "psi", "status", "n_reference", "n_new"]
    ).astype(
        {
            "feature": "str",
            "role": "str",
            "kind": "str",
            "psi": "float64",
            "status": "str",
            "n_reference": "int64",
            "n_new": "int64",
        }
    )
    report = DriftReport(table, (low, high))
    logger.info("drift check: %d rows compared, alarm=%s", len(X_new), report.alarm)
    return report


def _row(
    name: str, role: str, bins: FeatureBins, psi: float, n_new: int, thresholds: tuple[float, float]
) -> dict[str, Any]:
    return {
        "feature": name,
        "role": role,
        "kind": bins.kind,
        "psi": psi,
        "status": _status(psi, thresholds),
        "n_reference": bins.count,
        "n_new": n_new,
    }


def _check_thresholds(thresholds: tuple[float, float]) -> tuple[float, float]:
    try:
        low, high = (float(t) for t in thresholds)
    except (TypeError, ValueError):
        low, high = np.nan, np.nan
    if not (0 < low < high and np.isfinite(high)):
        msg = (
            "thresholds must be two numbers 0 < moderate < significant. "
            f"Got {thresholds!r} instead."
        )
        raise PolicyError(msg, field="thresholds")
    return low, high
