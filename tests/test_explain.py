"""Attributions are exact TreeSHAP values; reasons are ranked, coded and worded."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
import shap

from dunning.errors import DataError, FeatureMismatchError, PolicyError
from dunning.models import Portfolio
from explain import Explanations, explain, feature_groups, reason_table
from explain.attributions import PROBABILITY_COLUMNS
from explain.reasons import (
    CATALOGUE_CODES,
    REASON_CODES,
    REASON_COLUMNS,
    SOURCES,
    STORY_COLUMNS,
    anomaly_reasons,
    decision_reasons,
    explain_cases,
    format_reason,
    load_catalogue,
    placeholders,
    probability_texts,
    variants,
)
from scoring.anomaly import ANOMALY_COLUMNS
from scoring.calibration import Calibrator, calibrator_from_dict
from scoring.features import FEATURES
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
    **dict.fromkeys(ANOMALY_COLUMNS, 2.5),
    "missing_share": 0.25,
    "review_reason": "NEW_RULE",
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
    """Each code has the same variants in both catalogues, all placeholders filled.

    Also the mitigating variants and the probability sentence.
    """
    catalogue = load_catalogue(lang)
    other = load_catalogue("en" if lang == "de" else "de")
    assert set(catalogue["reasons"]) == set(CATALOGUE_CODES) == set(other["reasons"])
    assert set(REASON_CODES) <= set(CATALOGUE_CODES)
    known = (
        {spec.code for spec in FEATURES}
        | {"value", "label", "open_amount", "missing_share", "review_reason"}
        | set(ANOMALY_COLUMNS)
    )
    for code in CATALOGUE_CODES:
        entry = catalogue["reasons"][code]
        for kind in ("adverse", "mitigating"):
            part = entry.get("mitigating", {}) if kind == "mitigating" else entry
            texts = variants(part)
            theirs = other["reasons"][code]
            theirs = theirs.get("mitigating", {}) if kind == "mitigating" else theirs
            assert set(texts) == set(variants(theirs)), (code, kind)
            if kind == "adverse":
                assert "text" in texts or "other" in texts, code
            count = part.get("count", entry.get("count"))
            assert count is None or count in known, code
            for variant, template in texts.items():
                assert placeholders(template) <= known, (code, variant)
                text = format_reason(
                    code, SAMPLE, feature="industry", lang=lang, variant=variant, kind=kind
                )
                assert text.strip() and not re.search(r"[{}]", text), (code, variant, text)
                assert catalogue["missing"] not in text, (code, variant, text)
    sentence = catalogue["probability"]
    assert set(sentence) == set(other["probability"]) == {"calibrated", "uncalibrated", "odds"}
    assert placeholders(sentence["calibrated"]) == {
        "probability",
        "base_log_odds",
        "model_base_probability",
        "contribution_sum",
        "log_odds",
        "model_probability",
    }


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


@dataclass(frozen=True)
class RealRun:
    """A small demo run: a calibrated model, today's features, anomalies and decisions."""

    model: RiskModel
    features: pd.DataFrame
    anomalies: pd.DataFrame
    decisions: pd.DataFrame


@pytest.fixture(scope="module")
def real_run() -> RealRun:
    from dunning.datasets import make_portfolio
    from dunning.policy import Policy
    from dunning.workflow import Scores, propose
    from scoring.anomaly import anomaly_flags
    from scoring.features import build_features
    from scoring.training import build_training_set

    as_of = date(2026, 11, 23)
    portfolio = make_portfolio(300, seed=3, as_of=as_of)
    training = build_training_set(portfolio, as_of, snapshots=6)
    model = RiskModel(n_estimators=60, random_state=0, n_jobs=1).fit(training.X, training.y)
    model.calibrate(training.X, training.y, method="platt")
    X = build_features(portfolio, as_of)
    anomalies = anomaly_flags(portfolio, as_of, features=X)
    risk = pd.Series(model.predict_proba(X)[:, 1], index=X.index)
    scores = Scores(risk=risk, features=X, anomalies=anomalies["flags"])
    proposal = propose(portfolio, scores, Policy.default("DE"), as_of)
    return RealRun(model, X, anomalies, proposal.decisions)


def test_reasons_of_a_real_run_on_the_demo_portfolio(real_run: RealRun) -> None:
    """Generated portfolio: train on snapshots, explain today's cases, word the reasons."""
    model, X = real_run.model, real_run.features
    exp = explain(model, X)
    assert np.abs(exp.log_odds - model.decision_function(X)).max() <= 1e-6
    table = exp.reasons(k=3, lang="de")
    assert set(table["invoice_id"]) <= set(X.index)
    assert set(table["code"]) <= set(REASON_CODES) - {"OTHER"}
    assert not table["text"].str.contains(r"[{}]|nan|unbekannt").any()
    assert (exp.reasons(lang="de").groupby("invoice_id")["rank"].max() <= 4).all()
    assert exp.reasons(lang="de")["rank"].max() == 4


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


# --------------------------------------------------------------------------- probabilities


def _platt(a: float, b: float) -> Calibrator:
    return calibrator_from_dict({"method": "platt", "a": a, "b": b, "n_samples": 100})


def _expit(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def test_probabilities_state_every_step_from_log_odds_to_the_probability_shown() -> None:
    """Base value and log-odds, through expit (model) and through the calibrator (shown)."""
    data = pd.DataFrame({"days_overdue": [47], "late_12m_count": [0]}, index=["R1"])
    exp = Explanations(
        values=np.array([[0.9, -0.4]]),
        base_values=np.array([-1.0]),
        data=data,
        feature_names=tuple(data),
        calibrator=_platt(2.0, 0.5),
    )
    assert exp.calibration == "platt"
    p = exp.probabilities()
    assert list(p.columns) == list(PROBABILITY_COLUMNS)
    assert p.index.tolist() == ["R1"]
    row = p.iloc[0]
    assert row["base_log_odds"] == -1.0
    assert row["log_odds"] == pytest.approx(-0.5, abs=1e-15)
    assert row["model_base_probability"] == pytest.approx(0.2689414213699951, abs=1e-15)
    assert row["model_probability"] == pytest.approx(0.3775406687981454, abs=1e-15)
    # shown: expit(2 s + 0.5): s = -1 gives expit(-1.5), s = -0.5 gives expit(-0.5)
    assert row["base_probability"] == pytest.approx(0.18242552380635635, abs=1e-15)
    assert row["probability"] == pytest.approx(0.3775406687981454, abs=1e-15)
    reasons = exp.reasons(lang="en")
    assert reasons["code"].tolist() == ["DAYS_OVERDUE"]
    assert reasons["odds_factor"].iloc[0] == pytest.approx(math.exp(0.9), rel=1e-15)
    # without the +0.9: s = -1.4, shown expit(-2.3)
    assert reasons["probability_change"].iloc[0] == pytest.approx(
        _expit(-0.5) - _expit(-2.3), abs=1e-15
    )
    mitigating = exp.mitigating(lang="en")
    assert mitigating["code"].tolist() == ["LATE_12M"]
    assert mitigating["odds_factor"].iloc[0] == pytest.approx(math.exp(-0.4), rel=1e-15)
    # without the -0.4: s = -0.1, shown expit(0.3); the change is negative
    assert mitigating["probability_change"].iloc[0] == pytest.approx(
        _expit(-0.5) - _expit(0.3), abs=1e-15
    )
    uncalibrated = Explanations(
        values=exp.values, base_values=exp.base_values, data=data, feature_names=tuple(data)
    )
    assert uncalibrated.calibration is None
    plain = uncalibrated.probabilities().iloc[0]
    assert plain["probability"] == plain["model_probability"] == pytest.approx(_expit(-0.5))
    assert plain["base_probability"] == plain["model_base_probability"]


def test_probability_sentence_says_what_is_shown_and_that_log_odds_are_not_points() -> None:
    """The sentence names the calibrated value, the log-odds steps and the odds factor."""
    data = pd.DataFrame({"days_overdue": [47, 3]}, index=["R1", "R2"])
    values = np.array([[0.9], [-0.4]])
    calibrated = Explanations(
        values=values,
        base_values=np.array([-1.0, -1.0]),
        data=data,
        feature_names=("days_overdue",),
        calibrator=_platt(2.0, 0.5),
    )
    de = probability_texts(calibrated, lang="de")
    assert de.index.tolist() == ["R1", "R2"]
    # R1: s = -0.1 → expit(-0.1) = 47.5 %, shown expit(0.3) = 57.4 %; base -1 → 26.9 %
    assert de.iloc[0] == (
        "Der Wert 57,4\xa0% ist die kalibrierte Wahrscheinlichkeit, dass die Rechnung "
        "unbezahlt bleibt. Das Modell rechnet in Log-Odds: Ausgangswert -1,00 (26,9\xa0%), "
        "Beiträge der Merkmale zusammen +0,90, ergibt -0,10 (47,5\xa0%); die Kalibrierung "
        "ordnet dem 57,4\xa0% zu. Beiträge sind Log-Odds, keine Prozentpunkte: ×2,0 heißt, "
        "die Chance (Odds), dass die Rechnung unbezahlt bleibt, verdoppelt sich; ×0,5 heißt, "
        "sie halbiert sich."
    )
    plain = Explanations(
        values=values,
        base_values=np.array([-1.0, -1.0]),
        data=data,
        feature_names=("days_overdue",),
    )
    # R2: s = -1.4 → 19.8 %
    assert probability_texts(plain, lang="en").iloc[1] == (
        "The 19.8% shown is the model's probability that the invoice stays unpaid. The model "
        "works in log-odds: base value -1.00 (26.9%), contributions of the features together "
        "-0.40, giving -1.40 (19.8%). Contributions are log-odds, not percentage points: ×2.0 "
        "means twice the odds of non-payment, ×0.5 half the odds."
    )


def test_explain_keeps_the_calibrator_so_probabilities_equal_predict_proba(
    real_run: RealRun,
) -> None:
    """probability = predict_proba, model_probability = expit(decision_function)."""
    model, X = real_run.model, real_run.features
    exp = explain(model, X)
    assert exp.calibrator is model.calibrator_
    assert exp.calibration == "platt"
    p = exp.probabilities()
    assert np.abs(p["probability"] - model.predict_proba(X)[:, 1]).max() <= 1e-9
    raw = model.decision_function(X)
    assert np.abs(p["model_probability"] - 1 / (1 + np.exp(-raw))).max() <= 1e-9
    assert p["base_log_odds"].nunique() == 1
    assert exp.grouped().calibrator is model.calibrator_
    reasons = exp.reasons(lang="de")
    log_odds = pd.Series(exp.log_odds, index=X.index).loc[reasons["invoice_id"]].to_numpy()
    without = model.calibrator_.predict(log_odds - reasons["contribution"].to_numpy())
    expected = model.calibrator_.predict(log_odds) - without
    np.testing.assert_allclose(reasons["probability_change"], expected, rtol=0, atol=1e-12)
    assert (reasons["probability_change"] > 0).all()
    np.testing.assert_allclose(reasons["odds_factor"], np.exp(reasons["contribution"]))


# --------------------------------------------------------------------------- reasons


def test_reasons_default_to_four_with_odds_factor_and_probability_change() -> None:
    """Four reasons unless told otherwise (adverse-action practice)."""
    table = _case().reasons(lang="en")
    r1 = table.loc[table["invoice_id"] == "R1"]
    assert r1["code"].tolist() == ["DAYS_OVERDUE", "AMOUNT_UNUSUAL", "LATE_12M", "OTHER"]
    np.testing.assert_allclose(r1["odds_factor"], np.exp([0.9, 0.7, 0.4, 0.3]), rtol=1e-15)
    # uncalibrated: log-odds of R1 = -1 + 1.95 = 0.95; expit(0.95) - expit(0.95 - c)
    expected = [_expit(0.95) - _expit(0.95 - c) for c in (0.9, 0.7, 0.4, 0.3)]
    np.testing.assert_allclose(r1["probability_change"], expected, rtol=0, atol=1e-12)


def _mixed() -> Explanations:
    index = pd.Index(["R1", "R2"], name="invoice_id")
    data = pd.DataFrame(
        {
            "days_overdue": [5, 30],
            "late_12m_count": [0, 2],
            "late_12m_share": [0.0, 0.4],
            "late_12m_share_isna": [0, 0],
            "tenure_days": [2000, 40],
            "clv": [9000.0, np.nan],
            "clv_isna": [0, 1],
            "industry": pd.Categorical(["F", None], categories=["C", "F"]),
            "disputed": [0.0, 1.0],
        },
        index=index,
    )
    values = np.array(
        [
            [-0.6, -0.3, -0.2, 0.0, -0.4, -1.5, 0.0, 0.1, -0.05],
            [0.4, 0.2, 0.1, 0.0, -0.2, 0.0, -0.3, -0.7, 0.5],
        ]
    )
    return Explanations(
        values=values, base_values=np.array([-1.0, -1.0]), data=data, feature_names=tuple(data)
    )


def test_mitigating_factors_are_ranked_and_worded_in_their_favour() -> None:
    """Most negative groups first; customer value and missing inputs are never given."""
    exp = _mixed()
    table = exp.mitigating(k=4, lang="de")
    assert list(table.columns) == list(REASON_COLUMNS)
    assert table["invoice_id"].tolist() == ["R1", "R1", "R1", "R1", "R2"]
    assert table["rank"].tolist() == [1, 2, 3, 4, 1]
    assert table["code"].tolist() == ["DAYS_OVERDUE", "LATE_12M", "TENURE", "DISPUTE", "TENURE"]
    np.testing.assert_allclose(table["contribution"], [-0.6, -0.5, -0.4, -0.05, -0.2], atol=1e-12)
    assert (table["odds_factor"] < 1).all() and (table["probability_change"] < 0).all()
    assert table["text"].tolist() == [
        "Die Rechnung ist erst seit 5 Tagen überfällig.",
        "Keine verspätete Zahlung in den letzten 12 Monaten.",
        "Die Geschäftsbeziehung besteht bereits seit 2.000 Tagen.",
        "Für diese Rechnung ist kein Widerspruch vermerkt.",
        "Die Geschäftsbeziehung besteht bereits seit 40 Tagen.",
    ]
    assert exp.mitigating(lang="en")["text"].tolist() == [
        "The invoice is only 5 days overdue.",
        "No late payment in the last 12 months.",
        "The business relationship has already lasted 40 days.",
    ]
    adverse = exp.reasons(lang="de")
    assert adverse["code"].tolist() == ["INDUSTRY", "DISPUTE", "DAYS_OVERDUE", "LATE_12M"]
    assert adverse["text"].iloc[-1] == (
        "2 verspätete Zahlungen in den letzten 12 Monaten (40\xa0% der bezahlten Rechnungen)."
    )
    assert "customer_value" not in set(table["feature"]) | set(adverse["feature"])


def test_mitigating_factors_of_a_real_run(real_run: RealRun) -> None:
    """Negative, ranked, at most k, never silent, never about a missing input."""
    exp = explain(real_run.model, real_run.features)
    table = exp.mitigating(k=3, lang="en")
    assert len(table) > 0
    assert (table["contribution"] < 0).all()
    for _, case in table.groupby("invoice_id", sort=False):
        assert case["rank"].tolist() == list(range(1, len(case) + 1))
        assert case["contribution"].is_monotonic_increasing
    assert not set(table["code"]) & {"HISTORY_MISSING", "DATA_MISSING", "OTHER"}
    assert "customer_value" not in set(table["feature"])
    assert not table["text"].str.contains(r"[{}]|nan|unknown").any()


def test_vectorised_texts_equal_one_at_a_time(real_run: RealRun) -> None:
    """Each text of a batch equals format_reason on that row's values alone."""
    X = real_run.features
    exp = explain(real_run.model, X)
    for kind in ("adverse", "mitigating"):
        table = exp.reasons(lang="de", kind=kind)
        sample = table.iloc[:: max(1, len(table) // 60)]
        for row in sample.itertuples():
            values = X.loc[row.invoice_id].to_dict()
            expected = format_reason(row.code, values, feature=row.feature, lang="de", kind=kind)
            assert row.text == expected, (row.invoice_id, row.code)


def test_reason_arguments_of_the_new_functions_are_checked() -> None:
    """Unknown kind, negative k_mitigating, a share above 1, duplicate invoice ids."""
    with pytest.raises(PolicyError, match="kind of reason_table") as info:
        reason_table(_case(), kind="both")  # type: ignore[arg-type]
    assert info.value.field == "kind"
    with pytest.raises(PolicyError, match="k_mitigating") as info:
        explain_cases(_case(), k_mitigating=-1)
    assert info.value.field == "k_mitigating"
    with pytest.raises(PolicyError, match="max_missing_share") as info:
        anomaly_reasons(max_missing_share=1.5)
    assert info.value.field == "max_missing_share"
    twice = _case()
    twice = Explanations(
        values=twice.values,
        base_values=twice.base_values,
        data=twice.data.set_axis(["R1", "R1"]),
        feature_names=twice.feature_names,
    )
    with pytest.raises(DataError, match=r"explanations: invoice ids \['R1'\]"):
        explain_cases(twice)


def test_select_takes_rows_by_mask_or_invoice_id() -> None:
    """A subset keeps values, base values, data and calibrator; unknown ids are refused."""
    exp = _mixed()
    exp = Explanations(
        values=exp.values,
        base_values=exp.base_values,
        data=exp.data,
        feature_names=exp.feature_names,
        calibrator=_platt(1.0, 0.0),
    )
    picked = exp.select(["R2"])
    np.testing.assert_array_equal(picked.values, exp.values[[1]])
    assert picked.data.index.tolist() == ["R2"]
    assert picked.calibrator is exp.calibrator
    assert exp.select(np.array([True, False])).data.index.tolist() == ["R1"]
    with pytest.raises(DataError, match=r"rows \['R9'\] are not explained"):
        exp.select(["R9"])
    with pytest.raises(DataError, match="one bool per row"):
        exp.select(np.array([True]))


# --------------------------------------------------------------------------- anomalies


def _anomaly_portfolio() -> tuple[Portfolio, date]:
    """The anomaly docs' customer: five invoices of about 100.00, then one of 1000.00."""
    amounts = ["100.00", "110.00", "90.00", "105.00", "95.00", "1000.00"]
    issued = pd.to_datetime(
        ["2026-03-01", "2026-04-01", "2026-05-01", "2026-06-01", "2026-07-01", "2026-09-01"]
    )
    invoices = pd.DataFrame(
        {
            "invoice_id": [f"R{i}" for i in range(6)],
            "customer_id": ["K1"] * 6,
            "issue_date": issued,
            "due_date": issued + pd.Timedelta(days=14),
            "amount": [Decimal(a) for a in amounts],
            "currency": ["EUR"] * 6,
        }
    )
    customers = pd.DataFrame(
        {
            "customer_id": ["K1"],
            "name": ["Erika Muster"],
            "country": ["DE"],
            "language": ["de"],
            "segment": ["B2C"],
            "email": ["erika@example.org"],
        }
    )
    empty = Portfolio.empty()
    return Portfolio(customers, invoices, empty.payments, empty.history), date(2026, 11, 1)


def test_anomaly_flags_and_data_gaps_become_reasons_with_their_values() -> None:
    """anomaly_flags of a real portfolio: the amount anomaly and each data gap, worded."""
    from scoring.anomaly import anomaly_flags
    from scoring.features import build_features

    portfolio, as_of = _anomaly_portfolio()
    X = build_features(portfolio, as_of)
    flags = anomaly_flags(portfolio, as_of, features=X)
    assert flags.loc["R5", "flags"] == "AMOUNT_UNUSUAL|DATA_MISSING"
    table = anomaly_reasons(flags, data=X, lang="de", missing_share=pd.Series({"R5": 0.25}))
    assert list(table.columns) == list(STORY_COLUMNS)
    r5 = table.loc[table["invoice_id"] == "R5"]
    assert r5["source"].tolist() == ["anomaly", "data_quality", "data_quality", "data_quality"]
    assert r5["rank"].tolist() == [1, 1, 2, 3]
    assert r5["code"].tolist() == [
        "ANOMALY_AMOUNT_UNUSUAL",
        "DATA_GAP_SETTLED_HISTORY",
        "DATA_GAP_IBAN",
        "DATA_GAP",
    ]
    assert r5["feature"].tolist() == ["amount_unusual", "settled_history", "iban", "missing_share"]
    assert r5["value"].iloc[0] == flags.loc["R5", "amount_unusual_strength"]
    assert r5["value"].iloc[3] == 0.25
    assert r5["contribution"].isna().all()
    # 1000.00 against the median 102.50 of the six invoices issued so far: 9.76
    assert X.loc["R5", "amount_vs_median"] == pytest.approx(1000 / 102.5)
    assert r5["text"].tolist() == [
        "Ungewöhnlicher Rechnungsbetrag: 9,8-mal so hoch wie Ihr üblicher Rechnungsbetrag "
        "(robuster z-Wert 30,3).",
        "Noch keine bezahlte Rechnung: Die Zahlungshistorie fehlt; die Einschätzung ist daher "
        "unsicher.",
        "Keine IBAN hinterlegt.",
        "25\xa0% der Merkmale fehlen; die Einschätzung ist daher unsicher.",
    ]
    # The other invoices have the same data gaps and no anomaly; R0 also too short a history.
    assert table.loc[table["invoice_id"] == "R0", "code"].tolist() == [
        "DATA_GAP_SETTLED_HISTORY",
        "DATA_GAP_AMOUNT_HISTORY",
        "DATA_GAP_IBAN",
    ]
    assert table["invoice_id"].unique().tolist() == flags.index.tolist()
    without_features = anomaly_reasons(flags.loc[["R5"]], lang="en")
    assert without_features["text"].iloc[0] == (
        "Unusual invoice amount compared with your earlier invoices (robust z-score 30.3)."
    )


def test_anomaly_codes_alone_and_bad_input() -> None:
    """With the flag text alone DATA_MISSING is one reason; unknown codes are refused."""
    flags = pd.Series(
        ["BEHAVIOUR_CHANGE|DATA_MISSING", "", "FREQUENCY_UNUSUAL"],
        index=pd.Index(["A", "B", "C"], name="invoice_id"),
    )
    table = anomaly_reasons(flags, lang="en")
    assert table[["invoice_id", "source", "code"]].to_dict("list") == {
        "invoice_id": ["A", "A", "C"],
        "source": ["anomaly", "data_quality", "anomaly"],
        "code": ["ANOMALY_BEHAVIOUR_CHANGE", "ANOMALY_DATA_MISSING", "ANOMALY_FREQUENCY_UNUSUAL"],
    }
    assert table["text"].tolist() == [
        "Changed payment behaviour: you used to pay reliably but are now later than usual.",
        "Important information is missing; the assessment is therefore less certain.",
        "Unusually many new invoices: unknown recently, where about unknown would be usual "
        "for the same period.",
    ]
    frame = pd.DataFrame(
        {
            "behaviour_change_strength": [21.0],
            "frequency_recent": [5],
            "frequency_expected": [0.84],
            "flags": ["BEHAVIOUR_CHANGE|FREQUENCY_UNUSUAL"],
        },
        index=["A"],
    )
    assert anomaly_reasons(frame, lang="de")["text"].tolist() == [
        "Geändertes Zahlungsverhalten: Sie haben bisher zuverlässig gezahlt, sind jetzt aber "
        "21 Tage später als üblich.",
        "Ungewöhnlich viele neue Rechnungen: kürzlich 5, üblich wären im selben Zeitraum etwa 0,8.",
    ]
    assert anomaly_reasons(None).empty
    assert list(anomaly_reasons(pd.Series([""], index=["A"])).columns) == list(STORY_COLUMNS)
    with pytest.raises(DataError, match=r"unknown flag codes \['NOPE'\]"):
        anomaly_reasons(pd.Series(["NOPE"], index=["A"]))
    with pytest.raises(DataError, match="no 'flags' column"):
        anomaly_reasons(pd.DataFrame({"x": [1]}, index=["A"]))


# --------------------------------------------------------------------------- decisions


def test_decision_reasons_split_the_rule_trace_and_word_review_codes() -> None:
    """One reason per trace part, coded from the English trace; review codes worded."""
    decisions = pd.DataFrame(
        {
            "invoice_id": ["R1", "R2", "R3"],
            "level": [3, 0, 2],
            "offer": ["installments", "none", "none"],
            "tone": ["neutral", "", "firm"],
            "channel": ["letter", "", "email"],
            "rule_trace": [
                "level 3: 37 days overdue (from 30); installment plan offered: medium risk; "
                "expected value: installment plan €1,873.35; tone neutral: level 3; "
                "channel letter: cheapest usable of letter",
                "no letter: disputed",
                "level 2: 20 days overdue; no offer: high risk",
            ],
            "rule_trace_de": [
                "Stufe 3: 37 Tage überfällig (ab 30); Ratenzahlung angeboten: Risiko mittel; "
                "Erwartungswert: Ratenzahlung 1.873,35 €; Ton neutral: Stufe 3; "
                "Kanal Brief: günstigster nutzbarer unter Brief",
                "kein Schreiben: bestritten",
                "Stufe 2: 20 Tage überfällig",
            ],
            "needs_review": [False, True, True],
            "review_reason": ["", "DISPUTE", "HIGH_EXPOSURE|NEW_RULE"],
        }
    )
    table = decision_reasons(decisions, lang="de")
    assert list(table.columns) == list(STORY_COLUMNS)
    assert (table["source"] == "decision").all()
    assert table["invoice_id"].tolist() == ["R1"] * 5 + ["R2"] * 2 + ["R3"] * 3
    assert table["rank"].tolist() == [1, 2, 3, 4, 5, 1, 2, 1, 2, 3]
    assert table["code"].tolist() == [
        "DECISION_LEVEL",
        "DECISION_OFFER",
        "DECISION_OFFER",
        "DECISION_TONE",
        "DECISION_CHANNEL",
        "DECISION_LEVEL",
        "REVIEW_DISPUTE",
        # R3's German trace has fewer parts than the English one: not coded
        "DECISION_RULE",
        "REVIEW_HIGH_EXPOSURE",
        "REVIEW_OTHER",
    ]
    assert table["value"].fillna("-").tolist() == [
        3,
        "installments",
        "installments",
        "neutral",
        "letter",
        0,
        "DISPUTE",
        "-",
        "HIGH_EXPOSURE",
        "NEW_RULE",
    ]
    assert table["text"].tolist()[5:] == [
        "kein Schreiben: bestritten",
        "Zur Prüfung: Eine Rechnung ist bestritten.",
        "Stufe 2: 20 Tage überfällig",
        "Zur Prüfung: Die offene Forderung erreicht die Betragsgrenze für eine Prüfung.",
        "Zur Prüfung: NEW_RULE.",
    ]
    r1 = table.loc[table["invoice_id"] == "R1", "text"]
    assert "; ".join(r1) == decisions.loc[0, "rule_trace_de"]
    english = decision_reasons(decisions, lang="en")
    assert english.loc[english["invoice_id"] == "R3", "code"].tolist() == [
        "DECISION_LEVEL",
        "DECISION_OFFER",
        "REVIEW_HIGH_EXPOSURE",
        "REVIEW_OTHER",
    ]
    with pytest.raises(DataError, match=r"no \['rule_trace_de'\] column"):
        decision_reasons(decisions.drop(columns="rule_trace_de"), lang="de")


# --------------------------------------------------------------------------- the story


def test_explain_cases_tells_the_whole_story_of_a_real_run(real_run: RealRun) -> None:
    """Score, decision, model, mitigating, anomaly and data-quality rows, in that order."""
    X, decisions = real_run.features, real_run.decisions
    cases = decisions.loc[decisions["level"] > 0, "invoice_id"]
    exp = explain(real_run.model, X).select(cases.to_numpy())
    story = explain_cases(exp, decisions=decisions, anomalies=real_run.anomalies, lang="de")
    assert list(story.columns) == list(STORY_COLUMNS)
    assert story["invoice_id"].unique().tolist() == cases.tolist()
    assert set(story["source"]) <= set(SOURCES)
    position = {s: i for i, s in enumerate(SOURCES)}
    for _, rows in story.groupby("invoice_id", sort=False):
        order = rows["source"].map(position)
        assert order.is_monotonic_increasing
        assert (rows["source"] == "score").sum() == 1
        for _, part in rows.groupby("source", sort=False):
            assert part["rank"].tolist() == list(range(1, len(part) + 1))
    score = story.loc[story["source"] == "score"].set_index("invoice_id")
    np.testing.assert_allclose(
        score["value"].astype(float), real_run.model.predict_proba(X.loc[cases])[:, 1], atol=1e-9
    )
    model = story.loc[story["source"] == "model"].reset_index(drop=True)
    expected = exp.reasons(k=4, lang="de")
    assert model["code"].tolist() == expected["code"].tolist()
    assert model["text"].tolist() == expected["text"].tolist()
    trace = story.loc[story["source"] == "decision"]
    trace = trace.loc[~trace["code"].str.startswith("REVIEW_")]
    joined = trace.groupby("invoice_id", sort=False)["text"].agg("; ".join)
    by_id = decisions.set_index("invoice_id")
    assert joined.to_dict() == by_id.loc[cases, "rule_trace_de"].to_dict()
    reviewed = story.loc[story["code"].str.startswith("REVIEW_")]
    assert set(reviewed["invoice_id"]) == set(
        cases[by_id.loc[cases, "review_reason"].ne("").to_numpy()]
    )
    flagged = real_run.anomalies.loc[cases, "flags"].str.contains("AMOUNT_UNUSUAL")
    anomaly = story.loc[story["code"] == "ANOMALY_AMOUNT_UNUSUAL", "invoice_id"]
    assert set(anomaly) == set(flagged[flagged].index)
    # A gap the model already gives is not repeated.
    stated = story.loc[story["code"] == "HISTORY_MISSING", "invoice_id"]
    assert len(stated) > 0
    repeated = story.loc[story["code"] == "DATA_GAP_SETTLED_HISTORY", "invoice_id"]
    assert not set(stated) & set(repeated)
    assert not story["text"].str.contains(r"[{}]|nan").any()


def test_explain_cases_exact_story_of_a_hand_made_case() -> None:
    """Every source for one invoice; a data gap the model states is given once."""
    index = pd.Index(["R1"], name="invoice_id")
    data = pd.DataFrame(
        {
            "days_overdue": [47],
            "late_12m_count": [0],
            "late_12m_share": [np.nan],
            "late_12m_share_isna": [1],
            "tenure_days": [400],
        },
        index=index,
    )
    exp = Explanations(
        values=np.array([[0.8, 0.3, 0.0, 0.2, -0.25]]),
        base_values=np.array([-1.0]),
        data=data,
        feature_names=tuple(data),
    )
    decisions = pd.DataFrame(
        {
            "invoice_id": ["R1", "R9"],
            "level": [2, 1],
            "rule_trace": ["level 2: 47 days overdue (from 30)", "level 1: 9 days overdue"],
            "review_reason": ["DATA_GAP", ""],
        }
    )
    anomalies = pd.DataFrame(
        {
            "amount_unusual_strength": [np.nan, 1.0],
            "flags": ["DATA_MISSING", "DATA_MISSING"],
            "missing_fields": ["settled_history|contact", "iban"],
        },
        index=["R1", "R9"],
    )
    story = explain_cases(
        exp, decisions=decisions, anomalies=anomalies, max_missing_share=0.1, lang="en"
    )
    assert story[["source", "rank", "code"]].to_dict("list") == {
        "source": [
            "score",
            "decision",
            "decision",
            "model",
            "model",
            "mitigating",
            "data_quality",
            "data_quality",
        ],
        "rank": [1, 1, 2, 1, 2, 1, 1, 2],
        "code": [
            "PROBABILITY",
            "DECISION_LEVEL",
            "REVIEW_DATA_GAP",
            "DAYS_OVERDUE",
            "HISTORY_MISSING",
            "TENURE",
            "DATA_GAP_CONTACT",
            "DATA_GAP",
        ],
    }
    assert (story["invoice_id"] == "R1").all()
    assert story["text"].tolist()[1:] == [
        "level 2: 47 days overdue (from 30)",
        "For review: too much information is missing for an invoice of the case.",
        "The invoice is 47 days overdue.",
        "There is little payment history so far; the assessment is therefore less certain.",
        "The business relationship has already lasted 400 days.",
        "Neither an e-mail address nor a complete postal address is on file.",
        # one of the five columns is missing (late_12m_share): 20 % > 0.1
        "20% of the features are missing; the assessment is therefore less certain.",
    ]
    assert story["value"].iloc[0] == pytest.approx(_expit(0.05))
    assert story["contribution"].iloc[0] == pytest.approx(1.05)
    np.testing.assert_allclose(story["contribution"].iloc[3:6], [0.8, 0.5, -0.25], atol=1e-12)
    quiet = explain_cases(exp, max_missing_share=0.2, k=1, k_mitigating=0, lang="de")
    assert quiet["code"].tolist() == ["PROBABILITY", "DAYS_OVERDUE"]
