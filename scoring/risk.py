"""The payment-risk model: a scikit-learn classifier around LightGBM.

:class:`RiskModel` predicts the probability that an overdue invoice stays unpaid (the
target of :mod:`scoring.training`). It keeps the scikit-learn estimator contract
(``get_params``/``set_params``, ``clone``, ``Pipeline``, ``cross_val_score``) and takes
pandas DataFrames as they are: ``category`` columns go to LightGBM as categorical
features, missing values stay missing. What the model was fitted on (column names,
dtypes, categories) is recorded, and data that does not match raises
:class:`~dunning.errors.FeatureMismatchError` naming the column, instead of an unclear
LightGBM error or a silently wrong score.

Training is deterministic for a given ``random_state`` (LightGBM ``deterministic``
mode, row-wise histograms), also across thread counts.

Examples
--------
>>> import numpy as np
>>> import pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"days_overdue": rng.integers(1, 90, 400),
...                   "segment": pd.Categorical(rng.choice(["B2B", "B2C"], 400))})
>>> y = (X["days_overdue"] + rng.normal(0, 20, 400) > 45).astype(int)
>>> model = RiskModel(n_estimators=50).fit(X, y)
>>> X["days_overdue"].head(3).tolist()
[76, 57, 46]
>>> model.predict_proba(X.head(3))[:, 1].round(2)
array([0.94, 0.92, 0.48])
>>> model.feature_names_in_.tolist(), model.dtypes_in_["segment"]
(['days_overdue', 'segment'], 'category')
>>> X_bad = X.assign(segment=X["segment"].astype("str"))
>>> model.predict_proba(X_bad)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
dunning.errors.FeatureMismatchError: column 'segment' was category at fit, is str now; ...
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping
from typing import Any, Self, TypeGuard

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import Tags
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from dunning.errors import FeatureMismatchError, PolicyError

__all__ = ["RiskModel"]

logger = logging.getLogger(__name__)


class RiskModel(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Gradient-boosted trees (LightGBM) for the risk that an invoice stays unpaid.

    Parameters
    ----------
    n_estimators : int
        Number of boosting rounds (trees).
    learning_rate : float
        Shrinkage per tree, > 0.
    num_leaves : int
        Maximum leaves per tree, >= 2.
    min_child_samples : int
        Minimum number of rows in a leaf, >= 1.
    monotone : mapping of str to {-1, 0, 1} or None
        Monotone constraints by column name: +1 means a higher value never lowers the
        risk, -1 never raises it. Names that are not columns of ``X`` are ignored, so
        one mapping (e.g. built from :data:`scoring.features.FEATURES`) serves models
        fitted on any subset of the features. Not allowed on category columns.
    random_state : int
        Seed of LightGBM's random number generators.
    n_jobs : int or None
        Threads for training and prediction; ``None`` or ``-1`` uses OpenMP's default.

    Attributes
    ----------
    booster_ : lightgbm.Booster
        The fitted model.
    classes_ : numpy.ndarray
        The two class labels; ``predict_proba(X)[:, 1]`` is the probability of
        ``classes_[1]`` (with 0/1 labels: the risk that the invoice stays unpaid).
    feature_names_in_ : numpy.ndarray
        Column names seen at fit (only when ``X`` was a DataFrame with string names).
    n_features_in_ : int
        Number of columns seen at fit.
    dtypes_in_ : dict of str to str, or None
        dtype of each column at fit (``None`` when fitted on an array).
    categories_in_ : dict of str to list
        The categories of each ``category`` column at fit.

    Examples
    --------
    See the module docstring; in a pipeline:

    >>> from sklearn.model_selection import cross_val_score
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(n_samples=200, random_state=0)
    >>> cross_val_score(RiskModel(n_estimators=20), X, y, cv=3, scoring="roc_auc").round(2)
    array([0.93, 0.96, 0.96])
    """

    def __init__(
        self,
        *,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 20,
        monotone: Mapping[str, int] | None = None,
        random_state: int = 0,
        n_jobs: int | None = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.monotone = monotone
        self.random_state = random_state
        self.n_jobs = n_jobs

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # LightGBM routes missing values itself
        tags.input_tags.categorical = True  # pandas category columns
        tags.classifier_tags.multi_class = False  # the risk is binary
        return tags

    def fit(self, X: pd.DataFrame | npt.ArrayLike, y: npt.ArrayLike) -> Self:
        """Fit the trees on features ``X`` and binary labels ``y``.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_samples, n_features)
            Numeric, boolean and ``category`` columns; missing values allowed. A
            DataFrame whose column names are not all strings is treated as an array.
        y : array-like of shape (n_samples,)
            Two classes (e.g. 1 = stays unpaid, 0 = paid).

        Returns
        -------
        RiskModel
            ``self``, fitted.

        Raises
        ------
        PolicyError
            If a parameter is invalid.
        FeatureMismatchError
            If a DataFrame column has a dtype the model cannot use (e.g. ``str``).
        ValueError
            If ``y`` has missing values, not exactly two classes, or another length.
        """
        self._check_params()
        if _is_named_frame(X):
            validate_data(self, X, skip_check_array=True)
            if len(X) == 0:
                msg = (
                    f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 "
                    "is required."
                )
                raise ValueError(msg)
            dtypes: dict[str, str] = {}
            for column in X.columns:
                dtype = X[column].dtype
                if _kind(dtype) not in {"category", "numeric"}:
                    msg = (
                        f"column {column!r} has dtype {dtype}, which the model cannot use: "
                        "convert it to 'category' (or to a number) before fit."
                    )
                    raise FeatureMismatchError(msg, column=str(column))
                dtypes[str(column)] = str(dtype)
            self.dtypes_in_: dict[str, str] | None = dtypes
            self.categories_in_: dict[str, list[Hashable]] = {
                str(c): X[c].cat.categories.tolist()
                for c in X.columns
                if isinstance(X[c].dtype, pd.CategoricalDtype)
            }
            if y is None:
                msg = f"{type(self).__name__} requires y to be passed, but the target y is None."
                raise ValueError(msg)
            y_array = column_or_1d(y, warn=True)
            check_consistent_length(X, y_array)
            names = [str(c) for c in X.columns]
            data: pd.DataFrame | npt.NDArray[Any] = X
        else:
            data, y_array = validate_data(self, X, y, ensure_all_finite="allow-nan")
            self.dtypes_in_ = None
            self.categories_in_ = {}
            names = [f"x{i}" for i in range(data.shape[1])]
        if y_array.dtype.kind in "fc" and not np.all(np.isfinite(y_array)):
            msg = "Input y contains NaN or infinity; every row needs a 0/1 label."
            raise ValueError(msg)
        check_classification_targets(y_array)
        classes, encoded = np.unique(y_array, return_inverse=True)
        if len(classes) > 2:
            target = type_of_target(y_array, input_name="y", raise_unknown=True)
            msg = (
                "Only binary classification is supported. The type of the target is "
                f"{target}: y has {len(classes)} classes, {classes.tolist()[:5]}."
            )
            raise ValueError(msg)
        if len(classes) < 2:
            msg = f"{type(self).__name__} needs 2 classes in y, got 1 class: {classes.tolist()}."
            raise ValueError(msg)
        self.classes_ = classes
        params = self._lightgbm_params(names)
        dataset = lgb.Dataset(
            data,
            label=encoded.astype(np.float64),
            feature_name=names,
            categorical_feature="auto",
            params={"verbosity": -1},
            free_raw_data=True,
        )
        self.booster_ = lgb.train(params, dataset, num_boost_round=self.n_estimators)
        logger.debug("fitted %d trees on %d rows x %d columns", self.n_estimators, *data.shape)
        return self

    def predict_proba(self, X: pd.DataFrame | npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Class probabilities; column 1 is the probability of ``classes_[1]``.

        Parameters
        ----------
        X : pandas.DataFrame or array-like
            The same columns, dtypes and categories as at fit.

        Returns
        -------
        numpy.ndarray of shape (n_samples, 2)

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the model is not fitted.
        FeatureMismatchError
            If columns, dtypes or categories differ from fit.
        """
        check_is_fitted(self)
        p = expit(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def decision_function(self, X: pd.DataFrame | npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Raw scores in log-odds of ``classes_[1]`` (positive means more likely).

        These are the values that SHAP contributions (:func:`explain.explain`) add up to.

        Returns
        -------
        numpy.ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        data = self.check_features(X)
        if len(data) == 0:
            return np.zeros(0, dtype=np.float64)
        raw = self.booster_.predict(data, raw_score=True, num_threads=self._threads())
        return np.asarray(raw, dtype=np.float64)

    def predict(self, X: pd.DataFrame | npt.ArrayLike) -> npt.NDArray[Any]:
        """The more likely class label of each row.

        Returns
        -------
        numpy.ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        return np.asarray(self.classes_[(self.decision_function(X) > 0).astype(np.intp)])

    def check_features(self, X: pd.DataFrame | npt.ArrayLike) -> pd.DataFrame | npt.NDArray[Any]:
        """Check that ``X`` matches what the model was fitted on; return it ready to predict.

        Parameters
        ----------
        X : pandas.DataFrame or array-like

        Returns
        -------
        pandas.DataFrame or numpy.ndarray
            ``X`` itself (a DataFrame) or the validated array.

        Raises
        ------
        FeatureMismatchError
            If a column is missing, unexpected or out of order, or its dtype kind
            (numeric / category) or categories differ from fit.

        Examples
        --------
        >>> import pandas as pd
        >>> X = pd.DataFrame({"a": [0.0, 1.0] * 20, "b": [1, 0] * 20})
        >>> model = RiskModel(n_estimators=2, min_child_samples=1).fit(X, X["b"])
        >>> try:
        ...     model.check_features(X[["a"]])
        ... except FeatureMismatchError as exc:
        ...     print(exc.column, "|", str(exc).splitlines()[-1])
        b | Column 'b' differs; pass the 2 columns the model was fitted on, in fit order.
        """
        check_is_fitted(self)
        if self.dtypes_in_ is None:
            return np.asarray(validate_data(self, X, reset=False, ensure_all_finite="allow-nan"))
        if not _is_named_frame(X):
            array = validate_data(self, X, reset=False, ensure_all_finite="allow-nan")
            if self.categories_in_:
                column = next(iter(self.categories_in_))
                msg = (
                    f"the model was fitted on a DataFrame with category column {column!r}; "
                    "pass a DataFrame with the same columns, not an array."
                )
                raise FeatureMismatchError(msg, column=column)
            return pd.DataFrame(array, columns=list(self.dtypes_in_)).astype(self.dtypes_in_)
        try:
            validate_data(self, X, reset=False, skip_check_array=True)
        except ValueError as exc:
            column = _first_difference(list(self.dtypes_in_), [str(c) for c in X.columns])
            msg = (
                f"{str(exc).rstrip()}\nColumn {column!r} differs; pass the "
                f"{len(self.dtypes_in_)} columns the model was fitted on, in fit order."
            )
            raise FeatureMismatchError(msg, column=column) from exc
        for column, fitted in self.dtypes_in_.items():
            now = X[column].dtype
            if _kind(now) != _kind(fitted):
                msg = (
                    f"column {column!r} was {fitted} at fit, is {now} now; convert it back, "
                    f"e.g. X[{column!r}] = X[{column!r}].astype(model.dtypes_in_[{column!r}])."
                )
                raise FeatureMismatchError(msg, column=column)
            if column in self.categories_in_:
                categories = X[column].cat.categories.tolist()
                if categories != self.categories_in_[column]:
                    msg = (
                        f"column {column!r} has categories {categories[:8]} but had "
                        f"{self.categories_in_[column][:8]} at fit; set them with "
                        f"X[{column!r}].cat.set_categories(model.categories_in_[{column!r}])."
                    )
                    raise FeatureMismatchError(msg, column=column)
        return X

    def _threads(self) -> int:
        return 0 if self.n_jobs is None or self.n_jobs < 0 else int(self.n_jobs)

    def _check_params(self) -> None:
        checks: dict[str, tuple[bool, str]] = {
            "n_estimators": (_is_int(self.n_estimators, 1), "an int >= 1"),
            "learning_rate": (
                isinstance(self.learning_rate, int | float)
                and not isinstance(self.learning_rate, bool)
                and self.learning_rate > 0,
                "a float > 0",
            ),
            "num_leaves": (_is_int(self.num_leaves, 2), "an int >= 2"),
            "min_child_samples": (_is_int(self.min_child_samples, 1), "an int >= 1"),
            "random_state": (_is_int(self.random_state, 0), "an int >= 0"),
            "n_jobs": (
                self.n_jobs is None or (_is_int(self.n_jobs, -1) and self.n_jobs != 0),
                "None, -1 or an int >= 1",
            ),
            "monotone": (
                self.monotone is None
                or (
                    isinstance(self.monotone, Mapping)
                    and all(v in (-1, 0, 1) for v in self.monotone.values())
                ),
                "None or a mapping of column names to -1, 0 or 1",
            ),
        }
        for name, (ok, expected) in checks.items():
            if not ok:
                msg = (
                    f"The {name!r} parameter of {type(self).__name__} must be {expected}. "
                    f"Got {getattr(self, name)!r} instead."
                )
                raise PolicyError(msg, field=name)

    def _lightgbm_params(self, names: list[str]) -> dict[str, Any]:
        params: dict[str, Any] = {
            "objective": "binary",
            "learning_rate": float(self.learning_rate),
            "num_leaves": int(self.num_leaves),
            "min_data_in_leaf": int(self.min_child_samples),
            "seed": int(self.random_state),
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": self._threads(),
            "verbosity": -1,
        }
        if self.monotone:
            constraints = [int(self.monotone.get(name, 0)) for name in names]
            for name, constraint in zip(names, constraints, strict=True):
                if constraint and name in self.categories_in_:
                    msg = (
                        f"The 'monotone' parameter of {type(self).__name__} sets a constraint "
                        f"on category column {name!r}; constraints apply to numeric columns only."
                    )
                    raise PolicyError(msg, field="monotone")
            if any(constraints):
                params["monotone_constraints"] = constraints
                # "intermediate": in LightGBM 4.7, "advanced" let predictions decrease
                # along a +1 feature on a small test set (tests/test_risk.py).
                params["monotone_constraints_method"] = "intermediate"
        return params


def _is_named_frame(X: object) -> TypeGuard[pd.DataFrame]:
    """A DataFrame whose column names are all strings (else it is treated as an array)."""
    return isinstance(X, pd.DataFrame) and all(isinstance(c, str) for c in X.columns)


def _is_int(value: object, minimum: int) -> bool:
    return bool(
        isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= minimum
    )


def _kind(dtype: Any) -> str:
    """``category``, ``numeric`` (ints, floats, bools) or the dtype's name."""
    if isinstance(dtype, pd.CategoricalDtype) or dtype == "category":
        return "category"
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    return str(dtype)


def _first_difference(fitted: list[str], now: list[str]) -> str:
    """The first column name that is missing, unexpected or out of place."""
    for column in fitted:
        if column not in now:
            return column
    for column in now:
        if column not in fitted:
            return column
    for expected, got in zip(fitted, now, strict=False):
        if expected != got:
            return expected
    return fitted[0] if fitted else ""
