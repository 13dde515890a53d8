"""Training snapshots: exact labels, no label looks past as_of."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from dunning.errors import PolicyError
from dunning.ledger import open_items
from dunning.models import Portfolio
from scoring.features import FEATURES, build_features
from scoring.training import TrainingSet, build_training_set

AS_OF = date(2026, 12, 31)  # snapshots=2, step 30, horizon 30: 2026-11-01 and 2026-12-01

INVOICES = [
    ("R1", "2026-10-01", "2026-10-15", "100.00"),
    ("R2", "2026-10-01", "2026-10-15", "100.00"),
    ("R3", "2026-11-06", "2026-11-20", "60.00"),
    ("R4", "2026-11-11", "2026-11-25", "70.00"),
    ("R5", "2026-10-06", "2026-10-20", "90.00"),
]
PAYMENTS = [
    ("R1", "2026-11-20", "100.00"),  # within the first horizon
    ("R2", "2026-11-10", "50.00"),  # half by 2026-12-01 ...
    ("R2", "2026-12-05", "50.00"),  # ... the rest within the second horizon
    ("R3", "2027-01-05", "60.00"),  # after as_of: R3 stays a 1
    ("R4", "2026-12-31", "70.00"),  # on the last day of the horizon: paid in time
    ("R5", "2026-12-01", "90.00"),  # on the last day of the first horizon
]


def _portfolio(payments: list[tuple[str, str, str]]) -> Portfolio:
    customers = pd.DataFrame(
        {
            "customer_id": pd.array(["K1"], dtype="str"),
            "name": pd.array(["Erika Muster"], dtype="str"),
            "country": pd.array(["DE"], dtype="str"),
            "language": pd.array(["de"], dtype="str"),
            "segment": pd.array(["B2C"], dtype="str"),
        }
    )
    invoices = pd.DataFrame(
        {
            "invoice_id": pd.array([r[0] for r in INVOICES], dtype="str"),
            "customer_id": pd.array(["K1"] * len(INVOICES), dtype="str"),
            "issue_date": pd.to_datetime([r[1] for r in INVOICES]).astype("datetime64[ns]"),
            "due_date": pd.to_datetime([r[2] for r in INVOICES]).astype("datetime64[ns]"),
            "amount": pd.Series([Decimal(r[3]) for r in INVOICES], dtype=object),
            "currency": pd.array(["EUR"] * len(INVOICES), dtype="str"),
        }
    )
    pay = pd.DataFrame(
        {
            "payment_id": pd.array([f"P{i}" for i in range(len(payments))], dtype="str"),
            "invoice_id": pd.array([p[0] for p in payments], dtype="str"),
            "payment_date": pd.to_datetime([p[1] for p in payments]).astype("datetime64[ns]"),
            "amount": pd.Series([Decimal(p[2]) for p in payments], dtype=object),
            "currency": pd.array(["EUR"] * len(payments), dtype="str"),
        }
    )
    return Portfolio(customers, invoices, pay, Portfolio.empty().history)


def test_exact_labels_on_a_hand_made_portfolio() -> None:
    """Rows are the overdue invoices per snapshot, oldest first; labels as worked out by hand."""
    ts = build_training_set(_portfolio(PAYMENTS), AS_OF, snapshots=2)
    nov, dec = pd.Timestamp("2026-11-01"), pd.Timestamp("2026-12-01")
    assert ts.X.index.tolist() == [
        (nov, "R1"),
        (nov, "R2"),
        (nov, "R5"),
        (dec, "R2"),
        (dec, "R3"),
        (dec, "R4"),
    ]
    assert ts.y.tolist() == [0, 1, 0, 0, 1, 0]
    assert ts.y.dtype == np.int64
    assert ts.snapshot.tolist() == [nov, nov, nov, dec, dec, dec]
    assert ts.snapshot.dtype == np.dtype("datetime64[ns]")
    assert ts.y.index.equals(ts.X.index) and ts.snapshot.index.equals(ts.X.index)
    assert list(ts.X.columns) == [spec.code for spec in FEATURES]


def test_snapshot_features_equal_build_features_on_that_day() -> None:
    """Each snapshot's rows are exactly build_features on the snapshot date."""
    portfolio = _portfolio(PAYMENTS)
    ts = build_training_set(portfolio, AS_OF, snapshots=2)
    december = ts.X.xs(pd.Timestamp("2026-12-01"), level="snapshot")
    pd.testing.assert_frame_equal(december, build_features(portfolio, date(2026, 12, 1)))


def test_payments_after_as_of_change_no_label() -> None:
    """Moving, changing or adding payments dated after as_of leaves X, y and snapshots alone."""
    base = build_training_set(_portfolio(PAYMENTS), AS_OF, snapshots=2)
    later = [
        *PAYMENTS[:3],
        ("R3", "2027-03-01", "10.00"),
        ("R3", "2027-01-01", "50.00"),
        *PAYMENTS[4:],
        ("R2", "2027-01-02", "5.00"),
    ]
    mutated = build_training_set(_portfolio(later), AS_OF, snapshots=2)
    pd.testing.assert_frame_equal(base.X, mutated.X)
    pd.testing.assert_series_equal(base.y, mutated.y)
    pd.testing.assert_series_equal(base.snapshot, mutated.snapshot)


def test_labels_agree_with_the_ledger() -> None:
    """y == 1 exactly for the invoices still open horizon_days after the snapshot."""
    portfolio = _portfolio(PAYMENTS)
    ts = build_training_set(portfolio, AS_OF, horizon_days=10, snapshots=4, step_days=7)
    for snapshot in ts.snapshot.unique():
        day = pd.Timestamp(snapshot).date()
        rows = ts.y.xs(pd.Timestamp(snapshot), level="snapshot")
        still_open = set(open_items(portfolio, day + pd.Timedelta(days=10))["invoice_id"])
        assert rows.to_dict() == {i: int(i in still_open) for i in rows.index}


def test_a_portfolio_without_overdue_invoices_gives_an_empty_set() -> None:
    """No overdue invoice on any snapshot: zero rows but the full columns."""
    ts = build_training_set(Portfolio.empty(), AS_OF, snapshots=3)
    assert isinstance(ts, TrainingSet)
    assert (len(ts.X), len(ts.y), len(ts.snapshot)) == (0, 0, 0)
    assert list(ts.X.columns) == [spec.code for spec in FEATURES]


@pytest.mark.parametrize(
    ("name", "value"),
    [("horizon_days", 0), ("snapshots", -1), ("step_days", 2.5), ("snapshots", True)],
)
def test_invalid_parameters_are_rejected(name: str, value: object) -> None:
    """Non-positive or non-integer window parameters raise a PolicyError naming them."""
    portfolio = _portfolio(PAYMENTS)
    with pytest.raises(PolicyError, match=name) as info:
        build_training_set(portfolio, AS_OF, **{name: value})  # type: ignore[arg-type]
    assert info.value.field == name


def test_unchanged_portfolio_is_not_mutated() -> None:
    """Building the training set leaves the portfolio's tables unchanged."""
    portfolio = _portfolio(PAYMENTS)
    before = {name: table.copy() for name, table in portfolio.tables().items()}
    build_training_set(replace(portfolio), AS_OF, snapshots=2)
    for name, table in portfolio.tables().items():
        pd.testing.assert_frame_equal(table, before[name])
