"""The IBM accounts-receivable sample, mapped into the canonical schema and cut at as_of."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from dunning.datasets import load_ar_sample
from dunning.errors import DataError
from dunning.ledger import open_items

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ibm-accounts-receivable"
CSV = DATA / "WA_Fn-UseC_-Accounts-Receivable.csv"

needs_data = pytest.mark.skipif(
    not CSV.is_file(),
    reason=f"public dataset not found at {CSV} (../shared/data beside the repository)",
)


def _raw() -> pd.DataFrame:
    """The sample read with plain pandas, independently of the loader."""
    raw = pd.read_csv(CSV, dtype=str)
    for column in ("InvoiceDate", "SettledDate"):
        raw[column] = pd.to_datetime(raw[column], format="%m/%d/%Y")
    return raw


@needs_data
def test_after_all_settlements_everything_is_loaded_and_settled() -> None:
    """With as_of after the last settlement: 2,466 invoices, 147,703.18 USD, all paid."""
    as_of = date(2014, 1, 31)
    result = load_ar_sample(CSV, as_of=as_of)
    p = result.portfolio
    assert len(result.rejects) == 0
    assert len(p.invoices) == 2466
    assert sum(p.invoices["amount"], Decimal(0)) == Decimal("147703.18")
    assert len(p.payments) == 2466
    assert sum(p.payments["amount"], Decimal(0)) == Decimal("147703.18")
    assert len(open_items(p, as_of)) == 0
    assert len(p.customers) == 100
    assert set(p.invoices["currency"]) == {"USD"}
    assert p.invoices["disputed"].sum() == 561
    assert (p.invoices["invoice_id"].str.len() == 10).all()
    first = p.invoices.loc[p.invoices["invoice_id"] == "0000611365"].iloc[0]
    assert first["customer_id"] == "0379-NEVHP"
    assert first["issue_date"] == pd.Timestamp("2013-01-02")
    assert first["due_date"] == pd.Timestamp("2013-02-01")
    assert first["amount"] == Decimal("55.94")
    pay = p.payments.loc[p.payments["invoice_id"] == "0000611365"].iloc[0]
    assert pay["payment_id"] == "P-0000611365"
    assert pay["payment_date"] == pd.Timestamp("2013-01-15")


@needs_data
def test_cut_makes_the_invoices_settled_later_open() -> None:
    """At 2013-06-30 the open items are exactly the invoices issued by then, settled after."""
    as_of = date(2013, 6, 30)
    cut = pd.Timestamp(as_of)
    raw = _raw()
    issued = raw.loc[raw["InvoiceDate"] <= cut]
    expected = set(issued.loc[issued["SettledDate"] > cut, "invoiceNumber"])
    result = load_ar_sample(DATA, as_of=as_of)
    p = result.portfolio
    assert len(result.rejects) == 0
    assert len(p.invoices) == len(issued) == 1930
    assert len(p.payments) == len(issued) - len(expected)
    assert p.payments["payment_date"].max() <= cut
    items = open_items(p, as_of)
    assert set(items["invoice_id"]) == expected
    assert len(expected) == 84
    assert all(len(i) == 10 for i in items["invoice_id"])
    assert any(i.startswith("00") for i in p.invoices["invoice_id"])
    assert (items["open_amount"] == items["amount"]).all()
    customers = p.customers.set_index("customer_id")
    assert set(customers.index) == set(issued["customerID"])
    assert (customers["name"] == customers.index).all()
    assert customers[["street", "city", "email", "iban"]].isna().all().all()
    assert set(customers["country"]) == {"US"} and set(customers["segment"]) == {"B2B"}


def test_missing_or_foreign_file_raises_data_error(tmp_path: Path) -> None:
    """A missing file, or a CSV without the sample's columns, raises DataError naming it."""
    with pytest.raises(DataError, match="file not found") as info:
        load_ar_sample(tmp_path, as_of=date(2013, 6, 30))
    assert info.value.path == str(tmp_path / "WA_Fn-UseC_-Accounts-Receivable.csv")
    other = tmp_path / "other.csv"
    other.write_text("customerID,invoiceNumber\nA,1\n", encoding="utf-8")
    with pytest.raises(DataError, match="does not look like the IBM") as info:
        load_ar_sample(other, as_of=date(2013, 6, 30))
    assert info.value.missing == (
        "InvoiceDate",
        "DueDate",
        "InvoiceAmount",
        "Disputed",
        "SettledDate",
    )


def test_bad_cells_are_rejected_with_their_source_line(tmp_path: Path) -> None:
    """Bad cells reach the loader's rejects, pointing at the sample file's line and value."""
    path = tmp_path / "ar.csv"
    header = (
        "countryCode,customerID,PaperlessDate,invoiceNumber,InvoiceDate,DueDate,InvoiceAmount,"
        "Disputed,SettledDate,PaperlessBill,DaysToSettle,DaysLate\n"
    )
    rows = [
        "0000000004,7/2/2013,8/1/2013,12.00,No,8/15/2013",  # line 2: issued after as_of
        "0000000001,1/2/2013,2/1/2013,55.94,No,1/15/2013",  # line 3: fine
        "0000000002,13/2/2013,2/1/2013,10.00,No,1/15/2013",  # line 4: not m/d/yyyy
        "0000000003,1/2/2013,2/1/2013,10.005,Yes,1/15/2013",  # line 5: three decimals
    ]
    body = "".join(f"391,0379-NEVHP,4/6/2013,{r},Paper,13,0\n" for r in rows)
    path.write_text(header + body, encoding="utf-8")
    result = load_ar_sample(path, as_of=date(2013, 6, 30))
    assert result.portfolio.invoices["invoice_id"].tolist() == ["0000000001"]
    assert result.portfolio.payments["payment_id"].tolist() == ["P-0000000001"]
    rejected = result.rejects.loc[result.rejects["table"] == "invoices"]
    got = list(rejected[["source", "row", "column", "value"]].itertuples(index=False, name=None))
    assert got == [(str(path), 4, "issue_date", "13/2/2013"), (str(path), 5, "amount", "10.005")]
    assert rejected["reason"].str.split(":").str[0].tolist() == [
        "unparsable_date",
        "too_many_decimals",
    ]
    assert result.rows_in == {
        "customers": 1,
        "invoices": 3,
        "payments": 3,
        "history": 0,
        "promises": 0,
    }
