"""A saved model bundle: three text files, exact reload, content-hash version id."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from dunning.errors import FeatureMismatchError, ModelError
from scoring.drift import ReferenceDistribution, drift_report
from scoring.risk import RiskModel
from scoring.training import TrainingSet

CREATED = date(2026, 11, 23)


def _training(seed: int = 0, n_snapshots: int = 5, rows: int = 160) -> TrainingSet:
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
    logit = X["days_overdue"] / 30 - 2 + 2 * np.nan_to_num(share, nan=0.5)
    y = pd.Series((rng.random(n) < expit(logit)).astype(np.int64), name="unpaid")
    dates = pd.Timestamp("2026-04-01") + pd.to_timedelta(step * 30, unit="D")
    index = pd.MultiIndex.from_arrays([dates, [f"R{i}" for i in range(n)]])
    return TrainingSet(
        X=X.set_axis(index),
        y=y.set_axis(index),
        snapshot=pd.Series(dates, name="snapshot").set_axis(index),
    )


def _model(training: TrainingSet | None = None) -> RiskModel:
    ts = training if training is not None else _training()
    return RiskModel(n_estimators=150, n_jobs=1).fit_time_aware(ts, n_bootstrap=30, source="demo")


def test_save_writes_three_text_files_and_load_predicts_identically(tmp_path: Path) -> None:
    """model.txt, calibrator.json, metadata.json; the reloaded model gives equal predictions."""
    ts = _training()
    model = _model(ts)
    folder = model.save(tmp_path / "model", created_at=CREATED)
    assert sorted(p.name for p in folder.iterdir()) == [
        "calibrator.json", "metadata.json", "model.txt",
    ]  # fmt: skip
    assert (folder / "model.txt").read_text(encoding="utf-8").startswith("tree\n")
    loaded = RiskModel.load(folder)
    X = ts.X
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.decision_function(X), model.decision_function(X))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.get_params() == model.get_params()
    assert loaded.feature_names_in_.tolist() == model.feature_names_in_.tolist()
    assert loaded.dtypes_in_ == model.dtypes_in_
    assert loaded.categories_in_ == {"segment": ["B2B", "B2C"]}
    assert loaded.classes_.tolist() == [0, 1]
    assert loaded.best_iteration_ == model.best_iteration_
    assert loaded.validation_ == model.validation_ and loaded.training_ == model.training_
    assert loaded.version_id() == model.version_id()


def test_metadata_records_features_window_hash_metrics_versions(tmp_path: Path) -> None:
    """metadata.json holds every documented field, with the values of the fitted model."""
    model = _model()
    meta = json.loads((model.save(tmp_path, created_at=CREATED) / "metadata.json").read_text())
    assert sorted(meta) == sorted([
        "format", "format_version", "model", "target", "classes", "input", "features",
        "params", "lightgbm_params", "best_iteration", "n_trees", "calibration", "training",
        "data_hash", "metrics", "reference", "library_versions", "created_at", "version_id",
    ])  # fmt: skip
    assert (meta["format"], meta["format_version"], meta["input"]) == (
        "dunning-risk-model",
        1,
        "dataframe",
    )
    assert meta["features"] == [
        {"name": "days_overdue", "dtype": "int64", "categories": None, "monotone": 0},
        {"name": "late_12m_share", "dtype": "float64", "categories": None, "monotone": 0},
        {"name": "segment", "dtype": "category", "categories": ["B2B", "B2C"], "monotone": 0},
    ]
    window = meta["training"]
    assert (window["first_snapshot"], window["last_snapshot"]) == ("2026-04-01", "2026-07-30")
    assert window["train"]["last_snapshot"] == "2026-05-31"
    assert (window["source"], window["rows"]) == ("demo", 800)
    assert meta["created_at"] == "2026-11-23"
    assert meta["calibration"] == "isotonic" and meta["n_trees"] == meta["best_iteration"]
    assert len(meta["data_hash"]) == 64 and meta["data_hash"] == model.data_hash_
    assert meta["metrics"]["metrics"]["n"] == 320
    assert set(meta["metrics"]["intervals"]) >= {"roc_auc", "pr_auc", "brier", "ece"}
    assert set(meta["library_versions"]) == {
        "python", "dunning", "lightgbm", "numpy", "pandas", "scikit-learn", "scipy",
    }  # fmt: skip
    assert meta["library_versions"]["lightgbm"] == lgb.__version__
    assert meta["params"]["n_estimators"] == 150
    calibrator = json.loads((tmp_path / "calibrator.json").read_text())
    assert calibrator["method"] == "isotonic" and calibrator["n_samples"] == 320


def test_created_at_defaults_to_the_newest_snapshot() -> None:
    """Without created_at the metadata is deterministic: the newest training snapshot date."""
    assert _model().metadata()["created_at"] == "2026-07-30"


def test_version_id_is_a_content_hash_without_created_at(tmp_path: Path) -> None:
    """Retraining on the same data gives the same id; other data or params another one."""
    first, again = _model(), _model()
    a = first.save(tmp_path / "a", created_at=date(2026, 1, 1))
    b = again.save(tmp_path / "b", created_at="2027-06-30T12:00:00+00:00")
    meta_a = json.loads((a / "metadata.json").read_text())
    meta_b = json.loads((b / "metadata.json").read_text())
    assert meta_a["version_id"] == meta_b["version_id"] == first.version_id()
    assert meta_a["created_at"] != meta_b["created_at"]
    for name in ("model.txt", "calibrator.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    other_data = _model(_training(seed=1))
    other_params = RiskModel(n_estimators=150, num_leaves=7, n_jobs=1).fit_time_aware(
        _training(), n_bootstrap=30, source="demo"
    )
    ids = {first.version_id(), other_data.version_id(), other_params.version_id()}
    assert len(ids) == 3
    assert other_data.data_hash_ != first.data_hash_


def test_load_with_data_that_does_not_fit_names_the_column(tmp_path: Path) -> None:
    """RiskModel.load(dir, X=...) raises FeatureMismatchError naming the offending column."""
    ts = _training()
    folder = _model(ts).save(tmp_path)
    with pytest.raises(FeatureMismatchError, match="Column 'late_12m_share' differs") as info:
        RiskModel.load(folder, X=ts.X.drop(columns="late_12m_share"))
    assert info.value.column == "late_12m_share"
    as_text = ts.X.assign(segment=ts.X["segment"].astype("str"))
    with pytest.raises(FeatureMismatchError, match="column 'segment' was category") as info:
        RiskModel.load(folder, X=as_text)
    assert info.value.column == "segment"
    RiskModel.load(folder, X=ts.X)  # the data it was trained on fits


def test_changed_or_missing_files_are_refused(tmp_path: Path) -> None:
    """An edited file breaks the version id; a missing one is named; features must agree."""
    folder = _model().save(tmp_path / "m")
    calibrator = folder / "calibrator.json"
    data = json.loads(calibrator.read_text())
    data["y_thresholds"][0] = 0.0
    calibrator.write_text(json.dumps(data))
    with pytest.raises(ModelError, match="was changed after it was saved"):
        RiskModel.load(folder)
    (folder / "model.txt").unlink()
    with pytest.raises(ModelError, match=r"model\.txt is missing"):
        RiskModel.load(folder)
    other = _model().save(tmp_path / "n")
    meta_path = other / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["format_version"] = 99
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="not a dunning-risk-model bundle of version 1"):
        RiskModel.load(other)


def test_array_and_uncalibrated_models_round_trip(tmp_path: Path) -> None:
    """A model fitted with fit() on an array saves and reloads with identical predictions."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 4))
    X[rng.random(X.shape) < 0.05] = np.nan
    y = (np.nan_to_num(X[:, 0]) + rng.normal(0, 1, 300) > 0).astype(int)
    model = RiskModel(n_estimators=25, n_jobs=1).fit(X, y)
    folder = model.save(tmp_path)
    assert json.loads((folder / "calibrator.json").read_text()) == {"method": None}
    meta = json.loads((folder / "metadata.json").read_text())
    assert (meta["input"], meta["created_at"], meta["metrics"]) == ("array", None, None)
    assert [f["name"] for f in meta["features"]] == ["x0", "x1", "x2", "x3"]
    loaded = RiskModel.load(folder)
    assert loaded.dtypes_in_ is None and loaded.calibrator_ is None
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    with pytest.raises(ValueError, match="4 features"):
        loaded.predict_proba(X[:, :3])


def test_reference_distribution_feeds_the_drift_check() -> None:
    """metadata 'reference' is a scoring.drift reference of the training data and the risk."""
    ts = _training()
    model = _model(ts)
    reference = ReferenceDistribution.from_dict(model.metadata()["reference"])
    assert list(reference.features) == ["days_overdue", "late_12m_share", "segment"]
    segment = reference.features["segment"]
    assert segment.categories == ("B2B", "B2C")
    assert segment.shares[:2] == pytest.approx(
        ts.X["segment"].value_counts(normalize=True).sort_index().tolist()
    )
    share = reference.features["late_12m_share"]
    assert share.shares[-1] == pytest.approx(ts.X["late_12m_share"].isna().mean())
    assert share.count == 800
    assert reference.score is not None and reference.score.count == 800
    report = drift_report(reference, ts.X, score_new=model.predict_proba(ts.X)[:, 1])
    assert report.table["psi"].max() < 1e-9 and not report.alarm


def test_data_hash_changes_with_one_value() -> None:
    """Changing one feature value of the training data changes the data hash."""
    ts = _training()
    changed_X = ts.X.copy()
    changed_X.iloc[0, 0] += 1
    a = RiskModel(n_estimators=5, n_jobs=1).fit(ts.X, ts.y)
    b = RiskModel(n_estimators=5, n_jobs=1).fit(changed_X, ts.y)
    assert a.data_hash_ != b.data_hash_
    assert a.data_hash_ == RiskModel(n_estimators=9, n_jobs=1).fit(ts.X, ts.y).data_hash_
