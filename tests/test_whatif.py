"""What-if: two policies on the same portfolio and day, compared letter by letter."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction
from math import floor

import numpy as np
import pandas as pd
import pytest

from dunning.errors import DataError, RenderError
from dunning.ledger import open_items
from dunning.models import Portfolio
from dunning.policy import Policy
from dunning.proposal import Proposal, first_reminders, propose_items
from dunning.whatif import CASE_FIELDS, TOTAL_COLUMNS, compare

AS_OF = date(2026, 4, 20)
SEGMENTS = {"B1": "B2B", "C1": "B2C", "C2": "B2C", "S1": "B2C"}
# (invoice, customer, issued, due, amount), all EUR
INVOICES = [
    ("R1", "C1", "2026-02-01", "2026-03-01", "100.00"),  # reminded 03-10: now level 2
    ("R5", "C1", "2026-03-15", "2026-04-15", "50.00"),  # 5 days overdue: level 1
    ("R2", "C2", "2026-03-10", "2026-04-10", "200.00"),  # level 1
    ("R3", "B1", "2026-02-01", "2026-03-01", "6000.00"),  # level 1, above exposure_limit
    ("R4", "S1", "2026-03-01", "2026-04-01", "3.00"),  # below min_open_amount 5.00
]


def _portfolio() -> Portfolio:
    ids = sorted(SEGMENTS)
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "name": [f"Kunde {c}" for c in ids],
            "street": [f"Weg {i}" for i in range(len(ids))],
            "postal_code": ["10115"] * len(ids),
            "city": ["Berlin"] * len(ids),
            "country": ["DE"] * len(ids),
            "language": ["de"] * len(ids),
            "segment": [SEGMENTS[c] for c in ids],
            "email": pd.Series([pd.NA] * len(ids), dtype="str"),
            "contact_consent": ["letter"] * len(ids),
            "vulnerable": pd.array([False] * len(ids), dtype="boolean"),
        }
    ).astype({"customer_id": "str"})
    invoices = pd.DataFrame(
        {
            "invoice_id": [r[0] for r in INVOICES],
            "customer_id": [r[1] for r in INVOICES],
            "issue_date": pd.to_datetime([r[2] for r in INVOICES]),
            "due_date": pd.to_datetime([r[3] for r in INVOICES]),
            "amount": [Decimal(r[4]) for r in INVOICES],
            "currency": ["EUR"] * len(INVOICES),
            "disputed": pd.array([False] * len(INVOICES), dtype="boolean"),
        }
    )
    history = pd.DataFrame(
        {
            "invoice_id": ["R1"],
            "level": pd.Series([1], dtype="int64"),
            "issued_on": pd.to_datetime(["2026-03-10"]),
            "channel": ["letter"],
        }
    )
    return Portfolio(customers, invoices, Portfolio.empty().payments, history)


def _propose(policy: Policy, as_of: date = AS_OF) -> Proposal:
    p = _portfolio()
    items = open_items(p, as_of)
    items = items.assign(
        first_dunned_on=first_reminders(p.history, as_of)
        .reindex(items["invoice_id"].to_numpy())
        .to_numpy("datetime64[ns]")
    )
    overdue = items.loc[items["days_overdue"] > 0, "invoice_id"]
    risk = pd.Series(dict.fromkeys(overdue, 0.3), dtype="float64")
    return propose_items(
        items, pd.DataFrame(index=risk.index), risk, p.customers, as_of, policy=policy
    )


def _live() -> Policy:
    """The German default with an exposure limit of 5,000 (the variant lifts it)."""
    data = Policy.default("DE").to_dict()
    data["review"]["exposure_limit"] = "5000.00"
    return Policy.from_dict(data, source="live")


def _variant() -> Policy:
    """Level-2 B2C fee 2.00 (cap 2.50), exposure limit 10,000, minimum open amount 1.00."""
    data = _live().to_dict()
    data["levels"][1]["fee_b2c"] = "2.00"
    data["review"]["exposure_limit"] = "10000.00"
    data["min_open_amount"] = "1.00"
    return Policy.from_dict(data, source="variant")


@pytest.fixture(scope="module")
def live() -> Proposal:
    return _propose(_live())


@pytest.fixture(scope="module")
def candidate() -> Proposal:
    return _propose(_variant())


def _by_customer(frame: pd.DataFrame, column: str) -> dict[str, object]:
    return dict(zip(frame["customer_id"], frame[column], strict=True))


def test_variant_letters_side_by_side(live: Proposal, candidate: Proposal) -> None:
    """S1's 3.00 gets a letter only under the variant; C1 pays 1.00 more; B1 leaves review."""
    c = compare(live, candidate, labels=("live", "candidate"))
    assert c.grouping == "customer"
    assert list(c.cases.columns[:6]) == [
        "customer_id", "currency", "case_id_a", "case_id_b", "change", "changed",
    ]  # fmt: skip
    assert list(c.cases.columns[6:]) == [f"{f}_{s}" for f in CASE_FIELDS for s in ("a", "b")]
    assert c.cases["customer_id"].tolist() == ["B1", "C1", "C2", "S1"]
    assert _by_customer(c.cases, "change") == {
        "B1": "changed",
        "C1": "changed",
        "C2": "same",
        "S1": "new_letter",
    }
    assert _by_customer(c.cases, "changed") == {
        "B1": "needs_review|review_reason",
        "C1": "case_fees|amount_due",
        "C2": "",
        "S1": "|".join(CASE_FIELDS),  # nothing in a, everything in b
    }
    c1 = c.cases.set_index("customer_id").loc["C1"]
    assert (c1["level_a"], c1["level_b"]) == (2, 2)
    assert (c1["case_fees_a"], c1["case_fees_b"]) == (Decimal("1.00"), Decimal("2.00"))
    # 100.00 + 50.00, fee, interest on R1 from 03-11 to 04-20: 41 days at 6.27 % = 0.7043
    assert (c1["amount_due_a"], c1["amount_due_b"]) == (Decimal("151.70"), Decimal("152.70"))
    b1 = c.cases.set_index("customer_id").loc["B1"]
    assert (b1["needs_review_a"], b1["review_reason_a"]) == (True, "HIGH_EXPOSURE")
    assert (b1["needs_review_b"], b1["review_reason_b"]) == (False, "")
    s1 = c.cases.set_index("customer_id").loc["S1"]
    assert (s1["letter_a"], s1["letter_b"]) == (False, True)
    assert pd.isna(s1["level_a"]) and pd.isna(s1["amount_due_a"])
    assert s1["amount_due_b"] == Decimal("3.00")
    assert s1["case_id_b"] == candidate.cases.set_index("customer_id").loc["S1", "case_id"]


def test_variant_invoices_that_differ(live: Proposal, candidate: Proposal) -> None:
    """R1's fee, R3's review and R4's level differ; R2 and R5 are decided alike."""
    inv = compare(live, candidate).invoices
    assert inv["invoice_id"].tolist() == ["R1", "R3", "R4"]
    assert dict(zip(inv["invoice_id"], inv["changed"], strict=True)) == {
        "R1": "fee|claim_total",
        "R3": "needs_review",
        "R4": "level",
    }
    assert set(inv["change"]) == {"changed"}
    r1 = inv.set_index("invoice_id").loc["R1"]
    assert (r1["fee_a"], r1["fee_b"]) == (Decimal("1.00"), Decimal("2.00"))
    assert (r1["claim_total_a"], r1["claim_total_b"]) == (Decimal("101.70"), Decimal("102.70"))
    r4 = inv.set_index("invoice_id").loc["R4"]
    assert (r4["level_a"], r4["level_b"]) == (0, 1)


def test_variant_totals_exact_per_currency(live: Proposal, candidate: Proposal) -> None:
    """Counts, review shares and exact Decimal sums; the difference is b - a."""
    c = compare(live, candidate)
    assert list(c.totals.columns) == list(TOTAL_COLUMNS)
    assert c.totals.index.tolist() == ["EUR", "all"]
    eur = c.totals.loc["EUR"]
    counts = ["letters_a", "letters_b", "changed", "new_letters", "dropped_letters"]
    assert [int(eur[k]) for k in counts] == [3, 4, 2, 1, 0]
    assert (int(eur["review_a"]), int(eur["review_b"])) == (1, 0)
    assert eur["review_share_a"] == pytest.approx(1 / 3)
    assert eur["review_share_b"] == 0.0
    # principal 6,350.00; fee 1.00; interest 0.70 (C1) + 33.76 (B1: 20 days at 10.27 %
    # on 6,000.00); flat fee 40.00 (B1)
    assert (eur["fees_a"], eur["fees_b"], eur["fees_diff"]) == (
        Decimal("1.00"),
        Decimal("2.00"),
        Decimal("1.00"),
    )
    assert (eur["interest_a"], eur["interest_diff"]) == (Decimal("34.46"), Decimal("0.00"))
    assert (eur["flat_fees_a"], eur["flat_fees_diff"]) == (Decimal("40.00"), Decimal("0.00"))
    assert (eur["amount_due_a"], eur["amount_due_b"], eur["amount_due_diff"]) == (
        Decimal("6425.46"),
        Decimal("6429.46"),
        Decimal("4.00"),
    )
    assert all(isinstance(eur[f"amount_due_{s}"], Decimal) for s in ("a", "b", "diff"))
    # the proposals carry expected_recovery / expected_cost: summed, no estimate
    for side, p in (("a", live), ("b", candidate)):
        assert eur[f"expected_recovery_{side}"] == sum(p.cases["expected_recovery"], Decimal(0))
        assert eur[f"expected_cost_{side}"] == sum(p.cases["expected_cost"], Decimal(0))
    assert eur["expected_cost_diff"] == eur["expected_cost_b"] - eur["expected_cost_a"]
    assert not any("expected" in n.lower() for n in c.notes)
    every = c.totals.loc["all"]
    assert [int(every[k]) for k in counts] == [3, 4, 2, 1, 0]
    assert every["amount_due_diff"] is None  # currencies are never added up


def test_reverse_direction_mirrors(live: Proposal, candidate: Proposal) -> None:
    """Swapping a and b turns the new letter into a dropped one and negates every difference."""
    forward, backward = compare(live, candidate), compare(candidate, live)
    assert _by_customer(backward.cases, "change")["S1"] == "no_letter"
    eur = backward.totals.loc["EUR"]
    assert (int(eur["new_letters"]), int(eur["dropped_letters"])) == (0, 1)
    for name in ("fees", "interest", "amount_due", "expected_recovery", "expected_cost"):
        assert eur[f"{name}_diff"] == -forward.totals.loc["EUR", f"{name}_diff"]
    assert eur["amount_due_diff"] == Decimal("-4.00")


def test_same_policy_compares_equal(live: Proposal) -> None:
    """The same policy twice: every letter is the same, no invoice differs, all diffs 0."""
    c = compare(live, _propose(_live()))
    assert set(c.cases["change"]) == {"same"}
    assert set(c.cases["changed"]) == {""}
    assert c.invoices.empty
    eur = c.totals.loc["EUR"]
    assert [eur[f"{n}_diff"] for n in ("fees", "interest", "flat_fees", "amount_due")] == [
        Decimal("0.00")
    ] * 4
    assert c.notes == ()


def test_per_invoice_grouping_is_compared_per_invoice(candidate: Proposal) -> None:
    """One letter per invoice against one per customer: rows are the invoices in a letter."""
    split = _propose(_live().replace(case_grouping="invoice"))
    assert len(split.cases) == 4  # C1's R1 and R5 get a letter each
    c = compare(split, candidate)
    assert c.grouping == "invoice"
    assert c.cases["invoice_id"].tolist() == ["R3", "R1", "R5", "R2", "R4"]  # by customer
    changes = dict(zip(c.cases["invoice_id"], c.cases["changed"], strict=True))
    # R5 is in its own level-1 letter in a (friendly), in C1's level-2 letter in b (neutral)
    # whose 150.00 earn a deferral: 5 % uplift x 150.00 - 5.00 cost > 0; R1's own letter of
    # 100.00 in a breaks even (5.00 - 5.00), and a tie goes to no offer.
    assert changes["R5"] == "level|offer|tone"
    assert changes["R1"] == "case_fees|amount_due|offer"
    assert _by_customer(c.cases.loc[c.cases["invoice_id"] == "R4"], "change") == {
        "S1": "new_letter"
    }
    r5 = c.cases.set_index("invoice_id").loc["R5"]
    assert (r5["amount_due_a"], r5["amount_due_b"]) == (Decimal("50.00"), Decimal("50.00"))
    assert r5["case_id_a"] != r5["case_id_b"]
    eur = c.totals.loc["EUR"]
    assert (int(eur["letters_a"]), int(eur["letters_b"])) == (4, 4)  # letters, not invoices
    assert (int(eur["changed"]), int(eur["new_letters"])) == (3, 1)  # invoices
    assert eur["amount_due_diff"] == Decimal("4.00")
    assert "per invoice" in c.notes[0]


# -- hand-made proposals ------------------------------------------------------------------

DAY = date(2026, 11, 23)


def _cases(rows: list[dict[str, object]]) -> pd.DataFrame:
    return pd.DataFrame(rows)


def _case(customer: str, currency: str, due: str, **more: object) -> dict[str, object]:
    amount = Decimal(due)
    row: dict[str, object] = {
        "case_id": f"C20261123-{customer}",
        "customer_id": customer,
        "currency": currency,
        "level": 2,
        "case_fees": Decimal("0.00"),
        "case_interest": Decimal("0.00"),
        "case_flat_fees": Decimal("0.00"),
        "amount_due": amount,
        "offer": "none",
        "tone": "neutral",
        "channel": "letter",
        "needs_review": False,
        "review_reason": "",
        "risk": 0.3,
        "expected_recovery": Decimal("1.00"),
        "expected_cost": Decimal("0.50"),
    }
    row.update(more)
    return row


def test_letter_only_in_b_and_currencies_kept_apart() -> None:
    """K1 owes EUR in both, GBP only in b: GBP is a new letter; EUR and GBP never add up."""
    a = Proposal(pd.DataFrame(), _cases([_case("K1", "EUR", "100.00")]), DAY)
    b = Proposal(
        pd.DataFrame(),
        _cases([_case("K1", "EUR", "100.00"), _case("K1", "GBP", "70.00", level=1)]),
        DAY,
    )
    c = compare(a, b)
    assert c.cases[["customer_id", "currency", "change"]].values.tolist() == [
        ["K1", "EUR", "same"],
        ["K1", "GBP", "new_letter"],
    ]
    assert c.totals.index.tolist() == ["EUR", "GBP", "all"]
    gbp = c.totals.loc["GBP"]
    assert (int(gbp["letters_a"]), int(gbp["letters_b"]), int(gbp["new_letters"])) == (0, 1, 1)
    assert (gbp["amount_due_a"], gbp["amount_due_b"], gbp["amount_due_diff"]) == (
        Decimal("0.00"),
        Decimal("70.00"),
        Decimal("70.00"),
    )
    assert c.totals.loc["EUR", "amount_due_diff"] == Decimal("0.00")
    assert c.totals.loc["all", "amount_due_b"] is None
    assert (int(c.totals.loc["all", "letters_b"]), int(c.totals.loc["all", "new_letters"])) == (
        2,
        1,
    )


def test_missing_columns_are_not_compared_and_estimated() -> None:
    """An older a without tone, review or expected columns: noted, estimated, never a crash."""
    old = _case("K1", "EUR", "10.05", risk=0.1)
    for column in ("tone", "needs_review", "review_reason", "expected_recovery", "expected_cost"):
        del old[column]
    a = Proposal(pd.DataFrame(), _cases([old]), DAY)
    b = Proposal(pd.DataFrame(), _cases([_case("K1", "EUR", "10.05", tone="firm")]), DAY)
    c = compare(a, b, labels=("old", "new"))
    row = c.cases.iloc[0]
    assert (row["change"], row["changed"]) == ("same", "")  # tone is not compared
    assert pd.isna(row["tone_a"]) and row["tone_b"] == "firm"
    assert c.notes[0] == (
        "Case fields not compared (missing from old): tone, needs_review, review_reason."
    )
    eur = c.totals.loc["EUR"]
    assert pd.isna(eur["review_a"]) and np.isnan(eur["review_share_a"])
    assert int(eur["review_b"]) == 0
    # (1 - 0.1) x 10.05 = 9.045 -> 9.05: the risk is read as 0.1, not its binary neighbour
    # 0.1000000000000000055..., which would give 9.0449999... -> 9.04
    assert eur["expected_recovery_a"] == Decimal("9.05")
    assert eur["expected_cost_a"] == Decimal("0.00")
    assert (eur["expected_recovery_diff"], eur["expected_cost_diff"]) == (
        Decimal("-8.05"),
        Decimal("0.50"),
    )
    assert c.notes[1:] == (
        "Expected recovery estimated as (1 - risk) x amount due, rounded half up to the "
        "cent, in old (no expected_recovery column).",
        "Expected cost taken as 0 in old (no expected_cost column).",
    )
    assert c.notes_de[2] == "Erwartete Kosten mit 0 angesetzt in old (keine Spalte expected_cost)."


def test_fallback_recovery_is_exact_half_up() -> None:
    """The estimate equals exact rational arithmetic on the risk to 12 places, half up."""
    rng = np.random.default_rng(11)
    minor = rng.integers(1, 10_000_000, 300)
    risk = rng.random(300)
    risk[:4] = [0.0, 1.0, 0.5, np.nan]
    minor[2] = 5  # 0.05 x 0.5 = 0.025 -> 0.03 (half up, not to even)
    cases = pd.DataFrame(
        {
            "customer_id": [f"K{i}" for i in range(300)],
            "currency": "EUR",
            "amount_due": [Decimal(int(m)).scaleb(-2) for m in minor],
            "risk": risk,
        }
    )
    c = compare(Proposal(pd.DataFrame(), cases, DAY), Proposal(pd.DataFrame(), cases, DAY))
    expected = Fraction(0)
    for m, r in zip(minor, risk, strict=True):
        if not np.isnan(r):
            expected += floor((1 - Fraction(f"{r:.12f}")) * int(m) + Fraction(1, 2))
    assert c.totals.loc["EUR", "expected_recovery_a"] == Decimal(int(expected)).scaleb(-2)
    three = compare(
        Proposal(pd.DataFrame(), cases.iloc[2:3], DAY), Proposal(pd.DataFrame(), cases, DAY)
    )
    assert three.totals.loc["EUR", "expected_recovery_a"] == Decimal("0.03")


def test_missing_values_equal_and_decimals_exact() -> None:
    """None equals NaN; Decimal 1.0 equals 1.00; one cent is a difference."""
    a = _cases(
        [
            _case("K1", "EUR", "1.0", offer=None),
            _case("K2", "EUR", "5.00", review_reason=np.nan),
        ]
    )
    b = _cases(
        [
            _case("K1", "EUR", "1.00", offer=np.nan),
            _case("K2", "EUR", "5.01", review_reason=None),
        ]
    )
    c = compare(Proposal(pd.DataFrame(), a, DAY), Proposal(pd.DataFrame(), b, DAY))
    assert _by_customer(c.cases, "changed") == {"K1": "", "K2": "amount_due"}
    assert c.totals.loc["EUR", "amount_due_diff"] == Decimal("0.01")


def test_invoice_only_in_one_proposal() -> None:
    """Decisions present on one side only are listed as only_a / only_b."""

    def decisions(ids: list[str], fee: str) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "invoice_id": ids,
                "customer_id": ["K1"] * len(ids),
                "currency": ["EUR"] * len(ids),
                "case_id": ["C20261123-K1"] * len(ids),
                "level": [1] * len(ids),
                "fee": [Decimal(fee)] * len(ids),
            }
        )

    a = Proposal(decisions(["R1", "R2"], "1.00"), pd.DataFrame(), DAY)
    b = Proposal(decisions(["R2", "R3"], "1.50"), pd.DataFrame(), DAY)
    inv = compare(a, b).invoices
    assert inv[["invoice_id", "change", "changed"]].values.tolist() == [
        ["R1", "only_a", "level|fee"],
        ["R2", "changed", "fee"],
        ["R3", "only_b", "level|fee"],
    ]


def test_per_invoice_case_ids_are_recognised() -> None:
    """A per-invoice case id suffix switches to invoice rows even with one case per customer."""
    decisions = pd.DataFrame(
        {
            "invoice_id": ["R1"],
            "customer_id": ["K1"],
            "currency": ["EUR"],
            "case_id": ["C20261123-78c7523daa-0123abcd"],
            "fee": [Decimal("1.00")],
            "claim_total": [Decimal("101.00")],
        }
    )
    cases = _cases([_case("K1", "EUR", "101.00", case_id="C20261123-78c7523daa-0123abcd")])
    c = compare(Proposal(decisions, cases, DAY), Proposal(decisions, cases, DAY))
    assert c.grouping == "invoice"
    assert c.cases[["invoice_id", "change", "case_fees_a", "amount_due_a"]].values.tolist() == [
        ["R1", "same", Decimal("1.00"), Decimal("101.00")]
    ]


def test_different_dates_are_refused_unless_allowed() -> None:
    """A what-if compares one day; other days need allow_different_dates=True."""
    a = Proposal(pd.DataFrame(), _cases([_case("K1", "EUR", "10.00")]), DAY)
    b = Proposal(pd.DataFrame(), _cases([_case("K1", "EUR", "10.00")]), date(2026, 11, 24))
    with pytest.raises(DataError, match=r"as of 2026-11-23 .* as of 2026-11-24.*allow_different"):
        compare(a, b)
    c = compare(a, b, allow_different_dates=True)
    assert c.as_of == (DAY, date(2026, 11, 24))
    assert c.notes[0] == "Run dates differ: a 2026-11-23, b 2026-11-24."


def test_missing_key_column_is_an_error() -> None:
    """A case table with rows but without currency cannot be paired."""
    cases = _cases([_case("K1", "EUR", "10.00")]).drop(columns="currency")
    ok = Proposal(pd.DataFrame(), _cases([_case("K1", "EUR", "10.00")]), DAY)
    with pytest.raises(DataError, match=r"b\.cases lacks the column\(s\) \['currency'\]") as err:
        compare(ok, Proposal(pd.DataFrame(), cases, DAY))
    assert err.value.missing == ("currency",)


def test_float_money_is_refused() -> None:
    """Money is Decimal: a float amount column is an error naming the column."""
    cases = _cases([_case("K1", "EUR", "10.00")]).assign(case_fees=[0.1])
    ok = Proposal(pd.DataFrame(), _cases([_case("K1", "EUR", "10.00")]), DAY)
    with pytest.raises(DataError, match=r"'case_fees' holds floating values, e\.g\. 0\.1"):
        compare(ok, Proposal(pd.DataFrame(), cases, DAY))


def test_summary_in_english_and_german() -> None:
    """A few lines: letters, review, money and expectations per currency, then the notes."""
    a = Proposal(pd.DataFrame(), _cases([_case("K1", "EUR", "1200.00")]), DAY)
    b = Proposal(
        pd.DataFrame(),
        _cases(
            [
                _case("K1", "EUR", "1201.00", case_fees=Decimal("1.00"), needs_review=True),
                _case("K2", "GBP", "70.00"),
            ]
        ),
        DAY,
    )
    c = compare(a, b, labels=("live", "candidate"))
    assert c.summary().replace("\xa0", " ").splitlines() == [
        "What-if live → candidate, as of 23 Nov 2026, per customer and currency.",
        "Letters: 1 in live, 2 in candidate; 1 changed, 1 new, 0 dropped.",
        "Routed to review: 0 of 1 (0.0%) in live, 1 of 2 (50.0%) in candidate.",
        "EUR amount due: €1,200.00 in live, €1,201.00 in candidate (+€1.00); fees +€1.00, "
        "interest ±€0.00, flat fees ±€0.00.",
        "EUR expected recovery: €1.00 in live, €1.00 in candidate (±€0.00); expected cost: "
        "€0.50 in live, €0.50 in candidate (±€0.00).",
        "GBP amount due: £0.00 in live, £70.00 in candidate (+£70.00); fees ±£0.00, "
        "interest ±£0.00, flat fees ±£0.00.",
        "GBP expected recovery: £0.00 in live, £1.00 in candidate (+£1.00); expected cost: "
        "£0.00 in live, £0.50 in candidate (+£0.50).",
    ]
    german = c.summary("de").replace("\xa0", " ").splitlines()
    assert german[1] == "Briefe: 1 in live, 2 in candidate; 1 geändert, 1 neu, 0 entfallen."
    assert german[2] == "Zur Prüfung: 0 von 1 (0,0 %) in live, 1 von 2 (50,0 %) in candidate."
    assert german[3].startswith("EUR Forderungsbetrag: 1.200,00 € in live, 1.201,00 € in")
    with pytest.raises(RenderError, match="unknown language 'fr'"):
        c.summary("fr")
