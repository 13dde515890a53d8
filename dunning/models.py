"""The domain model: customers, invoices, payments, dunning history, and the portfolio.

Two forms of the same contract:

* **Pydantic models** (:class:`Customer`, :class:`Invoice`, :class:`Payment`,
  :class:`DunningEvent`, :class:`PaymentPromise`) are immutable and validate one record
  each. They serve single-case APIs and give field-named validation messages.
* **DataFrames** hold the same columns for batch work. :data:`SCHEMAS` lists each
  table's canonical columns, whether they are required, and their kind; a
  :class:`Portfolio` bundles the validated tables.

Canonical DataFrame dtypes
--------------------------
========  ======================================================================
kind      dtype
========  ======================================================================
``id``    pandas string (``str``); never numbers, leading zeros kept
``text``  pandas string; missing optional values are ``NA`` (never made up)
``date``  ``datetime64[ns]`` at midnight (a calendar day, no time, no zone)
``money`` ``object`` column of :class:`~decimal.Decimal`, quantized to the row's currency
``bool``  pandas nullable ``boolean``; missing stays ``NA``
``int``   ``int64``
========  ======================================================================

Contact consent is a ``|``-separated, sorted set of channels (``"email|letter"``).

Examples
--------
>>> from datetime import date
>>> from decimal import Decimal
>>> inv = Invoice(invoice_id="R-1", customer_id="K-1", issue_date=date(2026, 10, 1),
...               due_date=date(2026, 10, 15), amount=Decimal("119.00"), currency="EUR")
>>> inv.amount
Decimal('119.00')
>>> from pydantic import ValidationError
>>> try:
...     Invoice(invoice_id="R-2", customer_id="K-1", issue_date=date(2026, 10, 1),
...             due_date=date(2026, 10, 15), amount=Decimal("1.234"), currency="EUR")
... except ValidationError as exc:
...     print(exc.errors()[0]["msg"])
Value error, amount 1.234 has more decimals than EUR allows (2)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Annotated, Literal

import pandas as pd
from babel import Locale
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from dunning.money import is_known_currency, minor_units

__all__ = [
    "CHANNELS",
    "DATE_DTYPE",
    "LANGUAGES",
    "SCHEMAS",
    "SEGMENTS",
    "ColumnSpec",
    "CountryCode",
    "Customer",
    "DunningEvent",
    "IbanText",
    "Invoice",
    "Payment",
    "PaymentPromise",
    "Portfolio",
    "is_valid_country",
    "is_valid_iban",
]

#: Channels a customer may consent to and a letter may be sent by.
CHANNELS: tuple[str, ...] = ("email", "letter", "sms")
#: Letter languages.
LANGUAGES: tuple[str, ...] = ("de", "en")
#: Customer segments: consumers and businesses.
SEGMENTS: tuple[str, ...] = ("B2B", "B2C")
#: dtype of every date column in the canonical DataFrames.
DATE_DTYPE = "datetime64[ns]"
#: NACE Rev. 2 section letters (A … U).
NACE_SECTIONS: tuple[str, ...] = tuple("ABCDEFGHIJKLMNOPQRSTU")

Kind = Literal[
    "id", "text", "date", "money", "currency", "bool", "int",
    "country", "language", "segment", "industry", "iban", "channels", "channel",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One canonical column of an input table.

    Parameters
    ----------
    name : str
        Canonical column name.
    kind : str
        How values are parsed and validated (see the module docstring).
    required : bool
        Whether the column must be present (and each value non-missing).
    """

    name: str
    kind: Kind
    required: bool = True


def _cols(*specs: tuple[str, Kind, bool]) -> tuple[ColumnSpec, ...]:
    return tuple(ColumnSpec(n, k, r) for n, k, r in specs)


#: Canonical columns per table, in order. Tables are ``customers``, ``invoices``,
#: ``payments``, ``history`` and ``promises`` (payment promises; optional).
SCHEMAS: dict[str, tuple[ColumnSpec, ...]] = {
    "customers": _cols(
        ("customer_id", "id", True),
        ("name", "text", True),
        ("street", "text", False),
        ("postal_code", "text", False),
        ("city", "text", False),
        ("country", "country", True),
        ("language", "language", True),
        ("segment", "segment", True),
        ("industry", "industry", False),
        ("email", "text", False),
        ("phone", "text", False),
        ("iban", "iban", False),
        ("vulnerable", "bool", False),
        ("contact_consent", "channels", False),
    ),
    "invoices": _cols(
        ("invoice_id", "id", True),
        ("customer_id", "id", True),
        ("issue_date", "date", True),
        ("due_date", "date", True),
        ("amount", "money", True),
        ("currency", "currency", True),
        ("disputed", "bool", False),
    ),
    "payments": _cols(
        ("payment_id", "id", True),
        ("invoice_id", "id", True),
        ("payment_date", "date", True),
        ("amount", "money", True),
        ("currency", "currency", True),
    ),
    "history": _cols(
        ("invoice_id", "id", True),
        ("level", "int", True),
        ("issued_on", "date", True),
        ("channel", "channel", True),
    ),
    "promises": _cols(
        ("promise_id", "id", True),
        ("invoice_id", "id", True),
        ("promised_on", "date", True),
        ("promised_by", "date", True),
        ("amount", "money", False),
        ("currency", "currency", False),
    ),
}


@cache
def _countries() -> frozenset[str]:
    codes = [str(code) for code in Locale("en").territories]
    return frozenset(code for code in codes if len(code) == 2 and code.isalpha())


def is_valid_country(code: object) -> bool:
    """Return whether ``code`` is an ISO 3166-1 alpha-2 country code (CLDR territories).

    Examples
    --------
    >>> is_valid_country("DE"), is_valid_country("de"), is_valid_country("XX1")
    (True, False, False)
    """
    return isinstance(code, str) and code in _countries()


def is_valid_iban(value: object) -> bool:
    """Return whether ``value`` is a valid IBAN (checksum, length, country; schwifty).

    Examples
    --------
    >>> is_valid_iban("DE89 3704 0044 0532 0130 00"), is_valid_iban("DE00370400440532013000")
    (True, False)
    """
    if not isinstance(value, str):
        return False
    try:
        IBAN(value)
    except SchwiftyException:
        return False
    return True


def _country_code(value: str) -> str:
    if not is_valid_country(value):
        msg = f"country {value!r} is not an ISO 3166-1 alpha-2 code such as 'DE' or 'GB'"
        raise ValueError(msg)
    return value


def _compact_iban(value: str) -> str:
    try:
        return str(IBAN(value).compact)
    except SchwiftyException as exc:
        msg = f"invalid IBAN {value!r}: {exc}"
        raise ValueError(msg) from exc


#: A pydantic field type: an ISO 3166-1 alpha-2 country code.
CountryCode = Annotated[str, AfterValidator(_country_code)]
#: A pydantic field type: an IBAN checked with schwifty, stored compact (no spaces).
IbanText = Annotated[str, AfterValidator(_compact_iban)]

_FROZEN = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, str_strip_whitespace=True)
_Id = Annotated[str, Field(min_length=1, max_length=64)]
_Text = Annotated[str, Field(min_length=1)]


def _check_money(amount: Decimal, currency: str) -> None:
    if not is_known_currency(currency):
        msg = f"unknown currency {currency!r}: expected an ISO 4217 code such as EUR or GBP"
        raise ValueError(msg)
    places = minor_units(currency)
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        msg = f"amount {amount} has more decimals than {currency} allows ({places})"
        raise ValueError(msg)


class Customer(BaseModel):
    """A debtor: a consumer (``B2C``) or a business (``B2B``).

    Examples
    --------
    >>> c = Customer(customer_id="K-1", name="Erika Mustermann", street="Hauptstr. 1",
    ...              postal_code="10115", city="Berlin", country="DE", language="de",
    ...              segment="B2C", contact_consent=frozenset({"letter"}))
    >>> c.vulnerable
    False
    """

    model_config = _FROZEN

    customer_id: _Id
    name: _Text
    street: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country: CountryCode
    language: Literal["de", "en"]
    segment: Literal["B2C", "B2B"]
    industry: Literal[
        "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K",
        "L", "M", "N", "O", "P", "Q", "R", "S", "T", "U",
    ] | None = None  # fmt: skip
    email: str | None = None
    phone: str | None = None
    iban: IbanText | None = None
    vulnerable: bool = False
    contact_consent: frozenset[Literal["email", "letter", "sms"]] = frozenset({"letter"})


class Invoice(BaseModel):
    """An issued invoice; the amount is exact in the invoice currency.

    An invoice, once sent, is never changed: interest and fees are separate claims.
    """

    model_config = _FROZEN

    invoice_id: _Id
    customer_id: _Id
    issue_date: date
    due_date: date
    amount: Annotated[Decimal, Field(gt=0, max_digits=15)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    disputed: bool | None = None

    @model_validator(mode="after")
    def _dates_and_currency(self) -> Invoice:
        _check_money(self.amount, self.currency)
        if self.due_date < self.issue_date:
            msg = f"due date {self.due_date} is before issue date {self.issue_date}"
            raise ValueError(msg)
        return self


class Payment(BaseModel):
    """A payment received against one invoice (possibly partial)."""

    model_config = _FROZEN

    payment_id: _Id
    invoice_id: _Id
    payment_date: date
    amount: Annotated[Decimal, Field(gt=0, max_digits=15)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]

    @model_validator(mode="after")
    def _money(self) -> Payment:
        _check_money(self.amount, self.currency)
        return self


class DunningEvent(BaseModel):
    """One dunning step already taken for an invoice (the dunning history)."""

    model_config = _FROZEN

    invoice_id: _Id
    level: Annotated[int, Field(ge=1, le=5)]
    issued_on: date
    channel: Literal["email", "letter", "sms"]


class PaymentPromise(BaseModel):
    """A customer's promise, made on ``promised_on``, to pay an invoice by ``promised_by``.

    ``amount`` and ``currency`` are optional (the promised amount, in the invoice
    currency); give both or neither. A promise is *kept* when the invoice is fully paid
    by ``promised_by``, and *broken* otherwise.

    Examples
    --------
    >>> p = PaymentPromise(promise_id="V-1", invoice_id="R-1", promised_on=date(2026, 11, 2),
    ...                    promised_by=date(2026, 11, 16))
    >>> p.amount is None
    True
    >>> from pydantic import ValidationError
    >>> try:
    ...     PaymentPromise(promise_id="V-2", invoice_id="R-1", promised_on=date(2026, 11, 2),
    ...                    promised_by=date(2026, 11, 1))
    ... except ValidationError as exc:
    ...     print(exc.errors()[0]["msg"])
    Value error, promised_by 2026-11-01 is before promised_on 2026-11-02
    """

    model_config = _FROZEN

    promise_id: _Id
    invoice_id: _Id
    promised_on: date
    promised_by: date
    amount: Annotated[Decimal, Field(gt=0, max_digits=15)] | None = None
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = None

    @model_validator(mode="after")
    def _dates_and_money(self) -> PaymentPromise:
        if self.promised_by < self.promised_on:
            msg = f"promised_by {self.promised_by} is before promised_on {self.promised_on}"
            raise ValueError(msg)
        if (self.amount is None) != (self.currency is None):
            msg = "give both amount and currency of the promise, or neither"
            raise ValueError(msg)
        if self.amount is not None and self.currency is not None:
            _check_money(self.amount, self.currency)
        return self


def _empty(table: str) -> pd.DataFrame:
    return pd.DataFrame({spec.name: pd.Series(dtype=_dtype(spec.kind)) for spec in SCHEMAS[table]})


def _dtype(kind: Kind) -> str:
    return {"date": DATE_DTYPE, "money": "object", "bool": "boolean", "int": "int64"}.get(
        kind, "str"
    )


@dataclass(frozen=True)
class Portfolio:
    """The validated tables a dunning run works on.

    Parameters
    ----------
    customers, invoices, payments, history : pandas.DataFrame
        Canonical tables (see :data:`SCHEMAS`); ``history`` may be empty.
    truth : pandas.DataFrame or None
        Only for generated portfolios (:func:`dunning.datasets.make_portfolio`): the
        ground truth behind the data, for judging models against the best possible.
    promises : pandas.DataFrame
        Payment promises (see :data:`SCHEMAS`); empty by default. Placed after ``truth``
        so that positional construction with four or five tables keeps working.

    Examples
    --------
    >>> p = Portfolio.empty()
    >>> p.invoices.columns.tolist()
    ['invoice_id', 'customer_id', 'issue_date', 'due_date', 'amount', 'currency', 'disputed']
    >>> len(p.history)
    0
    """

    customers: pd.DataFrame
    invoices: pd.DataFrame
    payments: pd.DataFrame
    history: pd.DataFrame = field(default_factory=lambda: _empty("history"))
    truth: pd.DataFrame | None = None
    promises: pd.DataFrame = field(default_factory=lambda: _empty("promises"))

    @classmethod
    def empty(cls) -> Portfolio:
        """A portfolio with no rows and the canonical columns and dtypes."""
        return cls(
            customers=_empty("customers"),
            invoices=_empty("invoices"),
            payments=_empty("payments"),
            history=_empty("history"),
            promises=_empty("promises"),
        )

    def tables(self) -> dict[str, pd.DataFrame]:
        """The input tables by name, in :data:`SCHEMAS` order (``truth`` excluded).

        Examples
        --------
        >>> list(Portfolio.empty().tables())
        ['customers', 'invoices', 'payments', 'history', 'promises']
        """
        return {
            "customers": self.customers,
            "invoices": self.invoices,
            "payments": self.payments,
            "history": self.history,
            "promises": self.promises,
        }
