"""Calibrators, time-aware training with early stopping, and monotone constraints."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import log_loss

from dunning.errors import DataError, ModelError, PolicyError
from explain.attributions import explain
from scoring.calibration import (
    IsotonicCalibrator,
    PlattCalibrator,
    calibrator_from_dict,
    make_calibrator,
)
from scoring.features import FEATURES
from scoring.risk import RiskModel
from scoring.training import TrainingSet


def _scores(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Overconfident log-odds: the true probability is expit(0.5 s - 0.3)."""
    rng = np.random.default_rng(seed)
    s = rng.normal(0.0, 2.0, n)
    y = (rng.random(n) < expit(0.5 * s - 0.3)).astype(np.int64)
    return s, y


def _snapshots(n_snapshots: int = 6, rows: int = 200, seed: int = 0) -> TrainingSet:
    """Synthetic snapshots 30 days apart; the base rate rises over time."""
    rng = np.random.default_rng(seed)
    n = n_snapshots * rows
    step = np.repeat(np.arange(n_snapshots), rows)
    share = rng.random(n)
    share[rng.random(n) < 0.2] = np.nan
    X = pd.DataFrame(
        {
            "days_overdue": rng.integers(1, 120, n),
            "late_12m_share": share,
            "segment": pd.Categorical(rng.choice(["B2B", "B2C"], n), categories=["B2B", "B2C"]),
        }
    )
    logit = X["days_overdue"] / 30 - 2.5 + 2 * np.nan_to_num(share, nan=0.5) + 0.15 * step
    y = pd.Series((rng.random(n) < expit(logit)).astype(np.int64), name="unpaid")
    dates = pd.Timestamp("2026-01-01") + pd.to_timedelta(step * 30, unit="D")
    snapshot = pd.Series(dates, name="snapshot")
    index = pd.MultiIndex.from_arrays([dates, [f"R{i}" for i in range(n)]])
    return TrainingSet(X=X.set_axis(index), y=y.set_axis(index), snapshot=snapshot.set_axis(index))


def test_isotonic_equals_scikit_learn_within_bounds() -> None:
    """Isotonic probabilities equal IsotonicRegression's, kept in [1/(2n), 1 - 1/(2n)]."""
    s, y = _scores()
    calibrator = IsotonicCalibrator().fit(s, y)
    bound = 0.5 / len(s)
    reference = IsotonicRegression(y_min=bound, y_max=1 - bound, out_of_bounds="clip").fit(s, y)
    grid = np.linspace(-10, 10, 2001)
    np.testing.assert_allclose(
        calibrator.predict(grid), reference.predict(grid), rtol=0, atol=1e-15
    )
    p = calibrator.predict(grid)
    assert np.all(np.diff(p) >= 0)
    assert p.min() >= bound and p.max() <= 1 - bound
    assert calibrator.n_samples == 3000


def test_platt_solves_the_smoothed_log_loss_and_recovers_the_truth() -> None:
    """Platt's a, b zero the gradient of the log-loss on Platt's targets and recover 0.5, -0.3."""
    s, y = _scores(n=20000, seed=1)
    calibrator = PlattCalibrator().fit(s, y)
    positives, negatives = y.sum(), len(y) - y.sum()
    target = np.where(y == 1, (positives + 1) / (positives + 2), 1 / (negatives + 2))
    residual = expit(calibrator.a * s + calibrator.b) - target
    assert abs(float(residual @ s)) < 1e-6
    assert abs(float(residual.sum())) < 1e-6
    assert calibrator.a == pytest.approx(0.5, abs=0.03)
    assert calibrator.b == pytest.approx(-0.3, abs=0.05)


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_calibrators_round_trip_through_json_exactly(method: str) -> None:
    """to_dict -> JSON text -> calibrator_from_dict gives bit-identical probabilities."""
    s, y = _scores()
    calibrator = make_calibrator(method).fit(s, y)
    data = json.loads(json.dumps(calibrator.to_dict()))
    assert data["method"] == method and data["n_samples"] == 3000
    again = calibrator_from_dict(data)
    grid = np.linspace(-12, 12, 4001)
    np.testing.assert_array_equal(again.predict(grid), calibrator.predict(grid))


def test_calibration_reduces_the_calibration_error() -> None:
    """On held-out rows both methods bring overconfident scores close to the observed rates."""
    s, y = _scores(n=6000, seed=2)
    fit, held = slice(0, 3000), slice(3000, None)
    raw_loss = log_loss(y[held], expit(s[held]))
    for method in ("isotonic", "platt"):
        p = make_calibrator(method).fit(s[fit], y[fit]).predict(s[held])
        assert log_loss(y[held], p) < raw_loss - 0.05


def test_calibrator_errors_say_what_to_do() -> None:
    """One outcome only, unknown methods, damaged parameters and unfitted use all raise."""
    with pytest.raises(DataError, match="both outcomes"):
        IsotonicCalibrator().fit([0.0, 1.0, 2.0], [1, 1, 1])
    with pytest.raises(DataError, match="equal length"):
        PlattCalibrator().fit([0.0, 1.0], [1])
    with pytest.raises(PolicyError, match="calibration method must be one of") as info:
        make_calibrator("beta")
    assert info.value.field == "calibration"
    with pytest.raises(ModelError, match="unknown calibration method 'beta'"):
        calibrator_from_dict({"method": "beta"})
    damaged = {"method": "isotonic", "n_samples": 3, "x_thresholds": [1.0, 0.0],
               "y_thresholds": [0.2, 0.1]}  # fmt: skip
    with pytest.raises(ModelError, match="x_thresholds must increase"):
        calibrator_from_dict(damaged)
    with pytest.raises(ModelError, match="not fitted"):
        PlattCalibrator().predict([0.0])


def test_calibrate_changes_probabilities_not_log_odds() -> None:
    """After calibrate, predict_proba is calibrated; decision_function and SHAP stay raw."""
    ts = _snapshots()
    X, y = ts.X, ts.y
    model = RiskModel(n_estimators=40, n_jobs=1).fit(X.iloc[:800], y.iloc[:800])
    before = model.decision_function(X)
    model.calibrate(X.iloc[800:], y.iloc[800:], method="platt")
    np.testing.assert_array_equal(model.decision_function(X), before)
    assert model.calibrator_ is not None
    np.testing.assert_array_equal(model.predict_proba(X)[:, 1], model.calibrator_.predict(before))
    assert not np.allclose(model.predict_proba(X)[:, 1], expit(before))
    np.testing.assert_allclose(explain(model, X.head(50)).log_odds, before[:50], atol=1e-9)
    np.testing.assert_array_equal(model.predict(X), (model.predict_proba(X)[:, 1] > 0.5) * 1)
    assert model.reference_["score"]["kind"] == "numeric"


def test_fit_time_aware_trains_on_earlier_and_validates_on_later_snapshots() -> None:
    """The latest two snapshots are held out; the window, counts and metrics are recorded."""
    ts = _snapshots()
    model = RiskModel(n_estimators=300, n_jobs=1).fit_time_aware(ts, n_bootstrap=50, source="t")
    t = model.training_
    assert (t["first_snapshot"], t["last_snapshot"], t["snapshots"]) == (
        "2026-01-01",
        "2026-05-31",
        6,
    )
    assert t["train"] == {
        "first_snapshot": "2026-01-01",
        "last_snapshot": "2026-04-01",
        "snapshots": 4,
        "rows": 800,
        "positives": int(ts.y.iloc[:800].sum()),
    }
    assert t["validation"]["first_snapshot"] == "2026-05-01"
    assert t["validation"]["rows"] == 400
    assert (t["rows"], t["purged_rows"], t["source"], t["calibration"]) == (
        1200,
        0,
        "t",
        "isotonic",
    )
    assert model.booster_.num_trees() == model.best_iteration_ == t["best_iteration"]
    assert 1 <= model.best_iteration_ < 300
    v = model.validation_
    assert v is not None and v["calibration_out_of_sample"] is True
    assert v["metrics"]["n"] == 400
    assert v["intervals"]["roc_auc"]["lower"] <= v["metrics"]["roc_auc"]
    assert v["intervals"]["roc_auc"]["upper"] >= v["metrics"]["roc_auc"]
    assert sum(row["count"] for row in v["calibration_table"]) == 400
    assert isinstance(model.calibrator_, IsotonicCalibrator)
    assert model.calibrator_.n_samples == 400


def test_early_stopping_keeps_the_iteration_with_the_lowest_validation_loss() -> None:
    """best_iteration_ minimises the validation log-loss over the rounds that were tried."""
    ts = _snapshots(seed=3)
    train, valid = ts.X.iloc[:800], ts.X.iloc[800:]
    stopped = RiskModel(n_estimators=400, learning_rate=0.1, n_jobs=1).fit(
        train, ts.y.iloc[:800], eval_set=(valid, ts.y.iloc[800:]), early_stopping_rounds=20
    )
    best = stopped.best_iteration_
    full = RiskModel(n_estimators=best + 20, learning_rate=0.1, n_jobs=1).fit(
        train, ts.y.iloc[:800]
    )
    losses = [
        log_loss(ts.y.iloc[800:], expit(full.booster_.predict(valid, raw_score=True,
                                                               num_iteration=i)))
        for i in range(1, best + 21)
    ]  # fmt: skip
    assert best == int(np.argmin(losses)) + 1
    assert stopped.training_["validation_logloss"] == pytest.approx(min(losses), rel=1e-9)
    np.testing.assert_allclose(
        stopped.decision_function(valid),
        full.booster_.predict(valid, raw_score=True, num_iteration=best),
        rtol=0,
        atol=1e-12,
    )


def test_fit_time_aware_is_deterministic() -> None:
    """The same data and seed give the same trees, calibrator and metrics."""
    ts = _snapshots(seed=4)
    a = RiskModel(n_estimators=200, n_jobs=1).fit_time_aware(ts, n_bootstrap=20)
    b = RiskModel(n_estimators=200, n_jobs=1).fit_time_aware(ts, n_bootstrap=20)
    np.testing.assert_array_equal(a.predict_proba(ts.X), b.predict_proba(ts.X))
    assert a.validation_ == b.validation_ and a.version_id() == b.version_id()


def test_validation_fraction_single_snapshot_and_purging() -> None:
    """A fraction rounds up; one held-out snapshot is in-sample; overlapping labels are dropped."""
    ts = _snapshots()
    share = RiskModel(n_estimators=50, n_jobs=1).fit_time_aware(
        ts, validation_snapshots=0.25, n_bootstrap=0
    )
    assert share.training_["validation"]["snapshots"] == 2  # ceil(0.25 * 6)
    assert share.validation_ is not None and share.validation_["intervals"] is None
    single = RiskModel(n_estimators=50, n_jobs=1).fit_time_aware(
        ts, validation_snapshots=1, calibration="platt", horizon_days=45, n_bootstrap=0
    )
    t = single.training_
    assert t["validation"]["first_snapshot"] == "2026-05-31"
    assert t["purged_rows"] == 200  # 2026-05-01 + 45 days reaches past 2026-05-31
    assert t["train"]["last_snapshot"] == "2026-04-01"
    assert single.validation_ is not None
    assert single.validation_["calibration_out_of_sample"] is False
    raw = RiskModel(n_estimators=50, n_jobs=1).fit_time_aware(ts, calibration=None, n_bootstrap=0)
    assert raw.calibrator_ is None
    np.testing.assert_array_equal(raw.predict_proba(ts.X)[:, 1], expit(raw.decision_function(ts.X)))


def test_fit_time_aware_refuses_what_it_cannot_do() -> None:
    """Too few snapshots or a one-outcome slice raise ModelError; bad parameters PolicyError."""
    ts = _snapshots(n_snapshots=2)
    model = RiskModel(n_estimators=20, n_jobs=1)
    with pytest.raises(ModelError, match="needs at least one earlier one; the training set has 2"):
        model.fit_time_aware(ts, validation_snapshots=2)
    one_outcome = TrainingSet(ts.X, ts.y.where(ts.snapshot < "2026-01-31", 0), ts.snapshot)
    with pytest.raises(
        ModelError, match=r"the validation slice \(200 rows\) holds only one outcome"
    ):
        model.fit_time_aware(one_outcome, validation_snapshots=1)
    for kwargs, field in [
        ({"validation_snapshots": 1.5}, "validation_snapshots"),
        ({"validation_snapshots": 0}, "validation_snapshots"),
        ({"calibration": "beta"}, "calibration"),
        ({"n_bootstrap": -1}, "n_bootstrap"),
    ]:
        with pytest.raises(PolicyError) as info:
            model.fit_time_aware(ts, **kwargs)  # type: ignore[arg-type]
        assert info.value.field == field
    with pytest.raises(PolicyError, match=r"needs a scoring\.training\.TrainingSet"):
        model.fit_time_aware((ts.X, ts.y))  # type: ignore[arg-type]
    with pytest.raises(PolicyError, match="eval_set must be a pair"):
        model.fit(ts.X, ts.y, eval_set=ts.X)  # type: ignore[arg-type]


def _feature_frame(n: int = 1500, seed: int = 6) -> TrainingSet:
    """Columns of the feature dictionary; the true risk dips after day 21 (a second letter)."""
    rng = np.random.default_rng(seed)
    step = np.repeat(np.arange(5), n // 5)
    days = rng.integers(1, 200, n)
    mean_late = rng.gamma(2.0, 8.0, n)
    X = pd.DataFrame(
        {
            "days_overdue": days,
            "mean_days_late": mean_late,
            "max_days_late": mean_late * rng.uniform(1, 3, n),
            "late_12m_share": rng.random(n),
            "dunning_level": np.minimum(days // 14, 4),
            "segment": pd.Categorical(rng.choice(["B2B", "B2C"], n), categories=["B2B", "B2C"]),
        }
    )
    logit = days / 40 - 1.5 - 1.0 * ((days > 21) & (days < 35)) + X["mean_days_late"] / 20
    y = pd.Series((rng.random(n) < expit(logit)).astype(np.int64))
    snapshot = pd.Series(pd.Timestamp("2026-01-01") + pd.to_timedelta(step * 30, unit="D"))
    return TrainingSet(X, y, snapshot)


def test_monotone_features_more_days_late_never_lowers_the_risk() -> None:
    """With monotone="features", risk never falls along a grid of days overdue or days late."""
    ts = _feature_frame()
    model = RiskModel(n_estimators=200, monotone="features", n_jobs=1)
    model.fit_time_aware(ts, n_bootstrap=0)
    declared = {spec.code: spec.monotone for spec in FEATURES}
    meta = model.metadata()
    constraints = {f["name"]: f["monotone"] for f in meta["features"]}
    assert constraints == {name: declared[name] for name in ts.X.columns}
    assert constraints["days_overdue"] == constraints["mean_days_late"] == 1
    assert meta["lightgbm_params"]["monotone_constraints"] == list(constraints.values())
    rows = ts.X.sample(40, random_state=0)
    rises = {}
    for column, grid in [
        ("days_overdue", np.arange(1, 400, 3)),
        ("mean_days_late", np.linspace(0, 120, 121)),
        ("max_days_late", np.linspace(0, 300, 101)),
        ("late_12m_share", np.linspace(0, 1, 51)),
    ]:
        frame = rows.loc[rows.index.repeat(len(grid))].copy()
        frame[column] = np.tile(grid, len(rows)).astype(frame[column].dtype)
        risk = model.predict_proba(frame)[:, 1].reshape(len(rows), len(grid))
        raw = model.decision_function(frame).reshape(len(rows), len(grid))
        assert np.all(np.diff(risk, axis=1) >= 0), column
        assert np.all(np.diff(raw, axis=1) >= 0), column
        rises[column] = bool(np.any(np.diff(raw, axis=1) > 0))
    assert rises["days_overdue"] and rises["mean_days_late"]
    free = RiskModel(n_estimators=200, n_jobs=1).fit_time_aware(ts, n_bootstrap=0)
    frame = rows.loc[rows.index.repeat(60)].copy()
    frame["days_overdue"] = np.tile(np.arange(1, 61), len(rows))
    unconstrained = free.decision_function(frame).reshape(len(rows), 60)
    assert np.any(np.diff(unconstrained, axis=1) < 0)  # without constraints the dip shows
