"""The demo portfolio generator and the industry outlook table."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dunning.datasets import industry_outlook, make_portfolio, outlook_on
from dunning.datasets._generator import LAST_RUN_LAG_DAYS, LEVEL_DAYS, _Hazard
from dunning.errors import DataError, PolicyError
from dunning.ledger import open_items
from dunning.models import NACE_SECTIONS, SCHEMAS, Portfolio, is_valid_iban

AS_OF = date(2026, 11, 23)
BEHAVIOURS = {"reliable", "forgetful", "cash_strapped", "strategic", "disputing", "turns_late"}


@pytest.fixture(scope="module")
def portfolio() -> Portfolio:
    """A 2,000-customer demo portfolio (about 50,000 invoices)."""
    return make_portfolio(2000, seed=11, as_of=AS_OF)


def _settled_on(p: Portfolio) -> pd.Series:
    """Day each invoice became fully paid (NaT if open), aligned with ``p.invoices``."""
    pay = p.payments.merge(
        p.invoices[["invoice_id", "amount"]], on="invoice_id", suffixes=("", "_inv")
    )
    pay = pay.sort_values(["invoice_id", "payment_date"], kind="stable")
    cents = (pay["amount"].map(lambda d: int(d.scaleb(2)))).astype(np.int64)
    pay["cum"] = cents.groupby(pay["invoice_id"]).cumsum()
    full = pay.loc[pay["cum"] == pay["amount_inv"].map(lambda d: int(d.scaleb(2)))]
    settled = full.groupby("invoice_id")["payment_date"].min()
    days = settled.reindex(p.invoices["invoice_id"]).to_numpy(dtype="datetime64[ns]")
    return pd.Series(days, index=p.invoices.index)


def test_same_seed_same_portfolio_other_seed_other_portfolio() -> None:
    """The same seed gives identical tables; another seed gives different ones."""
    a = make_portfolio(150, seed=3, as_of=AS_OF)
    b = make_portfolio(150, seed=3, as_of=AS_OF)
    c = make_portfolio(150, seed=4, as_of=AS_OF)
    for name in ("customers", "invoices", "payments", "history", "promises"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert a.truth is not None and b.truth is not None
    pd.testing.assert_frame_equal(a.truth, b.truth)
    assert not a.invoices["amount"].equals(c.invoices["amount"])
    assert not a.customers["name"].equals(c.customers["name"])


def test_tables_have_the_canonical_columns_and_dtypes(portfolio: Portfolio) -> None:
    """Every table has exactly the canonical columns, in order, with the canonical dtypes."""
    empty = Portfolio.empty()
    for name, frame in portfolio.tables().items():
        assert list(frame.columns) == [spec.name for spec in SCHEMAS[name]]
        assert frame.dtypes.to_dict() == getattr(empty, name).dtypes.to_dict(), name
        assert isinstance(frame.index, pd.RangeIndex)
    for name in ("invoices", "payments"):
        amounts = getattr(portfolio, name)["amount"]
        assert {type(a) for a in amounts} == {Decimal}
        assert {a.as_tuple().exponent for a in amounts} == {-2}
    assert set(portfolio.invoices["currency"]) == {"EUR", "GBP"}


def test_customers_are_plausible(portfolio: Portfolio) -> None:
    """Segments, countries, languages, industries, IBANs and consent follow the process."""
    c = portfolio.customers
    assert c["customer_id"].is_unique
    assert 0.25 < (c["segment"] == "B2B").mean() < 0.35
    assert set(c["country"]) == {"DE", "AT", "GB"}
    assert set(c.loc[c["country"] == "GB", "language"]) == {"en"}
    assert set(c.loc[c["country"] != "GB", "language"]) == {"de", "en"}
    assert c.loc[c["segment"] == "B2C", "industry"].isna().all()
    b2b_industries = c.loc[c["segment"] == "B2B", "industry"]
    assert b2b_industries.notna().all()
    assert set(b2b_industries) == {"C", "F", "G", "H", "I", "J", "M", "N", "Q"}
    ibans = c["iban"].dropna()
    assert 0.05 < c["iban"].isna().mean() < 0.15
    assert all(is_valid_iban(i) for i in ibans)
    assert {i[:2] for i in ibans} == {"DE", "AT", "GB"}
    assert c["email"].isna().any() and c["phone"].isna().any()
    assert 0 < c["vulnerable"].sum() < 0.06 * len(c)
    consent = c["contact_consent"].str.split("|")
    assert all(parts == sorted(parts) for parts in consent)
    no_email = c["email"].isna()
    assert not consent[no_email].map(lambda parts: "email" in parts).any()
    no_address = c["street"].isna()
    assert no_address.any()
    assert (c.loc[no_address, "contact_consent"].str.contains("letter")).sum() == 0


def test_every_behaviour_type_and_the_anomalies_occur(portfolio: Portfolio) -> None:
    """All six payment types are among the open items, and sudden large invoices exist."""
    truth = portfolio.truth
    assert truth is not None
    assert set(truth["behaviour"]) == BEHAVIOURS
    assert truth["large_invoice"].any()
    inv = portfolio.invoices
    cents = inv["amount"].map(lambda d: int(d.scaleb(2)))
    ratio = cents / cents.groupby(inv["customer_id"]).transform("median")
    assert (ratio > 6).sum() >= 20


def test_invoice_and_payment_invariants(portfolio: Portfolio) -> None:
    """Due ≥ issue, no fact after as_of, payments never exceed the amount, instalments exist."""
    inv, pay = portfolio.invoices, portfolio.payments
    cutoff = pd.Timestamp(AS_OF)
    assert (inv["due_date"] >= inv["issue_date"]).all()
    assert set((inv["due_date"] - inv["issue_date"]).dt.days) == {14, 30}
    assert inv["issue_date"].max() <= cutoff
    assert inv["issue_date"].min() >= cutoff - pd.Timedelta(days=730)
    assert pay["payment_date"].max() <= cutoff
    assert portfolio.history["issued_on"].max() <= cutoff
    assert inv["invoice_id"].is_unique and pay["payment_id"].is_unique
    assert set(inv["customer_id"]) <= set(portfolio.customers["customer_id"])
    merged = pay.merge(inv, on="invoice_id", suffixes=("", "_inv"), validate="many_to_one")
    assert (merged["payment_date"] >= merged["issue_date"]).all()
    assert (merged["currency"] == merged["currency_inv"]).all()
    paid = merged.groupby("invoice_id")["amount"].sum()
    amount = inv.set_index("invoice_id")["amount"].reindex(paid.index)
    assert (paid <= amount).all()
    per_invoice = pay.groupby("invoice_id").size()
    assert set(per_invoice) == {1, 2, 3}
    assert ((paid < amount) & (per_invoice.reindex(paid.index) >= 2)).any()  # partly paid
    assert 20_000 < len(inv) < 80_000  # about 25 invoices per customer


def test_history_follows_the_standard_schedule(portfolio: Portfolio) -> None:
    """Level L is on due + 7/21/35/49 days, up to the last weekly run, for invoices unpaid then."""
    inv = portfolio.invoices.set_index("invoice_id")
    settled = _settled_on(portfolio)
    settled.index = portfolio.invoices["invoice_id"]
    cutoff = pd.Timestamp(AS_OF) - pd.Timedelta(days=LAST_RUN_LAG_DAYS)
    expected = []
    for level, days in enumerate(LEVEL_DAYS, start=1):
        on = inv["due_date"] + pd.Timedelta(days=days)
        unpaid = settled.isna() | (settled > on)
        sent = (on <= cutoff) & unpaid
        expected.append(
            pd.DataFrame(
                {"invoice_id": inv.index[sent], "level": level, "issued_on": on[sent].to_numpy()}
            )
        )
    want = pd.concat(expected).sort_values(["invoice_id", "level"], ignore_index=True)
    got = portfolio.history[["invoice_id", "level", "issued_on"]].sort_values(
        ["invoice_id", "level"], ignore_index=True
    )
    pd.testing.assert_frame_equal(got, want.astype(got.dtypes.to_dict()))
    channel = portfolio.history.merge(
        portfolio.invoices[["invoice_id", "customer_id"]], on="invoice_id"
    )
    channel = channel.merge(
        portfolio.customers[["customer_id", "contact_consent"]], on="customer_id"
    )
    by_email = channel["contact_consent"].str.split("|").map(lambda parts: "email" in parts)
    assert (channel["channel"] == np.where(by_email, "email", "letter")).all()


def test_truth_covers_exactly_the_open_items(portfolio: Portfolio) -> None:
    """``truth`` has one probability in [0, 1] per open item on as_of, in the same order."""
    truth = portfolio.truth
    assert truth is not None
    items = open_items(portfolio, AS_OF)
    assert truth["invoice_id"].tolist() == items["invoice_id"].tolist()
    assert truth["customer_id"].tolist() == items["customer_id"].tolist()
    assert truth["p_unpaid"].dtype == np.float64
    assert truth["p_unpaid"].between(0.0, 1.0).all()
    assert truth["p_unpaid"].min() < 0.05 and truth["p_unpaid"].max() > 0.95
    assert list(truth.columns) == [
        "invoice_id",
        "customer_id",
        "behaviour",
        "large_invoice",
        "p_unpaid",
    ]


def test_truth_ranks_behaviours_as_designed(portfolio: Portfolio) -> None:
    """Reliable payers' open items are the least likely to stay unpaid."""
    truth = portfolio.truth
    assert truth is not None
    mean = truth.groupby("behaviour")["p_unpaid"].mean()
    assert mean.idxmin() == "reliable"
    assert mean["cash_strapped"] > mean["forgetful"]


def test_survival_function_matches_simulation() -> None:
    """The closed-form conditional survival equals the simulated frequency (Monte Carlo)."""
    rng = np.random.default_rng(0)
    n = 200_000
    # One invoice type: due day 100, paying from day 95, rate 0.05, strong dunning response.
    start = np.full(n, 95, dtype=np.int64)
    due = np.full(n, 100, dtype=np.int64)
    rate = np.full(n, 0.05)
    response = np.tile([3.0, 1.0, 0.5, 2.0], (n, 1))
    hazard = _Hazard.build(start, due, rate, response)
    never = 0.05
    settle = np.where(
        rng.random(n) < never, np.iinfo(np.int64).max, hazard.settle(rng.standard_exponential(n))
    )
    for as_of in (90, 104, 110, 130):
        one = _Hazard.build(start[:1], due[:1], rate[:1], response[:1])
        day = np.array([as_of])
        s_now = never + (1 - never) * np.exp(one.log_survival(day))[0]
        s_later = never + (1 - never) * np.exp(one.log_survival(day + 30))[0]
        exact = s_later / s_now
        still_open = settle > as_of
        simulated = (settle[still_open] > as_of + 30).mean()
        error = np.sqrt(exact * (1 - exact) / still_open.sum())
        assert abs(simulated - exact) < 4 * error, (as_of, simulated, exact)
        assert abs((settle > as_of).mean() - s_now) <= 4 * np.sqrt(s_now * (1 - s_now) / n)


def test_outlook_drives_business_lateness() -> None:
    """A gloomy outlook makes businesses pay later; consumers are unaffected (same seed)."""
    quarters = [f"{y}Q{q}" for y in range(2023, 2028) for q in range(1, 5)]

    def flat(level: float) -> pd.DataFrame:
        rows = [(s, q, level) for s in NACE_SECTIONS for q in quarters]
        return pd.DataFrame(rows, columns=["industry", "quarter", "index"])

    gloomy = make_portfolio(1500, seed=5, as_of=AS_OF, outlook=flat(80.0))
    sunny = make_portfolio(1500, seed=5, as_of=AS_OF, outlook=flat(120.0))
    pd.testing.assert_frame_equal(gloomy.invoices, sunny.invoices)
    segment = gloomy.invoices["customer_id"].map(
        gloomy.customers.set_index("customer_id")["segment"]
    )
    late = {}
    for name, p in (("gloomy", gloomy), ("sunny", sunny)):
        settled = _settled_on(p)
        days = (settled.fillna(pd.Timestamp(AS_OF)) - p.invoices["due_date"]).dt.days
        late[name] = (days > 14).to_numpy()
        late[name + "_days"] = days.to_numpy()
    b2b = (segment == "B2B").to_numpy()
    share_gloomy, share_sunny = late["gloomy"][b2b].mean(), late["sunny"][b2b].mean()
    assert share_gloomy > share_sunny + 0.10, (share_gloomy, share_sunny)
    assert (late["gloomy_days"][b2b] >= late["sunny_days"][b2b]).all()
    np.testing.assert_array_equal(late["gloomy_days"][~b2b], late["sunny_days"][~b2b])


def test_custom_start_and_invalid_arguments() -> None:
    """``start`` bounds the issue dates; bad sizes and windows raise PolicyError."""
    p = make_portfolio(50, seed=1, as_of=AS_OF, start=AS_OF - timedelta(days=90))
    assert p.invoices["issue_date"].min() >= pd.Timestamp(AS_OF - timedelta(days=90))
    with pytest.raises(
        PolicyError, match=re.escape("n_customers must be an int ≥ 1. Got 0 instead.")
    ) as info:
        make_portfolio(0, seed=1, as_of=AS_OF)
    assert info.value.field == "n_customers"
    with pytest.raises(PolicyError, match="start must be at least 30 days before as_of"):
        make_portfolio(10, seed=1, as_of=AS_OF, start=AS_OF - timedelta(days=10))


def test_generated_portfolio_loads_without_rejects() -> None:
    """The generated tables pass the loader unchanged, with zero rejects."""
    from dunning.io import load_portfolio

    p = make_portfolio(300, seed=2, as_of=AS_OF)
    result = load_portfolio(p.customers, p.invoices, p.payments, p.history, p.promises, as_of=AS_OF)
    assert len(p.promises) > 0
    assert len(result.rejects) == 0
    for name, frame in p.tables().items():
        pd.testing.assert_frame_equal(getattr(result.portfolio, name), frame, check_exact=True)


# --- industry outlook -------------------------------------------------------------------------


def test_packaged_outlook_table_is_complete_and_marked_illustrative() -> None:
    """The shipped table has every NACE section for 2023Q1–2027Q4 and says it is illustrative."""
    resource = files("dunning.datasets").joinpath("data/industry_outlook.csv")
    assert "ILLUSTRATIVE VALUES, NOT REAL STATISTICS" in resource.read_text(encoding="utf-8")
    table = industry_outlook()
    assert table.dtypes.astype(str).tolist() == ["str", "str", "float64"]
    assert len(table) == 21 * 20
    assert set(table["industry"]) == set(NACE_SECTIONS)
    assert table["quarter"].min() == "2023Q1" and table["quarter"].max() == "2027Q4"
    assert table["index"].between(70, 130).all()


def test_own_outlook_table_replaces_the_packaged_one(tmp_path: Path) -> None:
    """A user's CSV is read as the outlook table (BOM and comments allowed)."""
    path = tmp_path / "outlook.csv"
    path.write_text(
        "\ufeff# mine\nindustry,quarter,index\nF,2026Q4,92.5\nC,2026Q4,101\n", encoding="utf-8"
    )
    table = industry_outlook(path)
    assert table.to_dict("list") == {
        "industry": ["C", "F"],
        "quarter": ["2026Q4", "2026Q4"],
        "index": [101.0, 92.5],
    }
    got = outlook_on(pd.Series(["F", "C", "G"]), date(2026, 12, 31), table)
    assert got.tolist()[:2] == [92.5, 101.0] and np.isnan(got.iloc[2])


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("industry,quarter\nF,2026Q4\n", r"required column\(s\) index missing"),
        (
            "industry,quarter,index\nZ,2026Q4,99\n",
            r"data row 1, column 'industry': 'Z' is not a NACE",
        ),
        (
            "industry,quarter,index\nF,2026Q4,99\nF,2026-4,99\n",
            r"data row 2, column 'quarter': '2026-4'",
        ),
        ("industry,quarter,index\nF,2026Q4,-3\n", r"column 'index': '-3' is not a positive number"),
        (
            "industry,quarter,index\nF,2026Q4,99\nF,2026Q4,98\n",
            r"data row 1, column 'quarter': '2026Q4' is repeated",
        ),
    ],
)
def test_unusable_outlook_table_raises_data_error(tmp_path: Path, content: str, match: str) -> None:
    """A malformed outlook table raises DataError naming the file and the problem."""
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=match) as info:
        industry_outlook(path)
    assert info.value.path == str(path)
    assert str(path) in str(info.value)


def test_missing_outlook_file_raises_data_error(tmp_path: Path) -> None:
    """A missing file raises DataError naming it."""
    path = tmp_path / "nope.csv"
    with pytest.raises(
        DataError, match=re.escape("nope.csv: cannot read the industry outlook table")
    ):
        industry_outlook(path)


def test_outlook_on_is_vectorised_and_never_invents_values() -> None:
    """Per-row days pick the quarter; unknown industry, day or quarter give NaN."""
    industries = pd.Series(["F", "F", None, "J", "X", "C"], index=[10, 11, 12, 13, 14, 15])
    days = pd.Series(
        pd.to_datetime(["2025-03-31", "2025-04-01", "2025-04-01", None, "2025-01-01", "2022-12-31"])
    )
    got = outlook_on(industries, days)
    assert got.index.tolist() == [10, 11, 12, 13, 14, 15]
    assert got.name == "outlook" and got.dtype == np.float64
    assert got.iloc[:2].tolist() == [83.0, 85.6]
    assert got.iloc[2:].isna().all()
    one_day = outlook_on(pd.Series(["F", "J"]), date(2027, 12, 31))
    assert one_day.tolist() == [99.4, 106.4]
    with pytest.raises(DataError, match="'on' has 1 days but 'industries' has 2 rows"):
        outlook_on(pd.Series(["F", "J"]), pd.Series(pd.to_datetime(["2025-01-01"])))


def test_documented_payment_types_match_the_code() -> None:
    """docs/demo-portfolio.md lists exactly the payment-type parameters the generator uses."""
    from dunning.datasets._generator import BEHAVIOURS as TYPES
    from dunning.datasets._generator import LATE, _Behaviour

    def pct(x: float) -> str:
        return f"{x * 100:g} %"

    def row(name: str, b2c: str, b2b: str, b: _Behaviour) -> str:
        cells = [
            name,
            b2c,
            b2b,
            f"{b.offset:+d}" if b.offset > 0 else str(b.offset),
            f"{b.rate:g}",
            ", ".join(f"{r:g}" for r in b.response),
            pct(b.never),
            pct(b.disputed),
            pct(b.partial),
        ]
        return "| " + " | ".join(cells) + " |"

    doc = (Path(__file__).resolve().parents[1] / "docs" / "demo-portfolio.md").read_text("utf-8")
    for b in TYPES:
        assert row(b.name, pct(b.share[0]), pct(b.share[1]), b) in doc, b.name
    assert row("*turns_late after the switch*", "—", "—", LATE) in doc


def test_promises_follow_letters_and_strategic_payers_break_them(portfolio: Portfolio) -> None:
    """Promises come 1–5 days after a letter, run 7–14 days, and strategic payers break more."""
    promises = portfolio.promises
    assert len(promises) > 1000
    assert promises["promise_id"].is_unique
    assert (promises["promised_on"] <= pd.Timestamp(AS_OF)).all()
    term = (promises["promised_by"] - promises["promised_on"]).dt.days
    assert term.between(7, 14).all()
    letters = promises.merge(portfolio.history, on="invoice_id")
    delay = (letters["promised_on"] - letters["issued_on"]).dt.days
    follows = delay.between(1, 5).groupby(letters["promise_id"]).any()
    assert bool(follows.reindex(promises["promise_id"]).fillna(False).all())
    settled = _settled_on(portfolio).set_axis(portfolio.invoices["invoice_id"])
    on = settled.reindex(promises["invoice_id"]).to_numpy()
    made = promises["promised_on"].to_numpy()
    assert not (on <= made).any()  # nobody promises to pay what is already paid
    kept = pd.Series(on <= promises["promised_by"].to_numpy(), index=promises.index)
    owner = promises["invoice_id"].map(portfolio.invoices.set_index("invoice_id")["customer_id"])
    behaviour = owner.map(
        portfolio.truth.drop_duplicates("customer_id").set_index("customer_id")["behaviour"]
    )
    share = kept.groupby(behaviour).mean()
    assert share["forgetful"] > 0.6 > 0.3 > share["strategic"]
