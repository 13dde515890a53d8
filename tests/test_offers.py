"""Installment plan offers: the rule, its trace, and schedules that sum exactly."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dunning.errors import DataError, PolicyError
from dunning.offers import choose_offers, installment_schedule


def _cases(**overrides: list[object]) -> pd.DataFrame:
    base: dict[str, list[object]] = {
        "total": [Decimal("500.00")],
        "currency": ["EUR"],
        "risk": [0.5],
        "disputed": [False],
        "level": [2],
    }
    base.update(overrides)
    return pd.DataFrame(base)


def test_eligible_case_gets_installment_plan_with_trace() -> None:
    """Total 500.00, risk 0.5, undisputed, level 2: installment plan, 3 instalments."""
    out = choose_offers(_cases())
    assert out.loc[0, "offer"] == "installment_plan"
    assert out.loc[0, "offer_code"] == "ELIGIBLE"
    assert out.loc[0, "installments"] == 3
    assert out.loc[0, "offer_reason"] == (
        "installment plan: total 500.00 EUR >= 500, risk 0.50 in [0.20, 0.70], "
        "not disputed, level 2 >= 2"
    )
    assert out.loc[0, "offer_reason_de"].startswith("Ratenzahlung: Summe 500.00 EUR >= 500")


@pytest.mark.parametrize(
    ("overrides", "code", "reason"),
    [
        ({"total": [Decimal("499.99")]}, "TOTAL_BELOW_MIN", "no offer: total 499.99 EUR below 500"),
        ({"risk": [0.19]}, "RISK_TOO_LOW", "no offer: risk 0.19 below 0.20"),
        ({"risk": [0.71]}, "RISK_TOO_HIGH", "no offer: risk 0.71 above 0.70"),
        ({"disputed": [True]}, "DISPUTED", "no offer: the claim is disputed"),
        ({"level": [1]}, "LEVEL_TOO_LOW", "no offer: level 1 below 2"),
        ({"risk": [float("nan")]}, "RISK_MISSING", "no offer: no risk score"),
    ],
)
def test_each_rule_can_refuse(overrides: dict[str, list[object]], code: str, reason: str) -> None:
    """Each failed condition gives no offer and names itself in the trace."""
    out = choose_offers(_cases(**overrides))
    assert out.loc[0, "offer"] == "none"
    assert out.loc[0, "offer_code"] == code
    assert out.loc[0, "offer_reason"] == reason
    assert out.loc[0, "installments"] == 0


def test_risk_bounds_are_inclusive_and_missing_dispute_is_no_dispute() -> None:
    """Risks 0.2 and 0.7 qualify; a missing dispute flag counts as not disputed."""
    cases = _cases(
        total=[Decimal("500.00")] * 2,
        currency=["EUR"] * 2,
        risk=[0.2, 0.7],
        disputed=pd.array([pd.NA, False], dtype="boolean"),
        level=[2, 4],
    )
    assert choose_offers(cases)["offer"].tolist() == ["installment_plan", "installment_plan"]


def test_missing_column_raises() -> None:
    """Cases without a risk column raise DataError naming it."""
    with pytest.raises(DataError, match="risk"):
        choose_offers(_cases().drop(columns="risk"))


def test_schedule_puts_remainder_on_first_instalment() -> None:
    """100.00 in 3: 33.34, 33.33, 33.33 on the same day of consecutive months."""
    plan = installment_schedule(Decimal("100.00"), 3, date(2026, 12, 7), "EUR")
    assert plan == [
        (date(2026, 12, 7), Decimal("33.34")),
        (date(2027, 1, 7), Decimal("33.33")),
        (date(2027, 2, 7), Decimal("33.33")),
    ]


def test_schedule_month_end_and_leap_year() -> None:
    """From 31 January 2028 the next dates are 29 February (leap year) and 31 March."""
    plan = installment_schedule(Decimal("0.05"), 3, date(2028, 1, 31), "EUR")
    assert plan == [
        (date(2028, 1, 31), Decimal("0.03")),
        (date(2028, 2, 29), Decimal("0.01")),
        (date(2028, 3, 31), Decimal("0.01")),
    ]


def test_schedule_refuses_bad_input() -> None:
    """Zero instalments, too small totals, float totals and excess decimals are refused."""
    with pytest.raises(PolicyError, match=">= 1"):
        installment_schedule(Decimal("10.00"), 0, date(2026, 12, 1), "EUR")
    with pytest.raises(PolicyError, match="cannot be split"):
        installment_schedule(Decimal("0.02"), 3, date(2026, 12, 1), "EUR")
    with pytest.raises(DataError, match="Decimal"):
        installment_schedule(100.0, 3, date(2026, 12, 1), "EUR")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="more decimals"):
        installment_schedule(Decimal("1.001"), 3, date(2026, 12, 1), "EUR")


@given(
    cents=st.integers(min_value=1, max_value=10**13),
    n=st.integers(min_value=1, max_value=48),
    currency=st.sampled_from(["EUR", "GBP", "CHF", "USD", "JPY"]),
    first=st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)),
)
def test_schedule_sums_exactly(cents: int, n: int, currency: str, first: date) -> None:
    """Instalments always sum exactly to the total, first is largest, dates increase."""
    places = 0 if currency == "JPY" else 2
    total = Decimal(cents).scaleb(-places)
    if cents < n:
        with pytest.raises(PolicyError):
            installment_schedule(total, n, first, currency)
        return
    plan = installment_schedule(total, n, first, currency)
    amounts = [a for _, a in plan]
    assert sum(amounts, Decimal(0)) == total
    assert len(plan) == n
    assert all(a > 0 for a in amounts)
    assert max(amounts) == amounts[0]
    assert max(amounts) - min(amounts) < Decimal(n).scaleb(-places)
    assert all(-a.as_tuple().exponent <= places for a in amounts)  # type: ignore[operator]
    dates = [d for d, _ in plan]
    assert dates[0] == first
    assert dates == sorted(set(dates))
