"""Attributions are exact TreeSHAP values; reasons are ranked, coded and worded."""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pandas as pd
import pytest
import shap

from dunning.errors import FeatureMismatchError, PolicyError
from explain import Explanations, explain, feature_groups, reason_table
from explain.reasons import (
    REASON_CODES,
    REASON_COLUMNS,
    format_reason,
    load_catalogue,
    placeholders,
    variants,
)
from scoring.features import FEATURES, FEATURES_BY_CODE
from scoring.risk import RiskModel


def _data(n: int = 500, seed: int = 1) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    share = rng.random(n)
    share[rng.random(n) < 0.25] = np.nan
    X = pd.DataFrame(
        {
            "days_overdue": rng.integers(1, 120, n),
            "late_12m_count": rng.integers(0, 6, n),
            "late_12m_share": share,
            "late_12m_share_isna": np.isnan(share).astype(np.int64),
            "segment": pd.Categorical(rng.choice(["B2B", "B2C"], n), categories=["B2B", "B2C"]),
            "custom_score": rng.normal(size=n),
        },
        index=pd.Index([f"R{i}" for i in range(n)], name="invoice_id"),
    )
    logit = X["days_overdue"] / 40 - 1.5 + 0.4 * X["late_12m_count"] + X["custom_score"]
    y = pd.Series((rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64), index=X.index)
    return X, y


@pytest.fixture(scope="module")
def fitted() -> tuple[RiskModel, pd.DataFrame]:
    X, y = _data()
    return RiskModel(n_estimators=60, min_child_samples=10, n_jobs=1).fit(X, y), X


def test_values_equal_shap_tree_explainer(fitted: tuple[RiskModel, pd.DataFrame]) -> None:
    """Contributions and base values equal shap.TreeExplainer on the same booster."""
    model, X = fitted
    ours = explain(model, X)
    theirs = shap.TreeExplainer(model.booster_)(X)
    assert np.abs(ours.values - theirs.values).max() <= 1e-6
    assert np.abs(ours.base_values - theirs.base_values).max() <= 1e-6


def test_values_equal_shap_own_tree_algorithm() -> None:
    """On numeric data, shap's own C++ TreeSHAP (interaction values, summed) agrees."""
    X, y = _data(300)
    X = X.drop(columns="segment")
    model = RiskModel(n_estimators=30, min_child_samples=10, n_jobs=1).fit(X, y)
    interactions = shap.TreeExplainer(model.booster_).shap_interaction_values(X)
    assert np.abs(explain(model, X).values - interactions.sum(axis=2)).max() <= 1e-6


def test_additivity_holds_for_every_row(fitted: tuple[RiskModel, pd.DataFrame]) -> None:
    """base value + sum of contributions = raw log-odds score, within 1e-6, row by row."""
    model, X = fitted
    exp = explain(model, X)
    assert exp.values.shape == (len(X), X.shape[1])
    assert exp.values.dtype == np.float64
    assert np.abs(exp.log_odds - model.decision_function(X)).max() <= 1e-6
    p = 1 / (1 + np.exp(-exp.log_odds))
    assert np.abs(p - model.predict_proba(X)[:, 1]).max() <= 1e-9
    assert exp.feature_names == tuple(X.columns)
    assert exp.data is X


def test_grouping_sums_technical_columns_into_their_feature(
    fitted: tuple[RiskModel, pd.DataFrame],
) -> None:
    """late_12m_* columns become one 'late_12m' feature; unknown columns stay themselves."""
    model, X = fitted
    exp = explain(model, X)
    grouped = exp.grouped()
    assert grouped.feature_names == (
        "days_overdue",
        "late_12m",
        "segment",
        "custom_score",
    )
    late = exp.values[:, 1:4].sum(axis=1)
    np.testing.assert_allclose(grouped.values[:, 1], late, rtol=0, atol=1e-12)
    np.testing.assert_allclose(grouped.log_odds, exp.log_odds, rtol=0, atol=1e-12)
    assert grouped.data["late_12m"].equals(X["late_12m_count"].rename("late_12m"))
    assert feature_groups(["history_isna", "x"]) == ["days_late", "x"]


def test_to_shap_gives_a_shap_explanation(fitted: tuple[RiskModel, pd.DataFrame]) -> None:
    """to_shap() carries the same numbers, categories as codes and the original values."""
    model, X = fitted
    exp = explain(model, X.head(5))
    s = exp.to_shap()
    assert isinstance(s, shap.Explanation)
    np.testing.assert_array_equal(s.values, exp.values)
    np.testing.assert_array_equal(s.base_values, exp.base_values)
    assert s.feature_names == list(X.columns)
    assert s.data[:, 4].tolist() == X["segment"].cat.codes.head(5).astype(float).tolist()
    assert s.display_data[:, 4].tolist() == X["segment"].head(5).tolist()


def test_model_fitted_on_an_array_is_explained_with_its_column_names() -> None:
    """Without a DataFrame, column names are the model's, and reasons fall back to them."""
    X, y = _data(200)
    array = X[["days_overdue", "custom_score"]].to_numpy(np.float64)
    model = RiskModel(n_estimators=10, min_child_samples=10, n_jobs=1).fit(array, y.to_numpy())
    exp = explain(model, array)
    assert exp.feature_names == ("x0", "x1")
    assert np.abs(exp.log_odds - model.decision_function(array)).max() <= 1e-6
    reasons = exp.reasons(k=1, lang="en")
    assert set(reasons["code"]) <= {"OTHER"}
    assert reasons["text"].str.fullmatch(r"x[01]: -?[\d,]+(\.\d+)?\.").all()


def test_data_that_does_not_fit_the_model_is_refused(
    fitted: tuple[RiskModel, pd.DataFrame],
) -> None:
    """explain checks the data like predict does."""
    model, X = fitted
    with pytest.raises(FeatureMismatchError, match="'segment'"):
        explain(model, X.assign(segment=X["segment"].astype("str")))


def _case() -> Explanations:
    index = pd.Index(["R1", "R2"], name="invoice_id")
    data = pd.DataFrame(
        {
            "days_overdue": [47, 1],
            "amount_vs_median": [4.2, 1.0],
            "late_12m_count": [3, 0],
            "late_12m_share": [0.5, np.nan],
            "late_12m_share_isna": [0, 1],
            "max_days_late": [12.0, np.nan],
            "history_isna": [0, 1],
            "industry": pd.Categorical(["F", None], categories=["C", "F"]),
            "segment": pd.Categorical(["B2B", "B2C"], categories=["B2B", "B2C"]),
            "my_flag": [1.0, 0.0],
        },
        index=index,
    )
    values = np.array(
        [
            [0.9, 0.7, 0.2, 0.2, 0.0, -0.3, 0.0, 0.05, -0.1, 0.3],
            [-0.2, 0.0, 0.1, 0.0, 0.3, 0.2, 0.1, 0.25, 0.0, -0.4],
        ]
    )
    return Explanations(
        values=values, base_values=np.array([-1.0, -1.0]), data=data, feature_names=tuple(data)
    )


def test_exact_german_reasons_for_a_hand_made_case() -> None:
    """Top 3 risk-raising groups per case, ranked, with their codes, values and German texts."""
    table = _case().reasons(k=3, lang="de")
    assert list(table.columns) == list(REASON_COLUMNS)
    assert table["invoice_id"].tolist() == ["R1", "R1", "R1", "R2", "R2"]
    assert table["rank"].tolist() == [1, 2, 3, 1, 2]
    assert table["code"].tolist() == [
        "DAYS_OVERDUE",
        "AMOUNT_UNUSUAL",
        "LATE_12M",
        "HISTORY_MISSING",
        "DATA_MISSING",
    ]
    assert table["feature"].tolist() == [
        "days_overdue",
        "amount_vs_median",
        "late_12m",
        "late_12m",
        "industry",
    ]
    assert table["value"].iloc[:4].tolist() == [47, 4.2, 3, 0]
    assert pd.isna(table["value"].iloc[4])
    np.testing.assert_allclose(table["contribution"], [0.9, 0.7, 0.4, 0.7, 0.25], atol=1e-12)
    assert table["text"].tolist() == [
        "Die Rechnung ist seit 47 Tagen überfällig.",
        "Der Rechnungsbetrag ist 4,2-mal so hoch wie Ihr üblicher Rechnungsbetrag.",
        "3 verspätete Zahlungen in den letzten 12 Monaten (50\xa0% der bezahlten Rechnungen).",
        "Zu Ihren Zahlungen liegt noch wenig Historie vor; die Einschätzung ist daher unsicher.",
        "Angabe fehlt: Branche; die Einschätzung ist daher unsicher.",
    ]


def test_exact_english_reasons_and_fallback_label() -> None:
    """English texts; a column outside the dictionary is named by its column name."""
    table = _case().reasons(k=4, lang="en")
    r1 = table.loc[table["invoice_id"] == "R1"]
    assert r1["code"].tolist() == ["DAYS_OVERDUE", "AMOUNT_UNUSUAL", "LATE_12M", "OTHER"]
    assert r1["text"].tolist() == [
        "The invoice is 47 days overdue.",
        "The invoice amount is 4.2 times your usual invoice amount.",
        "3 late payments in the last 12 months (50% of settled invoices).",
        "my_flag: 1.",
    ]


def test_ranks_follow_contributions_and_only_raising_reasons_count() -> None:
    """Within a case, rank 1 has the largest contribution; no reason has contribution <= 0."""
    X, y = _data(400, seed=5)
    model = RiskModel(n_estimators=40, min_child_samples=10, n_jobs=1).fit(X, y)
    table = explain(model, X).reasons(k=3, lang="de")
    assert (table["contribution"] > 0).all()
    assert table.groupby("invoice_id")["rank"].max().max() <= 3
    for _, case in table.groupby("invoice_id", sort=False):
        assert case["rank"].tolist() == list(range(1, len(case) + 1))
        assert case["contribution"].is_monotonic_decreasing
    assert not table.duplicated(["invoice_id", "code"]).any()
    assert set(table["code"]) <= set(REASON_CODES)


def test_reason_arguments_are_checked() -> None:
    """An unknown language or a k below 1 raises a PolicyError naming the field."""
    with pytest.raises(PolicyError, match="'fr'") as info:
        _case().reasons(lang="fr")  # type: ignore[arg-type]
    assert info.value.field == "lang"
    with pytest.raises(PolicyError, match="k of reason_table") as info:
        reason_table(_case(), k=0)
    assert info.value.field == "k"


SAMPLE = {
    **{spec.code: 3 for spec in FEATURES},
    "late_12m_share": 0.25,
    "amount_vs_median": 2.5,
    "open_exposure": 1234.5,
    "log_open_amount": float(np.log1p(99.9)),
    "industry_outlook": 97.3,
    "segment": "B2B",
    "industry": "F",
}


@pytest.mark.parametrize("lang", ["de", "en"])
def test_every_code_has_a_complete_text_in_every_catalogue(lang: str) -> None:
    """Each reason code has the same variants in both catalogues, all placeholders filled."""
    catalogue = load_catalogue(lang)
    other = load_catalogue("en" if lang == "de" else "de")
    assert set(catalogue["reasons"]) == set(REASON_CODES) == set(other["reasons"])
    known = {spec.code for spec in FEATURES} | {"value", "label", "open_amount"}
    for code in REASON_CODES:
        entry = catalogue["reasons"][code]
        texts = variants(entry)
        assert "text" in texts or "other" in texts, code
        assert set(texts) == set(variants(other["reasons"][code])), code
        assert "count" not in entry or entry["count"] in FEATURES_BY_CODE, code
        for variant, template in texts.items():
            assert placeholders(template) <= known, (code, variant)
            text = format_reason(code, SAMPLE, feature="industry", lang=lang, variant=variant)
            assert text.strip() and not re.search(r"[{}]", text), (code, variant, text)
            assert catalogue["missing"] not in text, (code, variant, text)


def test_format_reason_fills_values_for_the_language() -> None:
    """Plural variants by count, Babel number formats, category words from the catalogue."""
    assert format_reason("DAYS_OVERDUE", {"days_overdue": 1}) == (
        "Die Rechnung ist seit 1 Tag überfällig."
    )
    assert format_reason("LATE_12M", {"late_12m_count": 0, "late_12m_share": 0.0}) == (
        "Keine verspätete Zahlung in den letzten 12 Monaten."
    )
    assert format_reason("LATE_12M", {"late_12m_count": 1, "late_12m_share": 1 / 3}, lang="en") == (
        "1 late payment in the last 12 months (33% of settled invoices)."
    )
    assert format_reason("OPEN_AMOUNT", {"log_open_amount": float(np.log1p(1234.56))}) == (
        "Von dieser Rechnung sind noch 1.234,56 offen."
    )
    assert format_reason("SEGMENT", {"segment": "B2C"}, lang="de") == "Kundengruppe: Privatkunde."
    assert format_reason("INDUSTRY_OUTLOOK", {"industry_outlook": 83.0}, lang="en") == (
        "The business outlook for your industry stands at 83.0 (100 = neutral)."
    )
    with pytest.raises(PolicyError, match="unknown reason code 'NOPE'"):
        format_reason("NOPE", {})


def test_reasons_of_a_real_run_on_the_demo_portfolio() -> None:
    """Generated portfolio: train on snapshots, explain today's cases, word the reasons."""
    from dunning.datasets import make_portfolio
    from scoring.features import build_features
    from scoring.training import build_training_set

    as_of = date(2026, 11, 23)
    portfolio = make_portfolio(300, seed=3, as_of=as_of)
    training = build_training_set(portfolio, as_of, snapshots=6)
    model = RiskModel(n_estimators=60, random_state=0, n_jobs=1).fit(training.X, training.y)
    X = build_features(portfolio, as_of)
    exp = explain(model, X)
    assert np.abs(exp.log_odds - model.decision_function(X)).max() <= 1e-6
    table = exp.reasons(k=3, lang="de")
    assert set(table["invoice_id"]) <= set(X.index)
    assert set(table["code"]) <= set(REASON_CODES) - {"OTHER"}
    assert not table["text"].str.contains(r"[{}]|nan").any()


def test_customer_value_is_never_given_as_a_reason() -> None:
    """A large positive CLV contribution counts in the score but is never a stated reason."""
    data = pd.DataFrame(
        {"clv": [120.0], "days_overdue": [30], "clv_isna": [0]},
        index=pd.Index(["R1"], name="invoice_id"),
    )
    exp = Explanations(
        values=np.array([[2.0, 0.5, 0.1]]),
        base_values=np.array([-1.0]),
        data=data,
        feature_names=tuple(data.columns),
    )
    reasons = exp.reasons(k=3, lang="en")
    assert reasons["code"].tolist() == ["DAYS_OVERDUE"]
    assert "customer_value" in exp.grouped().feature_names
