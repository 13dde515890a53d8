"""Proposal: decisions per overdue invoice, one case per customer, exact totals."""

from __future__ import annotations

import hashlib
import re
from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from dunning.errors import DataError
from dunning.ledger import open_items
from dunning.models import Portfolio
from dunning.proposal import CASE_COLUMNS, DECISION_COLUMNS, case_id, propose

AS_OF = date(2026, 11, 23)
ISSUED = "2026-08-01 2026-10-01 2026-11-10 2026-09-01 2026-10-01 2026-10-01 2026-10-01"
AMOUNTS = "0.10 1000.00 50.00 20.20 80.00 10.00 12.00"
DUE = "2026-08-15 2026-10-31 2026-11-30 2026-09-30 2026-11-01 2026-11-01 2026-11-01"


def _portfolio() -> Portfolio:
    empty = Portfolio.empty()
    customers = pd.DataFrame(
        {
            "customer_id": ["K1", "K2", "K3", "K4"],
            "name": ["Erika Muster", "Acme Ltd", "Nora Later", "Two Currencies"],
            "street": ["Hauptstr. 1", "1 High St", "Weg 2", "Platz 3"],
            "postal_code": ["10115", "EC1A 1BB", "20095", "50667"],
            "city": ["Berlin", "London", "Hamburg", "Köln"],
            "country": ["DE", "GB", "DE", "DE"],
            "language": ["de", "en", "de", "de"],
            "segment": ["B2C", "B2B", "B2C", "B2B"],
            "email": ["erika@example.com", "ap@acme.example", pd.NA, "x@example.com"],
            "contact_consent": ["email|letter", "letter", "email|letter", "email"],
            "vulnerable": pd.array([False, False, True, False], dtype="boolean"),
        }
    ).astype({"customer_id": "str", "email": "str"})
    invoices = pd.DataFrame(
        {
            "invoice_id": ["R1", "R2", "R3", "R4", "R5", "R6", "R7"],
            "customer_id": ["K1", "K1", "K1", "K2", "K3", "K4", "K4"],
            "issue_date": pd.to_datetime(ISSUED.split()),
            "due_date": pd.to_datetime(DUE.split()),
            "amount": [Decimal(a) for a in AMOUNTS.split()],
            "currency": ["EUR", "EUR", "EUR", "GBP", "EUR", "EUR", "CHF"],
            "disputed": pd.array([False, False, False, True, False, False, False], "boolean"),
        }
    )
    history = pd.DataFrame(
        {
            "invoice_id": ["R1", "R5"],
            "level": [1, 1],
            "issued_on": pd.to_datetime(["2026-11-15", "2026-11-20"]),
            "channel": ["letter", "letter"],
        }
    )
    return Portfolio(customers, invoices, empty.payments, history)


def _propose(risk: dict[str, float] | None = None):  # type: ignore[no-untyped-def]
    p = _portfolio()
    items = open_items(p, AS_OF)
    overdue = items.loc[items["days_overdue"] > 0, "invoice_id"]
    scores = pd.Series(risk or dict.fromkeys(overdue, 0.5), dtype="float64")
    return propose(items, pd.DataFrame(index=scores.index), scores, p.customers, AS_OF)


def test_one_decision_per_overdue_invoice() -> None:
    """R3 is not yet due and gets no decision; the six overdue invoices get one each."""
    proposal = _propose()
    d = proposal.decisions
    assert list(d.columns) == list(DECISION_COLUMNS)
    assert sorted(d["invoice_id"]) == ["R1", "R2", "R4", "R5", "R6", "R7"]
    levels = dict(zip(d["invoice_id"], d["level"], strict=True))
    # R1: 100 days overdue, level 1 eight days ago -> too soon; R2: 23 days, never dunned -> 1;
    # R4: 54 days but disputed -> 0; R5: level 1 three days ago -> 0; R6, R7: 22 days -> 1.
    assert levels == {"R1": 0, "R2": 1, "R4": 0, "R5": 0, "R6": 1, "R7": 1}
    assert d.set_index("invoice_id").loc["R2", "level_name_de"] == "Zahlungserinnerung"
    assert proposal.as_of == AS_OF


def test_case_lists_all_overdue_invoices_with_exact_total() -> None:
    """K1's case holds R1 (level 0) and R2 (level 1): total 1000.10 EUR, case level 1."""
    cases = _propose().cases.set_index("customer_id")
    assert list(_propose().cases.columns) == list(CASE_COLUMNS)
    k1 = cases.loc["K1"]
    assert k1["total"] == Decimal("1000.10")
    assert isinstance(k1["total"], Decimal)
    assert k1["n_invoices"] == 2
    assert k1["level"] == 1
    assert k1["max_days_overdue"] == 100
    assert k1["channel"] == "email"
    assert k1["language"] == "de"
    assert k1["name"] == "Erika Muster"


def test_customer_without_new_letter_has_no_case() -> None:
    """K3's only overdue invoice was reminded three days ago: no case, case_id missing."""
    proposal = _propose()
    assert "K3" not in set(proposal.cases["customer_id"])
    r5 = proposal.decisions.set_index("invoice_id").loc["R5"]
    assert pd.isna(r5["case_id"])
    assert r5["offer"] == "none"


def test_disputed_invoice_is_never_dunned() -> None:
    """K2's only overdue invoice R4 is disputed: level 0, no case, no letter."""
    proposal = _propose()
    assert "K2" not in set(proposal.cases["customer_id"])
    r4 = proposal.decisions.set_index("invoice_id").loc["R4"]
    assert r4["level"] == 0
    assert pd.isna(r4["case_id"])
    assert r4["offer"] == "none"


def test_case_id_is_stable_and_per_currency() -> None:
    """case_id is C<yyyymmdd>-<10 hex of sha256(customer_id)>; two currencies get suffixes."""
    expected = "C20261123-" + hashlib.sha256(b"K1").hexdigest()[:10]
    assert case_id("K1", AS_OF) == expected
    first, second = _propose().cases, _propose().cases
    assert first["case_id"].tolist() == second["case_id"].tolist()
    ids = dict(zip(first["customer_id"] + "/" + first["currency"], first["case_id"], strict=True))
    assert ids["K1/EUR"] == expected
    base = case_id("K4", AS_OF)
    assert ids["K4/CHF"] == base + "-CHF"
    assert ids["K4/EUR"] == base + "-EUR"
    assert all(re.fullmatch(r"C20261123-[0-9a-f]{10}(-[A-Z]{3})?", c) for c in first["case_id"])


def test_case_risk_is_amount_weighted_and_offer_follows() -> None:
    """K1's risk weights R1 (0.10 EUR, risk 0.9) and R2 (1000 EUR, risk 0.3)."""
    proposal = _propose({"R1": 0.9, "R2": 0.3, "R4": 0.5, "R5": 0.5, "R6": 0.5, "R7": 0.5})
    k1 = proposal.cases.set_index("customer_id").loc["K1"]
    assert k1["risk"] == pytest.approx((10 * 0.9 + 100000 * 0.3) / 100010)
    # level 1 (payment reminder) never gets an offer, even for a large total
    assert k1["offer_code"] == "LEVEL_TOO_LOW"


def test_missing_risk_raises() -> None:
    """An overdue invoice without a risk score is an error naming the invoice."""
    p = _portfolio()
    items = open_items(p, AS_OF)
    scores = pd.Series({"R1": 0.5}, dtype="float64")
    with pytest.raises(DataError, match="no risk score"):
        propose(items, pd.DataFrame(), scores, p.customers, AS_OF)
