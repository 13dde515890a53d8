"""Propose → review → issue against a real SQLite decision store, with exact dates.

Default German policy: level 1 from day 1 after the due date, level 2 from day 15 and 14
days after level 1, level 3 from day 30; B2C fees 0 / 1.00 / 1.00; consumer interest
6.27 % a year in 2026-H1 (base rate 1.27 % + 5 points, act/365).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pandas as pd
import pytest

from dunning.errors import DataError
from dunning.models import Portfolio
from dunning.policy import Policy
from dunning.store import DecisionStore
from dunning.workflow import ReviewDecision, Scores, apply_reviews, issue, propose

D1 = date(2026, 3, 3)  # R1 (due 2026-03-02) one day overdue: payment reminder
AT = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)


def _portfolio(
    payments: tuple[tuple[str, str, str], ...] = (),
    *,
    disputed: tuple[bool, bool, bool] = (False, False, False),
) -> Portfolio:
    customers = pd.DataFrame(
        {
            "customer_id": ["K1", "K2", "K3"],
            "name": ["Erika Muster", "Max Vorsicht", "Bau GmbH"],
            "street": ["Hauptstr. 1", "Weg 2", "Ring 3"],
            "postal_code": ["10115", "20095", "50667"],
            "city": ["Berlin", "Hamburg", "Köln"],
            "country": ["DE", "DE", "DE"],
            "language": ["de", "de", "de"],
            "segment": ["B2C", "B2C", "B2B"],
            "email": ["erika@example.com", "max@example.com", "ap@bau.example"],
            "contact_consent": ["email|letter", "letter", "email|letter"],
            "vulnerable": pd.array([False, True, False], dtype="boolean"),
        }
    ).astype({"customer_id": "str", "email": "str"})
    invoices = pd.DataFrame(
        {
            "invoice_id": ["R1", "R2", "R3"],
            "customer_id": ["K1", "K2", "K3"],
            "issue_date": pd.to_datetime(["2026-02-01"] * 3),
            "due_date": pd.to_datetime(["2026-03-02"] * 3),
            "amount": [Decimal("1000.00"), Decimal("200.00"), Decimal("12000.00")],
            "currency": ["EUR"] * 3,
            "disputed": pd.array(list(disputed), dtype="boolean"),
        }
    )
    pay = pd.DataFrame(
        {
            "payment_id": [f"P{i}" for i in range(len(payments))],
            "invoice_id": [i for i, _, _ in payments],
            "payment_date": pd.to_datetime([d for _, d, _ in payments]),
            "amount": [Decimal(a) for _, _, a in payments],
            "currency": ["EUR"] * len(payments),
        }
    )
    return Portfolio(customers, invoices, pay, Portfolio.empty().history)


SCORES = Scores(risk=pd.Series([0.3, 0.3, 0.3], index=["R1", "R2", "R3"]))


@pytest.fixture
def store(store_url: str) -> Iterator[DecisionStore]:
    """A fresh store on SQLite and on a real PostgreSQL server (tests/conftest.py)."""
    with DecisionStore(store_url) as s:
        yield s


def _levels(proposal) -> dict[str, int]:  # type: ignore[no-untyped-def]
    d = proposal.decisions
    return dict(zip(d["invoice_id"], d["level"], strict=True))


def _approve_all(proposal, when: datetime = AT):  # type: ignore[no-untyped-def]
    routed = proposal.cases.loc[proposal.cases["needs_review"], "case_id"]
    return apply_reviews(
        proposal,
        [
            ReviewDecision(
                case_id=c, action="approve", clerk_id="clerk-1", reason="checked", decided_at=when
            )
            for c in routed
        ],
    )


def test_propose_has_no_side_effects(store: DecisionStore) -> None:
    propose(_portfolio(), SCORES, None, D1, store=store)
    assert store.issued().empty
    assert store.reviews().empty


def test_second_run_on_the_same_day_proposes_nothing_already_issued(store: DecisionStore) -> None:
    first = _approve_all(propose(_portfolio(), SCORES, None, D1, store=store))
    assert _levels(first) == {"R1": 1, "R2": 1, "R3": 1}
    result = issue(first, store)
    assert sorted(result.issued["invoice_id"]) == ["R1", "R2", "R3"]
    assert store.issued()["issued_on"].dt.date.tolist() == [D1, D1, D1]

    again = propose(_portfolio(), SCORES, None, D1, store=store)
    assert again.cases.empty
    assert _levels(again) == {"R1": 0, "R2": 0, "R3": 0}
    # Issuing the first proposal again records nothing.
    repeat = issue(first, store)
    assert repeat.issued.empty
    assert set(repeat.skipped["reason"]) == {"ALREADY_ISSUED"}
    assert len(store.issued()) == 3


def test_next_level_only_after_the_configured_gap(store: DecisionStore) -> None:
    issue(_approve_all(propose(_portfolio(), SCORES, None, D1, store=store)), store)
    # 2026-03-16: 14 days overdue, 13 days after the reminder -> nothing.
    assert _levels(propose(_portfolio(), SCORES, None, date(2026, 3, 16), store=store))["R1"] == 0
    # 2026-03-17: 15 days overdue and 14 days after the reminder -> first reminder (level 2).
    p = propose(_portfolio(), SCORES, None, date(2026, 3, 17), store=store)
    r1 = p.decisions.set_index("invoice_id").loc["R1"]
    assert r1["level"] == 2
    assert r1["fee"] == Decimal("1.00")
    # Default from 2026-03-04 (day after the reminder): 14 days, 1000 x 6.27 % x 14/365.
    assert r1["interest_from"] == date(2026, 3, 4)
    assert r1["interest"] == Decimal("2.40")


def test_paid_invoice_is_never_dunned(store: DecisionStore) -> None:
    issue(_approve_all(propose(_portfolio(), SCORES, None, D1, store=store)), store)
    paid = _portfolio((("R1", "2026-03-10", "1000.00"),))
    p = propose(paid, SCORES, None, date(2026, 3, 17), store=store)
    assert "R1" not in set(p.decisions["invoice_id"])
    # Paid before any charge was owed (fee 0, default from 2026-03-04 but the reminder is
    # the only letter and B2C interest accrued 7 days): the residual is listed, not dunned.
    residual = p.residuals.set_index("invoice_id")
    assert residual.loc["R1", "principal_open"] == Decimal("1.20")  # 1000 x 6.27 % x 7/365


def test_disputed_invoice_is_never_dunned(store: DecisionStore) -> None:
    p = propose(_portfolio(disputed=(True, False, False)), SCORES, None, D1, store=store)
    r1 = p.decisions.set_index("invoice_id").loc["R1"]
    assert r1["level"] == 0
    assert pd.isna(r1["case_id"])
    assert "K1" not in set(p.cases["customer_id"])


def test_part_payment_lowers_the_open_amount_by_367(store: DecisionStore) -> None:
    """€ 300 on 2026-03-20 pays € 1.00 fee and € 2.92 interest first (17 days)."""
    issue(_approve_all(propose(_portfolio(), SCORES, None, D1, store=store)), store)
    issue(_approve_all(propose(_portfolio(), SCORES, None, date(2026, 3, 17), store=store)), store)
    part = _portfolio((("R1", "2026-03-20", "300.00"),))
    p = propose(part, SCORES, None, date(2026, 4, 1), store=store)
    r1 = p.decisions.set_index("invoice_id").loc["R1"]
    assert r1["open_amount"] == Decimal("703.92")
    assert r1["paid_to_charges"] == Decimal("3.92")
    assert r1["earlier_fees"] == Decimal("0.00")
    assert r1["level"] == 3  # 30 days overdue, 15 days after the first reminder
    assert r1["fee"] == Decimal("1.00")
    # 1000 x 17 days + 703.92 x 12 days at 6.27 %: 2.9203 + 1.4511 = 4.3713 -> 4.37; 2.92 paid.
    assert r1["interest"] == Decimal("1.45")
    assert r1["claim_total"] == Decimal("706.37")


def test_earlier_fees_are_restated_not_recharged(store: DecisionStore) -> None:
    """After the first reminder (fee € 1.00) the next letter lists it as an earlier fee."""
    issue(_approve_all(propose(_portfolio(), SCORES, None, D1, store=store)), store)
    issue(_approve_all(propose(_portfolio(), SCORES, None, date(2026, 3, 17), store=store)), store)
    p = propose(_portfolio(), SCORES, None, date(2026, 4, 1), store=store)
    r1 = p.decisions.set_index("invoice_id").loc["R1"]
    assert (r1["level"], r1["fee"], r1["earlier_fees"]) == (3, Decimal("1.00"), Decimal("1.00"))
    case = p.cases.set_index("customer_id").loc["K1"]
    assert case["case_earlier_fees"] == Decimal("1.00")
    assert case["amount_due"] == case["total"] + case["case_fees"] + case[
        "case_interest"
    ] + Decimal("1.00")


def test_needs_review_case_is_not_issued_until_approved(store: DecisionStore) -> None:
    """K2 is vulnerable, K3 owes € 12,000 (above the € 10,000 exposure limit)."""
    p = propose(_portfolio(), SCORES, None, D1, store=store)
    routed = p.cases.set_index("customer_id")
    assert routed.loc["K2", "review_reason"] == "VULNERABLE"
    assert routed.loc["K3", "review_reason"] == "HIGH_EXPOSURE"
    result = issue(p, store)
    assert sorted(result.issued["invoice_id"]) == ["R1"]
    assert dict(zip(result.skipped["case_id"], result.skipped["reason"], strict=True)) == {
        routed.loc["K2", "case_id"]: "NEEDS_REVIEW",
        routed.loc["K3", "case_id"]: "NEEDS_REVIEW",
    }


def test_review_actions_are_applied_and_recorded(store: DecisionStore) -> None:
    p = propose(_portfolio(), SCORES, None, D1, store=store)
    ids = p.cases.set_index("customer_id")["case_id"]
    reviewed = apply_reviews(
        p,
        [
            ReviewDecision(case_id=ids["K2"], action="hold", clerk_id="clerk-2",
                           reason="customer in hospital", hold_until=date(2026, 3, 10),
                           decided_at=AT),
            ReviewDecision(case_id=ids["K3"], action="change_offer", clerk_id="clerk-3",
                           reason="asked for instalments", offer="installment_plan",
                           decided_at=AT),
        ],
    )  # fmt: skip
    cases = reviewed.cases.set_index("customer_id")
    assert (cases.loc["K2", "review_action"], bool(cases.loc["K2", "approved"])) == ("hold", False)
    assert cases.loc["K3", "offer"] == "installment_plan"
    assert cases.loc["K3", "offer_code"] == "CLERK"
    assert "clerk-3" in cases.loc["K3", "offer_reason"]
    assert cases.loc["K3", "installments"] == 3
    result = issue(reviewed, store)
    assert sorted(result.issued["invoice_id"]) == ["R1", "R3"]
    assert result.issued.set_index("invoice_id").loc["R3", "approved_by"] == "clerk-3"
    assert result.reviews_recorded == 2
    log = store.reviews()
    assert sorted(log["clerk_id"]) == ["clerk-2", "clerk-3"]
    assert set(log["reason"]) == {"customer in hospital", "asked for instalments"}

    # The hold keeps R2 out until 2026-03-10 inclusive; on 2026-03-11 it is dunned again.
    held = propose(_portfolio(), SCORES, None, date(2026, 3, 10), store=store)
    r2 = held.decisions.set_index("invoice_id").loc["R2"]
    assert (bool(r2["on_hold"]), r2["level"]) == (True, 0)
    free = propose(_portfolio(), SCORES, None, date(2026, 3, 11), store=store)
    assert free.decisions.set_index("invoice_id").loc["R2", "level"] == 1


def test_escalate_raises_the_level_and_its_fee(store: DecisionStore) -> None:
    issue(_approve_all(propose(_portfolio(), SCORES, None, D1, store=store)), store)
    p = propose(_portfolio(), SCORES, None, date(2026, 3, 17), store=store)
    k1 = p.cases.set_index("customer_id").loc["K1"]
    assert k1["level"] == 2
    up = apply_reviews(
        p,
        [ReviewDecision(case_id=k1["case_id"], action="escalate", clerk_id="clerk-4",
                        reason="promised twice, paid nothing", decided_at=AT)],
    )  # fmt: skip
    case = up.cases.set_index("customer_id").loc["K1"]
    assert case["level"] == 3
    assert case["level_name_de"] == "2. Mahnung"
    r1 = up.decisions.set_index("invoice_id").loc["R1"]
    assert (r1["level"], r1["fee"]) == (3, Decimal("1.00"))
    assert case["amount_due"] == k1["amount_due"]  # level 2 and 3 both cost € 1.00
    issued = issue(up, store).issued.set_index("invoice_id")
    assert issued.loc["R1", "level"] == 3


def test_recorded_reviews_are_never_lost(store: DecisionStore) -> None:
    """Reviews written to the store come back when the same day is proposed again."""
    p = propose(_portfolio(), SCORES, None, D1, store=store)
    k3 = p.cases.set_index("customer_id").loc["K3", "case_id"]
    reviewed = apply_reviews(
        p, [ReviewDecision(case_id=k3, action="approve", clerk_id="clerk-5",
                           reason="known customer", decided_at=AT)]
    )  # fmt: skip
    store.record_reviews(reviewed.reviews)
    again = propose(_portfolio(), SCORES, None, D1, store=store)
    case = again.cases.set_index("customer_id").loc["K3"]
    assert (case["review_action"], case["reviewed_by"], bool(case["approved"])) == (
        "approve",
        "clerk-5",
        True,
    )
    assert len(again.reviews) == 1


def test_review_of_an_unknown_case_is_an_error(store: DecisionStore) -> None:
    p = propose(_portfolio(), SCORES, None, D1, store=store)
    with pytest.raises(DataError, match="C19990101-x"):
        apply_reviews(
            p, [ReviewDecision(case_id="C19990101-x", action="approve", clerk_id="c", reason="r")]
        )


def test_vulnerable_customer_is_never_escalated_automatically(store: DecisionStore) -> None:
    """Even with route_vulnerable = false, K2's second letter waits for a clerk."""
    data = Policy.default("DE").to_dict()
    data["review"]["route_vulnerable"] = False
    policy = Policy.from_dict(data)
    first = propose(_portfolio(), SCORES, policy, D1, store=store)
    k2 = first.cases.set_index("customer_id").loc["K2"]
    assert (bool(k2["needs_review"]), k2["tone"], bool(k2["help_line"])) == (
        False,
        "friendly",
        True,
    )
    issue(first, store)
    second = propose(_portfolio(), SCORES, policy, date(2026, 3, 17), store=store)
    k2 = second.cases.set_index("customer_id").loc["K2"]
    assert k2["level"] == 2
    assert (bool(k2["needs_review"]), k2["review_reason"]) == (True, "VULNERABLE")
    assert bool(k2["escalation_blocked"]) is True
