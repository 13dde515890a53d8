"""Exact money: ``Decimal`` amounts quantized to the currency's minor unit.

Money in this library is a :class:`decimal.Decimal` from the first parse to the last
render, or integer minor units (cents) in vectorised hot paths; never ``float``.
Quantization to the minor unit happens in exactly one place, :func:`quantize`.

Rounding rule
-------------
:func:`quantize` rounds **half up** (``ROUND_HALF_UP``, "kaufmännisches Runden") by
default, the convention of German and UK commercial practice; pass
``rounding=decimal.ROUND_HALF_EVEN`` for banker's rounding. Input parsing
(:mod:`dunning.io`) never rounds: an amount with more decimals than the currency allows
is rejected instead.

Minor units come from CLDR via Babel (EUR, GBP, CHF, USD: 2; JPY: 0).

Examples
--------
>>> from decimal import Decimal
>>> quantize(Decimal("10.005"), "EUR")
Decimal('10.01')
>>> quantize(Decimal("10.005"), "EUR", rounding=ROUND_HALF_EVEN)
Decimal('10.00')
>>> minor_units("JPY"), minor_units("EUR")
(0, 2)
>>> to_minor(Decimal("1234.56"), "EUR")
123456
>>> from_minor(123456, "EUR")
Decimal('1234.56')
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from functools import cache

import numpy as np
import numpy.typing as npt
from babel.numbers import get_currency_precision, list_currencies

from dunning.errors import DataError

__all__ = [
    "ROUND_HALF_EVEN",
    "ROUND_HALF_UP",
    "from_minor",
    "is_known_currency",
    "minor_units",
    "quantize",
    "to_minor",
    "validate_currency",
]


@cache
def _known_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def is_known_currency(code: object) -> bool:
    """Return whether ``code`` is an ISO 4217 currency code known to CLDR.

    Examples
    --------
    >>> is_known_currency("EUR"), is_known_currency("XYZ"), is_known_currency(None)
    (True, False, False)
    """
    return isinstance(code, str) and code in _known_currencies()


def validate_currency(code: object) -> str:
    """Return ``code`` if it is a known ISO 4217 code, else raise :class:`DataError`.

    Examples
    --------
    >>> validate_currency("GBP")
    'GBP'
    >>> validate_currency("EURO")
    Traceback (most recent call last):
    ...
    dunning.errors.DataError: unknown currency 'EURO': expected an ISO 4217 code such as EUR or GBP.
    """
    if not is_known_currency(code):
        msg = f"unknown currency {code!r}: expected an ISO 4217 code such as EUR or GBP."
        raise DataError(msg)
    return str(code)


@cache
def minor_units(currency: str) -> int:
    """Number of decimal places of ``currency``'s minor unit (CLDR).

    Examples
    --------
    >>> minor_units("CHF")
    2
    """
    return int(get_currency_precision(validate_currency(currency)))


@cache
def _exponent(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def quantize(amount: Decimal, currency: str, *, rounding: str = ROUND_HALF_UP) -> Decimal:
    """Round ``amount`` to the minor unit of ``currency``.

    Parameters
    ----------
    amount : Decimal
        Any exact amount.
    currency : str
        ISO 4217 code.
    rounding : str
        A :mod:`decimal` rounding mode; half up by default.

    Returns
    -------
    Decimal
        The amount with exactly the currency's number of decimal places.

    Examples
    --------
    >>> quantize(Decimal("7.730136986"), "EUR")
    Decimal('7.73')
    >>> quantize(Decimal("100"), "JPY")
    Decimal('100')
    """
    return amount.quantize(_exponent(currency), rounding=rounding)


def to_minor(amount: Decimal, currency: str) -> int:
    """Convert an amount already quantized to ``currency`` into integer minor units.

    Raises
    ------
    DataError
        If ``amount`` has more decimals than the currency allows (it would need rounding).

    Examples
    --------
    >>> to_minor(Decimal("0.10"), "EUR")
    10
    """
    scaled = amount.scaleb(minor_units(currency))
    if scaled != scaled.to_integral_value():
        msg = f"amount {amount} has more decimals than {currency} allows; quantize it first."
        raise DataError(msg)
    return int(scaled)


# Integers below this have at most 18 digits, well inside the default precision of 28.
_EXACT_LIMIT = 10**18


def from_minor(units: int, currency: str) -> Decimal:
    """Convert integer minor units back into a quantized ``Decimal``.

    Examples
    --------
    >>> from_minor(-5, "EUR")
    Decimal('-0.05')
    """
    value = int(units)
    if -_EXACT_LIMIT < value < _EXACT_LIMIT:
        # Fewer digits than the context precision: scaleb is exact, nothing to round.
        return Decimal(value).scaleb(-minor_units(currency))
    return quantize(Decimal(value).scaleb(-minor_units(currency)), currency)


def to_minor_array(amounts: Iterable[Decimal], currencies: Sequence[str]) -> npt.NDArray[np.int64]:
    """Vectorised :func:`to_minor` for a column of Decimals and a column of currencies.

    Examples
    --------
    >>> to_minor_array([Decimal("1.50"), Decimal("7")], ["EUR", "JPY"]).tolist()
    [150, 7]
    """
    return np.fromiter(
        (to_minor(a, c) for a, c in zip(amounts, currencies, strict=True)),
        dtype=np.int64,
        count=len(currencies),
    )


def from_minor_array(units: Iterable[int], currencies: Sequence[str]) -> list[Decimal]:
    """Vectorised :func:`from_minor`.

    Examples
    --------
    >>> from_minor_array([150, 7], ["EUR", "JPY"])
    [Decimal('1.50'), Decimal('7')]
    """
    return [from_minor(int(u), c) for u, c in zip(units, currencies, strict=True)]
