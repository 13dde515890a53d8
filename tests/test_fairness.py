"""Fairness checks: flag rates, error rates and proxies per group, with exact numbers."""

from __future__ import annotations

import math
import time
from datetime import date

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency

from dunning.errors import DataError, PolicyError
from explain.fairness import UNKNOWN_GROUP, FairnessReport, cramers_v, fairness_report


def _cases(
    groups: dict[str, tuple[int, int]], *, name: str = "region"
) -> tuple[pd.Series, pd.Series]:
    """Scores and sensitive values: per group ``(n, flagged)``; flagged score 0.8, else 0.2."""
    scores: list[float] = []
    labels: list[str] = []
    for label, (n, flagged) in groups.items():
        scores += [0.8] * flagged + [0.2] * (n - flagged)
        labels += [label] * n
    return pd.Series(scores), pd.Series(labels, name=name)


def _outcomes(groups: dict[str, tuple[int, int, int, int]]) -> pd.Series:
    """Per group ``(flagged, flagged unpaid, not flagged, not flagged unpaid)``, in _cases order."""
    out: list[int] = []
    for flagged, flagged_unpaid, rest, rest_unpaid in groups.values():
        out += [1] * flagged_unpaid + [0] * (flagged - flagged_unpaid)
        out += [1] * rest_unpaid + [0] * (rest - rest_unpaid)
    return pd.Series(out)


# ---------------------------------------------------------------- demographic parity


def test_flag_rates_and_demographic_parity_difference() -> None:
    """A: 30 of 100 flagged, B: 10 of 100 -> rates 0.30 and 0.10, difference exactly 0.20."""
    scores, region = _cases({"A": (100, 30), "B": (100, 10)})
    report = fairness_report(scores, region)
    g = report.groups
    assert g["group"].tolist() == ["A", "B"]
    assert g["n"].tolist() == [100, 100]
    assert g["flagged"].tolist() == [30, 10]
    assert g["flag_rate"].tolist() == [0.3, 0.1]
    assert g["mean_score"].tolist() == pytest.approx([0.38, 0.26], abs=1e-12)
    assert g["compared"].tolist() == [True, True]
    assert report.demographic_parity_difference == 0.2
    assert report.equal_opportunity_difference is None
    assert "tpr" not in g.columns
    assert report.proxies.empty


def test_parity_warning_above_the_limit_only() -> None:
    """0.20 warns at max_difference 0.1, not at 0.25, and not at exactly 0.20."""
    scores, region = _cases({"A": (100, 30), "B": (100, 10)})
    report = fairness_report(scores, region, max_difference=0.1)
    assert report.alarm
    assert report.warnings == (
        "The share of cases flagged as high risk differs between the groups of region by "
        "20.0 percentage points (A: 30.0%, B: 10.0%), more than the limit of 10.0 points: "
        "check whether the model treats these groups differently.",
    )
    assert report.warnings_de == (
        "Der Anteil der als hohes Risiko markierten Fälle unterscheidet sich zwischen den "
        "Gruppen von region um 20,0 Prozentpunkte (A: 30,0 %, B: 10,0 %), mehr als die Grenze "
        "von 10,0 Prozentpunkten: prüfen, ob das Modell diese Gruppen unterschiedlich "
        "behandelt.",
    )
    for limit in (0.25, 0.2):
        quiet = fairness_report(scores, region, max_difference=limit)
        assert quiet.demographic_parity_difference == 0.2
        assert quiet.warnings == quiet.warnings_de == ()
        assert not quiet.alarm


def test_a_score_equal_to_the_threshold_is_flagged() -> None:
    """Flagged means score >= threshold, as the review rules' flag_threshold."""
    scores = pd.Series([0.5, 0.4999, 0.7, 0.5])
    report = fairness_report(scores, pd.Series(["a", "a", "b", "b"]), min_group_size=1)
    assert report.groups["flagged"].tolist() == [1, 2]
    at_07 = fairness_report(scores, pd.Series(["a", "a", "b", "b"]), threshold=0.7)
    assert at_07.groups["flagged"].tolist() == [0, 1]


def test_small_groups_are_shown_but_not_compared() -> None:
    """C (10 cases, all flagged) is below min_group_size 30: reported, left out, noted."""
    scores, region = _cases({"A": (100, 30), "B": (100, 10), "C": (10, 10)})
    report = fairness_report(scores, region, max_difference=0.25)
    g = report.groups.set_index("group")
    assert g.loc["C", "flag_rate"] == 1.0
    assert g["compared"].tolist() == [True, True, False]
    assert report.demographic_parity_difference == 0.2
    assert report.warnings == ()
    assert report.notes == (
        "Groups with fewer than 30 cases are shown but left out of the differences: C (10 cases).",
    )
    assert report.notes_de == (
        "Gruppen mit weniger als 30 Fällen werden gezeigt, aber nicht verglichen: C (10 Fälle).",
    )
    # With min_group_size 10, C is compared and the difference becomes 1.0 - 0.1.
    wider = fairness_report(scores, region, min_group_size=10)
    assert wider.demographic_parity_difference == 0.9
    assert wider.notes == ()


def test_no_difference_with_fewer_than_two_compared_groups() -> None:
    scores, region = _cases({"A": (100, 30), "B": (1, 1)})
    report = fairness_report(scores, region)
    assert report.demographic_parity_difference is None
    assert report.notes == (
        "Groups with fewer than 30 cases are shown but left out of the differences: B (1 case).",
        "Fewer than two groups have at least 30 cases: no flag-rate difference.",
    )
    assert report.notes_de[1] == (
        "Weniger als zwei Gruppen haben mindestens 30 Fälle: keine Differenz der Anteile "
        "markierter Fälle."
    )
    row = report.to_frame().iloc[0]
    assert not row["exceeded"]
    assert math.isnan(float(row["value"]))


# ---------------------------------------------------------------- groups


def test_missing_sensitive_values_form_the_unknown_group_last() -> None:
    """None and NaN count in 'unknown', placed after the sorted groups, with a note."""
    sensitive = pd.Series(["b", None, "a", np.nan, "b", "a", None], name="age_band")
    scores = pd.Series([0.9, 0.9, 0.1, 0.1, 0.1, 0.6, 0.7])
    report = fairness_report(scores, sensitive, min_group_size=2)
    g = report.groups
    assert g["group"].tolist() == ["a", "b", UNKNOWN_GROUP]
    assert g["n"].tolist() == [2, 2, 3]
    assert g["flagged"].tolist() == [1, 1, 2]
    assert report.notes == ("3 cases have no value for age_band and count in the group 'unknown'.",)
    assert report.notes_de == (
        "3 Fälle haben keinen Wert für age_band und zählen zur Gruppe „unknown“.",
    )
    one = fairness_report(scores[:2], sensitive[:2], min_group_size=1)
    assert one.notes[-1] == "1 case has no value for age_band and counts in the group 'unknown'."


def test_group_order_follows_categories_or_numbers() -> None:
    """A category column keeps its order; numbers sort as numbers; unused categories drop."""
    bands = pd.Series(
        pd.Categorical(["65+", "18-34", "35-64", None], categories=["18-34", "35-64", "65+", "x"])
    )
    report = fairness_report(pd.Series([0.1] * 4), bands, min_group_size=1)
    assert report.groups["group"].tolist() == ["18-34", "35-64", "65+", "unknown"]
    assert report.sensitive_name == "sensitive"
    numbers = fairness_report(pd.Series([0.1] * 3), pd.Series([10, 2, 2]), name="zone")
    assert numbers.groups["group"].tolist() == ["2", "10"]
    assert numbers.groups["n"].tolist() == [2, 1]
    assert numbers.sensitive_name == "zone"


def test_empty_input_gives_an_empty_report() -> None:
    report = fairness_report(pd.Series([], dtype=float), pd.Series([], dtype=str))
    assert report.groups.empty
    assert report.demographic_parity_difference is None
    assert not report.alarm


# ---------------------------------------------------------------- equal opportunity


def test_true_positive_rates_and_equal_opportunity_difference() -> None:
    """A: 40 unpaid, 30 of them flagged (0.75); B: 40 unpaid, 10 flagged (0.25) -> 0.50."""
    scores, region = _cases({"A": (100, 30), "B": (100, 10)})
    outcomes = _outcomes({"A": (30, 30, 70, 10), "B": (10, 10, 90, 30)})
    report = fairness_report(scores, region, outcomes=outcomes, max_difference=0.25)
    g = report.groups
    assert g["with_outcome"].tolist() == [100, 100]
    assert g["positives"].tolist() == [40, 40]
    assert g["true_positives"].tolist() == [30, 10]
    assert g["tpr"].tolist() == [0.75, 0.25]
    assert g["base_rate"].tolist() == [0.4, 0.4]
    assert g["compared_tpr"].tolist() == [True, True]
    assert report.demographic_parity_difference == 0.2
    assert report.equal_opportunity_difference == 0.5
    assert report.warnings == (
        "Among cases that stayed unpaid, the share flagged as high risk differs between the "
        "groups of region by 50.0 percentage points (A: 75.0%, B: 25.0%), more than the limit "
        "of 25.0 points: check whether the model misses unpaid cases more often in some "
        "groups.",
    )
    assert report.warnings_de == (
        "Unter den Fällen, die unbezahlt blieben, unterscheidet sich der Anteil der als hohes "
        "Risiko markierten zwischen den Gruppen von region um 50,0 Prozentpunkte (A: 75,0 %, "
        "B: 25,0 %), mehr als die Grenze von 25,0 Prozentpunkten: prüfen, ob das Modell "
        "unbezahlte Fälle in manchen Gruppen öfter übersieht.",
    )


def test_equal_opportunity_needs_enough_unpaid_cases_per_group() -> None:
    """B has 100 cases but 5 unpaid: it stays in parity, not in the TPR difference."""
    scores, region = _cases({"A": (100, 30), "B": (100, 10)})
    outcomes = _outcomes({"A": (30, 30, 70, 10), "B": (10, 5, 90, 0)})
    report = fairness_report(scores, region, outcomes=outcomes)
    assert report.groups["positives"].tolist() == [40, 5]
    assert report.groups["tpr"].tolist() == [0.75, 1.0]
    assert report.groups["compared_tpr"].tolist() == [True, False]
    assert report.equal_opportunity_difference is None
    assert report.notes == (
        "Groups with fewer than 30 unpaid cases are left out of the equal-opportunity "
        "difference: B (5 unpaid cases).",
        "Fewer than two groups have at least 30 unpaid cases: no equal-opportunity difference.",
    )
    assert report.notes_de == (
        "Gruppen mit weniger als 30 unbezahlten Fällen gehen nicht in die Differenz der "
        "Trefferquoten ein: B (5 unbezahlte Fälle).",
        "Weniger als zwei Gruppen haben mindestens 30 unbezahlte Fälle: keine Differenz der "
        "Trefferquoten.",
    )


def test_unknown_outcomes_are_left_out_of_the_rates() -> None:
    scores = pd.Series([0.9, 0.9, 0.1, 0.1, 0.9, 0.1])
    sensitive = pd.Series(["a", "a", "a", "b", "b", "b"])
    outcomes = pd.Series([1, None, 1, 1, pd.NA, 0], dtype="Int64")
    report = fairness_report(scores, sensitive, outcomes=outcomes, min_group_size=1)
    g = report.groups
    assert g["with_outcome"].tolist() == [2, 2]
    assert g["positives"].tolist() == [2, 1]
    assert g["tpr"].tolist() == [0.5, 0.0]
    assert g["base_rate"].tolist() == [1.0, 0.5]
    assert report.equal_opportunity_difference == 0.5
    assert report.notes == (
        "2 cases without a known outcome are left out of the true-positive rates.",
    )
    assert report.notes_de == (
        "2 Fälle ohne bekannten Ausgang gehen nicht in die Trefferquoten ein.",
    )


def test_boolean_outcomes_are_accepted_and_other_values_rejected() -> None:
    scores, sensitive = pd.Series([0.9, 0.1]), pd.Series(["a", "b"])
    report = fairness_report(scores, sensitive, outcomes=pd.Series([True, False]), min_group_size=1)
    assert report.groups["positives"].tolist() == [1, 0]
    assert math.isnan(report.groups["tpr"].iloc[1])
    with pytest.raises(DataError, match=r"outcomes must be 1 \(stayed unpaid\).*1 values are not"):
        fairness_report(scores, sensitive, outcomes=pd.Series([1, 2]))


# ---------------------------------------------------------------- proxies


def _proxy_data() -> tuple[pd.Series, pd.DataFrame]:
    """1000 cases, A and B 500 each, with a copy, a 10 %-noisy copy and independent columns."""
    region = pd.Series(["A"] * 500 + ["B"] * 500, name="region")
    noisy = ["A"] * 450 + ["B"] * 50 + ["A"] * 50 + ["B"] * 450
    rng = np.random.default_rng(7)
    features = pd.DataFrame(
        {
            "independent": rng.normal(size=1000),
            "balanced": ["x", "y"] * 500,
            "copy": region.to_numpy(),
            "noisy_copy": pd.Categorical(noisy),
            "numeric_copy": np.where(region == "A", 1.5, 7.0),
        }
    )
    return region, features


def test_copies_of_the_sensitive_column_come_first() -> None:
    """Exact copies give V = 1; the noisy copy the hand-computed value; independent ~ 0."""
    region, features = _proxy_data()
    report = fairness_report(pd.Series(np.full(1000, 0.1)), region, features=features)
    p = report.proxies
    assert p["feature"].tolist() == [
        "copy",
        "numeric_copy",
        "noisy_copy",
        "independent",
        "balanced",
    ]
    assert p["kind"].tolist() == ["categorical", "numeric", "categorical", "numeric", "categorical"]
    assert p["bins"].tolist() == [2, 2, 2, 10, 2]
    assert set(p["measure"]) == {"cramers_v"}
    values = dict(zip(p["feature"], p["value"], strict=True))
    assert values["copy"] == 1.0
    assert values["numeric_copy"] == 1.0
    # table [[450, 50], [50, 450]]: chi2 = 640, phi2 = 0.64, n = 1000
    assert values["noisy_copy"] == pytest.approx(math.sqrt((0.64 - 1 / 999) / (1 - 1 / 999)))
    assert values["balanced"] == 0.0  # [[250, 250], [250, 250]]
    assert values["independent"] < 0.05


def test_proxy_warnings_name_each_strong_feature() -> None:
    region, features = _proxy_data()
    report = fairness_report(
        pd.Series(np.full(1000, 0.1)), region, features=features[["noisy_copy", "balanced"]]
    )
    assert report.warnings == (
        "The feature noisy_copy is strongly associated with region (Cramér's V 0.80, warning "
        "from 0.50): it can stand in for region, so check whether the model needs it.",
    )
    assert report.warnings_de == (
        "Das Merkmal noisy_copy hängt stark mit region zusammen (Cramérs V 0,80, Warnung ab "
        "0,50): es kann region ersetzen; prüfen, ob das Modell es braucht.",
    )
    strict = fairness_report(
        pd.Series(np.full(1000, 0.1)), region, features=features[["noisy_copy"]], proxy_warning=0.9
    )
    assert strict.warnings == ()


def test_missing_feature_values_are_a_bin_of_their_own() -> None:
    """A numeric feature missing exactly for group B determines the group.

    The table is 2 x 11 (10 quantile bins for A, the missing bin for B), so the corrected V
    is sqrt((1 - 10/99) / (1 - 1/99)) = sqrt(89/98) with 100 cases, and tends to 1 with more.
    """
    region = pd.Series(["A"] * 50 + ["B"] * 50)
    amount = pd.Series(np.r_[np.arange(50.0), np.full(50, np.nan)])
    report = fairness_report(
        pd.Series(np.full(100, 0.1)), region, features=pd.DataFrame({"amount": amount})
    )
    assert report.proxies["bins"].tolist() == [11]  # 10 quantile bins + missing
    assert report.proxies["value"].tolist() == [pytest.approx(math.sqrt(89 / 98))]
    big = fairness_report(
        pd.Series(np.full(100_000, 0.1)),
        np.repeat(region.to_numpy(), 1000),
        features=pd.DataFrame({"amount": np.repeat(amount.to_numpy(), 1000)}),
    )
    assert big.proxies["value"].iloc[0] == pytest.approx(1.0, abs=1e-4)


def test_cramers_v_agrees_with_scipy_chi2() -> None:
    """The chi-squared inside V equals scipy's (without continuity correction)."""
    table = np.array([[30, 12, 8, 50], [10, 40, 25, 5], [20, 20, 20, 20]])
    chi2 = chi2_contingency(table, correction=False)[0]
    n, r, k = table.sum(), 3, 4
    phi2_c = max(0.0, chi2 / n - (k - 1) * (r - 1) / (n - 1))
    expected = math.sqrt(
        phi2_c / min(k - (k - 1) ** 2 / (n - 1) - 1, r - (r - 1) ** 2 / (n - 1) - 1)
    )
    assert cramers_v(table) == pytest.approx(expected, rel=1e-10)
    assert cramers_v([[10, 20], [30, 40]]) == 0.0  # chi2 0.79 < its expectation 1
    assert math.isnan(cramers_v([[5, 5]]))
    assert math.isnan(cramers_v([[1, 0], [0, 1]]))  # n = 2: too small for the correction
    with pytest.raises(DataError, match="non-negative"):
        cramers_v([[1, -1], [2, 3]])


def test_the_sensitive_column_must_not_be_a_feature() -> None:
    region, features = _proxy_data()
    with pytest.raises(DataError, match="The sensitive column 'region' is one of the features"):
        fairness_report(
            pd.Series(np.full(1000, 0.1)), region, features=features.assign(region=region)
        )


# ---------------------------------------------------------------- summary and table


def test_summary_and_table() -> None:
    scores, region = _cases({"A": (100, 30), "B": (100, 10), "C": (10, 10)})
    outcomes = _outcomes({"A": (30, 30, 70, 10), "B": (10, 10, 90, 30), "C": (10, 0, 0, 0)})
    features = pd.DataFrame({"copy": region.to_numpy()})
    report = fairness_report(
        scores, region, outcomes=outcomes, features=features, max_difference=0.6
    )
    assert report.summary("en") == (
        "Fairness check by region: 3 groups, 2 compared; flag rates from 10.0% to 30.0% "
        "(difference 20.0 percentage points, limit 60.0). Among unpaid cases, the share "
        "flagged ranges from 25.0% to 75.0% (difference 50.0 percentage points). Strongest "
        "association with region: copy (Cramér's V 1.00). The feature copy is strongly "
        "associated with region (Cramér's V 1.00, warning from 0.50): it can stand in for "
        "region, so check whether the model needs it. Groups with fewer than 30 cases are "
        "shown but left out of the differences: C (10 cases)."
    )
    assert report.summary("de") == (
        "Fairness-Prüfung nach region: 3 Gruppen, 2 verglichen; Anteile markierter Fälle von "
        "10,0 % bis 30,0 % (Differenz 20,0 Prozentpunkte, Grenze 60,0). Unter den unbezahlten "
        "Fällen liegt der Anteil markierter zwischen 25,0 % und 75,0 % (Differenz 50,0 "
        "Prozentpunkte). Stärkster Zusammenhang mit region: copy (Cramérs V 1,00). Das "
        "Merkmal copy hängt stark mit region zusammen (Cramérs V 1,00, Warnung ab 0,50): es "
        "kann region ersetzen; prüfen, ob das Modell es braucht. Gruppen mit weniger als 30 "
        "Fällen werden gezeigt, aber nicht verglichen: C (10 Fälle)."
    )
    assert report.to_frame().to_dict("list") == {
        "metric": [
            "demographic_parity_difference",
            "equal_opportunity_difference",
            "strongest_proxy",
        ],
        "value": [0.2, 0.5, 1.0],
        "limit": [0.6, 0.6, 0.5],
        "exceeded": [False, False, True],
        "detail": ["A - B", "A - B", "copy"],
    }
    with pytest.raises(PolicyError, match="lang must be 'en' or 'de'"):
        report.summary("fr")  # type: ignore[arg-type]


def test_report_is_frozen() -> None:
    scores, region = _cases({"A": (100, 30), "B": (100, 10)})
    report = fairness_report(scores, region)
    assert isinstance(report, FairnessReport)
    with pytest.raises(AttributeError):
        report.max_difference = 0.5  # type: ignore[misc]


# ---------------------------------------------------------------- errors


def test_inputs_must_line_up() -> None:
    scores = pd.Series([0.1, 0.2, 0.3], index=pd.Index(["R1", "R2", "R3"], name="invoice_id"))
    with pytest.raises(DataError, match="sensitive has 2 rows but scores has 3"):
        fairness_report(scores, pd.Series(["a", "b"]))
    other = pd.Series(["a", "b", "c"], index=["R1", "R3", "R2"])
    with pytest.raises(DataError, match=r"sensitive and scores have different indexes"):
        fairness_report(scores, other)
    # A default RangeIndex (or a plain array) is matched by position.
    ok = fairness_report(scores, ["a", "b", "b"], min_group_size=1)
    assert ok.groups["n"].tolist() == [1, 2]
    with pytest.raises(DataError, match="features must be a pandas DataFrame"):
        fairness_report(scores, ["a", "b", "b"], features=[[1], [2], [3]])  # type: ignore[arg-type]


def test_scores_must_be_finite_numbers() -> None:
    with pytest.raises(DataError, match="scores: 2 of 3 values are missing or not finite"):
        fairness_report(pd.Series([0.1, np.nan, np.inf]), pd.Series(["a", "b", "c"]))
    with pytest.raises(DataError, match="scores must be numbers"):
        fairness_report(pd.Series(["high", "low"]), pd.Series(["a", "b"]))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("threshold", float("nan")),
        ("max_difference", 1.5),
        ("max_difference", -0.1),
        ("min_group_size", 0),
        ("min_group_size", 2.5),
        ("proxy_warning", 2.0),
        ("proxy_bins", 1),
    ],
)
def test_parameters_are_checked(field: str, value: float) -> None:
    with pytest.raises(PolicyError, match=f"{field} must be") as info:
        fairness_report(pd.Series([0.1]), pd.Series(["a"]), **{field: value})  # type: ignore[arg-type]
    assert info.value.field == field


# ---------------------------------------------------------------- scale and real data


@pytest.mark.slow
def test_one_million_rows_in_seconds() -> None:
    """Vectorised: 1,000,000 cases, 4 groups, outcomes and 12 features well under 10 s."""
    rng = np.random.default_rng(0)
    n = 1_000_000
    country = pd.Series(rng.choice(np.array(["AT", "DE", "GB"]), n), name="country")
    country[rng.random(n) < 0.01] = None
    features = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(10)})
    features["segment"] = pd.Categorical(rng.choice(np.array(["B2B", "B2C"]), n))
    features["copy"] = country.to_numpy()
    start = time.perf_counter()
    report = fairness_report(
        pd.Series(rng.random(n)), country, outcomes=rng.integers(0, 2, n), features=features
    )
    elapsed = time.perf_counter() - start
    assert elapsed < 10, f"took {elapsed:.1f} s"
    assert int(report.groups["n"].sum()) == n
    assert report.groups["group"].tolist() == ["AT", "DE", "GB", "unknown"]
    assert report.proxies["feature"].iloc[0] == "copy"
    assert report.proxies["value"].iloc[0] == 1.0
    assert report.proxies["value"].iloc[1] < 0.01


@pytest.fixture(scope="module")
def demo() -> tuple[pd.Series, pd.DataFrame, pd.Series]:
    """Today's scores and features of a small demo portfolio, and each case's customer."""
    from dunning.datasets import make_portfolio
    from scoring.features import build_features
    from scoring.risk import RiskModel
    from scoring.training import build_training_set

    as_of = date(2026, 11, 23)
    portfolio = make_portfolio(400, seed=5, as_of=as_of)
    training = build_training_set(portfolio, as_of, snapshots=6)
    model = RiskModel(n_estimators=60, random_state=0, n_jobs=1).fit(training.X, training.y)
    X = build_features(portfolio, as_of)
    scores = pd.Series(model.predict_proba(X)[:, 1], index=X.index)
    customer = portfolio.invoices.set_index("invoice_id").loc[X.index, "customer_id"]
    customers = portfolio.customers.set_index("customer_id").loc[customer.to_numpy()]
    return scores, X, customers.set_axis(X.index)


def test_demo_portfolio_by_country(demo: tuple[pd.Series, pd.DataFrame, pd.DataFrame]) -> None:
    """Country is not a model feature: the check runs on the real features and scores."""
    scores, X, customers = demo
    report = fairness_report(scores, customers["country"], features=X)
    assert report.groups["group"].tolist() == ["AT", "DE", "GB"]
    assert int(report.groups["n"].sum()) == len(X)
    assert int(report.groups["flagged"].sum()) == int((scores >= 0.5).sum())
    assert set(report.proxies["feature"]) == set(X.columns)
    assert report.proxies["value"].dropna().is_monotonic_decreasing


def test_demo_portfolio_segment_is_a_feature_and_has_proxies(
    demo: tuple[pd.Series, pd.DataFrame, pd.DataFrame],
) -> None:
    """Segment is a model feature (refused); without it, industry still stands in for it."""
    scores, X, customers = demo
    with pytest.raises(DataError, match="'segment' is one of the features"):
        fairness_report(scores, customers["segment"], features=X)
    report = fairness_report(scores, customers["segment"], features=X.drop(columns="segment"))
    values = dict(zip(report.proxies["feature"], report.proxies["value"], strict=True))
    assert values["industry_outlook_isna"] == 1.0  # no industry outlook exactly for consumers
    assert values["industry"] > 0.95
    assert any("industry" in w for w in report.warnings)
