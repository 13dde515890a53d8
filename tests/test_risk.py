"""RiskModel keeps the scikit-learn contract and refuses data that does not fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from dunning.errors import FeatureMismatchError, PolicyError
from scoring.risk import RiskModel

# Tests fit with one thread: OpenMP threads slow LightGBM down badly on a busy machine.


def _data(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "days_overdue": rng.integers(1, 120, n),
            "late_12m_share": np.where(rng.random(n) < 0.2, np.nan, rng.random(n)),
            "segment": pd.Categorical(rng.choice(["B2B", "B2C"], n), categories=["B2B", "B2C"]),
        }
    )
    logit = X["days_overdue"] / 30 - 2 + 2 * X["late_12m_share"].fillna(0.5)
    logit += np.where(X["segment"] == "B2C", 0.5, 0.0)
    y = pd.Series((rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64), name="unpaid")
    return X, y


@parametrize_with_checks([RiskModel(n_estimators=5, n_jobs=1)])
def test_sklearn_estimator_contract(estimator: RiskModel, check) -> None:  # type: ignore[no-untyped-def]
    """RiskModel passes scikit-learn's common estimator checks."""
    check(estimator)


def test_fit_records_names_dtypes_and_categories() -> None:
    """Fitting on a DataFrame keeps categories and records what the model was fitted on."""
    X, y = _data()
    model = RiskModel(n_estimators=20, n_jobs=1).fit(X, y)
    assert model.feature_names_in_.tolist() == ["days_overdue", "late_12m_share", "segment"]
    assert model.n_features_in_ == 3
    assert model.dtypes_in_ == {
        "days_overdue": "int64",
        "late_12m_share": "float64",
        "segment": "category",
    }
    assert model.categories_in_ == {"segment": ["B2B", "B2C"]}
    assert model.classes_.tolist() == [0, 1]
    assert model.booster_.num_trees() == 20
    proba = model.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.predict(X), (proba[:, 1] > 0.5).astype(int))


def test_string_column_instead_of_category_names_the_column() -> None:
    """A category column given as str at predict raises FeatureMismatchError naming it."""
    X, y = _data()
    model = RiskModel(n_estimators=10, n_jobs=1).fit(X, y)
    with pytest.raises(FeatureMismatchError, match="column 'segment' was category at fit") as info:
        model.predict_proba(X.assign(segment=X["segment"].astype("str")))
    assert info.value.column == "segment"


def test_changed_categories_name_the_column() -> None:
    """Other categories than at fit raise, since codes would silently mean other values."""
    X, y = _data()
    model = RiskModel(n_estimators=10, n_jobs=1).fit(X, y)
    other = X.assign(segment=X["segment"].cat.set_categories(["B2C", "B2B"]))
    with pytest.raises(FeatureMismatchError, match="categories") as info:
        model.predict_proba(other)
    assert info.value.column == "segment"


@pytest.mark.parametrize(
    ("columns", "column"),
    [
        (["days_overdue", "segment"], "late_12m_share"),
        (["days_overdue", "late_12m_share", "segment", "extra"], "extra"),
        (["late_12m_share", "days_overdue", "segment"], "days_overdue"),
    ],
)
def test_missing_extra_or_reordered_columns_name_the_column(
    columns: list[str], column: str
) -> None:
    """Columns that differ from fit raise FeatureMismatchError (a ValueError) naming one."""
    X, y = _data()
    model = RiskModel(n_estimators=10, n_jobs=1).fit(X, y)
    with pytest.raises(FeatureMismatchError, match=f"Column '{column}' differs") as info:
        model.predict_proba(X.assign(extra=1.0)[columns])
    assert info.value.column == column
    assert isinstance(info.value, ValueError)


def test_fit_refuses_text_columns() -> None:
    """A str column cannot go into LightGBM: fit says to make it a category."""
    X, y = _data()
    with pytest.raises(FeatureMismatchError, match="convert it to 'category'"):
        RiskModel(n_estimators=5, n_jobs=1).fit(X.assign(segment=X["segment"].astype("str")), y)


def test_predict_before_fit_raises_not_fitted() -> None:
    """An unfitted model raises sklearn's NotFittedError."""
    X, _ = _data(50)
    with pytest.raises(NotFittedError):
        RiskModel(n_jobs=1).predict_proba(X)


def test_fit_is_deterministic_across_runs_and_threads() -> None:
    """The same seed gives identical probabilities, with 1 or 2 threads."""
    X, y = _data()
    a = RiskModel(n_estimators=30, n_jobs=1).fit(X, y).predict_proba(X)
    b = RiskModel(n_estimators=30, n_jobs=2).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)


def test_monotone_constraint_holds() -> None:
    """With monotone={'days_overdue': 1}, more days overdue never lowers the risk."""
    X, y = _data()
    model = RiskModel(n_estimators=40, monotone={"days_overdue": 1, "not_a_column": -1}, n_jobs=1)
    model.fit(X, y)
    grid = pd.DataFrame(
        {
            "days_overdue": np.arange(1, 121),
            "late_12m_share": 0.3,
            "segment": pd.Categorical(["B2C"] * 120, categories=["B2B", "B2C"]),
        }
    )
    risk = model.predict_proba(grid)[:, 1]
    assert np.all(np.diff(risk) >= 0)
    assert risk[-1] > risk[0]


def test_monotone_on_a_category_is_rejected() -> None:
    """Monotone constraints only apply to numeric columns."""
    X, y = _data()
    with pytest.raises(PolicyError, match="category column 'segment'"):
        RiskModel(n_estimators=5, monotone={"segment": 1}, n_jobs=1).fit(X, y)


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("n_estimators", 0),
        ("learning_rate", 0.0),
        ("num_leaves", 1),
        ("min_child_samples", 0),
        ("random_state", -1),
        ("n_jobs", 0),
        ("monotone", {"days_overdue": 2}),
    ],
)
def test_invalid_parameters_raise_on_fit(param: str, value: object) -> None:
    """Invalid parameters are stored by __init__ and rejected by fit, naming the parameter."""
    X, y = _data(100)
    model = RiskModel(n_jobs=1).set_params(**{param: value})
    with pytest.raises(PolicyError, match=f"'{param}' parameter") as info:
        model.fit(X, y)
    assert info.value.field == param


def test_clone_params_pipeline_and_cross_validation() -> None:
    """get_params/set_params/clone round-trip; Pipeline and cross_val_score work on DataFrames."""
    model = RiskModel(n_estimators=25, monotone={"days_overdue": 1}, random_state=3, n_jobs=1)
    params = model.get_params()
    assert params == {
        "learning_rate": 0.05,
        "min_child_samples": 20,
        "monotone": {"days_overdue": 1},
        "n_estimators": 25,
        "n_jobs": 1,
        "num_leaves": 31,
        "random_state": 3,
    }
    copy = clone(model)
    assert copy.get_params() == params and copy is not model
    X, y = _data()
    pipeline = Pipeline([("identity", FunctionTransformer()), ("risk", copy)])
    pipeline.set_params(risk__n_estimators=30)
    scores = cross_val_score(pipeline, X, y, cv=3, scoring="roc_auc")
    assert scores.shape == (3,)
    assert scores.min() > 0.7
