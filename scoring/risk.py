"""The payment-risk model: a scikit-learn classifier around LightGBM, calibrated and saved.

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

Beyond ``fit(X, y)``:

* :meth:`RiskModel.fit_time_aware` trains on the earlier snapshots of a
  :class:`~scoring.training.TrainingSet`, stops adding trees when the loss on the later
  snapshots stops improving (``best_iteration_``), calibrates the probabilities on those
  later snapshots (:mod:`scoring.calibration`) and records validation metrics with
  bootstrap intervals (:mod:`scoring.metrics`), the training window, a hash of the data
  and reference distributions for drift checks.
* ``monotone="features"`` takes the monotone constraints of the feature dictionary
  (:data:`scoring.features.FEATURES`), e.g. more days overdue never lowers the risk.
* With a calibrator, :meth:`RiskModel.predict_proba` returns calibrated probabilities;
  :meth:`RiskModel.decision_function` stays the trees' raw log-odds, which the
  explanations (:func:`explain.explain`) add up to.
* :meth:`RiskModel.save` writes a bundle without pickle (``model.txt``,
  ``calibrator.json``, ``metadata.json``), :meth:`RiskModel.load` restores it with
  identical predictions, and :meth:`RiskModel.version_id` is a content hash.

``docs/risk-model.md`` describes the method and the bundle format field by field.

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

Time-aware training on rolling snapshots, with calibration and a saved bundle:

>>> import tempfile
>>> from scoring.training import TrainingSet
>>> snapshot = pd.Series(pd.to_datetime("2026-01-01") + pd.to_timedelta(
...     np.repeat(np.arange(4) * 30, 100), unit="D"))
>>> ts = TrainingSet(X=X, y=y, snapshot=snapshot)
>>> model = RiskModel(n_estimators=200, monotone={"days_overdue": 1}, n_jobs=1)
>>> model = model.fit_time_aware(ts, validation_snapshots=1, n_bootstrap=20)
>>> model.training_["validation"]["first_snapshot"], model.best_iteration_
('2026-04-01', 37)
>>> type(model.calibrator_).__name__
'IsotonicCalibrator'
>>> with tempfile.TemporaryDirectory() as folder:
...     path = model.save(folder)
...     same = RiskModel.load(folder)
>>> bool(np.array_equal(same.predict_proba(X), model.predict_proba(X)))
True
>>> same.version_id() == model.version_id()
True
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Hashable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, Self, TypeGuard

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

from dunning.errors import FeatureMismatchError, ModelError, PolicyError
from scoring import _bundle
from scoring.calibration import Calibrator, calibrator_from_dict, make_calibrator
from scoring.drift import FeatureBins, reference_from_frame
from scoring.features import FEATURES
from scoring.metrics import (
    METRIC_NAMES,
    bootstrap_intervals,
    calibration_table,
    risk_metrics,
)
from scoring.training import TrainingSet

__all__ = ["RiskModel"]

logger = logging.getLogger(__name__)

#: Quantile bins per numeric feature in the drift reference (:mod:`scoring.drift`).
REFERENCE_BINS = 10


class RiskModel(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Gradient-boosted trees (LightGBM) for the risk that an invoice stays unpaid.

    Parameters
    ----------
    n_estimators : int
        Number of boosting rounds (trees); with early stopping, the most that may be
        used.
    learning_rate : float
        Shrinkage per tree, > 0.
    num_leaves : int
        Maximum leaves per tree, >= 2.
    min_child_samples : int
        Minimum number of rows in a leaf, >= 1.
    monotone : "features", mapping of str to {-1, 0, 1}, or None
        Monotone constraints by column name: +1 means a higher value never lowers the
        risk, -1 never raises it. ``"features"`` takes the ``monotone`` field of
        :data:`scoring.features.FEATURES`. Names that are not columns of ``X`` are
        ignored, so one mapping serves models fitted on any subset of the features.
        Not allowed on category columns.
    random_state : int
        Seed of LightGBM's random number generators (and of the bootstrap in
        :meth:`fit_time_aware`).
    n_jobs : int or None
        Threads for training and prediction; ``None`` or ``-1`` uses OpenMP's default.

    Attributes
    ----------
    booster_ : lightgbm.Booster
        The fitted model (with early stopping: cut to its best iteration).
    best_iteration_ : int
        Number of trees kept: the best iteration on the validation data with early
        stopping, else ``n_estimators``.
    calibrator_ : IsotonicCalibrator, PlattCalibrator or None
        Maps raw log-odds to probabilities (:meth:`calibrate`, :meth:`fit_time_aware`);
        ``None`` after ``fit``.
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
    training_ : dict
        What the model was trained on: ``rows`` and ``positives``; after
        :meth:`fit_time_aware` also the snapshot window of the training and validation
        slices, early stopping and calibration settings (see ``docs/risk-model.md``).
    validation_ : dict or None
        Metrics on the validation slice (:meth:`fit_time_aware`), else ``None``.
    data_hash_ : str
        sha256 of the training data (values, index, dtypes, labels, snapshots).
    reference_ : dict
        Reference distributions of the features and of the predicted risk on the
        training data, for drift checks: :meth:`scoring.drift.ReferenceDistribution.to_dict`
        output (``ReferenceDistribution.from_dict(model.reference_)`` rebuilds it).
    library_versions_ : dict of str to str
        Versions of Python and the libraries the model was trained with.

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
        monotone: Mapping[str, int] | Literal["features"] | None = None,
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

    def fit(
        self,
        X: pd.DataFrame | npt.ArrayLike,
        y: npt.ArrayLike,
        *,
        eval_set: tuple[pd.DataFrame | npt.ArrayLike, npt.ArrayLike] | None = None,
        early_stopping_rounds: int = 50,
    ) -> Self:
        """Fit the trees on features ``X`` and binary labels ``y``.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_samples, n_features)
            Numeric, boolean and ``category`` columns; missing values allowed. A
            DataFrame whose column names are not all strings is treated as an array.
        y : array-like of shape (n_samples,)
            Two classes (e.g. 1 = stays unpaid, 0 = paid).
        eval_set : (X_val, y_val) or None
            Validation data for early stopping: trees are added while the log-loss on
            it improves within ``early_stopping_rounds`` rounds, at most
            ``n_estimators``; the model keeps the best iteration (``best_iteration_``).
            ``X_val`` must have the columns, dtypes and categories of ``X``.
        early_stopping_rounds : int
            Rounds without improvement before stopping (only with ``eval_set``).

        Returns
        -------
        RiskModel
            ``self``, fitted (without a calibrator).

        Raises
        ------
        PolicyError
            If a parameter is invalid.
        FeatureMismatchError
            If a DataFrame column has a dtype the model cannot use (e.g. ``str``), or
            ``X_val`` does not match ``X``.
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
        if eval_set is not None:
            if not (isinstance(eval_set, tuple | list) and len(eval_set) == 2):
                msg = f"eval_set must be a pair (X_val, y_val). Got {type(eval_set).__name__}."
                raise PolicyError(msg, field="eval_set")
            if not _is_int(early_stopping_rounds, 1):
                msg = (
                    "early_stopping_rounds must be an int >= 1. "
                    f"Got {early_stopping_rounds!r} instead."
                )
                raise PolicyError(msg, field="early_stopping_rounds")
        params = self._lightgbm_params(names)
        dataset = lgb.Dataset(
            data,
            label=encoded.astype(np.float64),
            feature_name=names,
            categorical_feature="auto",
            params={"verbosity": -1},
            free_raw_data=True,
        )
        stopping: dict[str, Any] = {}
        if eval_set is None:
            booster = lgb.train(params, dataset, num_boost_round=self.n_estimators)
            best = int(self.n_estimators)
        else:
            valid_data = self._checked(eval_set[0])
            valid = lgb.Dataset(
                valid_data,
                label=self._encode(eval_set[1], len(valid_data)).astype(np.float64),
                reference=dataset,
                feature_name=names,
                categorical_feature="auto",
                params={"verbosity": -1},
            )
            booster = lgb.train(
                {**params, "metric": "binary_logloss"},
                dataset,
                num_boost_round=self.n_estimators,
                valid_sets=[valid],
                valid_names=["validation"],
                callbacks=[
                    lgb.early_stopping(
                        int(early_stopping_rounds), first_metric_only=True, verbose=False
                    )
                ],
            )
            best = int(booster.best_iteration) or booster.current_iteration()
            loss = booster.best_score.get("validation", {}).get("binary_logloss", math.nan)
            if best < booster.current_iteration():
                booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
            stopping = {
                "early_stopping_rounds": int(early_stopping_rounds),
                "validation_logloss": float(loss),
            }
        self.booster_ = booster
        self.best_iteration_ = best
        self.calibrator_: Calibrator | None = None
        self.training_: dict[str, Any] = {
            "rows": len(encoded),
            "positives": int(encoded.sum()),
            "best_iteration": best,
            **stopping,
        }
        self.validation_: dict[str, Any] | None = None
        self.data_hash_ = _bundle.data_hash(data, y_array)
        self.reference_: dict[str, Any] = self._reference(data, expit(self._raw(data)))
        self.library_versions_ = _bundle.library_versions()
        logger.debug("fitted %d trees on %d rows x %d columns", best, *np.shape(data))
        return self

    def fit_time_aware(
        self,
        training: TrainingSet,
        *,
        validation_snapshots: int | float = 2,
        calibration: Literal["isotonic", "platt"] | None = "isotonic",
        early_stopping_rounds: int = 50,
        horizon_days: int = 30,
        n_bootstrap: int = 200,
        source: str | None = None,
    ) -> Self:
        """Train on earlier snapshots, stop early and calibrate on later ones.

        The snapshot dates of ``training`` are sorted; the latest
        ``validation_snapshots`` form the validation slice, the others the training
        slice. Training rows whose label window (``snapshot + horizon_days``) reaches
        past the first validation date are left out (their labels would overlap the
        validation period). The trees are fitted on the training slice with early
        stopping on the validation slice (:meth:`fit` with ``eval_set``); the
        calibrator is fitted on the validation slice's raw scores. The metrics in
        ``validation_`` are computed on the validation slice with calibrated
        probabilities that are out of sample for the calibrator: each validation
        snapshot is scored by a calibrator fitted on the other validation snapshots
        (with a single validation snapshot they are in sample, and
        ``validation_["calibration_out_of_sample"]`` says so).

        Parameters
        ----------
        training : TrainingSet
            Rolling snapshots (:func:`scoring.training.build_training_set`).
        validation_snapshots : int or float
            Number of latest snapshot dates held out (an int >= 1), or their share of
            all snapshot dates (a float in (0, 1), rounded up to at least one).
        calibration : {"isotonic", "platt"} or None
            Calibration method (:mod:`scoring.calibration`); ``None`` keeps the trees'
            own probabilities.
        early_stopping_rounds : int
            Rounds without improvement of the validation log-loss before stopping.
        horizon_days : int
            The label horizon of ``training`` (``build_training_set``'s
            ``horizon_days``), used to drop overlapping training rows.
        n_bootstrap : int
            Bootstrap resamples for the metrics' 95 % intervals (0: none).
        source : str or None
            A description of the data (e.g. the portfolio hash), kept in
            ``training_["source"]`` and shown in the model card.

        Returns
        -------
        RiskModel
            ``self``, fitted and (unless ``calibration=None``) calibrated.

        Raises
        ------
        PolicyError
            If a parameter is invalid.
        ModelError
            If the snapshots cannot be split into a training and a validation slice
            that each hold both outcomes.

        Examples
        --------
        See the module docstring.
        """
        if not isinstance(training, TrainingSet):
            msg = (
                "fit_time_aware needs a scoring.training.TrainingSet (build_training_set). "
                f"Got {type(training).__name__}; use fit(X, y) for plain data."
            )
            raise PolicyError(msg, field="training")
        if calibration is not None:
            make_calibrator(calibration)  # validates the method before any work
        for name, value, minimum in (
            ("horizon_days", horizon_days, 0),
            ("n_bootstrap", n_bootstrap, 0),
        ):
            if not _is_int(value, minimum):
                msg = f"{name} must be an int >= {minimum}. Got {value!r} instead."
                raise PolicyError(msg, field=name)
        snapshot = pd.Series(
            np.asarray(training.snapshot, dtype="datetime64[ns]"), index=training.X.index
        )
        split = _time_split(snapshot, validation_snapshots, horizon_days)
        y = pd.Series(np.asarray(training.y), index=training.X.index)
        train, valid = split["train"], split["valid"]
        for part, mask in (("training", train), ("validation", valid)):
            labels = y.to_numpy()[mask]
            if len(np.unique(labels)) < 2:
                msg = (
                    f"the {part} slice ({int(mask.sum())} rows) holds only one outcome; "
                    "time-aware training needs paid and unpaid invoices in both slices. "
                    "Use more snapshots or fit(X, y) without validation."
                )
                raise ModelError(msg)
        X_train, X_valid = training.X.loc[train], training.X.loc[valid]
        y_train, y_valid = y.loc[train], y.loc[valid]
        self.fit(
            X_train,
            y_train,
            eval_set=(X_valid, y_valid),
            early_stopping_rounds=early_stopping_rounds,
        )
        for part, mask in (("train", train), ("validation", valid)):
            part_labels = y.to_numpy()[mask]
            split["info"][part]["positives"] = int(
                self._encode(part_labels, len(part_labels)).sum()
            )
        scores = self._raw(self._checked(X_valid))
        labels = self._encode(y_valid, len(y_valid))
        if calibration is not None:
            self.calibrator_ = make_calibrator(calibration).fit(scores, labels)
        groups = snapshot.to_numpy()[valid]
        probabilities, out_of_sample = self._cross_fitted(scores, labels, groups, calibration)
        metrics = risk_metrics(labels, probabilities)
        raw = risk_metrics(labels, expit(scores))
        validation: dict[str, Any] = {
            "slice": "validation",
            "metrics": _bundle.jsonable(metrics),
            "uncalibrated": _bundle.jsonable(
                {name: raw[name] for name in ("roc_auc", "brier", "ece")}
            ),
            "calibration_out_of_sample": out_of_sample,
            "calibration_table": _bundle.jsonable(
                calibration_table(labels, probabilities).to_dict("records")
            ),
            "intervals": None,
        }
        if n_bootstrap:
            intervals = bootstrap_intervals(
                labels,
                probabilities,
                n_resamples=n_bootstrap,
                random_state=int(self.random_state),
            )
            rows: dict[Hashable, dict[Hashable, Any]] = intervals.to_dict("index")
            validation["intervals"] = {
                "confidence": 0.95,
                "resamples": int(n_bootstrap),
                "random_state": int(self.random_state),
                **{
                    name: {
                        **_bundle.jsonable(
                            {k: rows[name][k] for k in ("estimate", "lower", "upper")}
                        ),
                        "resamples": int(rows[name]["resamples"]),
                    }
                    for name in METRIC_NAMES
                },
            }
        self.validation_ = validation
        fitted = self.training_
        self.training_ = {
            "source": source,
            "rows": len(y),
            "positives": int(self._encode(y, len(y)).sum()),
            **split["info"],
            "horizon_days": int(horizon_days),
            "best_iteration": fitted["best_iteration"],
            "early_stopping_rounds": fitted["early_stopping_rounds"],
            "validation_logloss": fitted["validation_logloss"],
            "calibration": calibration,
        }
        self.data_hash_ = _bundle.data_hash(training.X, training.y, training.snapshot)
        all_scores = self._raw(self._checked(training.X))
        risk = (
            expit(all_scores) if self.calibrator_ is None else self.calibrator_.predict(all_scores)
        )
        self.reference_ = self._reference(training.X, risk)
        logger.info(
            "time-aware fit: %d trees (best iteration), %s calibration, validation AUC %.3f",
            self.best_iteration_,
            calibration or "no",
            metrics["roc_auc"],
        )
        return self

    def calibrate(
        self,
        X: pd.DataFrame | npt.ArrayLike,
        y: npt.ArrayLike,
        *,
        method: Literal["isotonic", "platt"] = "isotonic",
    ) -> Self:
        """Fit a calibrator on held-out data (rows the trees were not fitted on).

        Parameters
        ----------
        X : pandas.DataFrame or array-like
            Held-out rows, ideally later than the training data.
        y : array-like
            Their outcomes (labels of ``classes_``), both present.
        method : {"isotonic", "platt"}
            See :mod:`scoring.calibration`.

        Returns
        -------
        RiskModel
            ``self``; :meth:`predict_proba` now returns calibrated probabilities.

        Raises
        ------
        PolicyError
            If ``method`` is unknown.
        DataError
            If ``y`` holds only one class.

        Examples
        --------
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(600, 2))
        >>> y = (X[:, 0] + rng.normal(0, 1, 600) > 0).astype(int)
        >>> model = RiskModel(n_estimators=30).fit(X[:400], y[:400])
        >>> model.calibrate(X[400:], y[400:], method="platt").calibrator_.method
        'platt'
        """
        check_is_fitted(self)
        calibrator = make_calibrator(method)
        scores = self.decision_function(X)
        self.calibrator_ = calibrator.fit(scores, self._encode(y, len(scores)))
        # The score reference must describe the probabilities predict_proba now returns.
        score = FeatureBins.fit(self.calibrator_.predict(scores), kind="numeric", name="score")
        self.reference_ = {**self.reference_, "score": score.to_dict()}
        return self

    def predict_proba(self, X: pd.DataFrame | npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Class probabilities; column 1 is the probability of ``classes_[1]``.

        With a calibrator (:meth:`calibrate`, :meth:`fit_time_aware`) the probabilities
        are calibrated; otherwise they are the trees' own, ``expit`` of the raw score.

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
        raw = self.decision_function(X)
        calibrator = getattr(self, "calibrator_", None)
        p = expit(raw) if calibrator is None else calibrator.predict(raw)
        return np.column_stack([1.0 - p, p])

    def decision_function(self, X: pd.DataFrame | npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Raw scores in log-odds of ``classes_[1]`` (positive means more likely).

        These are the values that SHAP contributions (:func:`explain.explain`) add up to.
        They are not changed by a calibrator: calibration maps them to probabilities.

        Returns
        -------
        numpy.ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        return self._raw(self.check_features(X))

    def predict(self, X: pd.DataFrame | npt.ArrayLike) -> npt.NDArray[Any]:
        """The more likely class label of each row (by the calibrated probability, if any).

        Returns
        -------
        numpy.ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        if getattr(self, "calibrator_", None) is None:
            positive = self.decision_function(X) > 0
        else:
            positive = self.predict_proba(X)[:, 1] > 0.5
        return np.asarray(self.classes_[positive.astype(np.intp)])

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
        return self._checked(X)

    def _checked(self, X: pd.DataFrame | npt.ArrayLike) -> pd.DataFrame | npt.NDArray[Any]:
        """:meth:`check_features` without the fitted check (used during fit)."""
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

    def metadata(self, *, created_at: date | datetime | str | None = None) -> dict[str, Any]:
        """The content of the bundle's ``metadata.json``.

        Parameters
        ----------
        created_at : date, datetime, str or None
            Recorded as ``created_at`` (ISO 8601). ``None``: the newest snapshot date of
            the training data (so that saving twice gives the same bytes), or ``null``
            when the model was fitted without snapshots.

        Returns
        -------
        dict
            See ``docs/risk-model.md`` for every field.

        Examples
        --------
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(100, 2))
        >>> meta = RiskModel(n_estimators=5).fit(X, X[:, 0] > 0).metadata()
        >>> meta["format"], meta["input"], [f["name"] for f in meta["features"]]
        ('dunning-risk-model', 'array', ['x0', 'x1'])
        """
        return dict(json.loads(self._bundle_files(created_at)["metadata.json"]))

    def version_id(self) -> str:
        """The model's content hash: sha256 of its bundle files without ``created_at``.

        Two models trained on the same data with the same parameters and library
        versions have the same id, whenever they were trained.

        Returns
        -------
        str
            64 hexadecimal digits.

        Examples
        --------
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(100, 2))
        >>> a = RiskModel(n_estimators=5).fit(X, X[:, 0] > 0)
        >>> b = RiskModel(n_estimators=5).fit(X, X[:, 0] > 0)
        >>> a.version_id() == b.version_id(), len(a.version_id())
        (True, 64)
        """
        check_is_fitted(self)
        return _bundle.version_id(self._bundle_files(None))

    def save(
        self,
        path: str | os.PathLike[str],
        *,
        created_at: date | datetime | str | None = None,
    ) -> Path:
        """Write the model as a bundle: ``model.txt``, ``calibrator.json``, ``metadata.json``.

        Nothing is pickled: the trees are LightGBM's text format, the calibrator and
        the metadata are JSON. Existing bundle files in ``path`` are replaced
        (atomically, file by file); other files are left alone.

        Parameters
        ----------
        path : path
            Folder to write to; created if missing.
        created_at : date, datetime, str or None
            See :meth:`metadata`.

        Returns
        -------
        pathlib.Path
            The folder.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the model is not fitted.

        Examples
        --------
        See the module docstring.
        """
        check_is_fitted(self)
        folder = Path(path)
        files = self._bundle_files(created_at)
        _bundle.write_files(folder, files)
        logger.info("saved risk model %s to %s", json.loads(files["metadata.json"])["version_id"],
                    folder)  # fmt: skip
        return folder

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *, X: pd.DataFrame | npt.ArrayLike | None = None
    ) -> Self:
        """Restore a model saved with :meth:`save`; it predicts exactly as the saved one.

        Parameters
        ----------
        path : path
            The bundle folder.
        X : pandas.DataFrame or array-like, optional
            Data the model is about to score: checked against the bundle's features now
            rather than at the first prediction.

        Returns
        -------
        RiskModel

        Raises
        ------
        ModelError
            If a file is missing, unreadable, of another format, or was changed after
            saving (its content no longer matches the recorded version id).
        FeatureMismatchError
            If ``model.txt`` and ``metadata.json`` list different features, or ``X``
            does not match them (the message names the column).

        Examples
        --------
        See the module docstring.
        """
        folder = Path(path)
        files = _bundle.read_files(folder)
        try:
            metadata = json.loads(files["metadata.json"])
            calibration = json.loads(files["calibrator.json"])
            model_text = files["model.txt"].decode("utf-8")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            msg = f"the bundle in {folder} is not readable: {exc}. Save the model again."
            raise ModelError(msg) from exc
        if (metadata.get("format"), metadata.get("format_version")) != (
            _bundle.FORMAT,
            _bundle.FORMAT_VERSION,
        ):
            msg = (
                f"{folder / 'metadata.json'} is not a {_bundle.FORMAT} bundle of version "
                f"{_bundle.FORMAT_VERSION} (format {metadata.get('format')!r}, version "
                f"{metadata.get('format_version')!r})."
            )
            raise ModelError(msg)
        recorded, actual = metadata.get("version_id"), _bundle.version_id(files)
        if recorded != actual:
            msg = (
                f"the bundle in {folder} was changed after it was saved: its content hash is "
                f"{actual[:16]}…, metadata.json records {str(recorded)[:16]}…. Do not edit "
                "bundle files; retrain and save the model again."
            )
            raise ModelError(msg)
        try:
            model = cls(**metadata["params"])
            features = metadata["features"]
            names = [str(f["name"]) for f in features]
            booster = lgb.Booster(model_str=model_text)
        except (KeyError, TypeError, lgb.basic.LightGBMError) as exc:
            msg = f"the bundle in {folder} is incomplete or damaged ({exc!r}). Save it again."
            raise ModelError(msg) from exc
        in_model = [str(n) for n in booster.feature_name()]
        if in_model != names:
            column = _first_difference(names, in_model)
            msg = (
                f"model.txt and metadata.json in {folder} list different features (first "
                f"difference: {column!r}); the bundle is inconsistent, save it again."
            )
            raise FeatureMismatchError(msg, column=column)
        model.booster_ = booster
        model.classes_ = np.asarray(metadata["classes"])
        model.n_features_in_ = len(names)
        if metadata["input"] == "dataframe":
            model.feature_names_in_ = np.asarray(names, dtype=object)
            model.dtypes_in_ = {str(f["name"]): str(f["dtype"]) for f in features}
        else:
            model.dtypes_in_ = None
        model.categories_in_ = {
            str(f["name"]): list(f["categories"]) for f in features if f["categories"] is not None
        }
        model.best_iteration_ = int(metadata["best_iteration"])
        model.calibrator_ = (
            None if calibration.get("method") is None else calibrator_from_dict(calibration)
        )
        model.training_ = dict(metadata["training"])
        model.validation_ = metadata["metrics"]
        model.data_hash_ = str(metadata["data_hash"])
        model.reference_ = dict(metadata["reference"])
        model.library_versions_ = dict(metadata["library_versions"])
        if X is not None:
            model.check_features(X)
        logger.info("loaded risk model %s from %s", recorded, folder)
        return model

    def _bundle_files(self, created_at: date | datetime | str | None) -> dict[str, bytes]:
        """The bundle's files as bytes; ``metadata.json`` carries the version id."""
        check_is_fitted(self)
        names = [str(n) for n in self.booster_.feature_name()]
        monotone = self._monotone_map()
        calibrator = self.calibrator_ if getattr(self, "calibrator_", None) else None
        features = [
            {
                "name": name,
                "dtype": None if self.dtypes_in_ is None else self.dtypes_in_[name],
                "categories": self.categories_in_.get(name),
                "monotone": int(monotone.get(name, 0)),
            }
            for name in names
        ]
        params = dict(self.get_params(deep=False))
        if isinstance(params["monotone"], Mapping):
            params["monotone"] = dict(params["monotone"])
        metadata: dict[str, Any] = {
            "format": _bundle.FORMAT,
            "format_version": _bundle.FORMAT_VERSION,
            "model": f"{type(self).__module__}.{type(self).__qualname__}",
            "target": (
                "probability of classes[1]; with the labels of scoring.training: the "
                "invoice is not fully paid within horizon_days after the decision date"
            ),
            "classes": self.classes_.tolist(),
            "input": "array" if self.dtypes_in_ is None else "dataframe",
            "features": features,
            "params": params,
            "lightgbm_params": self._lightgbm_params(names),
            "best_iteration": int(self.best_iteration_),
            "n_trees": int(self.booster_.num_trees()),
            "calibration": None if calibrator is None else calibrator.method,
            "training": self.training_,
            "data_hash": self.data_hash_,
            "metrics": self.validation_,
            "reference": self.reference_,
            "library_versions": self.library_versions_,
        }
        files = {
            "model.txt": self.booster_.model_to_string().encode("utf-8"),
            "calibrator.json": _bundle.dumps(
                {"method": None} if calibrator is None else calibrator.to_dict()
            ).encode("utf-8"),
            "metadata.json": _bundle.dumps(metadata).encode("utf-8"),
        }
        if created_at is None:
            created_at = self.training_.get("last_snapshot")
        metadata["created_at"] = None if created_at is None else _iso(created_at)
        metadata["version_id"] = _bundle.version_id(files)
        files["metadata.json"] = _bundle.dumps(metadata).encode("utf-8")
        return files

    def _raw(self, data: pd.DataFrame | npt.NDArray[Any]) -> npt.NDArray[np.float64]:
        """Raw log-odds of already checked data."""
        if len(data) == 0:
            return np.zeros(0, dtype=np.float64)
        raw = self.booster_.predict(data, raw_score=True, num_threads=self._threads())
        return np.asarray(raw, dtype=np.float64)

    def _encode(self, y: npt.ArrayLike, n: int) -> npt.NDArray[np.int64]:
        """Labels as 0/1 positions in ``classes_``; unknown labels raise ValueError."""
        y_array = column_or_1d(np.asarray(y), warn=False)
        if len(y_array) != n:
            msg = f"y has {len(y_array)} labels for {n} rows; pass one label per row."
            raise ValueError(msg)
        if y_array.dtype.kind in "fc" and not np.all(np.isfinite(y_array)):
            msg = "Input y contains NaN or infinity; every row needs a 0/1 label."
            raise ValueError(msg)
        known = np.isin(y_array, self.classes_)
        if not known.all():
            unknown = np.unique(y_array[~known])[:5].tolist()
            msg = f"y has labels {unknown} the model was not fitted on ({self.classes_.tolist()})."
            raise ValueError(msg)
        positions: npt.NDArray[np.int64] = np.searchsorted(self.classes_, y_array).astype(np.int64)
        return positions

    def _cross_fitted(
        self,
        scores: npt.NDArray[np.float64],
        labels: npt.NDArray[np.int64],
        groups: npt.NDArray[Any],
        method: str | None,
    ) -> tuple[npt.NDArray[np.float64], bool]:
        """Calibrated probabilities, each snapshot scored by a calibrator fitted on the others.

        Returns the probabilities and whether they are out of sample for the calibrator
        (impossible with a single snapshot, or when the other snapshots hold one outcome).
        """
        if method is None:
            return np.asarray(expit(scores), dtype=np.float64), True
        dates = np.unique(groups)
        if len(dates) >= 2 and all(np.unique(labels[groups != d]).size == 2 for d in dates):
            probabilities = np.empty_like(scores)
            for day in dates:
                held = groups == day
                fold = make_calibrator(method).fit(scores[~held], labels[~held])
                probabilities[held] = fold.predict(scores[held])
            return probabilities, True
        logger.info("calibration metrics are in sample: no other validation snapshot to fit on")
        return make_calibrator(method).fit(scores, labels).predict(scores), False

    def _reference(self, data: Any, risk: npt.NDArray[np.float64]) -> dict[str, Any]:
        """Drift reference bins of the features and of the predicted risk."""
        frame = (
            data
            if isinstance(data, pd.DataFrame)
            else pd.DataFrame(np.asarray(data), columns=[f"x{i}" for i in range(np.shape(data)[1])])
        )
        return reference_from_frame(frame, bins=REFERENCE_BINS, scores=risk).to_dict()

    def _monotone_map(self) -> dict[str, int]:
        """The monotone constraints by column name (``"features"`` resolved)."""
        if self.monotone is None:
            return {}
        if isinstance(self.monotone, str):
            return {spec.code: int(spec.monotone) for spec in FEATURES}
        return {str(k): int(v) for k, v in self.monotone.items()}

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
                or (isinstance(self.monotone, str) and self.monotone == "features")
                or (
                    isinstance(self.monotone, Mapping)
                    and all(v in (-1, 0, 1) for v in self.monotone.values())
                ),
                "None, 'features' or a mapping of column names to -1, 0 or 1",
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
        monotone = self._monotone_map()
        if monotone:
            constraints = [int(monotone.get(name, 0)) for name in names]
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


def _time_split(
    snapshot: pd.Series, validation_snapshots: int | float, horizon_days: int
) -> dict[str, Any]:
    """Masks of the training and validation slices and a description of both."""
    dates = np.sort(snapshot.unique())
    n = len(dates)
    if _is_int(validation_snapshots, 1):
        k = int(validation_snapshots)
    elif isinstance(validation_snapshots, float) and 0.0 < validation_snapshots < 1.0:
        k = max(1, math.ceil(validation_snapshots * n))
    else:
        msg = (
            "validation_snapshots must be an int >= 1 or a float in (0, 1). "
            f"Got {validation_snapshots!r} instead."
        )
        raise PolicyError(msg, field="validation_snapshots")
    if n < k + 1:
        msg = (
            f"time-aware training holds out the latest {k} snapshot date(s) and needs at least "
            f"one earlier one; the training set has {n}. Build more snapshots "
            "(build_training_set(..., snapshots=12)) or use fit(X, y)."
        )
        raise ModelError(msg)
    first_valid = dates[n - k]
    values = snapshot.to_numpy()
    valid = values >= first_valid
    horizon = np.timedelta64(int(horizon_days), "D")
    overlapping = (values < first_valid) & (values + horizon > first_valid)
    train = (values < first_valid) & ~overlapping
    if not train.any():
        msg = (
            f"every training snapshot's {horizon_days}-day label window reaches into the "
            "validation period; space the snapshots at least horizon_days apart."
        )
        raise ModelError(msg)

    def describe(mask: npt.NDArray[np.bool_]) -> dict[str, Any]:
        chosen = np.unique(values[mask])
        return {
            "first_snapshot": _iso(pd.Timestamp(chosen[0]).date()),
            "last_snapshot": _iso(pd.Timestamp(chosen[-1]).date()),
            "snapshots": len(chosen),
            "rows": int(mask.sum()),
        }

    info = {
        "first_snapshot": _iso(pd.Timestamp(dates[0]).date()),
        "last_snapshot": _iso(pd.Timestamp(dates[-1]).date()),
        "snapshots": n,
        "purged_rows": int(overlapping.sum()),
        "train": describe(train),
        "validation": describe(valid),
    }
    return {"train": train, "valid": valid, "info": info}


def _iso(value: date | datetime | str) -> str:
    """ISO 8601 text of a date or datetime; strings are kept."""
    return value if isinstance(value, str) else value.isoformat()
