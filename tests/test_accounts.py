"""Claim accounts: earlier fees, § 367 allocation of part-payments, interest after payment.

Rates: the German base rate is 1.27 % from 2025-07-01 and 2026-01-01, so consumer interest
is 6.27 % and business interest 10.27 % a year in the first half of 2026 (act/365).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from dunning.accounts import ACCOUNT_COLUMNS, claim_accounts, level_fees
from dunning.models import Portfolio
from dunning.policy import Policy

AS_OF = date(2026, 5, 31)


def _policy(**changes: object) -> Policy:
    data = Policy.default("DE").to_dict()
    data.update(changes)
    return Policy.from_dict(data)


def _portfolio(
    payments: list[tuple[str, str]],
    *,
    segment: str = "B2C",
    letters: tuple[tuple[int, str], ...] = ((1, "2026-03-20"), (2, "2026-04-06")),
    amount: str = "1000.00",
) -> Portfolio:
    customers = pd.DataFrame(
        {
            "customer_id": ["K1"],
            "name": ["Erika Muster"],
            "country": ["DE"],
            "language": ["de"],
            "segment": [segment],
        }
    )
    invoices = pd.DataFrame(
        {
            "invoice_id": ["R1"],
            "customer_id": ["K1"],
            "issue_date": pd.to_datetime(["2026-02-01"]),
            "due_date": pd.to_datetime(["2026-03-02"]),
            "amount": [Decimal(amount)],
            "currency": ["EUR"],
        }
    )
    pay = pd.DataFrame(
        {
            "payment_id": [f"P{i}" for i in range(len(payments))],
            "invoice_id": ["R1"] * len(payments),
            "payment_date": pd.to_datetime([d for d, _ in payments]),
            "amount": [Decimal(a) for _, a in payments],
            "currency": ["EUR"] * len(payments),
        }
    )
    history = pd.DataFrame(
        {
            "invoice_id": ["R1"] * len(letters),
            "level": [lv for lv, _ in letters],
            "issued_on": pd.to_datetime([d for _, d in letters]),
            "channel": ["letter"] * len(letters),
        }
    )
    return Portfolio(customers, invoices, pay, history)


def _one(portfolio: Portfolio, policy: Policy | None = None, as_of: date = AS_OF) -> pd.Series:
    frame = claim_accounts(portfolio, as_of, policy)
    assert list(frame.columns) == list(ACCOUNT_COLUMNS)
    assert len(frame) == 1
    return frame.iloc[0]


def test_367_costs_then_interest_then_principal() -> None:
    """€ 300 on 2026-05-02: € 1.00 fee, € 7.39 interest (43 days at 6.27 %), € 291.61 principal."""
    acc = _one(_portfolio([("2026-05-02", "300.00")]))
    assert acc["default_from"] == date(2026, 3, 21)
    assert acc["earlier_fees"] == Decimal("1.00")
    assert (acc["paid_to_costs"], acc["paid_to_interest"], acc["paid_to_principal"]) == (
        Decimal("1.00"),
        Decimal("7.39"),
        Decimal("291.61"),
    )
    assert acc["principal_open"] == Decimal("708.39")
    assert acc["earlier_fees_open"] == Decimal("0.00")
    # 1000 x 6.27 % x 43/365 + 708.39 x 6.27 % x 29/365 = 10.9155 -> 10.92; 7.39 paid.
    assert acc["interest_open"] == Decimal("3.53")
    assert bool(acc["allocated"]) is True


def test_consumer_loan_order_serves_principal_before_interest() -> None:
    """§ 497 (3) order: costs, principal, interest: the principal drops by € 299.00."""
    acc = _one(_portfolio([("2026-05-02", "300.00")]), _policy(payment_allocation="consumer_loan"))
    assert (acc["paid_to_costs"], acc["paid_to_interest"], acc["paid_to_principal"]) == (
        Decimal("1.00"),
        Decimal("0.00"),
        Decimal("299.00"),
    )
    assert acc["principal_open"] == Decimal("701.00")
    # 1000 x 43 days + 701 x 29 days at 6.27 %: 7.3866 + 3.4922 = 10.8788 -> 10.88, none paid.
    assert acc["interest_open"] == Decimal("10.88")


def test_payment_before_the_first_letter_pays_the_principal() -> None:
    """Nothing but the invoice was claimed before the first letter on 2026-03-20."""
    acc = _one(_portfolio([("2026-03-10", "400.00")]))
    assert acc["paid_to_principal"] == Decimal("400.00")
    assert acc["paid_to_costs"] == acc["paid_to_interest"] == Decimal("0.00")
    assert acc["principal_open"] == Decimal("600.00")
    assert bool(acc["allocated"]) is False
    assert acc["interest_open"] is None  # left to propose_items' vectorised interest
    assert acc["earlier_fees_open"] == Decimal("1.00")


def test_fees_are_never_compounded() -> None:
    """Four letters charge 0 + 1 + 1 + 1: € 3.00, no fee on a fee, whatever the runs."""
    letters = ((1, "2026-03-20"), (2, "2026-04-06"), (3, "2026-04-21"), (4, "2026-05-06"))
    acc = _one(_portfolio([], letters=letters))
    assert acc["letters"] == 4
    assert acc["earlier_fees"] == acc["earlier_fees_open"] == Decimal("3.00")
    assert level_fees(Policy.default("DE"))["B2C"].tolist()[:5] == [0, 0, 100, 100, 100]


def test_recorded_fee_wins_over_the_policy_fee() -> None:
    """A history row with a ``fee`` (as issued) counts with that amount."""
    p = _portfolio([])
    history = p.history.assign(fee=[Decimal("0.00"), Decimal("0.76")])
    acc = claim_accounts(p, AS_OF, history=history).iloc[0]
    assert acc["earlier_fees"] == Decimal("0.76")


def test_interest_survives_principal_payment_when_the_policy_says_so() -> None:
    """Consumer-loan order, € 1,001.00 paid: fee and principal paid, interest stays owed."""
    p = _portfolio([("2026-05-02", "1001.00")])
    kept = claim_accounts(
        p,
        AS_OF,
        _policy(payment_allocation="consumer_loan", interest_survives_principal_payment=True),
    ).iloc[0]
    assert kept["principal_open"] == Decimal("0.00")
    # 1000 x 6.27 % x 43/365 = 7.3866 -> 7.39, nothing accrues after the principal is paid.
    assert kept["interest_open"] == Decimal("7.39")
    assert kept["interest_waived"] == Decimal("0.00")

    lapsed = claim_accounts(
        p,
        AS_OF,
        _policy(payment_allocation="consumer_loan", interest_survives_principal_payment=False),
    ).iloc[0]
    assert lapsed["interest_open"] == Decimal("0.00")
    assert lapsed["interest_waived"] == Decimal("7.39")


def test_367_full_invoice_amount_leaves_principal_open() -> None:
    """Paying exactly the invoice amount under § 367 leaves the charges' worth of principal."""
    acc = _one(_portfolio([("2026-05-02", "1000.00")]))
    assert acc["paid_to_costs"] == Decimal("1.00")
    assert acc["paid_to_interest"] == Decimal("7.39")
    assert acc["principal_open"] == Decimal("8.39")


def test_business_flat_fee_is_a_cost_paid_first() -> None:
    """B2B: € 40 flat fee from the start of default; 10.27 % interest; § 367 order."""
    acc = _one(_portfolio([("2026-05-02", "300.00")], segment="B2B"))
    # Costs: level fees 0 + 0 (B2B) + € 40 flat; interest 1000 x 10.27 % x 43/365 = 12.0989.
    assert acc["paid_to_costs"] == Decimal("40.00")
    assert acc["paid_to_interest"] == Decimal("12.10")
    assert acc["paid_to_principal"] == Decimal("247.90")
    assert acc["flat_fee_open"] == Decimal("0.00")


def test_unconfirmed_rate_means_no_interest_and_a_note() -> None:
    """After 2026-06-30 the base rate is unconfirmed: no interest is claimed, a note says why."""
    acc = _one(_portfolio([("2026-07-10", "300.00")]), as_of=date(2026, 7, 31))
    assert "unconfirmed" in acc["note"]
    assert acc["interest_open"] == Decimal("0.00")
    assert acc["paid_to_costs"] == Decimal("1.00")


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 72), st.integers(1, 60000)), min_size=1, max_size=4),
    st.sampled_from(["bgb_367", "consumer_loan"]),
)
def test_every_cent_paid_is_allocated_exactly_once(pays: list[tuple[int, int]], order: str) -> None:
    """Sum of the parts covered == payments (up to what is owed); nothing goes negative."""
    start = pd.Timestamp("2026-03-20")
    payments = [
        ((start + pd.Timedelta(days=d)).date().isoformat(), f"{c / 100:.2f}") for d, c in pays
    ]
    p = _portfolio(payments)
    acc = claim_accounts(p, AS_OF, _policy(payment_allocation=order)).iloc[0]
    paid = sum((Decimal(a) for _, a in payments), Decimal("0.00"))
    covered = acc["paid_to_costs"] + acc["paid_to_interest"] + acc["paid_to_principal"]
    assert covered <= paid
    for column in ("principal_open", "earlier_fees_open", "interest_waived"):
        assert acc[column] >= 0
    if acc["principal_open"] > 0:
        assert covered == paid  # nothing is left over while principal is open
    assert acc["principal_open"] + acc["paid_to_principal"] == Decimal("1000.00")
