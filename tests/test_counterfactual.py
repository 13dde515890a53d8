"""Counterfactuals: the smallest actionable change below the threshold, checked by the model."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest

from dunning.errors import DataError, PolicyError
from explain.counterfactual import (
    ACTION_CODES,
    CHANGEABLE_COLUMNS,
    COUNTERFACTUAL_COLUMNS,
    PART_SHARES,
    counterfactuals,
)
from scoring.features import FEATURES, FEATURES_BY_CODE
from scoring.risk import RiskModel

INDUSTRIES = ["C", "F", "G"]


@pytest.fixture(scope="module")
def model() -> RiskModel:
    """Risk when two of three hold: open exposure > 1,000, >= 2 broken promises, industry F.

    Monotone in the actionable columns, so paying or keeping promises never raises the
    risk; days overdue and the industry are immutable.
    """
    n = 6000
    rng = np.random.default_rng(0)
    exposure = rng.uniform(0, 4000, n).round(2)
    own = np.minimum(rng.uniform(10, 1500, n), exposure).round(2)
    X = pd.DataFrame(
        {
            "days_overdue": rng.integers(1, 120, n),
            "log_open_amount": np.log1p(own),
            "open_exposure": exposure,
            "open_invoices": rng.integers(1, 7, n),
            "broken_promises_12m": rng.integers(0, 5, n),
            "kept_promises_12m": rng.integers(0, 4, n),
            "industry": pd.Categorical(rng.choice(INDUSTRIES, n), categories=INDUSTRIES),
        }
    )
    score = (
        (X["open_exposure"] > 1000).astype(int)
        + (X["broken_promises_12m"] >= 2)
        + (X["industry"] == "F")
    )
    y = (score >= 2).astype(int)
    monotone = {"log_open_amount": 1, "open_exposure": 1, "open_invoices": 1}
    monotone["broken_promises_12m"] = 1
    return RiskModel(n_estimators=40, learning_rate=0.03, monotone=monotone, n_jobs=1).fit(X, y)


# invoice: (customer, industry, own open amount, other open invoices (id, amount, due date)
# oldest first, broken promises, kept promises)
CASES: dict[str, tuple[str, str, int, list[tuple[str, int, str]], int, int]] = {
    # exposure 1,900: paying the largest other invoice (1,000) is the cheapest way to <= 1,000
    "RA": ("K1", "F", 400, [("A1", 200, "2026-01-10"), ("A2", 300, "2026-02-10"),
                            ("A3", 1000, "2026-03-10")], 0, 0),
    # two broken promises in industry C with exposure 1,500: keeping one is enough
    "RB": ("K2", "C", 500, [("B1", 1000, "2026-01-10")], 2, 1),
    # all three reasons: both a payment and kept promises are needed
    "RC": ("K3", "F", 400, [("C1", 200, "2026-01-10"), ("C2", 300, "2026-02-10"),
                            ("C3", 1000, "2026-03-10")], 3, 0),
    # not flagged
    "RD": ("K4", "C", 300, [], 0, 0),
    # exposure 2,340: the two oldest (500 + 1,200) beat the two largest (1,200 + 600)
    "RE": ("K5", "F", 40, [("E1", 500, "2026-01-10"), ("E2", 1200, "2026-02-10"),
                           ("E3", 600, "2026-03-10")], 0, 0),
    # one invoice of 1,500: half of it paid brings the exposure to 750
    "RF": ("K6", "F", 1500, [], 0, 0),
}  # fmt: skip


def _cases() -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, items = [], []
    for invoice, (customer, industry, own, others, broken, kept) in CASES.items():
        rows.append(
            {
                "invoice_id": invoice,
                "days_overdue": 30,
                "log_open_amount": float(np.log1p(own)),
                "open_exposure": float(own + sum(amount for _, amount, _ in others)),
                "open_invoices": 1 + len(others),
                "broken_promises_12m": broken,
                "kept_promises_12m": kept,
                "industry": industry,
            }
        )
        for item, amount, due in [(invoice, own, "2026-04-01"), *others]:
            items.append(
                {
                    "invoice_id": item,
                    "customer_id": customer,
                    "issue_date": pd.Timestamp(due) - pd.Timedelta(days=14),
                    "due_date": pd.Timestamp(due),
                    "currency": "EUR",
                    "open_minor": amount * 100,
                }
            )
    X = pd.DataFrame(rows).set_index("invoice_id")
    X["industry"] = pd.Categorical(X["industry"], categories=INDUSTRIES)
    return X, pd.DataFrame(items)


def _risk(model: RiskModel, X: pd.DataFrame, invoice: str, **changes: Any) -> float:
    """The model's risk of one case with some columns set by hand."""
    return float(model.predict_proba(X.loc[[invoice]].assign(**changes))[0, 1])


def _row(result: pd.DataFrame, invoice: str) -> Any:
    return result.set_index("invoice_id").loc[invoice]


def test_changeable_columns_are_exactly_the_actionable_features() -> None:
    """Only actionable columns may change, and every actionable column has an action."""
    assert set(CHANGEABLE_COLUMNS) == {spec.code for spec in FEATURES if spec.actionable}
    assert all(FEATURES_BY_CODE[c].actionable for c in CHANGEABLE_COLUMNS)
    assert ACTION_CODES[-1] == "KEEP_PROMISES" and PART_SHARES == (25, 50, 75)


def test_smallest_payment_is_chosen_and_checked_by_the_model(model: RiskModel) -> None:
    """Paying the largest other invoice (1,000.00) is the smallest amount that crosses."""
    X, items = _cases()
    result = counterfactuals(model, X, threshold=0.5, items=items)
    assert tuple(result.columns) == COUNTERFACTUAL_COLUMNS
    assert result["invoice_id"].tolist() == list(X.index)
    row = _row(result, "RA")
    assert row["flagged"] and row["found"]
    assert row["actions"] == "PAY_LARGEST:1"
    assert row["paid_invoices"] == "A3"
    assert row["amount_to_pay"] == Decimal("1000.00") and row["currency"] == "EUR"
    assert row["changes"] == {"open_exposure": 900.0, "open_invoices": 3}
    # recomputed independently: the real model on the changed row
    new_risk = _risk(model, X, "RA", open_exposure=900.0, open_invoices=3)
    assert row["new_risk"] == new_risk
    assert new_risk < 0.5 <= row["risk"]
    assert row["risk"] == _risk(model, X, "RA")
    # a bigger change also crosses (all three others, 1,500.00) ...
    assert _risk(model, X, "RA", open_exposure=400.0, open_invoices=1) < 0.5
    # ... and the largest smaller one does not (two oldest + 75 % of this one: 800.00)
    smaller = _risk(
        model, X, "RA", open_exposure=1100.0, open_invoices=2, log_open_amount=np.log1p(100.0)
    )
    assert smaller >= 0.5
    assert row["text"] == (
        "Wenn die größte andere offene Rechnung (1.000,00\xa0€) bezahlt wäre, sänke das "
        "Risiko von 78\xa0% auf 22\xa0%."
    )


def test_immutable_columns_are_never_changed(model: RiskModel) -> None:
    """Another industry would lower the risk for free; the counterfactual pays instead."""
    X, items = _cases()
    other_industry = pd.Categorical(["C"], categories=INDUSTRIES)
    assert _risk(model, X, "RA", industry=other_industry) < 0.5
    assert _risk(model, X, "RE", industry=other_industry) < 0.5
    result = counterfactuals(model, X, threshold=0.5, items=items)
    for _, row in result.iterrows():
        assert set(row["changes"]) <= set(CHANGEABLE_COLUMNS)
        changed = X.loc[[row["invoice_id"]]].assign(**row["changes"])
        immutable = [c for c in X.columns if c not in CHANGEABLE_COLUMNS]
        pd.testing.assert_frame_equal(changed[immutable], X.loc[[row["invoice_id"]], immutable])
    assert _row(result, "RA")["found"] and _row(result, "RE")["found"]


def test_the_two_oldest_invoices_in_german_and_english(model: RiskModel) -> None:
    """The two oldest (1,700.00) cost less than the two largest (1,800.00); exact texts."""
    X, items = _cases()
    de = _row(counterfactuals(model, X, threshold=0.5, items=items), "RE")
    en = _row(counterfactuals(model, X, threshold=0.5, items=items, lang="en"), "RE")
    assert de["actions"] == en["actions"] == "PAY_OLDEST:2"
    assert de["paid_invoices"] == "E1|E2"
    assert de["amount_to_pay"] == Decimal("1700.00")
    assert de["changes"] == {"open_exposure": 640.0, "open_invoices": 2}
    assert de["new_risk"] == _risk(model, X, "RE", open_exposure=640.0, open_invoices=2)
    assert _risk(model, X, "RE", open_exposure=540.0, open_invoices=2) < 0.5  # two largest
    assert de["text"] == (
        "Wenn die zwei ältesten anderen offenen Rechnungen (zusammen 1.700,00\xa0€) bezahlt "
        "wären, sänke das Risiko von 78\xa0% auf 22\xa0%."
    )
    assert en["text"] == (
        "If the two oldest other open invoices (€1,700.00 in total) were paid, the risk would "
        "fall from 78% to 22%."
    )


def test_keeping_one_promise_costs_nothing(model: RiskModel) -> None:
    """One of two broken promises kept: no payment, broken - 1 and kept + 1."""
    X, items = _cases()
    de = _row(counterfactuals(model, X, threshold=0.5, items=items), "RB")
    en = _row(counterfactuals(model, X, threshold=0.5, items=items, lang="en"), "RB")
    assert de["actions"] == "KEEP_PROMISES:1"
    assert de["amount_to_pay"] == Decimal("0.00") and de["paid_invoices"] == ""
    assert de["changes"] == {"broken_promises_12m": 1, "kept_promises_12m": 2}
    assert de["new_risk"] == _risk(model, X, "RB", broken_promises_12m=1, kept_promises_12m=2)
    assert de["text"] == (
        "Wenn eine der zwei nicht eingehaltenen Zahlungszusagen eingehalten worden wäre, sänke "
        "das Risiko von 88\xa0% auf 19\xa0%."
    )
    assert en["text"] == (
        "If one of the two broken payment promises had been kept, the risk would fall from "
        "88% to 19%."
    )


def test_partial_payment_of_the_invoice_itself(model: RiskModel) -> None:
    """25 % (375.00) leaves 1,125 open, 50 % (750.00) brings it to 750."""
    X, items = _cases()
    row = _row(counterfactuals(model, X, threshold=0.5, items=items), "RF")
    assert row["actions"] == "PAY_PART:50"
    assert row["amount_to_pay"] == Decimal("750.00")
    assert row["changes"] == {"log_open_amount": np.log1p(750.0), "open_exposure": 750.0}
    assert _risk(model, X, "RF", open_exposure=1125.0, log_open_amount=np.log1p(1125.0)) >= 0.5
    assert row["new_risk"] == _risk(
        model, X, "RF", open_exposure=750.0, log_open_amount=np.log1p(750.0)
    )
    assert row["text"] == (
        "Wenn 50\xa0% des offenen Betrags dieser Rechnung (750,00\xa0€) bezahlt wären, sänke "
        "das Risiko von 78\xa0% auf 22\xa0%."
    )


def test_max_actions_bounds_the_combination_and_not_found_says_so(model: RiskModel) -> None:
    """With one action kind nothing crosses (best: two promises kept); with two it does."""
    X, items = _cases()
    single = _row(counterfactuals(model, X, threshold=0.5, items=items, max_actions=1), "RC")
    assert single["flagged"] and not single["found"]
    assert single["actions"] == "KEEP_PROMISES:2"  # as low as keeping all three, smaller
    best = _risk(model, X, "RC", broken_promises_12m=1, kept_promises_12m=2)
    assert single["new_risk"] == best
    assert 0.5 <= best < single["risk"]
    assert best == _risk(model, X, "RC", broken_promises_12m=0, kept_promises_12m=3)
    assert best <= _risk(model, X, "RC", open_exposure=400.0, open_invoices=1)
    assert single["evaluations"] == 11  # 5 distinct payments + 3 partial + 3 promise counts
    assert single["text"] == (
        "Keine Änderung innerhalb der Suchgrenzen senkt das Risiko unter 50\xa0%. Am stärksten "
        "sänke es, wenn zwei der drei nicht eingehaltenen Zahlungszusagen eingehalten worden "
        "wären: von 89\xa0% auf 78\xa0%."
    )
    pair = _row(counterfactuals(model, X, threshold=0.5, items=items, max_actions=2), "RC")
    assert pair["found"]
    assert pair["actions"] == "PAY_LARGEST:1|KEEP_PROMISES:2"
    assert pair["new_risk"] == _risk(
        model,
        X,
        "RC",
        open_exposure=900.0,
        open_invoices=3,
        broken_promises_12m=1,
        kept_promises_12m=2,
    )
    assert pair["text"] == (
        "Wenn die größte andere offene Rechnung (1.000,00\xa0€) bezahlt wäre und zwei der drei "
        "nicht eingehaltenen Zahlungszusagen eingehalten worden wären, sänke das Risiko von "
        "89\xa0% auf 22\xa0%."
    )


def test_rows_below_the_threshold_are_not_searched(model: RiskModel) -> None:
    """A case under the threshold gets no search, NaN new risk and a plain sentence."""
    X, items = _cases()
    de = _row(counterfactuals(model, X, threshold=0.5, items=items), "RD")
    en = _row(counterfactuals(model, X, threshold=0.5, lang="en"), "RD")
    assert not de["flagged"] and not de["found"] and de["evaluations"] == 0
    assert np.isnan(de["new_risk"]) and de["changes"] == {} and de["amount_to_pay"] is None
    assert de["text"] == "Das Risiko liegt mit 17\xa0% bereits unter der Schwelle von 50\xa0%."
    assert en["text"] == "At 17%, the risk is already below the threshold of 50%."


def test_without_items_all_other_invoices_are_paid_together(model: RiskModel) -> None:
    """From the features alone: pay all others (no amounts in the text, no Decimal)."""
    X, _ = _cases()
    result = counterfactuals(model, X, threshold=0.5)
    row = _row(result, "RA")
    assert row["actions"] == "PAY_OTHERS:3"
    assert row["amount_to_pay"] is None and row["currency"] is None
    assert row["paid_invoices"] == ""
    assert set(row["changes"]) == {"open_exposure", "open_invoices"}
    assert row["changes"]["open_exposure"] == pytest.approx(400.0, abs=1e-9)
    assert row["changes"]["open_invoices"] == 1
    assert row["new_risk"] == _risk(model, X, "RA", **row["changes"])
    assert row["text"] == (
        "Wenn alle drei anderen offenen Rechnungen bezahlt wären, sänke das Risiko von "
        "78\xa0% auf 22\xa0%."
    )
    en = _row(counterfactuals(model, X, threshold=0.5, lang="en"), "RF")
    assert en["actions"] == "PAY_PART:50"
    assert en["text"] == (
        "If 50% of this invoice's open amount were paid, the risk would fall from 78% to 22%."
    )


def test_a_case_without_any_possible_action(model: RiskModel) -> None:
    """Nothing to pay, no broken promise: no change, and the text says the risk stays."""
    X, _ = _cases()
    X = X.loc[["RF"]].assign(log_open_amount=0.0, open_exposure=1500.0)
    row = _row(counterfactuals(model, X, threshold=0.5), "RF")
    assert row["flagged"] and not row["found"]
    assert row["evaluations"] == 0 and row["actions"] == ""
    assert row["new_risk"] == row["risk"]
    assert row["text"] == (
        "Keine Änderung innerhalb der Suchgrenzen senkt das Risiko; es bliebe bei 78\xa0% "
        "(Schwelle 50\xa0%)."
    )


def test_max_evaluations_bounds_the_search(model: RiskModel) -> None:
    """One evaluation: the smallest candidate (25 % of 400.00), then only the largest ones.

    The largest of each combination of kinds is always tried (75 % of this invoice, all
    other invoices, both together), so paying all three others is found, not the smaller
    PAY_LARGEST:1 that was cut.
    """
    X, items = _cases()
    row = _row(counterfactuals(model, X, threshold=0.5, items=items, max_evaluations=1), "RA")
    assert row["evaluations"] == 4
    assert row["found"] and row["actions"] == "PAY_OTHERS:3"
    assert row["amount_to_pay"] == Decimal("1500.00")
    full = _row(counterfactuals(model, X, threshold=0.5, items=items), "RA")
    assert full["evaluations"] == 16  # the first batch: found in it
    assert full["actions"] == "PAY_LARGEST:1"


def test_invalid_arguments_and_items_are_rejected(model: RiskModel) -> None:
    X, items = _cases()
    for threshold in (0, 1.5, "0.5", True):
        with pytest.raises(PolicyError, match="threshold must be a number in"):
            counterfactuals(model, X, threshold=threshold)  # type: ignore[arg-type]
    for max_actions in (0, 4, 1.0):
        with pytest.raises(PolicyError, match="max_actions must be an int from 1 to 3"):
            counterfactuals(model, X, threshold=0.5, max_actions=max_actions)  # type: ignore[arg-type]
    with pytest.raises(PolicyError, match="max_evaluations must be an int >= 1"):
        counterfactuals(model, X, threshold=0.5, max_evaluations=0)
    with pytest.raises(PolicyError, match="no reason catalogue for language 'fr'"):
        counterfactuals(model, X, threshold=0.5, lang="fr")  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"index labels \['RA'\] occur more than once"):
        counterfactuals(model, pd.concat([X, X.loc[["RA"]]]), threshold=0.5)
    with pytest.raises(DataError, match=r"columns \['open_minor'\] are missing"):
        counterfactuals(model, X, threshold=0.5, items=items.drop(columns="open_minor"))
    without_ra = items.loc[items["invoice_id"] != "RA"]
    with pytest.raises(DataError, match=r"flagged invoices \['RA'\] are not among"):
        counterfactuals(model, X, threshold=0.5, items=without_ra)
    without_a1 = items.loc[items["invoice_id"] != "A1"]
    with pytest.raises(DataError, match="customer 'K1' has 3 open items, but the features"):
        counterfactuals(model, X, threshold=0.5, items=without_a1)
    changed = items.assign(
        open_minor=np.where(items["invoice_id"] == "RA", 39999, items["open_minor"])
    )
    with pytest.raises(DataError, match=r"invoice 'RA' has 399\.99 open, but its features say"):
        counterfactuals(model, X, threshold=0.5, items=changed)


def test_empty_features_give_an_empty_table(model: RiskModel) -> None:
    X, items = _cases()
    result = counterfactuals(model, X.iloc[:0], threshold=0.5, items=items)
    assert result.empty and tuple(result.columns) == COUNTERFACTUAL_COLUMNS


@pytest.fixture(scope="module")
def demo() -> tuple[RiskModel, pd.DataFrame, pd.DataFrame]:
    """A model fitted on generated snapshots, today's features and open items."""
    from dunning.datasets import make_portfolio
    from dunning.ledger import open_items
    from scoring.features import build_features
    from scoring.training import build_training_set

    as_of = date(2026, 11, 23)
    portfolio = make_portfolio(300, seed=3, as_of=as_of)
    training = build_training_set(portfolio, as_of, snapshots=6)
    model = RiskModel(n_estimators=60, random_state=0, n_jobs=1).fit(training.X, training.y)
    return model, build_features(portfolio, as_of), open_items(portfolio, as_of)


@pytest.mark.parametrize("threshold", [0.5, 0.8])
def test_every_counterfactual_on_the_demo_portfolio_is_verified_by_the_model(
    demo: tuple[RiskModel, pd.DataFrame, pd.DataFrame], threshold: float
) -> None:
    """Re-score every changed row; amounts add up to the items paid, exactly."""
    model, X, items = demo
    result = counterfactuals(model, X, threshold=threshold, items=items)
    flagged = result.loc[result["flagged"]]
    assert len(flagged) == int((model.predict_proba(X)[:, 1] >= threshold).sum()) > 100
    assert result["found"].sum() >= 4
    assert (~flagged["found"] & (flagged["actions"] != "")).sum() >= 10  # best reachable
    by_id = items.set_index("invoice_id")
    for _, row in flagged.iterrows():
        invoice = row["invoice_id"]
        assert set(row["changes"]) <= set(CHANGEABLE_COLUMNS)
        changed = X.loc[[invoice]].assign(**row["changes"])
        new_risk = float(model.predict_proba(changed)[0, 1])
        assert new_risk == row["new_risk"], invoice
        if row["found"]:
            assert new_risk < threshold
        else:
            assert threshold <= new_risk <= row["risk"]
        assert "{" not in row["text"] and "nan" not in row["text"]
        if not row["actions"]:
            assert row["changes"] == {} and new_risk == row["risk"]
            continue
        # the amount to pay is the open amount of the invoices paid plus the partial payment
        paid = row["paid_invoices"].split("|") if row["paid_invoices"] else []
        currency = by_id.loc[invoice, "currency"]
        assert row["currency"] == currency
        assert set(by_id.loc[paid, "customer_id"]) <= {by_id.loc[invoice, "customer_id"]}
        assert invoice not in paid
        assert set(by_id.loc[paid, "currency"]) <= {currency}
        amount = sum((by_id.loc[p, "open_amount"] for p in paid), Decimal(0))
        for code in row["actions"].split("|"):
            if code.startswith("PAY_PART:"):
                share = int(code.split(":")[1])
                own = by_id.loc[invoice, "open_amount"]
                amount += (own * share / 100).quantize(own, rounding=ROUND_HALF_EVEN)
        assert row["amount_to_pay"] == amount
        exposure = row["changes"].get("open_exposure", X.loc[invoice, "open_exposure"])
        assert X.loc[invoice, "open_exposure"] - exposure == pytest.approx(float(amount))


def test_batching_does_not_change_the_answer(
    demo: tuple[RiskModel, pd.DataFrame, pd.DataFrame],
) -> None:
    """A case searched alone gets the same result as in a batch of all cases."""
    model, X, items = demo
    together = counterfactuals(model, X, threshold=0.5, items=items, lang="en")
    found = together.loc[together["found"], "invoice_id"].tolist()[:5]
    missed = together.loc[together["flagged"] & ~together["found"], "invoice_id"].tolist()[:5]
    for invoice in found + missed:
        alone = counterfactuals(model, X.loc[[invoice]], threshold=0.5, items=items, lang="en")
        expected = together.set_index("invoice_id").loc[invoice]
        for column in ("found", "new_risk", "actions", "amount_to_pay", "evaluations", "text"):
            assert alone.loc[0, column] == expected[column], (invoice, column)
