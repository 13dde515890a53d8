"""Open items net payments against invoices using only facts known on the day."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd

from dunning.ledger import OPEN_ITEM_COLUMNS, open_items
from dunning.models import Portfolio


def _portfolio(payments: list[tuple[str, str, str, str]]) -> Portfolio:
    empty = Portfolio.empty()
    invoices = pd.DataFrame(
        {
            "invoice_id": ["R1", "R2", "R3", "R4"],
            "customer_id": ["K1", "K1", "K2", "K2"],
            "issue_date": pd.to_datetime(["2026-08-01", "2026-09-01", "2026-10-01", "2026-12-01"]),
            "due_date": pd.to_datetime(["2026-08-15", "2026-09-15", "2026-11-30", "2026-12-15"]),
            "amount": [Decimal("100.00"), Decimal("80.10"), Decimal("20.00"), Decimal("5.00")],
            "currency": ["EUR", "EUR", "GBP", "GBP"],
            "disputed": pd.array([False, True, pd.NA, False], dtype="boolean"),
        }
    )
    pay = pd.DataFrame(
        {
            "payment_id": [f"P{i}" for i in range(len(payments))],
            "invoice_id": [p[0] for p in payments],
            "payment_date": pd.to_datetime([p[1] for p in payments]).astype("datetime64[ns]"),
            "amount": [Decimal(p[2]) for p in payments],
            "currency": [p[3] for p in payments],
        }
    )
    history = pd.DataFrame(
        {
            "invoice_id": ["R1", "R1", "R2"],
            "level": [1, 2, 1],
            "issued_on": pd.to_datetime(["2026-08-22", "2026-09-05", "2026-12-01"]),
            "channel": ["letter", "email", "letter"],
        }
    )
    return Portfolio(empty.customers, invoices, pay, history)


def test_partial_payments_lower_the_open_amount_exactly() -> None:
    """Two partial payments leave the exact remainder; a fully paid invoice is not open."""
    items = open_items(
        _portfolio(
            [
                ("R1", "2026-09-01", "33.33", "EUR"),
                ("R1", "2026-09-20", "33.33", "EUR"),
                ("R2", "2026-10-01", "80.10", "EUR"),
            ]
        ),
        date(2026, 11, 23),
    )
    assert list(items.columns) == list(OPEN_ITEM_COLUMNS)
    assert items["invoice_id"].tolist() == ["R1", "R3"]
    assert items["open_amount"].tolist() == [Decimal("33.34"), Decimal("20.00")]
    assert items["paid"].tolist() == [Decimal("66.66"), Decimal("0.00")]
    assert items["open_minor"].tolist() == [3334, 2000]
    assert items["days_overdue"].tolist() == [100, -7]
    assert items["last_level"].tolist() == [2, 0]
    assert items["last_dunned_on"].iloc[0] == pd.Timestamp("2026-09-05")
    assert pd.isna(items["last_dunned_on"].iloc[1])


def test_facts_after_as_of_are_ignored() -> None:
    """Payments, invoices and dunning steps dated after as_of do not count."""
    as_of = date(2026, 9, 30)
    before = open_items(_portfolio([]), as_of)
    after = open_items(_portfolio([("R1", "2026-10-01", "100.00", "EUR")]), as_of)
    pd.testing.assert_frame_equal(before, after)
    assert before["invoice_id"].tolist() == ["R1", "R2"]
    assert before["last_level"].tolist() == [2, 0]  # R2's letter of 2026-12-01 is in the future
