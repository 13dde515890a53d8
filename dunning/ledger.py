"""Open items: what each invoice still owes on a given day.

This is the one place where payments are netted against invoices. Every later stage
(features, levels, letters) starts from :func:`open_items`, so that "open" means the same
thing everywhere. Only facts dated on or before ``as_of`` count: payments after
``as_of`` and invoices issued after it are ignored, which keeps every stage built on
this function free of look-ahead leakage.

Examples
--------
>>> from datetime import date
>>> from decimal import Decimal
>>> import pandas as pd
>>> from dunning.models import Portfolio
>>> p = Portfolio.empty()
>>> inv = pd.DataFrame({"invoice_id": ["R1", "R2"], "customer_id": ["K1", "K1"],
...     "issue_date": pd.to_datetime(["2026-09-01", "2026-10-01"]),
...     "due_date": pd.to_datetime(["2026-09-15", "2026-10-15"]),
...     "amount": [Decimal("100.00"), Decimal("50.00")], "currency": ["EUR", "EUR"],
...     "disputed": pd.array([False, pd.NA], dtype="boolean")})
>>> pay = pd.DataFrame({"payment_id": ["P1"], "invoice_id": ["R1"],
...     "payment_date": pd.to_datetime(["2026-10-20"]), "amount": [Decimal("40.00")],
...     "currency": ["EUR"]})
>>> items = open_items(Portfolio(p.customers, inv, pay), date(2026, 11, 1))
>>> print(items[["invoice_id", "open_amount", "days_overdue"]].to_string(index=False))
invoice_id open_amount  days_overdue
        R1       60.00            47
        R2       50.00            17
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from dunning.models import Portfolio
from dunning.money import from_minor_array, to_minor_array

__all__ = ["OPEN_ITEM_COLUMNS", "open_items"]

#: Columns of :func:`open_items`, in order.
OPEN_ITEM_COLUMNS: tuple[str, ...] = (
    "invoice_id",
    "customer_id",
    "issue_date",
    "due_date",
    "currency",
    "amount",
    "paid",
    "open_amount",
    "open_minor",
    "days_overdue",
    "disputed",
    "last_level",
    "last_dunned_on",
)


def open_items(portfolio: Portfolio, as_of: date) -> pd.DataFrame:
    """Invoices issued on or before ``as_of`` that are not fully paid on ``as_of``.

    Parameters
    ----------
    portfolio : Portfolio
        Validated tables.
    as_of : datetime.date
        The decision date. Only payments and dunning steps dated on or before it count.

    Returns
    -------
    pandas.DataFrame
        One row per open invoice with the columns of :data:`OPEN_ITEM_COLUMNS`:
        ``paid`` and ``open_amount`` are quantized ``Decimal`` (``open_minor`` the same in
        integer minor units), ``days_overdue`` is ``as_of - due_date`` in calendar days
        (negative when not yet due), ``last_level`` the highest dunning level already
        issued (0 for none) and ``last_dunned_on`` its date (``NaT`` for none).
        Rows keep the order of ``portfolio.invoices``.
    """
    cutoff = pd.Timestamp(as_of)
    invoices = portfolio.invoices
    invoices = invoices.loc[invoices["issue_date"] <= cutoff]
    amount_minor = to_minor_array(invoices["amount"], invoices["currency"].tolist())

    payments = portfolio.payments
    payments = payments.loc[payments["payment_date"] <= cutoff]
    paid_by_invoice = (
        pd.Series(
            to_minor_array(payments["amount"], payments["currency"].tolist()),
            index=payments["invoice_id"].to_numpy(),
        )
        .groupby(level=0)
        .sum()
    )
    paid_minor = (
        paid_by_invoice.reindex(invoices["invoice_id"].to_numpy()).fillna(0).to_numpy(np.int64)
    )
    open_minor = amount_minor - paid_minor
    keep = open_minor > 0

    result = invoices.loc[keep, ["invoice_id", "customer_id", "issue_date", "due_date", "currency"]]
    result = result.reset_index(drop=True)
    currencies = result["currency"].tolist()
    result["amount"] = pd.Series(list(invoices.loc[keep, "amount"]), dtype="object")
    result["paid"] = pd.Series(from_minor_array(paid_minor[keep], currencies), dtype="object")
    result["open_amount"] = pd.Series(
        from_minor_array(open_minor[keep], currencies), dtype="object"
    )
    result["open_minor"] = open_minor[keep].astype(np.int64)
    result["days_overdue"] = (cutoff - result["due_date"]).dt.days.astype(np.int64)
    if "disputed" in invoices.columns:
        result["disputed"] = invoices.loc[keep, "disputed"].astype("boolean").to_numpy()
    else:
        result["disputed"] = pd.array([pd.NA] * len(result), dtype="boolean")

    history = portfolio.history
    history = history.loc[history["issued_on"] <= cutoff]
    last = history.sort_values(["invoice_id", "level", "issued_on"]).groupby("invoice_id").last()
    result["last_level"] = (
        last["level"].reindex(result["invoice_id"].to_numpy()).fillna(0).astype(np.int64).to_numpy()
    )
    result["last_dunned_on"] = (
        last["issued_on"]
        .reindex(result["invoice_id"].to_numpy())
        .astype("datetime64[ns]")
        .to_numpy()
    )
    ordered: pd.DataFrame = result[list(OPEN_ITEM_COLUMNS)]
    return ordered
