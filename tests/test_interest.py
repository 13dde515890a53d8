"""Statutory interest, fees and payment allocation against hand-computed references.

Reference figures come from ``../shared/reference/requirements.md`` (items 6-14, 57) and are
recomputed by hand in the comments. Convention under test: both ``start`` and ``end`` are
interest days; act/365 unless stated; one rounding (half up) at the end.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dunning.errors import DataError, PolicyError
from dunning.interest import (
    ORDER_BGB_367,
    ORDER_CONSUMER_LOAN,
    RATE_COLUMNS,
    BaseRateUnconfirmed,
    BaseRateUnknown,
    RateTable,
    allocate_payment,
    flat_fee,
    interest_on_balance,
    load_rates,
    statutory_interest,
)
from dunning.money import quantize

D = Decimal
THOUSAND = D("1000.00")

# ECB main refinancing rate (MRO) of the most recent operation before each half-year, i.e. the
# reference of § 247 (1) BGB for the base rate effective on that day. Sources (stored copies
# read 2026-11-23): enterprise.gov.ie "Late Payment Interest Rate" table (ECB rate as at
# 1 January / 1 July, 2016-07-01 .. 2024-07-01); fxstreet.com (December 2024 cut, MRO 3.15 %);
# extremnews.com (MRO 2.15 % with effect from 11 June 2025); state-of.biz relaying the
# Bundesbank notice for 2026-01-01 (MRO 2.15 % since July 2025). Official series:
# https://www.ecb.europa.eu/stats/policy_and_exchange_rates/key_ecb_interest_rates/
MRO_BEFORE_HALF_YEAR = {
    **{date(y, m, 1): D("0.00") for y in range(2016, 2023) for m in (1, 7)},
    date(2023, 1, 1): D("2.50"),
    date(2023, 7, 1): D("4.00"),
    date(2024, 1, 1): D("4.50"),
    date(2024, 7, 1): D("4.25"),
    date(2025, 1, 1): D("3.15"),
    date(2025, 7, 1): D("2.15"),
    date(2026, 1, 1): D("2.15"),
}


def _half_years(first: date, last: date) -> list[date]:
    days, day = [], first
    while day <= last:
        days.append(day)
        day = date(day.year, 7, 1) if day.month == 1 else date(day.year + 1, 1, 1)
    return days


# --- Germany: reference figures ----------------------------------------------------------


def test_consumer_45_days_in_2026_h1() -> None:
    """€ 1,000 owed by a consumer from 2026-04-02 to 2026-05-16 (both counted): 45 days → € 7.73."""
    # 1000 × 6.27 % × 45 / 365 = 7.7301… → 7.73
    result = statutory_interest(THOUSAND, date(2026, 4, 2), date(2026, 5, 16), segment="B2C")
    assert result.days == 45
    assert result.amount == D("7.73")
    assert result.periods[0].rate_percent == D("6.27")
    assert result.periods[0].base_rate_percent == D("1.27")


def test_b2b_45_days_in_2026_h1_plus_flat_fee() -> None:
    """The same between businesses: 10.27 % → € 12.66, plus the € 40.00 flat fee."""
    # 1000 × 10.27 % × 45 / 365 = 12.6616… → 12.66
    result = statutory_interest(THOUSAND, date(2026, 4, 2), date(2026, 5, 16), segment="B2B")
    assert result.amount == D("12.66")
    assert flat_fee("B2B", "DE", THOUSAND) == D("40.00")


def test_rate_change_on_1_july_rounds_once() -> None:
    """June 2025 at 7.27 % + July 2025 at 6.27 %: € 11.30 rounding once (11.31 per period)."""
    # 1000 × 7.27 % × 30/365 = 5.97534…; 1000 × 6.27 % × 31/365 = 5.32520…; sum 11.30054…
    result = statutory_interest(THOUSAND, date(2025, 6, 1), date(2025, 7, 31), segment="B2C")
    assert [(p.days, p.rate_percent) for p in result.periods] == [(30, D("7.27")), (31, D("6.27"))]
    assert result.amount == D("11.30")
    per_period = sum(quantize(p.amount_unrounded, "EUR") for p in result.periods)
    assert per_period == D("11.31")  # 5.98 + 5.33: the rule we do not follow


def test_b2b_across_the_year_end_rate_change() -> None:
    """€ 1,000 B2B 2023-12-01..2024-01-31: 31 d at 12.12 % + 31 d at 12.62 % → € 21.01."""
    # December 2023: 1000 × 0.1212 × 31/365 = 3757.2/365 = 10.293698630…
    # January 2024:  1000 × 0.1262 × 31/365 = 3912.2/365 = 10.718356164…
    # Sum: 7669.4/365 = 21.012054794… → 21.01 (exact: 38347/1825)
    result = statutory_interest(THOUSAND, date(2023, 12, 1), date(2024, 1, 31), segment="B2B")
    assert [(p.start, p.end, p.days) for p in result.periods] == [
        (date(2023, 12, 1), date(2023, 12, 31), 31),
        (date(2024, 1, 1), date(2024, 1, 31), 31),
    ]
    assert [p.rate_percent for p in result.periods] == [D("12.12"), D("12.62")]
    assert result.amount_exact == Fraction(38347, 1825)
    assert result.amount == D("21.01")


def test_b2b_across_the_year_end_act_act() -> None:
    """The same span with act/act: January 2024 (leap year) is over 366 days → € 20.98."""
    # 3757.2/365 + 3912.2/366 = 10.293698630… + 10.689071038… = 20.982769668… → 20.98
    result = statutory_interest(
        THOUSAND, date(2023, 12, 1), date(2024, 1, 31), segment="B2B", day_count="act/act"
    )
    assert [p.year_days for p in result.periods] == [365, 366]
    assert result.amount == D("20.98")


@pytest.mark.parametrize(("day_count", "expected"), [("act/act", "7.30"), ("act/365", "7.32")])
def test_leap_year_day_count(day_count: str, expected: str) -> None:
    """€ 1,000 at 8.62 % for the 31 days of January 2024: act/act € 7.30, act/365 € 7.32."""
    # 1000 × 0.0862 × 31 / 366 = 7.3014…; / 365 = 7.3211…
    result = statutory_interest(
        THOUSAND,
        date(2024, 1, 1),
        date(2024, 1, 31),
        segment="B2C",
        day_count=day_count,  # type: ignore[arg-type]
    )
    assert result.periods[0].rate_percent == D("8.62")
    assert result.amount == D(expected)
    assert result.day_count == day_count


@pytest.mark.parametrize(("segment", "expected"), [("B2C", "41.20"), ("B2B", "81.20")])
def test_negative_base_rate_year_2021(segment: str, expected: str) -> None:
    """All 365 days of 2021 at base rate −0.88 %: consumer € 41.20, B2B € 81.20 (no floor)."""
    # (−0.88 + 5) % = 4.12 % and (−0.88 + 9) % = 8.12 % of 1000 for a full year.
    result = statutory_interest(
        THOUSAND,
        date(2021, 1, 1),
        date(2021, 12, 31),
        segment=segment,  # type: ignore[arg-type]
    )
    assert [p.days for p in result.periods] == [181, 184]
    assert {p.base_rate_percent for p in result.periods} == {D("-0.88")}
    assert result.amount == D(expected)


def test_no_interest_on_interest_over_two_years() -> None:
    """§ 289 BGB: two years equal the simple interest on the principal, half-year by half-year."""
    # 2023-H1 181 d × 6.62 + 2023-H2 184 d × 8.12 + 2024-H1 182 d × 8.62 + 2024-H2 184 d × 8.37
    # = 1198.22 + 1494.08 + 1568.84 + 1540.08 = 5801.22 (percent-days); × 1000 / 36500
    # = 158.937534… → 158.94 (compounding per half-year would give more).
    result = statutory_interest(THOUSAND, date(2023, 1, 1), date(2024, 12, 31), segment="B2C")
    assert [p.days for p in result.periods] == [181, 184, 182, 184]
    assert result.amount_exact == Fraction(580122, 100) * 1000 / 36500
    assert result.amount == D("158.94")
    assert {p.principal for p in result.periods} == {THOUSAND}


def test_result_breakdown_and_description() -> None:
    """The result is frozen, names its rule and gives its periods as a table."""
    result = statutory_interest(THOUSAND, date(2023, 12, 1), date(2024, 1, 31), segment="B2B")
    assert result.rate_description == (
        "German base rate (§ 247 BGB) + 9 percentage points a year (§ 288 (2) BGB), act/365"
    )
    frame = result.to_frame()
    assert frame.columns.tolist() == [
        "start",
        "end",
        "days",
        "year_days",
        "principal",
        "rate_percent",
        "base_rate_percent",
        "amount_unrounded",
        "confirmed",
    ]
    assert frame["days"].tolist() == [31, 31]
    assert frame["amount_unrounded"].tolist() == [p.amount_unrounded for p in result.periods]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.amount = D("0")  # type: ignore[misc]


def test_empty_span_is_zero() -> None:
    """``end`` the day before ``start`` (or earlier) gives zero interest and no periods."""
    for end in (date(2026, 4, 1), date(2020, 1, 1)):
        result = statutory_interest(THOUSAND, date(2026, 4, 2), end, segment="B2B")
        assert result.amount == D("0.00")
        assert result.periods == ()
    single = statutory_interest(THOUSAND, date(2026, 4, 2), date(2026, 4, 2), segment="B2B")
    assert single.days == 1


# --- base-rate data ----------------------------------------------------------------------


def test_day_beyond_the_table_raises() -> None:
    """A day after the last row's half-year raises BaseRateUnknown naming the missing row."""
    with pytest.raises(BaseRateUnknown) as info:
        statutory_interest(
            THOUSAND, date(2027, 1, 15), date(2027, 2, 1), segment="B2C", allow_unconfirmed=True
        )
    assert type(info.value) is BaseRateUnknown
    assert "Add the row for 2027-01-01" in str(info.value)
    assert "never carried forward" in str(info.value)
    assert (info.value.day, info.value.row) == (date(2027, 1, 15), date(2026, 7, 1))
    assert info.value.path == "dunning/data/base_rates_de.csv"


def test_span_running_past_the_table_raises() -> None:
    """A span that starts inside the table but ends after it also raises."""
    with pytest.raises(BaseRateUnknown, match="2027-01-01"):
        statutory_interest(
            THOUSAND, date(2026, 12, 1), date(2027, 1, 1), segment="B2B", allow_unconfirmed=True
        )


def test_day_before_the_table_raises() -> None:
    """A day before the first row raises too."""
    with pytest.raises(BaseRateUnknown, match="starts with 2016-07-01"):
        statutory_interest(THOUSAND, date(2016, 6, 30), date(2016, 7, 5), segment="B2C")


def test_unconfirmed_row_needs_permission(caplog: pytest.LogCaptureFixture) -> None:
    """The 2026-07-01 row (1.52 %) is unconfirmed: refused by default, flagged when allowed."""
    with pytest.raises(BaseRateUnconfirmed) as info:
        statutory_interest(THOUSAND, date(2026, 6, 1), date(2026, 8, 1), segment="B2C")
    message = str(info.value)
    assert "row effective from 2026-07-01 (1.52 %) is marked confirmed=false" in message
    assert "allow_unconfirmed=True" in message
    assert info.value.row == date(2026, 7, 1)
    with caplog.at_level(logging.WARNING, logger="dunning.interest"):
        result = statutory_interest(
            THOUSAND, date(2026, 6, 1), date(2026, 8, 1), segment="B2C", allow_unconfirmed=True
        )
    # June 2026: 1000 × 6.27 % × 30/365 = 5.153424…; July 1-Aug 1: 1000 × 6.52 % × 32/365
    # = 5.716164…; sum 10.869589… → 10.87
    assert result.amount == D("10.87")
    assert [p.confirmed for p in result.periods] == [True, False]
    assert result.confirmed is False
    assert "unconfirmed" in caplog.text


def test_packaged_tables_are_complete_and_sourced() -> None:
    """Both packaged tables have one sourced row per half-year from 2016-07-01 to 2026-07-01."""
    expected_days = _half_years(date(2016, 7, 1), date(2026, 7, 1))
    for jurisdiction in ("DE", "GB"):
        table = load_rates(jurisdiction)
        assert [r.effective_from for r in table.rows] == expected_days
        assert all(r.source_url.startswith("https://") for r in table.rows)
        assert all(r.retrieved_at == date(2026, 11, 23) for r in table.rows)
        assert table.to_frame().columns.tolist() == list(RATE_COLUMNS)
    unconfirmed = [r.effective_from for r in load_rates("DE").rows if not r.confirmed]
    assert unconfirmed == [date(2026, 7, 1)]
    assert all(r.confirmed for r in load_rates("GB").rows)


def test_german_base_rate_table_values() -> None:
    """The DE table holds the published values of regulatory.md Table 0."""
    rates = {r.effective_from: r.rate_percent for r in load_rates("DE").rows}
    assert rates[date(2016, 7, 1)] == D("-0.88")
    assert rates[date(2022, 7, 1)] == D("-0.88")
    assert [rates[date(y, m, 1)] for y in (2023, 2024, 2025, 2026) for m in (1, 7)] == [
        D(x) for x in ("1.62", "3.12", "3.62", "3.37", "2.27", "1.27", "1.27", "1.52")
    ]


def test_confirmed_base_rates_equal_mro_minus_088() -> None:
    """Every confirmed DE row since 2016-07-01 equals the ECB MRO before its half-year − 0.88."""
    checked = 0
    for row in load_rates("DE").rows:
        if not row.confirmed:
            continue
        assert row.effective_from in MRO_BEFORE_HALF_YEAR, f"no MRO for {row.effective_from}"
        assert row.rate_percent == MRO_BEFORE_HALF_YEAR[row.effective_from] - D("0.88")
        checked += 1
    assert checked == 20


def test_own_table_as_dataframe() -> None:
    """A DataFrame with floats and timestamps works; missing optional columns default sanely."""
    own = pd.DataFrame(
        {
            "effective_from": pd.to_datetime(["2027-01-01", "2026-07-01"]),
            "rate_percent": [2.02, 1.52],
        }
    )
    result = statutory_interest(
        THOUSAND, date(2026, 12, 31), date(2027, 1, 1), segment="B2C", rates=own
    )
    assert [p.base_rate_percent for p in result.periods] == [D("1.52"), D("2.02")]
    assert result.confirmed is True
    assert load_rates("DE", own).covers_until == date(2027, 6, 30)


def test_own_table_from_csv(tmp_path: Path) -> None:
    """A CSV file with comments and the packaged columns is read as the packaged one is."""
    path = tmp_path / "rates.csv"
    path.write_text(
        "# my rates\n"
        "effective_from,rate_percent,source_url,retrieved_at,confirmed\n"
        "2027-01-01,2.02,https://example.org/a,2027-01-02,true\n"
        "2027-07-01,2.52,,,false\n",
        encoding="utf-8",
    )
    table = load_rates("DE", path)
    assert [(r.rate_percent, r.confirmed, r.retrieved_at) for r in table.rows] == [
        (D("2.02"), True, date(2027, 1, 2)),
        (D("2.52"), False, None),
    ]
    assert table.name == str(path)
    assert load_rates("DE", table) is table
    with pytest.raises(PolicyError, match="jurisdiction 'DE'"):
        load_rates("GB", table)


@pytest.mark.parametrize(
    ("csv", "match"),
    [
        ("effective_from\n2027-01-01\n", "required column"),
        ("effective_from,rate_percent\n", "has no rows"),
        ("effective_from,rate_percent\n2027-03-01,1.0\n", "data row 1.*not a 1 January or 1 July"),
        ("effective_from,rate_percent\n2027-01-01,1.0\n2027-01-01,2.0\n", "data row 2.*repeats"),
        ('effective_from,rate_percent\n2027-01-01,"1,27"\n', "dot as decimal separator"),
        ("effective_from,rate_percent\n01.01.2027,1.0\n", "not an ISO date"),
        ("effective_from,rate_percent,confirmed\n2027-01-01,1.0,yes\n", "not true or false"),
    ],
)
def test_invalid_tables_fail_with_the_row(tmp_path: Path, csv: str, match: str) -> None:
    """A malformed rate table raises DataError naming the file, row and problem."""
    path = tmp_path / "bad.csv"
    path.write_text(csv, encoding="utf-8")
    with pytest.raises(DataError, match=match):
        load_rates("DE", path)


def test_unreadable_table_path(tmp_path: Path) -> None:
    """A missing file raises DataError with its path."""
    with pytest.raises(DataError, match="cannot read the rate table") as info:
        load_rates("DE", tmp_path / "absent.csv")
    assert info.value.path == str(tmp_path / "absent.csv")


def test_rate_table_rejects_unsorted_rows() -> None:
    """A RateTable built by hand must be sorted and non-empty."""
    table = load_rates("DE")
    with pytest.raises(DataError, match="sorted by effective_from"):
        RateTable("DE", tuple(reversed(table.rows)))
    with pytest.raises(DataError, match="at least one row"):
        RateTable("DE", ())


# --- United Kingdom ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("debt", "fee"),
    [
        ("0.01", "40.00"),
        ("999.99", "40.00"),
        ("1000.00", "70.00"),
        ("9999.99", "70.00"),
        ("10000.00", "100.00"),
        ("250000.00", "100.00"),
    ],
)
def test_uk_fixed_sums_at_the_boundaries(debt: str, fee: str) -> None:
    """Late Payment Act s. 5A: £40 under £1,000, £70 under £10,000, £100 from £10,000."""
    assert flat_fee("B2B", "GB", D(debt)) == D(fee)
    assert flat_fee("B2B", "GB", D(debt), "GBP") == D(fee)


def test_consumers_owe_no_flat_fee() -> None:
    """Neither § 288 (5) BGB nor the Late Payment Act gives a fee against consumers."""
    assert flat_fee("B2C", "DE", THOUSAND) == D("0.00")
    assert flat_fee("B2C", "GB", THOUSAND) == D("0.00")


def test_flat_fee_checks_currency_and_amount() -> None:
    """Fees are fixed in EUR / GBP and need a positive debt."""
    with pytest.raises(PolicyError, match="fixed in GBP") as info:
        flat_fee("B2B", "GB", THOUSAND, "EUR")
    assert info.value.field == "currency"
    with pytest.raises(PolicyError, match="fixed in EUR"):
        flat_fee("B2B", "DE", THOUSAND, "CHF")
    with pytest.raises(PolicyError, match="> 0"):
        flat_fee("B2B", "DE", D("0"))


def test_uk_interest_reference_example() -> None:
    """£5,000 overdue from 2026-02-01 for 30 days at 3.75 % + 8 % → £48.29, plus £70."""
    # 5000 × 11.75 % × 30 / 365 = 48.2876… → 48.29
    result = statutory_interest(
        D("5000.00"), date(2026, 2, 1), date(2026, 3, 2), segment="B2B", jurisdiction="GB"
    )
    assert result.days == 30
    assert result.amount == D("48.29")
    assert result.currency == "GBP"
    assert "Bank Rate on 2025-12-31" in result.rate_description
    assert flat_fee("B2B", "GB", D("5000.00")) == D("70.00")


def test_uk_rate_is_fixed_when_interest_starts() -> None:
    """SI 2002/1675: the reference rate for the first day applies to the whole debt."""
    # From 2025-12-01 the 30 June 2025 Bank Rate (4.25 %) applies, also in January 2026:
    # 5000 × 12.25 % × 62 / 365 = 37975/365 = 104.0410… → 104.04; periods cut at 1 January.
    result = statutory_interest(
        D("5000.00"), date(2025, 12, 1), date(2026, 1, 31), segment="B2B", jurisdiction="GB"
    )
    assert [(p.days, p.rate_percent) for p in result.periods] == [
        (31, D("12.25")),
        (31, D("12.25")),
    ]
    assert result.amount == D("104.04")


def test_uk_needs_the_reference_rate_row() -> None:
    """A UK debt overdue in a half-year the table does not cover raises."""
    table = pd.DataFrame({"effective_from": ["2026-01-01"], "rate_percent": ["3.75"]})
    with pytest.raises(BaseRateUnknown, match="Add the row for 2026-07-01"):
        statutory_interest(
            THOUSAND,
            date(2026, 8, 1),
            date(2026, 8, 31),
            segment="B2B",
            jurisdiction="GB",
            rates=table,
        )
    shipped = statutory_interest(
        THOUSAND, date(2026, 8, 1), date(2026, 8, 31), segment="B2B", jurisdiction="GB"
    )
    assert shipped.periods[0].base_rate_percent == D("3.75")


def test_uk_consumer_interest_is_refused() -> None:
    """The Late Payment Act covers business debts only."""
    with pytest.raises(PolicyError, match="between businesses only") as info:
        statutory_interest(
            THOUSAND, date(2026, 2, 1), date(2026, 3, 2), segment="B2C", jurisdiction="GB"
        )
    assert info.value.field == "segment"


# --- argument checks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"principal": 1000.0}, "principal"),
        ({"principal": D("-1.00")}, "principal"),
        ({"principal": D("NaN")}, "principal"),
        ({"start": datetime(2026, 4, 2, 12)}, "start"),
        ({"end": "2026-05-16"}, "end"),
        ({"segment": "B2G"}, "segment"),
        ({"jurisdiction": "FR"}, "jurisdiction"),
        ({"day_count": "30/360"}, "day_count"),
    ],
)
def test_invalid_arguments_name_the_field(kwargs: dict[str, object], field: str) -> None:
    """Bad arguments raise PolicyError naming the field."""
    args: dict[str, object] = {
        "principal": THOUSAND,
        "start": date(2026, 4, 2),
        "end": date(2026, 5, 16),
        "segment": "B2C",
    }
    args.update(kwargs)
    with pytest.raises(PolicyError) as info:
        statutory_interest(**args)  # type: ignore[arg-type]
    assert info.value.field == field


def test_integer_principal_is_exact() -> None:
    """An int principal is exact money too."""
    result = statutory_interest(1000, date(2026, 4, 2), date(2026, 5, 16), segment="B2C")  # type: ignore[arg-type]
    assert result.amount == D("7.73")


# --- payment allocation ------------------------------------------------------------------


def test_allocation_bgb_367() -> None:
    """§ 367 BGB: 500.00 pays costs 2.50, interest 11.30, then 486.20 principal."""
    a = allocate_payment(D("500.00"), costs=D("2.50"), interest=D("11.30"), principal=THOUSAND)
    assert a.order == ORDER_BGB_367
    assert (a.costs_paid, a.interest_paid, a.principal_paid) == (
        D("2.50"),
        D("11.30"),
        D("486.20"),
    )
    assert (a.costs_remaining, a.interest_remaining, a.principal_remaining) == (
        D("0.00"),
        D("0.00"),
        D("513.80"),
    )
    assert a.surplus == D("0.00")


def test_allocation_consumer_loan() -> None:
    """§ 497 (3) BGB: costs, principal, interest → principal 502.50 and interest 11.30 open."""
    for order in ("consumer_loan", ORDER_CONSUMER_LOAN, list(ORDER_CONSUMER_LOAN)):
        a = allocate_payment(
            D("500.00"),
            costs=D("2.50"),
            interest=D("11.30"),
            principal=THOUSAND,
            order=order,
        )
        assert (a.costs_remaining, a.principal_remaining, a.interest_remaining) == (
            D("0.00"),
            D("502.50"),
            D("11.30"),
        )
        assert a.remaining == D("513.80")


def test_allocation_small_payment_and_overpayment() -> None:
    """A payment below the costs touches nothing else; an overpayment becomes surplus."""
    small = allocate_payment(D("1.00"), costs=D("2.50"), interest=D("11.30"), principal=THOUSAND)
    assert (small.costs_remaining, small.interest_paid, small.principal_paid) == (
        D("1.50"),
        D("0.00"),
        D("0.00"),
    )
    over = allocate_payment(D("1100.00"), costs=D("2.50"), interest=D("11.30"), principal=THOUSAND)
    assert over.remaining == D("0.00")
    assert over.surplus == D("86.20")


def test_allocation_rejects_bad_input() -> None:
    """Negative amounts and unknown orders raise PolicyError naming the field."""
    with pytest.raises(PolicyError) as info:
        allocate_payment(D("-1"), costs=D("0"), interest=D("0"), principal=THOUSAND)
    assert info.value.field == "payment"
    for order in ("fifo", ("costs", "costs", "principal"), ("costs", "interest")):
        with pytest.raises(PolicyError, match="order must be") as info:
            allocate_payment(
                D("1"),
                costs=D("0"),
                interest=D("0"),
                principal=THOUSAND,
                order=order,  # type: ignore[arg-type]
            )
        assert info.value.field == "order"


# --- interest on a changing balance ------------------------------------------------------


def test_interest_on_balance_equals_its_pieces() -> None:
    """Each balance bears interest on its own days; the total is rounded once."""
    balances = [(date(2026, 4, 2), THOUSAND), (date(2026, 5, 17), D("500.00"))]
    result = interest_on_balance(balances, date(2026, 6, 30), segment="B2C")
    first = statutory_interest(THOUSAND, date(2026, 4, 2), date(2026, 5, 16), segment="B2C")
    second = statutory_interest(D("500.00"), date(2026, 5, 17), date(2026, 6, 30), segment="B2C")
    assert result.amount_exact == first.amount_exact + second.amount_exact
    # 1000 × 6.27 % × 45/365 + 500 × 6.27 % × 45/365 = 7.7301… + 3.8650… = 11.5952… → 11.60
    assert result.amount == D("11.60")
    assert [(p.principal, p.days) for p in result.periods] == [(THOUSAND, 45), (D("500.00"), 45)]


def test_interest_on_balance_edges() -> None:
    """Zero balances bear nothing, later balances are cut at ``end``, order is checked."""
    balances = [
        (date(2025, 6, 1), THOUSAND),
        (date(2025, 6, 11), D("0")),
        (date(2025, 7, 1), D("400.00")),
        (date(2025, 9, 1), D("400.00")),
    ]
    result = interest_on_balance(balances, date(2025, 7, 10), segment="B2C")
    assert [(p.start, p.end, p.principal) for p in result.periods] == [
        (date(2025, 6, 1), date(2025, 6, 10), THOUSAND),
        (date(2025, 7, 1), date(2025, 7, 10), D("400.00")),
    ]
    with pytest.raises(PolicyError, match="strictly increasing"):
        interest_on_balance(list(reversed(balances)), date(2025, 7, 10), segment="B2C")
    with pytest.raises(PolicyError, match="balances is empty"):
        interest_on_balance([], date(2025, 7, 10), segment="B2C")


def test_interest_on_balance_uk_uses_the_first_day() -> None:
    """For GB the reference rate of the first balance day applies to every balance."""
    balances = [(date(2025, 12, 1), D("5000.00")), (date(2026, 1, 1), D("2000.00"))]
    result = interest_on_balance(balances, date(2026, 1, 31), segment="B2B", jurisdiction="GB")
    assert {p.rate_percent for p in result.periods} == {D("12.25")}


# --- properties --------------------------------------------------------------------------

FIRST, LAST = date(2016, 7, 1), date(2026, 6, 30)  # the confirmed part of the DE table
amounts = st.decimals(min_value=0, max_value=10_000_000, places=2)
segments = st.sampled_from(["B2C", "B2B"])
day_counts = st.sampled_from(["act/365", "act/act"])
offsets = st.integers(min_value=0, max_value=900)
PROPERTY = settings(max_examples=60, deadline=None)


def _clip(day: date) -> date:
    return min(day, LAST)


@PROPERTY
@given(amounts, st.dates(FIRST, LAST), offsets, offsets, segments, day_counts)
def test_monotone_in_the_end_date(
    principal: Decimal, start: date, a: int, b: int, segment: str, day_count: str
) -> None:
    """Interest never decreases when the span gets longer."""
    short = _clip(start + timedelta(days=min(a, b)))
    long = _clip(start + timedelta(days=max(a, b)))
    kw: dict[str, object] = {"segment": segment, "day_count": day_count}
    low = statutory_interest(principal, start, short, **kw)  # type: ignore[arg-type]
    high = statutory_interest(principal, start, long, **kw)  # type: ignore[arg-type]
    assert low.amount_exact <= high.amount_exact
    assert low.amount <= high.amount


@PROPERTY
@given(amounts, st.dates(FIRST, LAST), offsets, offsets, segments, day_counts)
def test_additive_over_a_split(
    principal: Decimal, start: date, a: int, b: int, segment: str, day_count: str
) -> None:
    """Splitting a span at any day adds up exactly before rounding, within a cent after."""
    mid = _clip(start + timedelta(days=min(a, b)))
    end = _clip(start + timedelta(days=max(a, b)))
    kw: dict[str, object] = {"segment": segment, "day_count": day_count}
    whole = statutory_interest(principal, start, end, **kw)  # type: ignore[arg-type]
    left = statutory_interest(principal, start, mid, **kw)  # type: ignore[arg-type]
    right = statutory_interest(principal, mid + timedelta(days=1), end, **kw)  # type: ignore[arg-type]
    assert left.amount_exact + right.amount_exact == whole.amount_exact
    assert abs(left.amount + right.amount - whole.amount) <= D("0.01")
    assert left.days + right.days == whole.days


@PROPERTY
@given(amounts, st.dates(FIRST, LAST), st.integers(min_value=1, max_value=400), segments)
def test_empty_spans_are_zero(principal: Decimal, start: date, back: int, segment: str) -> None:
    """Any ``end`` before ``start`` gives exactly zero and no periods."""
    result = statutory_interest(principal, start, start - timedelta(days=back), segment=segment)  # type: ignore[arg-type]
    assert result.amount == D("0.00")
    assert result.periods == ()


@PROPERTY
@given(
    amounts,
    st.integers(min_value=0, max_value=1000),
    st.dates(FIRST, LAST),
    offsets,
    segments,
    day_counts,
)
def test_proportional_in_principal(
    principal: Decimal, k: int, start: date, a: int, segment: str, day_count: str
) -> None:
    """k times the principal gives exactly k times the unrounded interest."""
    end = _clip(start + timedelta(days=a))
    kw: dict[str, object] = {"segment": segment, "day_count": day_count}
    one = statutory_interest(principal, start, end, **kw)  # type: ignore[arg-type]
    many = statutory_interest(principal * k, start, end, **kw)  # type: ignore[arg-type]
    assert many.amount_exact == k * one.amount_exact
