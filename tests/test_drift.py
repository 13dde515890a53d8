"""Population stability index and drift reports: reference values, binning, properties."""

from __future__ import annotations

import json
import math
from datetime import date
from random import Random

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dunning.datasets import make_portfolio
from dunning.errors import DataError, FeatureMismatchError, ModelError, PolicyError
from scoring.drift import (
    DRIFT_STATUSES,
    REFERENCE_FORMAT,
    DriftReport,
    FeatureBins,
    ReferenceDistribution,
    drift_report,
    population_stability_index,
    psi_from_shares,
    reference_from_frame,
)
from scoring.features import FEATURES, build_features

EPS = 1e-4


def _term(actual: float, expected: float) -> float:
    a, e = max(actual, EPS), max(expected, EPS)
    return (a - e) * math.log(a / e)


def test_regulatory_test_vectors() -> None:
    """The two test vectors of the model governance reference, to four decimals."""
    assert round(psi_from_shares([0.25] * 4, [0.10, 0.20, 0.30, 0.40]), 4) == 0.2282
    assert round(psi_from_shares([0.5, 0.5], [0.6, 0.4]), 4) == 0.0405


def test_numeric_bins_are_reference_quantiles_with_open_ends() -> None:
    """1 … 100 gives edges 10, 20, … 90; values beyond the ends fall in the outer bins."""
    expected = np.arange(1.0, 101.0)
    bins = FeatureBins.fit(expected, bins=10)
    assert bins.edges == tuple(float(e) for e in range(10, 100, 10))
    assert bins.shares == (0.1,) * 10 + (0.0,)
    actual = np.array([-1e9] * 50 + [1e9] * 50)
    psi = population_stability_index(expected, actual, bins=10)
    assert psi == pytest.approx(2 * _term(0.5, 0.1) + 8 * _term(0.0, 0.1), rel=1e-12)
    assert math.isfinite(psi)


def test_bins_are_closed_on_the_right() -> None:
    """A value equal to an edge belongs to the bin below it."""
    bins = FeatureBins.fit([1.0, 2.0, 3.0, 4.0], bins=2)
    assert bins.edges == (2.0,)
    assert bins.shares_of([2.0, 2.0000001]).tolist() == [0.5, 0.5, 0.0]
    assert bins.labels() == ["(-inf, 2]", "(2, inf)", "missing"]


def test_missing_values_count_in_their_own_bin() -> None:
    """NaN is a bin of its own in both samples."""
    psi = population_stability_index([1.0, 2.0, 3.0, 4.0], [1.0, np.nan, None, 4.0], bins=2)
    assert psi == pytest.approx(2 * _term(0.25, 0.5) + _term(0.5, 0.0), rel=1e-12)


def test_discrete_features_get_one_bin_per_value() -> None:
    """Repeated quantiles merge: a 0/1 flag has two value bins, not ten."""
    bins = FeatureBins.fit(np.array([0] * 7 + [1] * 3), bins=10)
    assert bins.edges == (0.0, 1.0)
    assert bins.shares == pytest.approx((0.7, 0.3, 0.0, 0.0))


def test_categorical_shares_with_an_unseen_bin() -> None:
    """Categories seen in the reference get a bin each; all others share one."""
    psi = population_stability_index(["a", "a", "b", "b"], ["a", "b", "b", "c"])
    assert psi == pytest.approx(_term(0.25, 0.5) + _term(0.5, 0.5) + _term(0.25, 0.0), rel=1e-12)
    bins = FeatureBins.fit(pd.Series(pd.Categorical(["x", None, "y", "y"])))
    assert bins.kind == "categorical"
    assert bins.categories == ("x", "y")
    assert bins.shares == (0.25, 0.5, 0.0, 0.25)
    assert bins.shares_of(["z", "q", "x", None]).tolist() == [0.25, 0.0, 0.5, 0.25]


def test_bool_and_text_are_categorical_and_kind_can_be_forced() -> None:
    """bool and str dtypes are binned as categories; kind= overrides the dtype."""
    assert FeatureBins.fit([True, False, True]).categories == ("False", "True")
    assert FeatureBins.fit(pd.array(["B2B", "B2C"], dtype="str")).kind == "categorical"
    forced = FeatureBins.fit([3, 3, 5], kind="categorical")
    assert forced.categories == ("3", "5")
    with pytest.raises(DataError, match="expected numbers"):
        FeatureBins.fit(["a", "b"], kind="numeric", name="segment")


def test_breakdown_adds_up_to_the_psi() -> None:
    """The per-bin contributions sum to the PSI of the variable."""
    rng = np.random.default_rng(4)
    bins = FeatureBins.fit(rng.normal(size=1000))
    new = rng.normal(0.3, 1.2, size=700)
    table = bins.breakdown(new)
    assert table["bin"].tolist() == bins.labels()
    assert table["psi"].sum() == pytest.approx(bins.psi(new), rel=1e-12)
    assert table["actual"].sum() == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("expected", "actual", "message"),
    [
        ([0.5, 0.5], [1.0], "2 bins but actual_shares has 1"),
        ([0.5, 0.5], [1.2, -0.2], "finite shares ≥ 0"),
        ([50, 50], [50, 50], "must add up to 1. Got 100"),
        ([], [], "non-empty"),
        ([0.5, float("nan")], [0.5, 0.5], "finite shares"),
    ],
)
def test_invalid_shares_are_refused(
    expected: list[float], actual: list[float], message: str
) -> None:
    """Shares must be the same length, finite, non-negative and add up to 1."""
    with pytest.raises(DataError, match=message):
        psi_from_shares(expected, actual)


def test_invalid_parameters_are_refused() -> None:
    """epsilon, bins and empty samples give errors that name the problem."""
    with pytest.raises(PolicyError, match="epsilon") as info:
        psi_from_shares([1.0], [1.0], epsilon=0.0)
    assert info.value.field == "epsilon"
    with pytest.raises(PolicyError, match="bins"):
        population_stability_index([1.0], [1.0], bins=0)
    with pytest.raises(DataError, match="reference sample is empty"):
        population_stability_index([], [1.0])
    with pytest.raises(DataError, match="actual is empty"):
        population_stability_index([1.0], [])
    with pytest.raises(FeatureMismatchError, match="reference is numeric"):
        population_stability_index([1.0, 2.0], ["a", "b"])


def test_feature_bins_refuse_parts_that_do_not_fit() -> None:
    """Hand-edited bins with wrong lengths, unsorted edges or bad shares raise ModelError."""
    with pytest.raises(ModelError, match="1 edges need 3 shares"):
        FeatureBins("numeric", (0.5, 0.5), edges=(1.0,), count=2)
    with pytest.raises(ModelError, match="strictly increasing"):
        FeatureBins("numeric", (0.5, 0.5, 0.0, 0.0), edges=(2.0, 1.0), count=2)
    with pytest.raises(ModelError, match="add up to 1"):
        FeatureBins("categorical", (0.5, 0.6, 0.0, 0.0), categories=("a", "b"), count=2)
    with pytest.raises(ModelError, match="kind must be"):
        FeatureBins("ordinal", (1.0,), count=1)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def demo_X() -> pd.DataFrame:
    """Features of a small demo portfolio (categories, NaN and integer columns)."""
    as_of = date(2026, 11, 23)
    return build_features(make_portfolio(200, seed=5, as_of=as_of), as_of)


def test_reference_round_trips_through_json(demo_X: pd.DataFrame) -> None:
    """to_dict is plain JSON; from_dict(json.loads(json.dumps(...))) gives the same reference."""
    scores = np.linspace(0.0, 1.0, len(demo_X))
    reference = reference_from_frame(demo_X, scores=scores)
    data = reference.to_dict()
    text = json.dumps(data, allow_nan=False)
    again = ReferenceDistribution.from_dict(json.loads(text))
    assert again == reference
    assert data["format"] == REFERENCE_FORMAT
    assert list(data["features"]) == [spec.code for spec in FEATURES]
    assert set(data["features"]["days_overdue"]) == {"kind", "edges", "shares", "count"}
    assert set(data["features"]["segment"]) == {"kind", "categories", "shares", "count"}
    assert data["features"]["segment"]["categories"] == ["B2B", "B2C"]
    assert data["score"]["count"] == len(demo_X)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "dunning.drift.reference/0"}, "Not a drift reference"),
        ({"features": [1, 2]}, "'features' must be a JSON object"),
        ({"bins": 0}, "'bins' must be an int"),
        ({"features": {"x": {"kind": "numeric", "shares": [1.0, 0.0], "count": 1}}}, "missing"),
        ({"features": {"x": {"kind": "text"}}}, "kind must be"),
        (
            {"features": {"x": {"kind": "numeric", "edges": [], "shares": ["a"], "count": 1}}},
            "wrong type",
        ),
    ],
)
def test_broken_reference_dicts_are_refused(change: dict[str, object], message: str) -> None:
    """A reference read from a bundle is checked key by key."""
    data = {"format": REFERENCE_FORMAT, "bins": 10, "features": {}, "score": None} | change
    with pytest.raises(ModelError, match=message):
        ReferenceDistribution.from_dict(data)


def test_same_batch_is_stable_everywhere(demo_X: pd.DataFrame) -> None:
    """The training batch itself: every PSI is 0, nothing alarms."""
    reference = reference_from_frame(demo_X)
    report = drift_report(reference, demo_X)
    table = report.table
    assert table.columns.tolist() == [
        "feature",
        "role",
        "kind",
        "psi",
        "status",
        "n_reference",
        "n_new",
    ]
    assert table["feature"].tolist() == [spec.code for spec in FEATURES]
    assert (table["psi"] == 0.0).all()
    assert set(table["status"]) == {"stable"}
    assert not report.alarm
    n = len(FEATURES)
    assert report.text() == f"All {n} features are stable (largest PSI 0.00: days_overdue)."
    assert report.text("de") == f"Alle {n} Merkmale sind stabil (größter PSI 0,00: days_overdue)."


def test_shifted_feature_and_score_raise_the_alarm(demo_X: pd.DataFrame) -> None:
    """Days overdue 60 days later and higher scores: both significant, alarm on."""
    rng = np.random.default_rng(0)
    scores = rng.uniform(size=len(demo_X))
    reference = reference_from_frame(demo_X, scores=scores)
    shifted = demo_X.assign(days_overdue=demo_X["days_overdue"] + 60)
    report = drift_report(reference, shifted, score_new=np.sqrt(scores))
    table = report.table.set_index("feature")
    assert table.loc["days_overdue", "status"] == "significant"
    assert table.loc["score", "role"] == "score"
    assert table.loc["score", "status"] == "significant"
    psi = table.loc["days_overdue", "psi"]
    assert psi == pytest.approx(reference.features["days_overdue"].psi(shifted["days_overdue"]))
    assert report.alarm
    text = report.text()
    assert text.startswith(
        f"1 of {len(FEATURES)} features shifted significantly: days_overdue (PSI {psi:.2f})."
    )
    assert "The score shifted significantly" in text
    assert text.endswith("Drift alarm: check the model before relying on its scores.")


def test_score_reference_can_be_given_as_scores_or_bins(demo_X: pd.DataFrame) -> None:
    """score_reference accepts raw reference scores or FeatureBins; one is needed."""
    reference = reference_from_frame(demo_X)
    old = np.linspace(0, 1, 500)
    by_scores = drift_report(reference, demo_X, score_reference=old, score_new=old[::-1])
    by_bins = drift_report(
        reference, demo_X, score_reference=FeatureBins.fit(old), score_new=old[::-1]
    )
    pd.testing.assert_frame_equal(by_scores.table, by_bins.table)
    assert by_scores.table["psi"].iloc[-1] == 0.0
    assert by_scores.text().endswith("The score is stable (PSI 0.00).")
    with pytest.raises(ModelError, match="no score reference"):
        drift_report(reference, demo_X, score_new=old)


def test_status_boundaries_follow_the_thresholds(demo_X: pd.DataFrame) -> None:
    """PSI equal to the first threshold is moderate, equal to the second still moderate."""
    reference = reference_from_frame(demo_X[["days_overdue"]])
    shifted = demo_X[["days_overdue"]] + 5
    psi = float(drift_report(reference, shifted).table["psi"].iloc[0])
    assert psi > 0

    def status(thresholds: tuple[float, float]) -> str:
        return str(drift_report(reference, shifted, thresholds=thresholds).table["status"].iloc[0])

    assert status((psi, 2 * psi)) == "moderate"
    assert status((psi / 2, psi)) == "moderate"
    assert status((psi / 4, psi / 2)) == "significant"
    assert status((2 * psi, 4 * psi)) == "stable"
    with pytest.raises(PolicyError, match="thresholds"):
        drift_report(reference, shifted, thresholds=(0.25, 0.1))


def test_text_names_the_largest_shifts_first_and_counts_the_rest() -> None:
    """At most `limit` names per status, largest PSI first, in English and German."""
    table = pd.DataFrame(
        {
            "feature": ["a", "b", "c", "d", "e"],
            "role": ["feature"] * 5,
            "kind": ["numeric"] * 5,
            "psi": [0.30, 0.50, 0.40, 0.12, 0.15],
            "status": ["significant", "significant", "significant", "moderate", "moderate"],
            "n_reference": [10] * 5,
            "n_new": [10] * 5,
        }
    )
    report = DriftReport(table)
    assert report.text(limit=2) == (
        "3 of 5 features shifted significantly: b (PSI 0.50), c (PSI 0.40) and 1 more. "
        "2 shifted moderately: e (PSI 0.15), d (PSI 0.12). "
        "Drift alarm: check the model before relying on its scores."
    )
    assert report.text("de", limit=2) == (
        "3 von 5 Merkmalen haben sich deutlich verschoben: b (PSI 0,50), c (PSI 0,40) und 1 "
        "weitere. 2 haben sich mäßig verschoben: e (PSI 0,15), d (PSI 0,12). "
        "Drift-Alarm: Modell prüfen, bevor seine Scores verwendet werden."
    )
    moderate_only = DriftReport(table.iloc[3:])
    assert moderate_only.text() == (
        "No feature shifted significantly; 2 of 2 shifted moderately: e (PSI 0.15), d (PSI 0.12)."
    )
    assert not moderate_only.alarm
    with pytest.raises(PolicyError, match="lang"):
        report.text("fr")  # type: ignore[arg-type]


def test_batch_errors_name_the_column(demo_X: pd.DataFrame) -> None:
    """A missing column or a changed kind raises FeatureMismatchError with .column."""
    reference = reference_from_frame(demo_X)
    with pytest.raises(FeatureMismatchError, match="lacks the reference columns") as info:
        drift_report(reference, demo_X.drop(columns=["tenure_days"]))
    assert info.value.column == "tenure_days"
    coded = demo_X.assign(segment=demo_X["segment"].cat.codes)
    with pytest.raises(FeatureMismatchError, match="'segment' is numeric") as info:
        drift_report(reference, coded)
    assert info.value.column == "segment"


def test_empty_batch_reports_no_data(demo_X: pd.DataFrame) -> None:
    """No rows to compare: NaN PSIs, status 'no data', no alarm, a plain sentence."""
    report = drift_report(reference_from_frame(demo_X), demo_X.iloc[:0])
    assert report.table["psi"].isna().all()
    assert set(report.table["status"]) == {"no data"}
    assert set(DRIFT_STATUSES) >= set(report.table["status"])
    assert not report.alarm
    assert report.text() == "No drift check: the new batch is empty."


# --- Properties ---------------------------------------------------------------------------

floats = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
samples = st.lists(st.one_of(floats, st.just(float("nan"))), min_size=1, max_size=60)
weights = st.lists(st.integers(min_value=0, max_value=100), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(samples, samples, st.integers(min_value=1, max_value=12))
def test_psi_is_finite_non_negative_and_bounded(
    expected: list[float], actual: list[float], bins: int
) -> None:
    """Any two samples: 0 ≤ PSI ≤ 2 ln(1/ε), even with empty bins and missing values."""
    psi = population_stability_index(expected, actual, bins=bins)
    assert math.isfinite(psi)
    assert 0.0 <= psi <= 2 * math.log(1 / EPS)


@settings(max_examples=60, deadline=None)
@given(samples, st.integers(min_value=1, max_value=12))
def test_psi_of_a_sample_with_itself_is_zero(values: list[float], bins: int) -> None:
    """The same values, in any order, give a PSI of exactly 0."""
    assert population_stability_index(values, values[::-1], bins=bins) == 0.0
    text = [None if math.isnan(v) else str(round(v) % 5) for v in values]
    assert population_stability_index(text, text[::-1]) == 0.0


@settings(max_examples=60, deadline=None)
@given(samples, samples)
def test_psi_does_not_depend_on_units_or_order(expected: list[float], actual: list[float]) -> None:
    """Doubling both samples (exact in floating point) or shuffling them changes nothing."""
    psi = population_stability_index(expected, actual)
    doubled = population_stability_index(np.multiply(expected, 2.0), np.multiply(actual, 2.0))
    assert doubled == psi
    assert population_stability_index(expected[::-1], actual[::-1]) == psi


@settings(max_examples=60, deadline=None)
@given(
    weights.flatmap(
        lambda w: st.tuples(
            st.just(w),
            st.lists(st.integers(min_value=0, max_value=100), min_size=len(w), max_size=len(w)),
        )
    )
)
def test_psi_from_shares_is_symmetric(pair: tuple[list[int], list[int]]) -> None:
    """Swapping expected and actual shares gives the same PSI; equal shares give 0."""
    left, right = (np.asarray(w, dtype=float) + 1.0 for w in pair)
    e, a = left / left.sum(), right / right.sum()
    assert psi_from_shares(e, a) == pytest.approx(psi_from_shares(a, e), rel=1e-12, abs=1e-15)
    assert psi_from_shares(e, a) >= 0.0
    assert psi_from_shares(e, e) == 0.0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from("abcd"), min_size=1, max_size=40), st.randoms(use_true_random=False)
)
def test_categorical_psi_is_symmetric_over_the_same_categories(
    values: list[str], random: Random
) -> None:
    """Two samples with the same set of categories: PSI(x, y) = PSI(y, x)."""
    other = list(values)
    random.shuffle(other)
    other = other[: max(1, len(other) // 2)] + sorted(set(values))
    forward = population_stability_index(values + sorted(set(values)), other)
    backward = population_stability_index(other, values + sorted(set(values)))
    assert forward == pytest.approx(backward, rel=1e-12, abs=1e-15)
