"""Point-in-time features: exact values, the feature dictionary, and no look-ahead."""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dunning.datasets import make_portfolio
from dunning.datasets.outlook import industry_outlook
from dunning.errors import DataError
from dunning.models import NACE_SECTIONS, Portfolio
from dunning.money import to_minor_array
from scoring.clv import BetaGeoModel, GammaGammaModel, summary_from_transactions
from scoring.features import (
    FEATURES,
    FEATURES_BY_CODE,
    FeatureSpec,
    build_features,
    customer_values,
)

AS_OF = date(2026, 11, 1)


def _customers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": pd.array(["K1", "K2"], dtype="str"),
            "name": pd.array(["Bau GmbH", "Erika Muster"], dtype="str"),
            "country": pd.array(["DE", "DE"], dtype="str"),
            "language": pd.array(["de", "de"], dtype="str"),
            "segment": pd.array(["B2B", "B2C"], dtype="str"),
            "industry": pd.array(["F", None], dtype="str"),
        }
    )


def _invoices(rows: list[tuple[str, str, str, str, str, bool | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "invoice_id": pd.array([r[0] for r in rows], dtype="str"),
            "customer_id": pd.array([r[1] for r in rows], dtype="str"),
            "issue_date": pd.to_datetime([r[2] for r in rows]).astype("datetime64[ns]"),
            "due_date": pd.to_datetime([r[3] for r in rows]).astype("datetime64[ns]"),
            "amount": pd.Series([Decimal(r[4]) for r in rows], dtype=object),
            "currency": pd.array(["EUR"] * len(rows), dtype="str"),
            "disputed": pd.array([r[5] for r in rows], dtype="boolean"),
        }
    )


def _payments(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "payment_id": pd.array([f"P{i}" for i in range(len(rows))], dtype="str"),
            "invoice_id": pd.array([r[0] for r in rows], dtype="str"),
            "payment_date": pd.to_datetime([r[1] for r in rows]).astype("datetime64[ns]"),
            "amount": pd.Series([Decimal(r[2]) for r in rows], dtype=object),
            "currency": pd.array(["EUR"] * len(rows), dtype="str"),
        }
    )


def _history(rows: list[tuple[str, int, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "invoice_id": pd.array([r[0] for r in rows], dtype="str"),
            "level": np.array([r[1] for r in rows], dtype=np.int64),
            "issued_on": pd.to_datetime([r[2] for r in rows]).astype("datetime64[ns]"),
            "channel": pd.array(["letter"] * len(rows), dtype="str"),
        }
    )


INVOICES = [
    ("A1", "K1", "2026-01-10", "2026-01-24", "100.00", False),  # paid early
    ("A2", "K1", "2026-06-01", "2026-06-15", "200.00", False),  # paid in two parts, 20 days late
    ("A3", "K1", "2026-08-20", "2026-09-03", "50.00", False),  # paid 10 days late
    ("A4", "K1", "2026-09-15", "2026-09-29", "400.00", True),  # open, part-paid, disputed
    ("A5", "K1", "2026-10-20", "2026-11-03", "150.00", False),  # open, not yet due
    ("B1", "K2", "2026-09-01", "2026-09-15", "80.00", None),  # open, new customer
]
PAYMENTS = [
    ("A1", "2026-01-20", "100.00"),
    ("A2", "2026-06-20", "120.00"),
    ("A2", "2026-07-05", "80.00"),
    ("A3", "2026-09-13", "50.00"),
    ("A4", "2026-10-10", "100.00"),
    ("A5", "2026-11-10", "150.00"),  # after as_of
]
HISTORY = [("A4", 1, "2026-10-01"), ("A4", 2, "2026-10-16"), ("A4", 3, "2026-11-02")]


def _portfolio() -> Portfolio:
    return Portfolio(_customers(), _invoices(INVOICES), _payments(PAYMENTS), _history(HISTORY))


def _outlook(industry: str, day: date) -> float:
    table = industry_outlook()
    quarter = f"{day.year}Q{(day.month - 1) // 3 + 1}"
    row = table.loc[(table["industry"] == industry) & (table["quarter"] == quarter), "index"]
    return float(row.iloc[0])


def test_columns_follow_the_feature_dictionary() -> None:
    """Columns are the FEATURES codes in order, with numeric or category dtypes."""
    X = build_features(_portfolio(), AS_OF)
    assert list(X.columns) == [spec.code for spec in FEATURES]
    assert X.index.name == "invoice_id"
    for spec in FEATURES:
        dtype = X[spec.code].dtype
        if spec.unit == "category":
            assert isinstance(dtype, pd.CategoricalDtype), spec.code
        else:
            assert dtype in (np.dtype("int64"), np.dtype("float64")), spec.code
    assert X["segment"].cat.categories.tolist() == ["B2B", "B2C"]
    assert X["industry"].cat.categories.tolist() == list(NACE_SECTIONS)


def test_only_overdue_open_items_are_rows() -> None:
    """Paid invoices and the open invoice not yet due (A5) get no row."""
    X = build_features(_portfolio(), AS_OF)
    assert X.index.tolist() == ["A4", "B1"]


def test_exact_values_for_a_customer_with_history() -> None:
    """A4's features match values worked out by hand from the tables above."""
    row = build_features(_portfolio(), AS_OF).loc["A4"]
    expected = {
        "days_overdue": 33,
        "log_open_amount": math.log1p(300.0),
        "amount_vs_median": 400.0 / 150.0,  # median of 100, 200, 50, 400, 150
        "open_exposure": 450.0,  # A4's 300.00 + A5's 150.00 (not yet due)
        "open_invoices": 2,
        "late_3m_count": 1,  # A3 settled 2026-09-13
        "late_3m_share": 1.0,
        "late_3m_share_isna": 0,
        "late_6m_count": 2,  # A2 settled 2026-07-05, A3
        "late_6m_share": 1.0,
        "late_6m_share_isna": 0,
        "late_12m_count": 2,  # A1 (on time), A2, A3
        "late_12m_share": 2 / 3,
        "late_12m_share_isna": 0,
        "mean_days_late": 10.0,  # (0 + 20 + 10) / 3
        "max_days_late": 20.0,
        "history_isna": 0,
        "partial_share": 1 / 3,  # A2
        "disputed": 1.0,
        "disputed_count": 1,
        "dunning_level": 2,  # the level 3 letter of 2026-11-02 is in the future
        "customer_max_level": 2,
        "tenure_days": 295,  # 2026-01-10 to 2026-11-01
        "segment": "B2B",
        "industry": "F",
        "industry_outlook": _outlook("F", AS_OF),
        "industry_outlook_isna": 0,
    }
    for code, value in expected.items():
        if isinstance(value, float):
            assert row[code] == pytest.approx(value, rel=1e-12), code
        else:
            assert row[code] == value, code


def test_missing_history_stays_missing_with_indicators() -> None:
    """A customer without settled invoices gets NaN (not zeros) and the *_isna flags."""
    row = build_features(_portfolio(), AS_OF).loc["B1"]
    for code in ("late_3m_share", "late_6m_share", "late_12m_share", "mean_days_late"):
        assert pd.isna(row[code]), code
    for code in ("max_days_late", "partial_share", "disputed", "industry_outlook"):
        assert pd.isna(row[code]), code
    assert pd.isna(row["industry"])
    flags = ["late_3m_share_isna", "late_6m_share_isna", "late_12m_share_isna", "history_isna"]
    assert [row[c] for c in [*flags, "industry_outlook_isna"]] == [1, 1, 1, 1, 1]
    assert [row[c] for c in ("late_12m_count", "disputed_count", "dunning_level")] == [0, 0, 0]
    assert (row["days_overdue"], row["tenure_days"], row["open_invoices"]) == (47, 61, 1)
    assert row["amount_vs_median"] == 1.0
    assert row["segment"] == "B2C"


def test_facts_after_as_of_change_nothing() -> None:
    """Later payments, dunning steps, invoices and customers leave the features unchanged."""
    base = _portfolio()
    later = Portfolio(
        customers=pd.concat(
            [
                base.customers,
                pd.DataFrame(
                    {
                        "customer_id": pd.array(["K3"], dtype="str"),
                        "name": pd.array(["Neu AG"], dtype="str"),
                        "country": pd.array(["AT"], dtype="str"),
                        "language": pd.array(["de"], dtype="str"),
                        "segment": pd.array(["B2B"], dtype="str"),
                        "industry": pd.array(["C"], dtype="str"),
                    }
                ),
            ],
            ignore_index=True,
        ),
        invoices=_invoices(
            [
                *INVOICES,
                ("C1", "K1", "2026-11-10", "2026-11-24", "999.00", True),
                ("D1", "K3", "2026-11-02", "2026-11-16", "10.00", False),
            ]
        ),
        payments=_payments(
            [
                *PAYMENTS[:-1],
                ("A5", "2026-12-24", "100.00"),  # the post-as_of payment, changed
                ("A4", "2026-11-02", "300.00"),  # settles A4 the day after
                ("B1", "2027-03-01", "80.00"),
                ("C1", "2026-11-11", "999.00"),
            ]
        ),
        history=_history([*HISTORY, ("B1", 1, "2026-11-05"), ("A5", 2, "2026-12-01")]),
    )
    pd.testing.assert_frame_equal(build_features(base, AS_OF), build_features(later, AS_OF))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from([r[0] for r in INVOICES]),
            st.integers(min_value=1, max_value=400),
            st.integers(min_value=1, max_value=50_000),
        ),
        max_size=8,
    )
)
def test_any_later_payments_change_nothing(later: list[tuple[str, int, int]]) -> None:
    """Whatever payments arrive after as_of, the features on as_of are the same."""
    base = _portfolio()
    extra = [
        (invoice, str(AS_OF + timedelta(days=days)), str(Decimal(cents).scaleb(-2)))
        for invoice, days, cents in later
    ]
    mutated = replace(base, payments=_payments([*PAYMENTS, *extra]))
    pd.testing.assert_frame_equal(build_features(base, AS_OF), build_features(mutated, AS_OF))


def test_empty_portfolio_gives_an_empty_table_with_all_columns() -> None:
    """No invoices: no rows, but the columns and dtypes of a full table."""
    X = build_features(Portfolio.empty(), AS_OF)
    full = build_features(_portfolio(), AS_OF)
    assert len(X) == 0
    pd.testing.assert_series_equal(X.dtypes, full.dtypes)


def test_duplicate_invoice_ids_are_refused() -> None:
    """Duplicate invoice ids (which the loader rejects) raise a DataError naming them."""
    base = _portfolio()
    doubled = replace(base, invoices=_invoices([*INVOICES, INVOICES[0]]))
    with pytest.raises(DataError, match=r"invoice_id values \['A1'\] occur more than once"):
        build_features(doubled, AS_OF)


def test_own_outlook_table_is_used() -> None:
    """A user's outlook table replaces the packaged one."""
    table = pd.DataFrame(
        {
            "industry": pd.array(["F"], dtype="str"),
            "quarter": pd.array(["2026Q4"], dtype="str"),
            "index": [77.5],
        }
    )
    X = build_features(_portfolio(), AS_OF, outlook_table=table)
    assert X.loc["A4", "industry_outlook"] == 77.5


def test_feature_dictionary_is_consistent() -> None:
    """Codes are unique, monotone is -1/0/1, and missing indicators share their group."""
    codes = [spec.code for spec in FEATURES]
    assert len(codes) == len(set(codes))
    assert set(FEATURES_BY_CODE) == set(codes)
    for spec in FEATURES:
        assert isinstance(spec, FeatureSpec)
        assert spec.monotone in (-1, 0, 1)
        assert spec.label_de and spec.label_en and spec.description
        if spec.code.endswith("_share_isna"):
            assert spec.group == FEATURES_BY_CODE[spec.code.removesuffix("_isna")].group
    assert FEATURES_BY_CODE["industry_outlook_isna"].group == "industry_outlook"
    clv, clv_isna = FEATURES_BY_CODE["clv"], FEATURES_BY_CODE["clv_isna"]
    assert (clv.unit, clv.monotone, clv.actionable, clv.group) == (
        "amount",
        -1,
        False,
        "customer_value",
    )
    assert (clv_isna.unit, clv_isna.monotone, clv_isna.group) == ("flag", 0, "customer_value")
    assert {s.code for s in FEATURES if s.actionable} == {
        "log_open_amount",
        "open_exposure",
        "open_invoices",
        "broken_promises_12m",
        "kept_promises_12m",
    }
    broken, kept = FEATURES_BY_CODE["broken_promises_12m"], FEATURES_BY_CODE["kept_promises_12m"]
    assert (broken.monotone, kept.monotone, broken.group, kept.group) == (
        1,
        0,
        "promises",
        "promises",
    )


# --------------------------------------------------------------------------- CLV

DEMO_AS_OF = date(2026, 8, 31)


@pytest.fixture(scope="module")
def demo() -> Portfolio:
    """A generated portfolio with 183 B2C and 67 B2B customers, facts up to 2026-11-23."""
    return make_portfolio(250, seed=3, as_of=date(2026, 11, 23))


def _until(portfolio: Portfolio, as_of: date) -> Portfolio:
    """The portfolio as it was known on ``as_of``: later facts removed."""
    cutoff = pd.Timestamp(as_of)
    return Portfolio(
        portfolio.customers,
        portfolio.invoices.loc[portfolio.invoices["issue_date"] <= cutoff],
        portfolio.payments.loc[portfolio.payments["payment_date"] <= cutoff],
        portfolio.history.loc[portfolio.history["issued_on"] <= cutoff],
        promises=portfolio.promises.loc[portfolio.promises["promised_on"] <= cutoff],
    )


def _clv_by_hand(portfolio: Portfolio, as_of: date) -> pd.Series:
    """12-month CLV per customer id, fitted per segment with the public scoring.clv API."""
    invoices = portfolio.invoices.loc[portfolio.invoices["issue_date"] <= pd.Timestamp(as_of)]
    minor = to_minor_array(invoices["amount"], invoices["currency"].tolist())
    ledger = invoices[["customer_id", "issue_date"]].assign(value=minor / 100.0)
    summary = summary_from_transactions(
        ledger, "customer_id", "issue_date", "value", as_of, freq="D"
    )
    segment = portfolio.customers.set_index("customer_id")["segment"].reindex(summary.index)
    values = []
    for _, part in summary.groupby(segment.to_numpy()):
        repeat = part.loc[part["frequency"] > 0]
        bgf = BetaGeoModel(penalizer_coef=1e-10).fit(part["frequency"], part["recency"], part["T"])
        ggf = GammaGammaModel().fit(repeat["frequency"], repeat["monetary_value"])
        clv = ggf.customer_lifetime_value(
            bgf,
            part["frequency"],
            part["recency"],
            part["T"],
            part["monetary_value"],
            horizon_months=12,
            discount_rate_monthly=0.01,
            margin=1.0,
        )
        values.append(pd.Series(clv, index=part.index))
    return pd.concat(values)


def test_clv_is_the_12_month_value_of_per_segment_models(demo: Portfolio) -> None:
    """clv equals BG/NBD x Gamma-Gamma fitted per segment on the invoices issued so far."""
    X = build_features(demo, DEMO_AS_OF)
    expected = _clv_by_hand(demo, DEMO_AS_OF)
    customer = demo.invoices.set_index("invoice_id")["customer_id"].reindex(X.index)
    assert len(X) == 182
    assert (X["clv_isna"] == 0).all()
    np.testing.assert_allclose(X["clv"], expected.reindex(customer).to_numpy(), rtol=1e-6)
    medians = X.groupby("segment", observed=True)["clv"].median()
    assert medians["B2B"] > 10 * medians["B2C"] > 0


def test_clv_uses_no_fact_after_as_of(demo: Portfolio) -> None:
    """Invoices, payments, dunning steps and promises after as_of change no feature."""
    full = build_features(demo, DEMO_AS_OF)
    known = build_features(_until(demo, DEMO_AS_OF), DEMO_AS_OF)
    assert (demo.promises["promised_on"] > pd.Timestamp(DEMO_AS_OF)).sum() > 0
    assert full["broken_promises_12m"].sum() > 0 and full["kept_promises_12m"].sum() > 0
    assert (demo.invoices["issue_date"] > pd.Timestamp(DEMO_AS_OF)).sum() == 813
    assert full["clv"].notna().all()
    pd.testing.assert_frame_equal(full, known)


def test_too_few_customers_give_missing_clv_and_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Segments of one customer get NaN with clv_isna = 1, and one warning says why."""
    with caplog.at_level(logging.WARNING, logger="scoring.features"):
        X = build_features(_portfolio(), AS_OF)
    assert X["clv"].isna().all()
    assert X["clv_isna"].tolist() == [1, 1]
    warnings = [r for r in caplog.records if r.name == "scoring.features"]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert "for 2 of 2 customers with overdue invoices" in warnings[0].getMessage()
    assert "segment B2B: too few customers (1, of which 1 with a repeat purchase" in (
        warnings[0].getMessage()
    )


def test_a_small_segment_is_missing_while_the_others_are_unchanged(
    demo: Portfolio, caplog: pytest.LogCaptureFixture
) -> None:
    """With 10 B2B customers left, B2B rows get NaN; B2C values are those of the full data."""
    customers = demo.customers
    b2b = customers.loc[customers["segment"] == "B2B", "customer_id"].iloc[10:]
    kept = ~demo.invoices["customer_id"].isin(b2b)
    invoices = demo.invoices.loc[kept]
    small = Portfolio(
        customers.loc[~customers["customer_id"].isin(b2b)],
        invoices,
        demo.payments.loc[demo.payments["invoice_id"].isin(invoices["invoice_id"])],
        demo.history.loc[demo.history["invoice_id"].isin(invoices["invoice_id"])],
    )
    with caplog.at_level(logging.WARNING, logger="scoring.features"):
        X = build_features(small, DEMO_AS_OF)
    full = build_features(demo, DEMO_AS_OF)
    is_b2b = X["segment"] == "B2B"
    assert is_b2b.sum() > 0
    assert X.loc[is_b2b, "clv"].isna().all()
    assert (X.loc[is_b2b, "clv_isna"] == 1).all()
    assert (X.loc[~is_b2b, "clv_isna"] == 0).all()
    pd.testing.assert_series_equal(X.loc[~is_b2b, "clv"], full.loc[X.index[~is_b2b], "clv"])
    (message,) = [r.getMessage() for r in caplog.records if r.name == "scoring.features"]
    assert "segment B2B: too few customers (10, of which 10 with a repeat purchase" in message
    assert "B2C" not in message


def test_a_failed_fit_gives_missing_clv_not_a_made_up_value(
    demo: Portfolio, caplog: pytest.LogCaptureFixture
) -> None:
    """Pooled B2B and B2C spend has no finite mean (Gamma-Gamma q <= 1): NaN, not a guess."""
    pooled = replace(demo, customers=demo.customers.assign(segment="B2B"))
    with caplog.at_level(logging.WARNING, logger="scoring.features"):
        X = build_features(pooled, DEMO_AS_OF)
    assert X["clv"].isna().all()
    assert (X["clv_isna"] == 1).all()
    (message,) = [r.getMessage() for r in caplog.records if r.name == "scoring.features"]
    assert "segment B2B: GammaGammaModel: with q = " in message


def test_given_customer_values_give_the_same_features(
    demo: Portfolio, caplog: pytest.LogCaptureFixture
) -> None:
    """build_features(clv=customer_values(...)) is build_features(...) exactly, unfitted."""
    X = build_features(demo, DEMO_AS_OF)
    values = customer_values(demo, DEMO_AS_OF)
    pd.testing.assert_frame_equal(build_features(demo, DEMO_AS_OF, clv=values), X, check_exact=True)
    # One value per customer with an overdue invoice, in the order of its first invoice.
    owner = demo.invoices.set_index("invoice_id")["customer_id"].reindex(X.index)
    first = demo.invoices["customer_id"].drop_duplicates()
    assert values.index.tolist() == [c for c in first if c in set(owner)]
    assert (values.index.name, values.name, values.dtype) == ("customer_id", "clv", "float64")
    np.testing.assert_array_equal(values.reindex(owner).to_numpy(), X["clv"].to_numpy())
    # Asked for by id: the same values; an unknown customer gets NaN.
    some = [str(c) for c in values.index[[5, 0]]] + ["nobody"]
    asked = customer_values(demo, DEMO_AS_OF, customers=some)
    assert asked.index.tolist() == some
    np.testing.assert_array_equal(asked.to_numpy()[:2], values.iloc[[5, 0]].to_numpy())
    assert np.isnan(asked["nobody"])


def test_given_clv_replaces_the_fit(caplog: pytest.LogCaptureFixture) -> None:
    """With clv given no model is fitted (no warning); absent or NaN values are missing."""
    portfolio = _portfolio()
    owner = portfolio.invoices.set_index("invoice_id")["customer_id"]
    X = build_features(portfolio, AS_OF)
    customers = owner.reindex(X.index).tolist()
    assert customers == ["K1", "K2"]
    given = pd.Series([1234.5, np.nan], index=["K1", "someone else"])
    caplog.clear()  # the fit above warns: too few customers
    with caplog.at_level(logging.WARNING, logger="scoring.features"):
        Y = build_features(portfolio, AS_OF, clv=given)
    assert not [r for r in caplog.records if r.name == "scoring.features"]
    assert Y["clv"].tolist()[0] == 1234.5 and np.isnan(Y["clv"].tolist()[1])
    assert Y["clv_isna"].tolist() == [0, 1]
    rest = [c for c in X.columns if c not in ("clv", "clv_isna")]
    pd.testing.assert_frame_equal(Y[rest], X[rest], check_exact=True)
    twice = pd.Series([1.0, 2.0], index=["K1", "K1"])
    with pytest.raises(DataError, match="more than one value for the customers"):
        build_features(portfolio, AS_OF, clv=twice)


# --------------------------------------------------------------------------- promises


def _promises(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "promise_id": pd.array([r[0] for r in rows], dtype="str"),
            "invoice_id": pd.array([r[1] for r in rows], dtype="str"),
            "promised_on": pd.to_datetime([r[2] for r in rows]).astype("datetime64[ns]"),
            "promised_by": pd.to_datetime([r[3] for r in rows]).astype("datetime64[ns]"),
            "amount": pd.Series([None] * len(rows), dtype=object),
            "currency": pd.array([None] * len(rows), dtype="str"),
        }
    )


PROMISES = [
    ("V1", "A2", "2026-06-16", "2026-06-30"),  # broken: 120.00 of 200.00 paid by 06-30
    ("V2", "A3", "2026-09-05", "2026-09-13"),  # kept: paid in full on 09-13
    ("V3", "A4", "2026-10-02", "2026-10-20"),  # broken: 100.00 of 400.00 paid
    ("V4", "A5", "2026-10-25", "2026-11-10"),  # still running on as_of: neither
    ("V5", "A2", "2025-10-01", "2025-10-31"),  # due more than 12 months ago: neither
]


def test_broken_and_kept_promises_are_counted_per_customer() -> None:
    """Promises due in the last 12 months count as kept when paid in full by promised_by."""
    X = build_features(replace(_portfolio(), promises=_promises(PROMISES)), AS_OF)
    assert X.loc["A4", ["broken_promises_12m", "kept_promises_12m"]].tolist() == [2, 1]
    assert X.loc["B1", ["broken_promises_12m", "kept_promises_12m"]].tolist() == [0, 0]
    assert str(X["broken_promises_12m"].dtype) == "int64"


def test_promises_and_payments_after_as_of_change_no_promise_count() -> None:
    """Promises made after as_of, and payments after it, leave the promise counts unchanged."""
    base = replace(_portfolio(), promises=_promises(PROMISES))
    later = replace(
        base,
        promises=_promises(
            [
                *PROMISES,
                ("V6", "A4", "2026-11-02", "2026-11-03"),
                ("V7", "B1", "2026-11-05", "2026-11-06"),
            ]
        ),
        payments=_payments([*PAYMENTS, ("A4", "2026-11-02", "300.00")]),
    )
    pd.testing.assert_frame_equal(build_features(base, AS_OF), build_features(later, AS_OF))
