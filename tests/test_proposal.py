"""Proposal: decisions per overdue invoice, one case per customer, exact totals."""

from __future__ import annotations

import hashlib
import re
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from dunning.errors import DataError
from dunning.interest import statutory_interest
from dunning.ledger import open_items
from dunning.models import Portfolio
from dunning.policy import Policy
from dunning.proposal import CASE_COLUMNS, DECISION_COLUMNS, case_id, first_reminders, propose_items

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
    return propose_items(items, pd.DataFrame(index=scores.index), scores, p.customers, AS_OF)


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
        propose_items(items, pd.DataFrame(), scores, p.customers, AS_OF)


def _book(
    rows: list[tuple[str, str, str, str, str]],
    segments: dict[str, str],
    history: list[tuple[str, int, str]] | None = None,
    vulnerable: tuple[str, ...] = (),
    disputed: tuple[str, ...] = (),
) -> Portfolio:
    """Invoices ``(invoice_id, customer_id, issue_date, due_date, amount)`` in EUR."""
    ids = sorted(segments)
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "name": [f"Kunde {c}" for c in ids],
            "country": ["DE"] * len(ids),
            "language": ["de"] * len(ids),
            "segment": [segments[c] for c in ids],
            "email": pd.Series([pd.NA] * len(ids), dtype="str"),
            "contact_consent": ["letter"] * len(ids),
            "vulnerable": pd.array([c in vulnerable for c in ids], dtype="boolean"),
        }
    ).astype({"customer_id": "str"})
    invoices = pd.DataFrame(
        {
            "invoice_id": [r[0] for r in rows],
            "customer_id": [r[1] for r in rows],
            "issue_date": pd.to_datetime([r[2] for r in rows]),
            "due_date": pd.to_datetime([r[3] for r in rows]),
            "amount": [Decimal(r[4]) for r in rows],
            "currency": ["EUR"] * len(rows),
            "disputed": pd.array([r[0] in disputed for r in rows], dtype="boolean"),
        }
    )
    hist = history or []
    dunning = pd.DataFrame(
        {
            "invoice_id": [h[0] for h in hist],
            "level": pd.Series([h[1] for h in hist], dtype="int64"),
            "issued_on": pd.to_datetime([h[2] for h in hist]),
            "channel": ["letter"] * len(hist),
        }
    )
    return Portfolio(customers, invoices, Portfolio.empty().payments, dunning)


def _run(p: Portfolio, as_of: date, risk: float = 0.2, **kwargs: object):  # type: ignore[no-untyped-def]
    items = open_items(p, as_of)
    items = items.assign(
        first_dunned_on=first_reminders(p.history, as_of)
        .reindex(items["invoice_id"].to_numpy())
        .to_numpy("datetime64[ns]")
    )
    overdue = items.loc[items["days_overdue"] > 0, "invoice_id"]
    scores = pd.Series(dict.fromkeys(overdue, risk), dtype="float64")
    features = kwargs.pop("features", pd.DataFrame(index=scores.index))
    return propose_items(items, features, scores, p.customers, as_of, **kwargs)  # type: ignore[arg-type]


def test_b2b_interest_and_flat_fee_hand_computed() -> None:
    """EUR 1,000 B2B due 2026-03-02, no reminder, on 2026-05-16: 45 days at 10.27 % + EUR 40."""
    p = _book([("R1", "B1", "2026-02-01", "2026-03-02", "1000.00")], {"B1": "B2B"})
    proposal = _run(p, date(2026, 5, 16))
    r1 = proposal.decisions.set_index("invoice_id").loc["R1"]
    assert r1["level"] == 1
    assert r1["interest_from"] == date(2026, 4, 2)  # due date + 31 days (§ 286 (3) BGB)
    assert r1["interest_days"] == 45
    assert r1["interest_rate"] == "10.27"
    assert (r1["fee"], r1["interest"], r1["flat_fee"]) == (
        Decimal("0.00"),
        Decimal("12.66"),
        Decimal("40.00"),
    )
    assert r1["claim_total"] == Decimal("1052.66")
    case = proposal.cases.iloc[0]
    assert case["total"] == Decimal("1000.00")
    assert (case["case_fees"], case["case_interest"], case["case_flat_fees"]) == (
        Decimal("0.00"),
        Decimal("12.66"),
        Decimal("40.00"),
    )
    assert case["amount_due"] == Decimal("1052.66")
    assert case["amount_due_minor"] == 105266


def test_policy_waiving_interest_and_flat_fee_claims_nothing() -> None:
    """A policy that claims neither interest nor flat fee from businesses: both are 0.00."""
    p = _book([("R1", "B1", "2026-02-01", "2026-03-02", "1000.00")], {"B1": "B2B"})
    waive = Policy.default("DE").replace(
        claim_interest={"b2c": False, "b2b": False}, claim_flat_fee={"b2c": False, "b2b": False}
    )
    case = _run(p, date(2026, 5, 16), policy=waive).cases.iloc[0]
    assert (case["case_interest"], case["case_flat_fees"]) == (Decimal("0.00"), Decimal("0.00"))
    assert case["amount_due"] == Decimal("1000.00")


def test_fee_is_charged_once_per_level_not_on_every_run() -> None:
    """B2C 100.00: 1st reminder on 04-16 costs 1.00; the run on 04-17 charges no fee again."""
    reminded = [("R1", 1, "2026-04-02")]
    p = _book([("R1", "C1", "2026-03-01", "2026-04-01", "100.00")], {"C1": "B2C"}, reminded)
    first = _run(p, date(2026, 4, 16))
    r1 = first.decisions.set_index("invoice_id").loc["R1"]
    assert (r1["level"], r1["fee"]) == (2, Decimal("1.00"))
    # default from the day after the reminder: 04-03 to 04-16, 14 days at 6.27 % -> 0.2405
    assert (r1["interest_from"], r1["interest_days"]) == (date(2026, 4, 3), 14)
    assert (r1["interest"], r1["flat_fee"]) == (Decimal("0.24"), Decimal("0.00"))
    assert first.cases.iloc[0]["amount_due"] == Decimal("101.24")
    issued = _book(
        [("R1", "C1", "2026-03-01", "2026-04-01", "100.00")],
        {"C1": "B2C"},
        [*reminded, ("R1", 2, "2026-04-16")],
    )
    for day in (date(2026, 4, 16), date(2026, 4, 17)):
        again = _run(issued, day)
        assert again.decisions["fee"].tolist() == [Decimal("0.00")]
        assert again.cases.empty


def test_unconfirmed_base_rate_is_not_claimed_but_noted() -> None:
    """2026-H2's base rate is unconfirmed: interest 0.00 with a note; allowed, it is 6.92."""
    p = _book([("R1", "B1", "2026-09-01", "2026-09-30", "1000.00")], {"B1": "B2B"})
    r1 = _run(p, date(2026, 11, 23)).decisions.set_index("invoice_id").loc["R1"]
    assert r1["interest"] == Decimal("0.00")
    assert r1["interest_rate_note"] == (
        "interest not claimed: the reference rate from 2026-07-01 is unconfirmed"
    )
    assert r1["flat_fee"] == Decimal("40.00")
    allow = Policy.default("DE").replace(allow_unconfirmed_base_rate=True)
    r1 = _run(p, date(2026, 11, 23), policy=allow).decisions.set_index("invoice_id").loc["R1"]
    # 2026-10-31 to 2026-11-23: 24 days at 1.52 + 9 = 10.52 % -> 6.9172
    assert (r1["interest"], r1["interest_days"], r1["interest_rate_note"]) == (
        Decimal("6.92"),
        24,
        "",
    )


def test_vectorised_interest_equals_statutory_interest_per_invoice() -> None:
    """Grouped computation gives exactly statutory_interest's cents for every invoice."""
    rng = np.random.default_rng(7)
    rows = []
    for i in range(60):
        due = date(2025, 1, 1) + timedelta(days=int(rng.integers(0, 400)))
        cents = int(rng.integers(500, 5_000_000))
        rows.append((f"R{i}", f"K{i % 7}", "2024-12-01", due.isoformat(), f"{cents / 100:.2f}"))
    segments = {f"K{k}": ("B2B" if k % 2 else "B2C") for k in range(7)}
    as_of = date(2026, 6, 30)
    d = _run(_book(rows, segments), as_of).decisions
    for row in d.itertuples():
        start = row.due_date.date() + timedelta(days=31)
        seg = segments[row.customer_id]
        expected = statutory_interest(row.open_amount, start, as_of, segment=seg).amount
        assert row.interest == expected, row.invoice_id


def test_per_invoice_gives_one_case_per_invoice() -> None:
    """per_invoice=True: a customer's two overdue invoices get two cases and two letters."""
    rows = [
        ("R1", "C1", "2026-03-01", "2026-04-01", "100.00"),
        ("R2", "C1", "2026-03-05", "2026-04-05", "50.00"),
    ]
    p = _book(rows, {"C1": "B2C"})
    assert len(_run(p, date(2026, 4, 20)).cases) == 1
    split = _run(p, date(2026, 4, 20), per_invoice=True)
    assert len(split.cases) == 2
    assert split.cases["total"].tolist() == [Decimal("100.00"), Decimal("50.00")]
    assert split.decisions["case_id"].nunique() == 2
    assert set(split.decisions["case_id"]) == set(split.cases["case_id"])


def test_review_reasons_each_rule() -> None:
    """Each review rule routes its case with its code; a plain case is not routed."""
    rows = [
        ("R1", "PLAIN", "2026-03-01", "2026-04-01", "100.00"),
        ("R2", "BIG", "2026-03-01", "2026-04-01", "12000.00"),
        ("R3", "DISP", "2026-03-01", "2026-04-01", "100.00"),
        ("R4", "DISP", "2026-03-01", "2026-04-01", "100.00"),
        ("R5", "VULN", "2026-03-01", "2026-04-01", "100.00"),
        ("R6", "ANOM", "2026-03-01", "2026-04-01", "100.00"),
        ("R7", "GAP", "2026-03-01", "2026-04-01", "100.00"),
    ]
    segments = dict.fromkeys(["PLAIN", "BIG", "DISP", "VULN", "ANOM", "GAP"], "B2C")
    p = _book(rows, segments, vulnerable=("VULN",), disputed=("R3",))
    ids = [r[0] for r in rows]
    features = pd.DataFrame({"a": [1.0] * 7, "b": [1.0] * 7}, index=ids)
    features.loc["R7", "a"] = np.nan  # half the features missing > 0.2
    anomalies = pd.Series(["", "", "", "", "", "AMOUNT_OUTLIER", ""], index=ids)
    as_of = date(2026, 4, 20)
    data = Policy.default("DE").to_dict()
    data["review"]["dispute_scope"] = "customer"
    whole = Policy.from_dict(data)
    proposal = _run(p, as_of, features=features, anomalies=anomalies, policy=whole)
    cases = proposal.cases.set_index("customer_id")
    assert cases["review_reason"].to_dict() == {
        "ANOM": "ANOMALY",
        "BIG": "HIGH_EXPOSURE",
        "DISP": "DISPUTE",
        "GAP": "DATA_GAP",
        "PLAIN": "",
        "VULN": "VULNERABLE",
    }
    assert cases["needs_review"].to_dict() == {
        "ANOM": True, "BIG": True, "DISP": True, "GAP": True, "PLAIN": False, "VULN": True,
    }  # fmt: skip
    d = proposal.decisions.set_index("invoice_id")
    assert d.loc["R4", "review_reason"] == "DISPUTE"
    assert pd.isna(d.loc["R3", "case_id"])  # disputed itself: no case, no letter
    assert (d.loc["R3", "needs_review"], d.loc["R3", "review_reason"]) == (True, "DISPUTE")
    # Default dispute_scope "invoice": only R3 waits; DISP's letter about R4 goes out.
    default = _run(p, as_of, features=features, anomalies=anomalies)
    assert default.cases.set_index("customer_id").loc["DISP", "review_reason"] == ""
    r3 = default.decisions.set_index("invoice_id").loc["R3"]
    assert (r3["needs_review"], r3["review_reason"]) == (True, "DISPUTE")
    uncertain = _run(p, as_of, risk=0.53).cases.set_index("customer_id")
    assert uncertain.loc["PLAIN", "review_reason"] == "UNCERTAIN_SCORE"
    assert (
        _run(p, as_of, risk=0.56).cases.set_index("customer_id").loc["PLAIN", "review_reason"] == ""
    )
    drift = _run(p, as_of, drift_alarm=True).cases.set_index("customer_id")
    assert drift.loc["PLAIN", "review_reason"] == "DRIFT_ALARM"
    assert drift.loc["BIG", "review_reason"] == "HIGH_EXPOSURE|DRIFT_ALARM"
    assert bool(drift["needs_review"].all())


def test_broken_promises_feature_reaches_the_offer_rule() -> None:
    """A customer with a broken payment promise gets no offer; without one, a plan."""
    p = _book(
        [("R1", "K1", "2026-02-01", "2026-03-02", "1000.00")],
        {"K1": "B2C"},
        history=[("R1", 1, "2026-03-09")],
    )
    codes = []
    for broken in (0, 1):
        features = pd.DataFrame(
            {"broken_promises_12m": [broken]}, index=pd.Index(["R1"], name="invoice_id")
        )
        cases = _run(p, date(2026, 4, 1), risk=0.3, features=features).cases
        assert list(cases.columns) == list(CASE_COLUMNS)
        codes.append((cases.loc[0, "offer"], cases.loc[0, "offer_code"]))
    assert codes == [("installment_plan", "ELIGIBLE"), ("none", "BROKEN_PROMISES")]


def test_every_decision_carries_its_rule_trace() -> None:
    """Why the level (or no letter), then the case's offer, tone and channel, in en and de."""
    d = _propose().decisions.set_index("invoice_id")
    assert d.loc["R1", "rule_trace"].startswith(
        "no letter: last letter 8 days ago, the next after 14; no offer: level 1 below 2; "
    )
    assert d.loc["R2", "rule_trace"] == (
        "level 1: 23 days overdue (from 1); no offer: level 1 below 2; tone friendly: level 1; "
        "channel email: cheapest usable of email, letter"
    )
    assert d.loc["R2", "rule_trace_de"].startswith("Stufe 1: 23 Tage überfällig (ab 1); ")
    assert (d.loc["R2", "tone"], d.loc["R2", "channel"]) == ("friendly", "email")
    # Disputed and recently dunned invoices are in no letter: their trace is the level's only.
    assert d.loc["R4", "rule_trace"] == "no letter: disputed"
    assert (d.loc["R4", "tone"], d.loc["R4", "channel"]) == ("", "")
    assert d.loc["R5", "rule_trace"] == "no letter: last letter 3 days ago, the next after 14"


def test_level_reasons_name_each_rule() -> None:
    """Not yet due, grace days, gap, minimum amount, last automatic level, next threshold."""
    from dunning.levels import level_reasons

    data = Policy.default("DE").to_dict()
    data["grace_days"] = 3
    data["levels"][0]["days_after_due"] = 5
    policy = Policy.from_dict(data)
    en, _ = level_reasons(
        [0, 2, 20, 20, 60, 10, 4],
        [0, 0, 1, 0, 4, 1, 0],
        [0, 0, 0, 0, 0, 0, 0],
        [np.nan, np.nan, 5.0, np.nan, 20.0, 20.0, np.nan],
        policy=policy,
        below_minimum=[False, False, False, True, False, False, False],
    )
    assert en.tolist() == [
        "no letter: not yet due",
        "no letter: within the 3 grace days",
        "no letter: last letter 5 days ago, the next after 14",
        "no letter: open amount below the minimum",
        "no letter: level 4 reached, the next level needs a clerk",
        "no letter: level 1 already sent; level 2 from day 15",
        "no letter: 4 days overdue, level 1 from day 5",
    ]
