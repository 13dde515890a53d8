"""Offers: eligibility rules, expected values, traces, plans and deferrals that are exact."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise

import numpy as np
import pandas as pd
import pytest
from babel.numbers import format_currency
from hypothesis import given, settings
from hypothesis import strategies as st

from dunning.calendar import BusinessCalendar
from dunning.errors import DataError, PolicyError
from dunning.offers import (
    _money_texts,
    choose_offers,
    deferral,
    high_clv_mask,
    installment_plan,
)
from dunning.policy import Policy

NBSP = "\u00a0"
DE = BusinessCalendar("DE")


def _cases(**overrides: object) -> pd.DataFrame:
    base: dict[str, object] = {
        "total": [Decimal("1000.00")],
        "currency": ["EUR"],
        "risk": [0.34],
        "disputed": [False],
        "level": [2],
    }
    base.update(overrides)
    return pd.DataFrame(base)


def _plain(text: str) -> str:
    return text.replace(NBSP, " ")


# -- choose_offers ----------------------------------------------------------------------


def test_plan_offered_with_trace_in_both_languages() -> None:
    """1000 EUR, risk 0.34, top-fifth CLV, level 2: a plan, EVs 795/705/660, full trace."""
    cases = _cases(
        total=[Decimal("1000.00"), Decimal("10.00")] * 3,
        currency=["EUR"] * 6,
        risk=[0.34] * 6,
        disputed=[False] * 6,
        level=[2, 1] * 3,
        clv=[900.0, 1.0, 2.0, 3.0, 4.0, 5.0],
    )
    out = choose_offers(cases).iloc[0]
    assert out["offer"] == "installment_plan"
    assert out["offer_code"] == "ELIGIBLE"
    assert out["installments"] == 3
    assert out["expected_value_installment_plan"] == Decimal("795.00")
    assert out["expected_value_deferral"] == Decimal("705.00")
    assert out["expected_value_none"] == Decimal("660.00")
    assert _plain(out["offer_reason_de"]) == (
        "Ratenzahlung angeboten: CLV im oberen Fünftel, Risiko mittel (0,34), "
        "Betrag ≥ 500,00 €, kein gebrochenes Zahlungsversprechen; Erwartungswert: "
        "Ratenzahlung 795,00 €, Stundung 705,00 €, Zahlung in voller Höhe 660,00 €"
    )
    assert out["offer_reason"] == (
        "installment plan offered: CLV in the top fifth, medium risk (0.34), "
        "amount ≥ €500.00, no broken payment promise; expected value: "
        "installment plan €795.00, deferral €705.00, pay in full €660.00"
    )


@pytest.mark.parametrize(
    ("overrides", "code", "reason"),
    [
        ({"disputed": [True]}, "DISPUTED", "no offer: the claim is disputed"),
        ({"risk": [float("nan")]}, "RISK_MISSING", "no offer: no risk score"),
        ({"segment": ["B2C"]}, "SEGMENT_EXCLUDED", "no offer: segment receives no offers"),
        ({"risk": [0.19]}, "RISK_TOO_LOW", "no offer: risk 0.19 below 0.20"),
        ({"risk": [0.71]}, "RISK_TOO_HIGH", "no offer: risk 0.71 above 0.70"),
        ({"level": [1]}, "LEVEL_TOO_LOW", "no offer: level 1 below 2"),
        (
            {"broken_promises": [1]},
            "BROKEN_PROMISES",
            "no offer: 1 broken payment promise(s) (at most 0)",
        ),
    ],
)
def test_each_rule_can_refuse(overrides: dict[str, list[object]], code: str, reason: str) -> None:
    """Each failed rule gives no offer, no instalments, and names itself in the trace."""
    policy = Policy.default("DE")
    if "segment" in overrides:
        policy = policy.replace(offers=policy.offers.model_copy(update={"segments": ("B2B",)}))
    out = choose_offers(_cases(**overrides), policy).iloc[0]
    assert out["offer"] == "none"
    assert out["offer_code"] == code
    assert out["offer_reason"] == reason
    assert out["installments"] == 0
    assert out["expected_value_deferral"] is None
    assert out["expected_value_installment_plan"] is None


def test_german_refusal_uses_german_numbers() -> None:
    """The German trace of a too-low risk writes 0,19 and 0,20."""
    out = choose_offers(_cases(risk=[0.19]))
    assert out.loc[0, "offer_reason_de"] == "kein Angebot: Risiko 0,19 unter 0,20"


def test_high_clv_lifts_the_low_risk_bound() -> None:
    """Risk 0.10 is below the range, but a top-fifth CLV still gets a plan (EV 985 > 900)."""
    cases = _cases(
        total=[Decimal("1000.00")] * 5,
        currency=["EUR"] * 5,
        risk=[0.10] * 5,
        disputed=[False] * 5,
        level=[2] * 5,
        clv=[500.0, 10.0, 20.0, 30.0, 40.0],
    )
    out = choose_offers(cases)
    assert out["offer"].tolist() == ["installment_plan"] + ["none"] * 4
    assert out["offer_code"].tolist()[1] == "RISK_TOO_LOW"
    assert out.loc[0, "expected_value_installment_plan"] == Decimal("985.00")
    assert out.loc[0, "expected_value_none"] == Decimal("900.00")


def test_earlier_plans_and_small_totals_get_a_deferral() -> None:
    """Two earlier plans (max 1) or a total below 500 leave the deferral as the best offer."""
    cases = _cases(
        total=[Decimal("1000.00"), Decimal("300.00")],
        currency=["EUR", "EUR"],
        risk=[0.5, 0.5],
        disputed=[False, False],
        level=[3, 3],
        earlier_plans=[2, 0],
    )
    out = choose_offers(cases, as_of=date(2026, 12, 18))
    assert out["offer"].tolist() == ["deferral", "deferral"]
    assert out["offer_code"].tolist() == ["DEFERRAL", "DEFERRAL"]
    assert out["expected_value_installment_plan"].tolist() == [None, None]
    assert out["expected_value_deferral"].tolist() == [Decimal("545.00"), Decimal("160.00")]
    # 18 Dec + 14 days = 1 Jan 2027, a holiday: Monday 4 Jan.
    assert out["deferral_due"].dt.date.tolist() == [date(2027, 1, 4)] * 2
    assert ", 2 earlier plan(s) (at most 1);" in str(out.loc[0, "offer_reason"])
    assert "amount < €500.00" in _plain(str(out.loc[1, "offer_reason"]))
    assert str(out.loc[1, "offer_reason"]).startswith("deferral offered: CLV unknown, medium risk")


def test_tie_goes_to_the_simpler_action() -> None:
    """100.00 at risk 0.5: pay in full 50.00 equals deferral 55.00 - 5.00: no offer."""
    out = choose_offers(_cases(total=[Decimal("100.00")], risk=[0.5])).iloc[0]
    assert out["expected_value_none"] == out["expected_value_deferral"] == Decimal("50.00")
    assert out["offer"] == "none"
    assert out["offer_code"] == "PAY_IN_FULL_EV"
    assert pd.isna(out["deferral_due"])


def test_policy_costs_and_uplifts_are_honoured() -> None:
    """A costlier plan (cost 300) loses to the deferral at 1000 EUR, risk 0.5."""
    base = Policy.default("DE")
    costs = base.offers.costs.model_copy(update={"installment_plan": Decimal("300.00")})
    policy = base.replace(offers=base.offers.model_copy(update={"costs": costs}))
    out = choose_offers(_cases(risk=[0.5]), policy).iloc[0]
    assert out["expected_value_installment_plan"] == Decimal("350.00")
    assert out["offer"] == "deferral"


def test_default_policy_and_old_columns() -> None:
    """policy=None is the German default; the old output columns stay first."""
    cases = _cases(total=[Decimal("500.00"), Decimal("500.00")], currency=["EUR"] * 2,
                   risk=[0.2, 0.7], disputed=pd.array([pd.NA, False], dtype="boolean"),
                   level=[2, 4])  # fmt: skip
    out = choose_offers(cases)
    pd.testing.assert_frame_equal(out, choose_offers(cases, Policy.default("DE")))
    assert list(out.columns[:5]) == [
        "offer", "offer_code", "offer_reason", "offer_reason_de", "installments",
    ]  # fmt: skip
    assert out["offer"].tolist() == ["installment_plan", "installment_plan"]


def test_missing_column_raises() -> None:
    """Cases without a risk column raise DataError naming it."""
    with pytest.raises(DataError, match="risk"):
        choose_offers(_cases().drop(columns="risk"))


def test_high_clv_mask_top_share() -> None:
    """The top fifth of ten known CLVs is two customers; NaN never counts; share 0: none."""
    values = [float(v) for v in range(10)] + [float("nan")]
    assert np.flatnonzero(high_clv_mask(values, 0.2)).tolist() == [8, 9]
    assert not high_clv_mask(values, 0.0).any()


@given(
    units=st.integers(min_value=-(10**12), max_value=10**12),
    currency=st.sampled_from(["EUR", "GBP", "USD", "JPY", "CHF"]),
    locale=st.sampled_from(["de_DE", "en_GB"]),
)
def test_money_texts_match_babel(units: int, currency: str, locale: str) -> None:
    """The fast trace formatter writes amounts exactly as Babel's format_currency."""
    places = 0 if currency == "JPY" else 2
    amount = Decimal(units).scaleb(-places)
    expected = format_currency(amount, currency, locale=locale)
    assert _money_texts([units], currency, locale) == [expected]


# -- installment_plan -------------------------------------------------------------------


def test_plan_remainder_on_first_and_frame() -> None:
    """100.00 in 3: 33.34, 33.33, 33.33 on the 1st of three months; to_frame matches."""
    plan = installment_plan(Decimal("100.00"), 3, date(2026, 12, 1))
    assert [i.amount for i in plan.installments] == [
        Decimal("33.34"), Decimal("33.33"), Decimal("33.33"),
    ]  # fmt: skip
    frame = plan.to_frame()
    assert frame["amount"].tolist() == [Decimal("33.34"), Decimal("33.33"), Decimal("33.33")]
    assert frame["due_date"].dt.date.tolist() == [
        date(2026, 12, 1), date(2027, 1, 1), date(2027, 2, 1),
    ]  # fmt: skip
    assert plan.total_interest == Decimal("0.00")


def test_plan_month_end_keeps_the_day() -> None:
    """From 31 January 2028: 29 February (leap year), then 31 March again."""
    plan = installment_plan(Decimal("0.05"), 3, date(2028, 1, 31))
    assert [i.due_date for i in plan.installments] == [
        date(2028, 1, 31), date(2028, 2, 29), date(2028, 3, 31),
    ]  # fmt: skip
    assert [i.amount for i in plan.installments] == [
        Decimal("0.03"), Decimal("0.01"), Decimal("0.01"),
    ]  # fmt: skip


def test_plan_dates_move_to_business_days() -> None:
    """Weekly from Christmas Eve 2026: 24 Dec, 31 Dec, 7 Jan; 1 Jan 2027 moves to 4 Jan."""
    weekly = installment_plan(Decimal("30.00"), 3, date(2026, 12, 24), interval="weekly",
                              calendar=DE)  # fmt: skip
    assert [i.due_date for i in weekly.installments] == [
        date(2026, 12, 24), date(2026, 12, 31), date(2027, 1, 7),
    ]  # fmt: skip
    monthly = installment_plan(Decimal("30.00"), 2, date(2026, 12, 1), calendar=DE)
    assert [i.due_date for i in monthly.installments] == [date(2026, 12, 1), date(2027, 1, 4)]
    biweekly = installment_plan(Decimal("30.00"), 2, date(2026, 12, 11), interval="biweekly",
                                calendar=DE)  # fmt: skip
    assert [i.due_date for i in biweekly.installments] == [date(2026, 12, 11), date(2026, 12, 28)]


def test_plan_simple_interest_per_period() -> None:
    """12 % a year on 1200.00 in 3 monthly parts: 12.00, 8.00, 4.00 on the balance."""
    plan = installment_plan(Decimal("1200.00"), 3, date(2026, 12, 1),
                            annual_interest_percent=Decimal("12"))  # fmt: skip
    assert [i.interest for i in plan.installments] == [
        Decimal("12.00"), Decimal("8.00"), Decimal("4.00"),
    ]  # fmt: skip
    assert plan.installments[0].payment == Decimal("412.00")
    assert plan.total_payable == Decimal("1224.00")
    weekly = installment_plan(Decimal("365.00"), 2, date(2026, 12, 1), interval="weekly",
                              annual_interest_percent=Decimal("10"))  # fmt: skip
    # 365.00 x 10 % x 7/365 = 0.70; then 182.50 x 10 % x 7/365 = 0.35
    assert [i.interest for i in weekly.installments] == [Decimal("0.70"), Decimal("0.35")]


@pytest.mark.parametrize(
    ("total", "n", "kwargs", "error", "field"),
    [
        (Decimal("100.00"), 1, {}, PolicyError, "n"),
        (Decimal("0.00"), 2, {}, PolicyError, "total"),
        (Decimal("-5.00"), 2, {}, PolicyError, "total"),
        (Decimal("0.01"), 2, {}, PolicyError, "total"),
        (Decimal("100.00"), 3, {"min_installment": Decimal("50.00")}, PolicyError,
         "min_installment"),
        (Decimal("100.00"), 2, {"interval": "daily"}, PolicyError, "interval"),
        (Decimal("100.00"), 2, {"annual_interest_percent": Decimal("-1")}, PolicyError,
         "annual_interest_percent"),
    ],
)  # fmt: skip
def test_plan_refuses_bad_input(
    total: Decimal, n: int, kwargs: dict[str, object], error: type[Exception], field: str
) -> None:
    """Fewer than 2 parts, non-positive totals, parts under the minimum: PolicyError."""
    with pytest.raises(error) as info:
        installment_plan(total, n, date(2026, 12, 1), **kwargs)  # type: ignore[arg-type]
    assert getattr(info.value, "field", None) == field


def test_plan_refuses_float_and_excess_decimals() -> None:
    """Money is Decimal and exact in the currency."""
    with pytest.raises(DataError, match="Decimal"):
        installment_plan(100.0, 2, date(2026, 12, 1))  # type: ignore[arg-type]
    with pytest.raises(DataError, match="more decimals"):
        installment_plan(Decimal("1.001"), 2, date(2026, 12, 1))


@settings(max_examples=60, deadline=None)
@given(
    cents=st.integers(min_value=2, max_value=10**11),
    n=st.integers(min_value=2, max_value=36),
    first=st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)),
    interval=st.sampled_from(["monthly", "biweekly", "weekly"]),
    with_calendar=st.booleans(),
)
def test_plan_properties(
    cents: int, n: int, first: date, interval: str, with_calendar: bool
) -> None:
    """Exact sum, strictly increasing dates, equal later amounts, remainder on the first."""
    total = Decimal(cents).scaleb(-2)
    cal = DE if with_calendar else None
    if cents < n:
        with pytest.raises(PolicyError):
            installment_plan(total, n, first, interval=interval, calendar=cal)  # type: ignore[arg-type]
        return
    plan = installment_plan(total, n, first, interval=interval, calendar=cal)  # type: ignore[arg-type]
    amounts = [i.amount for i in plan.installments]
    assert sum(amounts, Decimal(0)) == total
    assert len(amounts) == n
    assert all(a >= Decimal("0.01") for a in amounts)
    assert len(set(amounts[1:])) == 1
    assert Decimal(0) <= amounts[0] - amounts[1] < Decimal(n).scaleb(-2)
    assert amounts[0] == max(amounts)
    dates = [i.due_date for i in plan.installments]
    assert all(b > a for a, b in pairwise(dates))
    assert dates[0] >= first
    if cal is not None:
        assert all(cal.is_business_day(d) for d in dates)
        assert dates[0] - first < timedelta(days=7)
    else:
        assert dates[0] == first


# -- deferral ---------------------------------------------------------------------------


def test_deferral_moves_to_business_day() -> None:
    """A deferral to Saturday 26 December 2026 falls due on Monday the 28th."""
    d = deferral(Decimal("80.00"), date(2026, 12, 26), DE)
    assert (d.total, d.currency, d.requested_due, d.due_date) == (
        Decimal("80.00"), "EUR", date(2026, 12, 26), date(2026, 12, 28),
    )  # fmt: skip
    assert deferral(Decimal("80"), date(2026, 12, 26), currency="JPY").due_date == date(
        2026, 12, 26
    )
    with pytest.raises(PolicyError, match="positive"):
        deferral(Decimal("0.00"), date(2026, 12, 26), DE)
