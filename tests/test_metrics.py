"""Risk metrics by their definitions, bootstrap intervals, and the demo model against the oracle."""

from __future__ import annotations

import itertools
import logging
from datetime import date

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from dunning.datasets import make_portfolio
from dunning.errors import DataError, PolicyError
from scoring.features import build_features
from scoring.metrics import (
    METRIC_NAMES,
    bootstrap_intervals,
    calibration_table,
    expected_calibration_error,
    expected_roc_auc,
    oracle_comparison,
    risk_metrics,
)
from scoring.risk import RiskModel
from scoring.training import build_training_set

AS_OF = date(2026, 11, 23)
#: Seed of the demo portfolio and of the outcomes drawn from its true probabilities.
PORTFOLIO_SEED = 7
OUTCOME_SEED = 2026

logger = logging.getLogger(__name__)


def test_metrics_by_hand() -> None:
    """Brier, ECE and the calibration table follow their formulas on a small example."""
    y = [0, 0, 1, 1, 0, 1]
    p = [0.12, 0.45, 0.35, 0.81, 0.05, 0.95]
    m = risk_metrics(y, p, n_bins=2)
    # bin 0.0-0.5: p 0.12 0.45 0.35 0.05 (mean 0.2425), y 0 0 1 0 (0.25)
    # bin 0.5-1.0: p 0.81 0.95 (mean 0.88), y 1 1 (1.0)
    assert m["ece"] == pytest.approx((4 * abs(0.25 - 0.2425) + 2 * abs(1.0 - 0.88)) / 6)
    brier = (0.12**2 + 0.45**2 + 0.65**2 + 0.19**2 + 0.05**2 + 0.05**2) / 6
    assert m["brier"] == pytest.approx(brier)
    assert (m["n"], m["positives"], m["prevalence"]) == (6, 3, 0.5)
    assert m["roc_auc"] == roc_auc_score(y, p) == pytest.approx(8 / 9)
    assert m["pr_auc"] == average_precision_score(y, p)
    table = calibration_table(y, p, n_bins=2)
    assert table.columns.tolist() == [
        "bin", "lower", "upper", "count", "mean_predicted", "observed_rate",
    ]  # fmt: skip
    assert table["count"].tolist() == [4, 2]
    np.testing.assert_allclose(table["mean_predicted"], [0.2425, 0.88])
    np.testing.assert_allclose(table["observed_rate"], [0.25, 1.0])


def test_ece_uses_ten_equal_width_bins_and_keeps_empty_ones() -> None:
    """Ten bins of width 0.1; p = 1 falls in the last; empty bins are listed with NaN rates."""
    y = [1, 0, 1, 1]
    p = [0.05, 0.05, 1.0, 0.93]
    table = calibration_table(y, p)
    assert len(table) == 10
    assert table["count"].tolist() == [2, 0, 0, 0, 0, 0, 0, 0, 0, 2]
    assert table["observed_rate"].isna().sum() == 8
    assert table.loc[9, "mean_predicted"] == pytest.approx(0.965)
    assert expected_calibration_error(y, p) == pytest.approx(
        (2 * abs(0.5 - 0.05) + 2 * abs(1.0 - 0.965)) / 4
    )
    assert expected_calibration_error([0, 1], [0.0, 1.0]) == 0.0


def test_one_class_gives_nan_auc_but_other_metrics() -> None:
    """With only paid invoices the AUCs are undefined (NaN); Brier and ECE are not."""
    m = risk_metrics([0, 0, 0], [0.1, 0.2, 0.3])
    assert np.isnan(m["roc_auc"]) and np.isnan(m["pr_auc"])
    assert m["brier"] == pytest.approx((0.01 + 0.04 + 0.09) / 3)


def test_expected_auc_equals_the_pairwise_definition() -> None:
    """expected_roc_auc equals the sum over ordered pairs i != j, ties counting one half."""
    rng = np.random.default_rng(3)
    score = rng.integers(0, 8, 40).astype(float)  # many ties
    p = rng.random(40)
    numerator = denominator = 0.0
    for i, j in itertools.permutations(range(40), 2):
        weight = p[i] * (1 - p[j])
        denominator += weight
        numerator += weight * (1.0 if score[i] > score[j] else 0.5 if score[i] == score[j] else 0)
    assert expected_roc_auc(score, p) == pytest.approx(numerator / denominator, rel=1e-12)
    outcomes = (p > 0.5).astype(float)
    assert expected_roc_auc(score, outcomes) == pytest.approx(roc_auc_score(outcomes, score))
    assert np.isnan(expected_roc_auc([1.0, 2.0], [1.0, 1.0]))


def test_bootstrap_intervals_are_seeded_and_cover_the_estimate() -> None:
    """The same seed gives the same intervals; AUC and Brier intervals contain the estimate."""
    rng = np.random.default_rng(5)
    p = rng.random(800)
    y = (rng.random(800) < p).astype(int)
    a = bootstrap_intervals(y, p, n_resamples=100, random_state=1)
    b = bootstrap_intervals(y, p, n_resamples=100, random_state=1)
    c = bootstrap_intervals(y, p, n_resamples=100, random_state=2)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    assert a.index.tolist() == list(METRIC_NAMES)
    assert a["resamples"].tolist() == [100] * 4
    for name in ("roc_auc", "pr_auc", "brier"):
        assert a.loc[name, "lower"] <= a.loc[name, "estimate"] <= a.loc[name, "upper"]
    assert a.loc["roc_auc", "estimate"] == roc_auc_score(y, p)


def test_bootstrap_leaves_out_one_class_resamples_for_auc() -> None:
    """With one positive in five rows some resamples lack it: they count for Brier, not AUC."""
    ci = bootstrap_intervals([1, 0, 0, 0, 0], [0.9, 0.1, 0.2, 0.3, 0.4], n_resamples=50)
    assert ci.loc["brier", "resamples"] == 50
    assert 0 < ci.loc["roc_auc", "resamples"] < 50


@pytest.mark.parametrize(
    ("y", "p", "message"),
    [
        ([0, 1], [0.5], "y_true has 2 rows but y_prob has 1"),
        ([0, 2], [0.5, 0.5], r"outcomes 0 or 1; found \[2.0\]"),
        ([0, 1], [0.5, 1.5], "probabilities in \\[0, 1\\]"),
        ([0, 1], [0.5, np.nan], "NaN or infinite"),
        ([], [], "empty"),
    ],
)
def test_invalid_inputs_raise_data_error(y: list[float], p: list[float], message: str) -> None:
    """Wrong lengths, labels or probabilities raise DataError with a precise message."""
    with pytest.raises(DataError, match=message):
        risk_metrics(y, p)


def test_invalid_parameters_raise_policy_error() -> None:
    """Bins, resamples and confidence are checked."""
    with pytest.raises(PolicyError, match="n_bins must be an int >= 1"):
        expected_calibration_error([0, 1], [0.1, 0.9], n_bins=0)
    with pytest.raises(PolicyError, match="confidence must be a number in \\(0, 1\\)"):
        bootstrap_intervals([0, 1], [0.1, 0.9], confidence=1.0)
    with pytest.raises(PolicyError, match="n_resamples"):
        bootstrap_intervals([0, 1], [0.1, 0.9], n_resamples=0)


@pytest.fixture(scope="module")
def oracle() -> dict[str, float]:
    """The run's model configuration on the demo portfolio, against the generator's truth."""
    portfolio = make_portfolio(2000, seed=PORTFOLIO_SEED, as_of=AS_OF)
    model = RiskModel(n_estimators=1000, n_jobs=1).fit_time_aware(
        build_training_set(portfolio, AS_OF), n_bootstrap=0
    )
    X = build_features(portfolio, AS_OF)
    truth = portfolio.truth.set_index("invoice_id")["p_unpaid"].reindex(X.index).to_numpy()
    outcomes = (np.random.default_rng(OUTCOME_SEED).random(len(truth)) < truth).astype(int)
    comparison = oracle_comparison(outcomes, model.predict_proba(X)[:, 1], truth)
    logger.info("oracle comparison on %d invoices: %s", len(truth), comparison)
    return {**comparison, "rows": float(len(truth))}


def test_demo_model_reaches_the_oracle_auc(oracle: dict[str, float]) -> None:
    """Model AUC / oracle AUC >= 0.975 (measured 0.989), with and without outcome noise."""
    assert oracle["rows"] == 1773
    assert oracle["auc_ratio"] >= 0.975
    assert oracle["expected_auc_ratio"] >= 0.975
    assert oracle["oracle_expected_auc"] > oracle["model_expected_auc"]


def test_demo_model_is_calibrated_against_the_truth(oracle: dict[str, float]) -> None:
    """ECE <= 0.045 (measured 0.028, oracle 0.023); mean |p - truth| <= 0.07 (measured 0.055)."""
    assert oracle["model_ece"] <= 0.045
    assert oracle["mean_abs_error"] <= 0.07
    assert oracle["model_brier"] <= oracle["oracle_brier"] + 0.015
