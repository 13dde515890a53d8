"""Exact money: quantization, minor units, and their round trips."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dunning.errors import DataError
from dunning.money import (
    from_minor,
    from_minor_array,
    is_known_currency,
    minor_units,
    quantize,
    to_minor,
    to_minor_array,
    validate_currency,
)


def test_minor_units_follow_cldr() -> None:
    """EUR, GBP, CHF and USD have cents; JPY has none."""
    assert [minor_units(c) for c in ("EUR", "GBP", "CHF", "USD", "JPY")] == [2, 2, 2, 2, 0]


def test_quantize_rounds_half_up_by_default_and_half_even_on_request() -> None:
    """Half a cent rounds up commercially, to even with banker's rounding."""
    assert quantize(Decimal("0.125"), "EUR") == Decimal("0.13")
    assert quantize(Decimal("0.125"), "EUR", rounding=ROUND_HALF_EVEN) == Decimal("0.12")
    assert quantize(Decimal("-0.125"), "EUR") == Decimal("-0.13")
    assert str(quantize(Decimal("7"), "EUR")) == "7.00"


def test_unknown_currency_is_a_data_error() -> None:
    """An unknown code is refused with a message naming it."""
    assert not is_known_currency("XYZ")
    with pytest.raises(DataError, match="unknown currency 'XYZ'"):
        validate_currency("XYZ")
    with pytest.raises(DataError):
        minor_units("EURO")


def test_to_minor_refuses_amounts_that_would_need_rounding() -> None:
    """Sub-cent amounts are not silently rounded into cents."""
    with pytest.raises(DataError, match=r"more decimals than EUR allows"):
        to_minor(Decimal("1.005"), "EUR")


def test_vectorised_conversions() -> None:
    """Array forms agree with the scalar ones, per row currency."""
    amounts = [Decimal("1234.56"), Decimal("0.01"), Decimal("500")]
    currencies = ["EUR", "GBP", "JPY"]
    assert to_minor_array(amounts, currencies).tolist() == [123456, 1, 500]
    assert from_minor_array([123456, 1, 500], currencies) == amounts


@given(st.integers(min_value=-(10**13), max_value=10**13), st.sampled_from(["EUR", "GBP", "JPY"]))
def test_minor_round_trip_is_exact(units: int, currency: str) -> None:
    """Minor units → Decimal → minor units is the identity."""
    assert to_minor(from_minor(units, currency), currency) == units


@given(st.decimals(min_value=-(10**9), max_value=10**9, allow_nan=False, places=6))
def test_quantize_is_idempotent_and_within_half_a_cent(amount: Decimal) -> None:
    """Quantizing twice changes nothing, and the error is at most half a minor unit."""
    once = quantize(amount, "EUR")
    assert quantize(once, "EUR") == once
    assert abs(once - amount) <= Decimal("0.005")


@given(
    st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.integers(-(10**25), 10**25),
    st.sampled_from(["EUR", "JPY", "KWD", "GBP", "CHF"]),
)
def test_from_minor_has_the_currency_exponent_exactly(units: int, currency: str) -> None:
    """The fast path gives the same digits and exponent as quantizing (e.g. 0.00, not 0)."""
    value = from_minor(units, currency)
    expected = quantize(Decimal(units).scaleb(-minor_units(currency)), currency)
    assert value.as_tuple() == expected.as_tuple()
