"""Statutory default interest, fixed fees and the allocation of part-payments.

Germany (``jurisdiction="DE"``)
    Default interest under § 288 BGB: the base rate (Basiszinssatz, § 247 BGB) plus 5
    percentage points a year when a consumer is involved (``segment="B2C"``, § 288 (1)), plus 9
    points for a payment claim between businesses (``"B2B"``, § 288 (2)). The base rate
    changes on 1 January and 1 July, so interest is computed per half-year period with the
    rate of that period. Simple interest on the principal only (§ 289: no interest on
    interest). A business debtor also owes a € 40 flat fee (§ 288 (5)).
United Kingdom (``jurisdiction="GB"``)
    Late Payment of Commercial Debts (Interest) Act 1998, business debts only: 8 points a year
    over the Bank of England reference rate, which is Bank Rate on 31 December (for interest
    that starts to run 1 January - 30 June) or on 30 June (1 July - 31 December); the rate
    found for the first day of interest applies to the whole debt (SI 2002/1675 art. 4).
    Fixed sums of £ 40 / £ 70 / £ 100 by the size of the debt (s. 5A).

Which days count
    ``start`` is the first day that bears interest and ``end`` the last one; **both count**.
    Default from 2026-04-02 with payment on 2026-05-16 is 45 interest days. The caller decides
    the first day (under § 187 (1) BGB usually the day after the event that caused default);
    an ``end`` before ``start`` is an empty span and gives zero interest.

Day count
    ``"act/365"`` (default, common practice): each day is 1/365 of a year, also in leap years.
    ``"act/act"``: a day in a leap year is 1/366, other days 1/365. The statute fixes neither.

Exactness
    Amounts are ``Decimal`` and the arithmetic is exact (rational, via :class:`fractions.Fraction`;
    no floats). The total is rounded half up to the currency's minor unit **once**, at the end,
    with :func:`dunning.money.quantize`; periods keep their unrounded amounts.

Rates are data, not code: the packaged tables ``dunning/data/base_rates_de.csv`` and
``dunning/data/reference_rates_uk.csv`` (each row with its source and a ``confirmed`` flag), or
your own table through ``rates=``. A day after the last row's half-year raises
:class:`BaseRateUnknown`; the last value is never carried forward. Rows marked
``confirmed=false`` are used only with ``allow_unconfirmed=True``.

This is engineering, not legal advice: see ``docs/interest.md`` for the sources and caveats.

Examples
--------
>>> from datetime import date
>>> from decimal import Decimal
>>> result = statutory_interest(
...     Decimal("1000.00"), date(2023, 12, 1), date(2024, 1, 31), segment="B2B"
... )
>>> result.amount
Decimal('21.01')
>>> [(p.start.isoformat(), p.days, str(p.rate_percent)) for p in result.periods]
[('2023-12-01', 31, '12.12'), ('2024-01-01', 31, '12.62')]
>>> flat_fee("B2B", "DE", Decimal("1000.00"))
Decimal('40.00')
>>> allocate_payment(
...     Decimal("500.00"), costs=Decimal("2.50"), interest=Decimal("11.30"),
...     principal=Decimal("1000.00"),
... ).principal_remaining
Decimal('513.80')
"""

from __future__ import annotations

import bisect
import calendar
import io
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Context, Decimal, InvalidOperation, localcontext
from fractions import Fraction
from functools import cache
from importlib.resources import files
from typing import Literal, TypeAlias, TypeVar

import numpy as np
import pandas as pd

from dunning.errors import DataError, PolicyError
from dunning.money import quantize, validate_currency
from dunning.typing import Segment

__all__ = [
    "ORDER_BGB_367",
    "ORDER_CONSUMER_LOAN",
    "RATE_COLUMNS",
    "Allocation",
    "BaseRateUnconfirmed",
    "BaseRateUnknown",
    "DayCount",
    "InterestPeriod",
    "InterestResult",
    "Jurisdiction",
    "RateRow",
    "RateTable",
    "allocate_payment",
    "flat_fee",
    "interest_on_balance",
    "load_rates",
    "statutory_interest",
]

logger = logging.getLogger(__name__)

_T = TypeVar("_T", bound=str)

#: Legal system whose statutory interest applies: Germany (BGB) or the United Kingdom.
Jurisdiction: TypeAlias = Literal["DE", "GB"]
#: Day-count convention: every day 1/365 of a year, or 1/366 for days in leap years.
DayCount: TypeAlias = Literal["act/365", "act/act"]
#: One of the three parts of an open claim a payment can go to.
AllocationPart: TypeAlias = Literal["costs", "interest", "principal"]
#: Where rates come from: a loaded table, a DataFrame, a CSV path, or ``None`` (packaged).
RateSource: TypeAlias = "RateTable | pd.DataFrame | str | os.PathLike[str] | None"

#: Columns of a rate table, in order (only the first two are required in your own tables).
RATE_COLUMNS: tuple[str, ...] = (
    "effective_from",
    "rate_percent",
    "source_url",
    "retrieved_at",
    "confirmed",
)
#: § 367 (1) BGB: costs, then interest, then principal.
ORDER_BGB_367: tuple[AllocationPart, AllocationPart, AllocationPart] = (
    "costs",
    "interest",
    "principal",
)
#: § 497 (3) BGB (consumer loan agreements): costs, then principal, then interest.
ORDER_CONSUMER_LOAN: tuple[AllocationPart, AllocationPart, AllocationPart] = (
    "costs",
    "principal",
    "interest",
)

_JURISDICTIONS: tuple[Jurisdiction, ...] = ("DE", "GB")
_SEGMENTS: tuple[Segment, ...] = ("B2C", "B2B")
_DAY_COUNTS: tuple[DayCount, ...] = ("act/365", "act/act")
_PARTS: tuple[AllocationPart, ...] = ("costs", "interest", "principal")
_CURRENCY = {"DE": "EUR", "GB": "GBP"}
_PACKAGED = {"DE": "data/base_rates_de.csv", "GB": "data/reference_rates_uk.csv"}
_LABEL = {"DE": "German base rate (§ 247 BGB)", "GB": "Bank of England reference rate"}
_OFFICIAL = {
    "DE": (
        "https://www.bundesbank.de/de/bundesbank/organisation/agb-und-regelungen/"
        "basiszinssatz-607820"
    ),
    "GB": "https://www.bankofengland.co.uk/monetary-policy/the-interest-rate-bank-rate",
}
# Margins in percentage points a year over the reference rate.
_MARGIN = {
    # § 288 Abs. 1 Satz 2 BGB: base rate + 5 percentage points (a consumer is involved).
    ("DE", "B2C"): Decimal(5),
    # § 288 Abs. 2 BGB: base rate + 9 percentage points (payment claim, no consumer involved).
    ("DE", "B2B"): Decimal(9),
    # SI 2002/1675 art. 4 (under s. 6 of the 1998 Act): 8 per cent over the official dealing rate.
    ("GB", "B2B"): Decimal(8),
}
_CITATION = {
    ("DE", "B2C"): "§ 288 (1) BGB",
    ("DE", "B2B"): "§ 288 (2) BGB",
    ("GB", "B2B"): "Late Payment of Commercial Debts (Interest) Act 1998, SI 2002/1675",
}
# § 288 Abs. 5 Satz 1 BGB: EUR 40 flat fee when the debtor is not a consumer.
_DE_FLAT_FEE = Decimal("40.00")
# Late Payment of Commercial Debts (Interest) Act 1998, s. 5A (2): fixed sum by size of debt.
_GB_FIXED_SUMS: tuple[tuple[Decimal | None, Decimal], ...] = (
    (Decimal("1000.00"), Decimal("40.00")),  # debt less than £1,000
    (Decimal("10000.00"), Decimal("70.00")),  # £1,000 or more, less than £10,000
    (None, Decimal("100.00")),  # £10,000 or more
)
# Exact quotients are rendered with this precision before the one rounding to cents; the
# denominators (100 x 365 x 366 x powers of ten) are far too small for 60 digits to turn a
# value just below a half cent into one at or above it.
_EXACT = Context(prec=60)
# Unrounded period amounts are shown with 28 significant digits.
_SHOWN = Context(prec=28)


class BaseRateUnknown(DataError):
    """The rate table has no (usable) rate for a day, so interest cannot be computed.

    Raised for a day before the table's first row or after the half-year of its last row (the
    last value is never carried forward). Update the table (see ``docs/interest.md``) or pass
    ``rates=`` with your own.

    Parameters
    ----------
    message : str
        What is missing, and where to get it.
    day : datetime.date
        The day whose rate was asked for.
    path : str or None
        The table (a file path, ``"<DataFrame>"`` or the packaged resource name).
    row : datetime.date or None
        ``effective_from`` of the row concerned, if any.
    """

    def __init__(
        self, message: str, *, day: date, path: str | None = None, row: date | None = None
    ) -> None:
        super().__init__(message, path=path)
        self.day = day
        self.row = row


class BaseRateUnconfirmed(BaseRateUnknown):
    """The rate for a day is in a row marked ``confirmed=false``, and that was not allowed.

    Pass ``allow_unconfirmed=True`` to use the row anyway (the result's ``confirmed`` is then
    ``False``), or confirm the value with the official source and mark the row ``true``.
    """


@dataclass(frozen=True, slots=True)
class RateRow:
    """One row of a rate table: a reference rate in force from a half-year on.

    Parameters
    ----------
    effective_from : datetime.date
        1 January or 1 July.
    rate_percent : Decimal
        The base rate (DE) or the Bank of England reference rate (GB), in percent a year; may
        be negative.
    source_url : str
        Where the value was read ("" if the table did not say).
    retrieved_at : datetime.date or None
        When the source was checked.
    confirmed : bool
        Whether the value is backed by a source relaying the official publication.

    Examples
    --------
    >>> load_rates("DE").rate_on(date(2021, 3, 1)).rate_percent
    Decimal('-0.88')
    """

    effective_from: date
    rate_percent: Decimal
    source_url: str = ""
    retrieved_at: date | None = None
    confirmed: bool = True


@dataclass(frozen=True, slots=True)
class RateTable:
    """A validated table of reference rates by half-year, for one jurisdiction.

    Build it with :func:`load_rates`. A row applies from its ``effective_from`` until the next
    row; the last row applies for six months only.

    Parameters
    ----------
    jurisdiction : {"DE", "GB"}
        Whose rate the table holds.
    rows : tuple of RateRow
        Sorted by ``effective_from``, no duplicates, at least one row.
    name : str
        Where the table came from, used in error messages.

    Examples
    --------
    >>> table = load_rates("DE")
    >>> table.rows[0].effective_from, table.covers_until
    (datetime.date(2016, 7, 1), datetime.date(2026, 12, 31))
    >>> try:
    ...     table.rate_on(date(2027, 1, 15))
    ... except BaseRateUnknown as exc:
    ...     print(exc.day, exc.row, "Add the row for 2027-01-01" in str(exc))
    2027-01-15 2026-07-01 True
    """

    jurisdiction: Jurisdiction
    rows: tuple[RateRow, ...]
    name: str = "<rates>"
    _starts: tuple[date, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        starts = tuple(r.effective_from for r in self.rows)
        if not starts or list(starts) != sorted(set(starts)):
            msg = (
                f"{self.name}: a rate table needs at least one row, sorted by effective_from "
                "without repeats; build it with load_rates()."
            )
            raise DataError(msg, path=self.name)
        object.__setattr__(self, "_starts", starts)

    @property
    def covers_until(self) -> date:
        """The last day the table has a rate for (end of the last row's half-year)."""
        return date.fromordinal(_next_half_year(self.rows[-1].effective_from).toordinal() - 1)

    def rate_on(self, day: date, *, allow_unconfirmed: bool = False) -> RateRow:
        """The row whose rate is in force on ``day``.

        Parameters
        ----------
        day : datetime.date
            Any day from the first row's ``effective_from`` to :attr:`covers_until`.
        allow_unconfirmed : bool
            Whether a row marked ``confirmed=false`` may be returned.

        Returns
        -------
        RateRow

        Raises
        ------
        BaseRateUnknown
            If ``day`` is before the first row or after :attr:`covers_until`.
        BaseRateUnconfirmed
            If the row is unconfirmed and ``allow_unconfirmed`` is false.

        Examples
        --------
        >>> table = load_rates("DE")
        >>> table.rate_on(date(2026, 8, 1), allow_unconfirmed=True).rate_percent
        Decimal('1.52')
        """
        label = _LABEL[self.jurisdiction]
        first = self.rows[0]
        if day < first.effective_from:
            msg = (
                f"{self.name}: no {label} is known for {day.isoformat()}: the table starts "
                f"with {first.effective_from.isoformat()}. Pass rates= with a table that "
                f"reaches back to {day.isoformat()}."
            )
            raise BaseRateUnknown(msg, day=day, path=self.name, row=None)
        if day > self.covers_until:
            last = self.rows[-1]
            msg = (
                f"{self.name}: no {label} is known for {day.isoformat()}: the table's last "
                f"row is effective from {last.effective_from.isoformat()} and covers days up "
                f"to {self.covers_until.isoformat()}. Add the row for "
                f"{_next_half_year(last.effective_from).isoformat()} from "
                f"{_OFFICIAL[self.jurisdiction]} to the table (see docs/interest.md) or pass "
                "rates= with your own; the last value is never carried forward."
            )
            raise BaseRateUnknown(msg, day=day, path=self.name, row=last.effective_from)
        row = self.rows[bisect.bisect_right(self._starts, day) - 1]
        if not row.confirmed and not allow_unconfirmed:
            msg = (
                f"{self.name}: the {label} row effective from "
                f"{row.effective_from.isoformat()} ({row.rate_percent} %) is marked "
                f"confirmed=false and {day.isoformat()} falls in its half-year. Check the "
                f"value at {_OFFICIAL[self.jurisdiction]} and set confirmed=true in the table, "
                "or pass allow_unconfirmed=True to use it anyway (the result then reports "
                "confirmed=False)."
            )
            raise BaseRateUnconfirmed(msg, day=day, path=self.name, row=row.effective_from)
        return row

    def to_frame(self) -> pd.DataFrame:
        """The table as a DataFrame with the columns :data:`RATE_COLUMNS`.

        ``effective_from`` and ``retrieved_at`` hold :class:`datetime.date` objects (or
        ``None``), ``rate_percent`` holds :class:`~decimal.Decimal` objects.

        Examples
        --------
        >>> frame = load_rates("GB").to_frame()
        >>> frame.dtypes.astype(str).tolist()
        ['object', 'object', 'str', 'object', 'bool']
        >>> frame["effective_from"].tolist()[-1], frame["rate_percent"].tolist()[-1]
        (datetime.date(2026, 7, 1), Decimal('3.75'))
        """
        return pd.DataFrame(
            {
                "effective_from": pd.Series([r.effective_from for r in self.rows], dtype=object),
                "rate_percent": pd.Series([r.rate_percent for r in self.rows], dtype=object),
                "source_url": pd.Series([r.source_url for r in self.rows], dtype="str"),
                "retrieved_at": pd.Series([r.retrieved_at for r in self.rows], dtype=object),
                "confirmed": pd.Series([r.confirmed for r in self.rows], dtype=bool),
            }
        )


@dataclass(frozen=True, slots=True)
class InterestPeriod:
    """Interest for a run of days with one principal and one rate.

    Parameters
    ----------
    start, end : datetime.date
        First and last interest day of the period, both counted.
    days : int
        ``(end - start).days + 1``.
    year_days : int
        The day-count denominator: 365, or 366 for a leap year under ``"act/act"``.
    principal : Decimal
        The amount interest is charged on (never interest or fees: § 289 BGB).
    rate_percent : Decimal
        The interest rate, percent a year (reference rate plus margin).
    base_rate_percent : Decimal
        The reference rate it is built on (base rate or Bank of England reference rate).
    amount_unrounded : Decimal
        ``principal × rate_percent / 100 × days / year_days``, shown to 28 significant digits;
        :attr:`amount_exact` is the exact value.
    confirmed : bool
        Whether the reference rate comes from a confirmed table row.

    Examples
    --------
    >>> period = statutory_interest(
    ...     Decimal("1000.00"), date(2025, 6, 1), date(2025, 6, 30), segment="B2C"
    ... ).periods[0]
    >>> period.days, period.rate_percent, period.amount_unrounded
    (30, Decimal('7.27'), Decimal('5.975342465753424657534246575'))
    """

    start: date
    end: date
    days: int
    year_days: int
    principal: Decimal
    rate_percent: Decimal
    base_rate_percent: Decimal
    amount_unrounded: Decimal
    confirmed: bool = True

    @property
    def amount_exact(self) -> Fraction:
        """The exact interest of the period as a fraction (no rounding at all)."""
        return _period_exact(self.principal, self.rate_percent, self.days, self.year_days)


@dataclass(frozen=True, slots=True)
class InterestResult:
    """Statutory interest over a span of days, with its breakdown per rate period.

    Parameters
    ----------
    amount : Decimal
        The total, rounded half up to the currency's minor unit once, from the exact sum.
    periods : tuple of InterestPeriod
        One per half-year (DE) or calendar year (GB) and principal; empty for an empty span.
    day_count : {"act/365", "act/act"}
        The day-count convention used.
    rate_description : str
        How the rate is made up, with the statute, e.g. for a letter.
    currency : str
        ISO 4217 code ``amount`` is rounded for.
    jurisdiction : {"DE", "GB"}
    segment : {"B2C", "B2B"}

    Examples
    --------
    >>> result = statutory_interest(
    ...     Decimal("1000.00"), date(2026, 4, 2), date(2026, 5, 16), segment="B2C"
    ... )
    >>> result.amount, result.days, result.confirmed
    (Decimal('7.73'), 45, True)
    >>> result.rate_description
    'German base rate (§ 247 BGB) + 5 percentage points a year (§ 288 (1) BGB), act/365'
    """

    amount: Decimal
    periods: tuple[InterestPeriod, ...]
    day_count: DayCount
    rate_description: str
    currency: str
    jurisdiction: Jurisdiction
    segment: Segment

    @property
    def amount_exact(self) -> Fraction:
        """The exact, unrounded total: the sum of the periods' exact amounts."""
        return sum((p.amount_exact for p in self.periods), Fraction(0))

    @property
    def days(self) -> int:
        """Number of interest days (the periods' days added up)."""
        return sum(p.days for p in self.periods)

    @property
    def confirmed(self) -> bool:
        """Whether every period's reference rate comes from a confirmed table row."""
        return all(p.confirmed for p in self.periods)

    def to_frame(self) -> pd.DataFrame:
        """The periods as a DataFrame, one row each (amounts as ``Decimal`` objects).

        Examples
        --------
        >>> result = statutory_interest(
        ...     Decimal("1000.00"), date(2023, 12, 1), date(2024, 1, 31), segment="B2B"
        ... )
        >>> frame = result.to_frame()
        >>> frame["days"].tolist(), frame["rate_percent"].tolist()
        ([31, 31], [Decimal('12.12'), Decimal('12.62')])
        """
        columns = (
            "start",
            "end",
            "days",
            "year_days",
            "principal",
            "rate_percent",
            "base_rate_percent",
            "amount_unrounded",
            "confirmed",
        )
        data = {c: [getattr(p, c) for p in self.periods] for c in columns}
        frame = pd.DataFrame({c: pd.Series(v, dtype=object) for c, v in data.items()})
        for c in ("days", "year_days"):
            frame[c] = frame[c].astype("int64")
        frame["confirmed"] = frame["confirmed"].astype(bool)
        return frame


@dataclass(frozen=True, slots=True)
class Allocation:
    """How a part-payment was applied to costs, interest and principal.

    Parameters
    ----------
    payment : Decimal
        The amount paid.
    order : tuple of str
        The order the parts were served in.
    costs_paid, interest_paid, principal_paid : Decimal
        What the payment covered of each part.
    costs_remaining, interest_remaining, principal_remaining : Decimal
        What is still open of each part (never negative).
    surplus : Decimal
        What is left of the payment after everything is paid (an overpayment), else 0.

    Examples
    --------
    >>> a = allocate_payment(
    ...     Decimal("2000.00"), costs=Decimal("2.50"), interest=Decimal("11.30"),
    ...     principal=Decimal("1000.00"),
    ... )
    >>> a.remaining, a.surplus
    (Decimal('0.00'), Decimal('986.20'))
    """

    payment: Decimal
    order: tuple[AllocationPart, ...]
    costs_paid: Decimal
    interest_paid: Decimal
    principal_paid: Decimal
    costs_remaining: Decimal
    interest_remaining: Decimal
    principal_remaining: Decimal
    surplus: Decimal

    @property
    def remaining(self) -> Decimal:
        """Everything still open: costs, interest and principal remaining added up."""
        return self.costs_remaining + self.interest_remaining + self.principal_remaining


# --- rate tables -------------------------------------------------------------------------


def load_rates(jurisdiction: Jurisdiction = "DE", source: RateSource = None) -> RateTable:
    """Load and validate a table of reference rates by half-year.

    Parameters
    ----------
    jurisdiction : {"DE", "GB"}
        ``"DE"``: the German base rate (§ 247 BGB). ``"GB"``: the Bank of England reference
        rate for the Late Payment Act (Bank Rate on 31 Dec / 30 Jun before the half-year).
    source : RateTable, pandas.DataFrame, str, os.PathLike or None
        ``None`` loads the table shipped with the package (``dunning/data/base_rates_de.csv``
        or ``dunning/data/reference_rates_uk.csv``). A CSV path (``#`` starts a comment line)
        or a DataFrame needs the columns ``effective_from`` (ISO date, 1 January or 1 July)
        and ``rate_percent`` (a dot-decimal number; floats are read through their shortest
        ``repr``, so ``-0.88`` stays ``Decimal('-0.88')``); ``source_url``, ``retrieved_at``
        (ISO date) and ``confirmed`` (``true``/``false``) are optional and default to ``""``,
        none and ``true``: a table you pass is one you vouch for. A :class:`RateTable` is
        returned as it is.

    Returns
    -------
    RateTable
        Rows sorted by ``effective_from``.

    Raises
    ------
    DataError
        If the file cannot be read, a required column is missing, the table is empty, or a
        row has a date that is not 1 January / 1 July, a malformed rate or flag, or repeats a
        date. The message names the table and the data row (1 = first row after the header).
    PolicyError
        If ``jurisdiction`` is unknown or a :class:`RateTable` of another jurisdiction is given.

    Examples
    --------
    >>> table = load_rates("DE")
    >>> [(r.effective_from.isoformat(), str(r.rate_percent), r.confirmed) for r in table.rows[-3:]]
    [('2025-07-01', '1.27', True), ('2026-01-01', '1.27', True), ('2026-07-01', '1.52', False)]
    >>> own = pd.DataFrame({"effective_from": ["2027-01-01"], "rate_percent": ["2.02"]})
    >>> row = load_rates("DE", own).rate_on(date(2027, 3, 1))
    >>> row.rate_percent, row.source_url, row.confirmed
    (Decimal('2.02'), '', True)
    """
    jurisdiction = _choice(jurisdiction, _JURISDICTIONS, "jurisdiction")
    if source is None:
        return _packaged(jurisdiction)
    if isinstance(source, RateTable):
        if source.jurisdiction != jurisdiction:
            msg = (
                f"rates is a table for jurisdiction {source.jurisdiction!r} but "
                f"jurisdiction={jurisdiction!r}; load the {jurisdiction} table instead."
            )
            raise PolicyError(msg, field="rates")
        return source
    if isinstance(source, pd.DataFrame):
        return _parse(source, "<rates DataFrame>", jurisdiction)
    name = os.fspath(source)
    try:
        with open(name, encoding="utf-8-sig") as handle:
            text = handle.read()
    except OSError as exc:
        msg = (
            f"{name}: cannot read the rate table ({exc.strerror}); give the path of a CSV file "
            f"with the columns {', '.join(RATE_COLUMNS)}."
        )
        raise DataError(msg, path=name) from exc
    return _parse(_read_csv(text, name), name, jurisdiction)


@cache
def _packaged(jurisdiction: Jurisdiction) -> RateTable:
    """The table shipped in the wheel (parsed once; the result is immutable)."""
    resource = _PACKAGED[jurisdiction]
    text = files("dunning").joinpath(resource).read_text(encoding="utf-8")
    name = f"dunning/{resource}"
    return _parse(_read_csv(text, name), name, jurisdiction)


def _read_csv(text: str, name: str) -> pd.DataFrame:
    try:
        return pd.read_csv(io.StringIO(text), comment="#", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        msg = (
            f"{name}: not a readable CSV file ({exc}); expected columns {', '.join(RATE_COLUMNS)}."
        )
        raise DataError(msg, path=name) from exc


def _parse(raw: pd.DataFrame, name: str, jurisdiction: Jurisdiction) -> RateTable:
    raw = raw.rename(columns=lambda c: str(c).strip())
    missing = [c for c in RATE_COLUMNS[:2] if c not in raw.columns]
    if missing:
        msg = (
            f"{name}: required column(s) {', '.join(missing)} missing; a rate table needs "
            f"effective_from and rate_percent (found: {', '.join(map(str, raw.columns))})."
        )
        raise DataError(msg, path=name, missing=missing)
    if raw.empty:
        msg = f"{name}: the rate table has no rows; add at least one effective_from, rate_percent."
        raise DataError(msg, path=name)
    rows: list[RateRow] = []
    seen: dict[date, int] = {}
    for i, record in enumerate(raw.to_dict("records"), start=1):
        where = f"{name}: data row {i}"
        day = _cell_day(record["effective_from"], f"{where}, column 'effective_from'")
        if day is None or (day.month, day.day) not in ((1, 1), (7, 1)):
            msg = (
                f"{where}, column 'effective_from': {record['effective_from']!r} is not a 1 "
                "January or 1 July (rates change on those days); fix or remove that row."
            )
            raise DataError(msg, path=name)
        if day in seen:
            msg = (
                f"{where}, column 'effective_from': {day.isoformat()} repeats data row "
                f"{seen[day]}; keep one row per half-year."
            )
            raise DataError(msg, path=name)
        seen[day] = i
        retrieved = _cell_day(record.get("retrieved_at"), f"{where}, column 'retrieved_at'")
        rows.append(
            RateRow(
                effective_from=day,
                rate_percent=_cell_rate(record["rate_percent"], where),
                source_url=_cell_text(record.get("source_url")),
                retrieved_at=retrieved,
                confirmed=_cell_flag(record.get("confirmed", True), where),
            )
        )
    rows.sort(key=lambda r: r.effective_from)
    return RateTable(jurisdiction=jurisdiction, rows=tuple(rows), name=name)


def _is_blank(value: object) -> bool:
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    if isinstance(value, float):
        return value != value  # NaN
    if isinstance(value, str):
        return not value.strip()
    return False


def _cell_day(value: object, where: str) -> date | None:
    if _is_blank(value):
        return None
    if isinstance(value, datetime):  # includes pandas.Timestamp
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    msg = f"{where}: {value!r} is not an ISO date such as 2026-07-01; fix that cell."
    raise DataError(msg)


def _cell_rate(value: object, where: str) -> Decimal:
    rate: Decimal | None = None
    if isinstance(value, Decimal):
        rate = value
    elif isinstance(value, int) and not isinstance(value, bool):
        rate = Decimal(value)
    elif isinstance(value, float):
        rate = Decimal(repr(value))
    elif isinstance(value, str) and "," not in value:
        try:
            rate = Decimal(value.strip())
        except InvalidOperation:
            rate = None
    if rate is None or not rate.is_finite():
        hint = (
            " (use a dot as decimal separator)" if isinstance(value, str) and "," in value else ""
        )
        msg = (
            f"{where}, column 'rate_percent': {value!r} is not a number such as -0.88 or "
            f"1.27{hint}; fix that cell."
        )
        raise DataError(msg)
    return rate


def _cell_text(value: object) -> str:
    return "" if _is_blank(value) else str(value).strip()


def _cell_flag(value: object, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if isinstance(value, np.bool_):
        return bool(value)
    msg = f"{where}, column 'confirmed': {value!r} is not true or false; fix that cell."
    raise DataError(msg)


def _next_half_year(day: date) -> date:
    """The 1 January or 1 July after ``day``."""
    return date(day.year, 7, 1) if day.month < 7 else date(day.year + 1, 1, 1)


# --- interest ------------------------------------------------------------------------------


def statutory_interest(
    principal: Decimal,
    start: date,
    end: date,
    *,
    segment: Segment,
    jurisdiction: Jurisdiction = "DE",
    day_count: DayCount = "act/365",
    currency: str | None = None,
    rates: RateSource = None,
    allow_unconfirmed: bool = False,
) -> InterestResult:
    """Statutory default interest on ``principal`` for the days ``start`` to ``end``.

    Germany (§ 288 BGB): base rate + 5 points a year for consumers (``"B2C"``), + 9 points
    for payment claims between businesses (``"B2B"``); the span is cut at every 1 January
    and 1 July and each half-year period bears its own base rate. UK (Late Payment Act 1998,
    ``"B2B"`` only): 8 points over the Bank of England reference rate in force for the
    half-year of ``start``, for the whole span; periods are cut at 1 January only. Simple
    interest on the principal only, exact arithmetic, one rounding at the end.

    Parameters
    ----------
    principal : Decimal
        The overdue principal (never accrued interest or fees: § 289 BGB). ``int`` is
        accepted; ``float`` is refused.
    start : datetime.date
        The first day that bears interest (counted). Under § 187 (1) BGB this is usually the
        day after the event that put the debtor in default; computing it is the caller's job.
    end : datetime.date
        The last day that bears interest (counted), e.g. the payment day. Default from
        2026-04-02, paid on 2026-05-16: 45 days. ``end`` before ``start`` is an empty span:
        zero interest, no periods.
    segment : {"B2C", "B2B"}
        ``"B2C"`` if a consumer is involved, ``"B2B"`` for a payment claim (Entgeltforderung)
        between businesses.
    jurisdiction : {"DE", "GB"}, default "DE"
    day_count : {"act/365", "act/act"}, default "act/365"
        ``"act/365"`` divides every day by 365; ``"act/act"`` divides days in leap years by 366.
    currency : str or None
        ISO 4217 code the total is rounded for; ``None`` means EUR for DE, GBP for GB.
    rates : RateTable, pandas.DataFrame, str, os.PathLike or None
        The rate table (see :func:`load_rates`); ``None`` uses the packaged one.
    allow_unconfirmed : bool, default False
        Whether rows marked ``confirmed=false`` may be used. The result's ``confirmed`` says
        whether any was; a WARNING is logged when one is.

    Returns
    -------
    InterestResult
        ``amount`` rounded half up once; ``periods`` with the unrounded amounts.

    Raises
    ------
    BaseRateUnknown
        If a day of the span has no rate in the table (before its first row or after its last
        row's half-year): the last value is never carried forward.
    BaseRateUnconfirmed
        If a day falls in an unconfirmed row and ``allow_unconfirmed`` is false.
    PolicyError
        If an argument is invalid: a negative, non-finite or float principal, a ``datetime``
        instead of a ``date``, an unknown segment, jurisdiction or day count, or ``"B2C"``
        with ``"GB"`` (the Late Payment Act covers business debts only; interest on UK
        consumer debts is contractual or set by a court).
    DataError
        If ``currency`` is not an ISO 4217 code or the rate table is invalid.

    Examples
    --------
    € 1,000 owed by a consumer, 30 days in June 2025 at 7.27 % and 31 days in July at
    6.27 %: the exact sum 11.3005… is rounded once (rounding each period would give 11.31).

    >>> r = statutory_interest(
    ...     Decimal("1000.00"), date(2025, 6, 1), date(2025, 7, 31), segment="B2C"
    ... )
    >>> r.amount, [p.days for p in r.periods]
    (Decimal('11.30'), [30, 31])

    The same span with ``act/act`` in a leap year, and a UK debt:

    >>> statutory_interest(
    ...     Decimal("1000.00"), date(2024, 1, 1), date(2024, 1, 31), segment="B2C",
    ...     day_count="act/act",
    ... ).amount
    Decimal('7.30')
    >>> uk = statutory_interest(
    ...     Decimal("5000.00"), date(2026, 2, 1), date(2026, 3, 2), segment="B2B",
    ...     jurisdiction="GB",
    ... )
    >>> uk.amount, uk.periods[0].rate_percent
    (Decimal('48.29'), Decimal('11.75'))
    """
    amount = _money(principal, "principal")
    first, last = _day(start, "start"), _day(end, "end")
    spans = [(first, last, amount)] if last >= first else []
    return _interest(
        spans,
        segment=segment,
        jurisdiction=jurisdiction,
        day_count=day_count,
        currency=currency,
        rates=rates,
        allow_unconfirmed=allow_unconfirmed,
    )


def interest_on_balance(
    balances: Sequence[tuple[date, Decimal]],
    end: date,
    *,
    segment: Segment,
    jurisdiction: Jurisdiction = "DE",
    day_count: DayCount = "act/365",
    currency: str | None = None,
    rates: RateSource = None,
    allow_unconfirmed: bool = False,
) -> InterestResult:
    """Statutory interest on a principal that changes over time (part-payments).

    Each balance bears interest from its own day up to the day before the next balance's day
    (the last one up to ``end``), all counted, with the rules of :func:`statutory_interest`;
    the total is rounded once. Use the same day convention as there: a part-payment received
    on day P still bears the old balance on P and the new balance from P + 1.

    Parameters
    ----------
    balances : sequence of (datetime.date, Decimal)
        ``(from_day, principal)`` pairs with strictly increasing days; the first day is when
        interest starts to run (for GB it fixes the reference rate). Principal only (§ 289
        BGB): never put interest or fees in here. Balances of zero bear nothing and produce
        no period.
    end : datetime.date
        The last interest day (counted). Balances starting after ``end`` are ignored.
    segment, jurisdiction, day_count, currency, rates, allow_unconfirmed
        As for :func:`statutory_interest`.

    Returns
    -------
    InterestResult
        Periods cut at balance changes and at 1 January / 1 July (DE) or 1 January (GB).

    Raises
    ------
    PolicyError
        If ``balances`` is empty, its days are not strictly increasing, or an amount or
        argument is invalid (see :func:`statutory_interest`).
    BaseRateUnknown, BaseRateUnconfirmed, DataError
        As for :func:`statutory_interest`.

    Examples
    --------
    € 1,000 from 2026-04-02; € 500 paid on 2026-05-16, the rest on 2026-06-30:

    >>> r = interest_on_balance(
    ...     [(date(2026, 4, 2), Decimal("1000.00")), (date(2026, 5, 17), Decimal("500.00"))],
    ...     date(2026, 6, 30),
    ...     segment="B2C",
    ... )
    >>> [(p.principal, p.days) for p in r.periods], r.amount
    ([(Decimal('1000.00'), 45), (Decimal('500.00'), 45)], Decimal('11.60'))
    """
    last = _day(end, "end")
    if not balances:
        msg = "balances is empty: give at least one (from_day, principal) pair."
        raise PolicyError(msg, field="balances")
    days = [_day(d, f"balances[{i}][0]") for i, (d, _) in enumerate(balances)]
    amounts = [_money(a, f"balances[{i}][1]") for i, (_, a) in enumerate(balances)]
    for i in range(1, len(days)):
        if days[i] <= days[i - 1]:
            msg = (
                f"balances[{i}] starts on {days[i].isoformat()}, not after balances[{i - 1}] "
                f"({days[i - 1].isoformat()}); give the balances in strictly increasing order."
            )
            raise PolicyError(msg, field=f"balances[{i}]")
    spans: list[tuple[date, date, Decimal]] = []
    for i, (first, amount) in enumerate(zip(days, amounts, strict=True)):
        stop = last if i + 1 == len(days) else min(last, _before(days[i + 1]))
        if stop >= first and amount != 0:
            spans.append((first, stop, amount))
    return _interest(
        spans,
        segment=segment,
        jurisdiction=jurisdiction,
        day_count=day_count,
        currency=currency,
        rates=rates,
        allow_unconfirmed=allow_unconfirmed,
        rate_day=days[0],
    )


def _interest(
    spans: Sequence[tuple[date, date, Decimal]],
    *,
    segment: Segment,
    jurisdiction: Jurisdiction,
    day_count: DayCount,
    currency: str | None,
    rates: RateSource,
    allow_unconfirmed: bool,
    rate_day: date | None = None,
) -> InterestResult:
    """Interest over disjoint, ordered ``(first, last, principal)`` spans, rounded once."""
    jurisdiction = _choice(jurisdiction, _JURISDICTIONS, "jurisdiction")
    segment = _choice(segment, _SEGMENTS, "segment")
    day_count = _choice(day_count, _DAY_COUNTS, "day_count")
    code = validate_currency(_CURRENCY[jurisdiction] if currency is None else currency)
    if (jurisdiction, segment) not in _MARGIN:
        msg = (
            "segment='B2C' with jurisdiction='GB': the Late Payment of Commercial Debts "
            "(Interest) Act 1998 covers debts between businesses only. Interest on a UK "
            "consumer debt is contractual or set by a court; do not claim statutory interest."
        )
        raise PolicyError(msg, field="segment")
    margin = _MARGIN[(jurisdiction, segment)]
    table = load_rates(jurisdiction, rates)
    fixed: RateRow | None = None
    if jurisdiction == "GB" and spans:
        # SI 2002/1675 art. 4: the reference rate before the day interest starts to run
        # applies to the whole debt.
        fixed = table.rate_on(rate_day or spans[0][0], allow_unconfirmed=allow_unconfirmed)
    periods: list[InterestPeriod] = []
    for first, last, principal in spans:
        day = first
        while day <= last:
            boundary = _next_half_year(day) if fixed is None else date(day.year + 1, 1, 1)
            stop = min(last, _before(boundary))
            row = (
                fixed
                if fixed is not None
                else table.rate_on(day, allow_unconfirmed=allow_unconfirmed)
            )
            periods.append(_period(day, stop, principal, row, margin, day_count))
            day = boundary
    result_periods = tuple(periods)
    exact = sum((p.amount_exact for p in result_periods), Fraction(0))
    with localcontext(_EXACT):
        amount = quantize(_decimal(exact, _EXACT), code)
    if not all(p.confirmed for p in result_periods):
        unconfirmed = sorted({p.start.isoformat() for p in result_periods if not p.confirmed})
        logger.warning(
            "statutory interest uses unconfirmed %s rows for periods starting %s",
            _LABEL[jurisdiction],
            ", ".join(unconfirmed),
        )
    return InterestResult(
        amount=amount,
        periods=result_periods,
        day_count=day_count,
        rate_description=_describe(jurisdiction, segment, day_count, fixed),
        currency=code,
        jurisdiction=jurisdiction,
        segment=segment,
    )


def _period(
    first: date, last: date, principal: Decimal, row: RateRow, margin: Decimal, day_count: DayCount
) -> InterestPeriod:
    days = (last - first).days + 1
    year_days = 366 if day_count == "act/act" and calendar.isleap(first.year) else 365
    # No floor and no abs(): a negative base rate lowers the rate (-0.88 + 5 = 4.12).
    rate = row.rate_percent + margin
    exact = _period_exact(principal, rate, days, year_days)
    return InterestPeriod(
        start=first,
        end=last,
        days=days,
        year_days=year_days,
        principal=principal,
        rate_percent=rate,
        base_rate_percent=row.rate_percent,
        amount_unrounded=_decimal(exact, _SHOWN),
        confirmed=row.confirmed,
    )


def _period_exact(principal: Decimal, rate_percent: Decimal, days: int, year_days: int) -> Fraction:
    return Fraction(principal) * Fraction(rate_percent) * days / (100 * year_days)


def _decimal(value: Fraction, context: Context) -> Decimal:
    return context.divide(Decimal(value.numerator), Decimal(value.denominator))


def _describe(
    jurisdiction: Jurisdiction, segment: Segment, day_count: DayCount, fixed: RateRow | None
) -> str:
    margin = _MARGIN[(jurisdiction, segment)]
    citation = _CITATION[(jurisdiction, segment)]
    if fixed is None:
        return (
            f"{_LABEL[jurisdiction]} + {margin} percentage points a year ({citation}), {day_count}"
        )
    reference_day = _before(fixed.effective_from).isoformat()
    return (
        f"{_LABEL[jurisdiction]} {fixed.rate_percent} % (Bank Rate on {reference_day}) + "
        f"{margin} percentage points = {fixed.rate_percent + margin} % a year ({citation}), "
        f"{day_count}"
    )


def _before(day: date) -> date:
    return date.fromordinal(day.toordinal() - 1)


# --- fees and payments ---------------------------------------------------------------------


def flat_fee(
    segment: Segment,
    jurisdiction: Jurisdiction,
    principal: Decimal,
    currency: str | None = None,
) -> Decimal:
    """The statutory fixed fee for a late payment, per claim (invoice).

    Germany: € 40.00 when the debtor is not a consumer (§ 288 (5) BGB; it is set off against
    later costs of legal pursuit), 0 for consumers. UK (Late Payment Act 1998, s. 5A): £ 40.00
    for a debt under £ 1,000, £ 70.00 under £ 10,000, £ 100.00 from £ 10,000; 0 for consumers
    (the Act covers business debts only).

    Parameters
    ----------
    segment : {"B2C", "B2B"}
    jurisdiction : {"DE", "GB"}
    principal : Decimal
        The amount of the late debt (the invoice amount, not what is left of it: the fixed sum
        is owed once interest starts to run, even if the debt is paid later). Must be > 0.
    currency : str or None
        ``None`` or the jurisdiction's currency (EUR for DE, GBP for GB); the fees are fixed in
        those currencies and are not converted.

    Returns
    -------
    Decimal
        The fee, quantized to the currency's minor unit.

    Raises
    ------
    PolicyError
        If an argument is invalid, ``principal`` is not positive, or ``currency`` is not the
        jurisdiction's currency.

    Examples
    --------
    >>> flat_fee("B2B", "DE", Decimal("120.00")), flat_fee("B2C", "DE", Decimal("120.00"))
    (Decimal('40.00'), Decimal('0.00'))
    >>> [str(flat_fee("B2B", "GB", Decimal(x))) for x in ("999.99", "1000.00", "10000.00")]
    ['40.00', '70.00', '100.00']
    """
    segment = _choice(segment, _SEGMENTS, "segment")
    jurisdiction = _choice(jurisdiction, _JURISDICTIONS, "jurisdiction")
    debt = _money(principal, "principal")
    if debt <= 0:
        msg = f"principal must be the amount of the late debt (> 0). Got {debt} instead."
        raise PolicyError(msg, field="principal")
    expected = _CURRENCY[jurisdiction]
    code = expected if currency is None else validate_currency(currency)
    if code != expected:
        msg = (
            f"the {jurisdiction} flat fee is fixed in {expected}, but currency={code!r}; "
            f"convert the debt to {expected} first or charge no statutory fee."
        )
        raise PolicyError(msg, field="currency")
    if segment == "B2C":
        return quantize(Decimal(0), code)
    if jurisdiction == "DE":
        return quantize(_DE_FLAT_FEE, code)
    fee = _GB_FIXED_SUMS[-1][1]
    for limit, band_fee in _GB_FIXED_SUMS:
        if limit is not None and debt < limit:
            fee = band_fee
            break
    return quantize(fee, code)


def allocate_payment(
    payment: Decimal,
    *,
    costs: Decimal,
    interest: Decimal,
    principal: Decimal,
    order: Sequence[AllocationPart] | Literal["bgb_367", "consumer_loan"] = ORDER_BGB_367,
) -> Allocation:
    """Apply a payment to costs, interest and principal in a fixed order.

    The default is § 367 (1) BGB: costs, then interest, then principal (a debtor's different
    choice lets the creditor refuse the payment). ``order="consumer_loan"`` is § 497 (3) BGB
    for consumer loan agreements: costs, then principal, then interest. Each part is paid as
    far as the payment reaches; nothing goes negative, and what is left over is ``surplus``.

    Parameters
    ----------
    payment : Decimal
        The amount received (≥ 0).
    costs, interest, principal : Decimal
        What is open of each part (≥ 0).
    order : sequence of {"costs", "interest", "principal"}, or "bgb_367" or "consumer_loan"
        A permutation of the three parts, or one of the two named orders.

    Returns
    -------
    Allocation

    Raises
    ------
    PolicyError
        If an amount is negative, non-finite or a float, or ``order`` is not a permutation of
        the three parts or a known name.

    Examples
    --------
    >>> a = allocate_payment(
    ...     Decimal("500.00"), costs=Decimal("2.50"), interest=Decimal("11.30"),
    ...     principal=Decimal("1000.00"), order="consumer_loan",
    ... )
    >>> a.principal_remaining, a.interest_remaining, a.costs_remaining
    (Decimal('502.50'), Decimal('11.30'), Decimal('0.00'))
    """
    paid = _money(payment, "payment")
    open_parts = {
        "costs": _money(costs, "costs"),
        "interest": _money(interest, "interest"),
        "principal": _money(principal, "principal"),
    }
    sequence = _order(order)
    left = paid
    covered: dict[str, Decimal] = {}
    for part in sequence:
        covered[part] = min(left, open_parts[part])
        left -= covered[part]
    return Allocation(
        payment=paid,
        order=sequence,
        costs_paid=covered["costs"],
        interest_paid=covered["interest"],
        principal_paid=covered["principal"],
        costs_remaining=open_parts["costs"] - covered["costs"],
        interest_remaining=open_parts["interest"] - covered["interest"],
        principal_remaining=open_parts["principal"] - covered["principal"],
        surplus=left,
    )


def _order(order: object) -> tuple[AllocationPart, ...]:
    if order == "bgb_367":
        return ORDER_BGB_367
    if order == "consumer_loan":
        return ORDER_CONSUMER_LOAN
    if not isinstance(order, str) and isinstance(order, Sequence):
        parts = tuple(order)
        if sorted(map(str, parts)) == sorted(_PARTS) and len(parts) == len(_PARTS):
            return tuple(p for p in parts if p in _PARTS)
    msg = (
        f"order must be 'bgb_367', 'consumer_loan' or an ordering of "
        f"('costs', 'interest', 'principal'). Got {order!r} instead."
    )
    raise PolicyError(msg, field="order")


# --- argument checks -----------------------------------------------------------------------


def _money(value: object, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        msg = (
            f"{field} must be a Decimal (exact money). Got {type(value).__name__} {value!r} "
            "instead; pass e.g. Decimal('1000.00')."
        )
        raise PolicyError(msg, field=field)
    amount = Decimal(value)
    if not amount.is_finite() or amount < 0:
        msg = f"{field} must be a finite amount ≥ 0. Got {amount} instead."
        raise PolicyError(msg, field=field)
    return amount


def _day(value: object, field: str) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        msg = (
            f"{field} must be a datetime.date. Got {type(value).__name__} {value!r} instead; "
            "pass e.g. date(2026, 4, 2) (or .date() of a timestamp)."
        )
        raise PolicyError(msg, field=field)
    return value


def _choice(value: object, allowed: tuple[_T, ...], field: str) -> _T:
    for option in allowed:
        if value == option:
            return option
    msg = f"{field} must be one of {', '.join(map(repr, allowed))}. Got {value!r} instead."
    raise PolicyError(msg, field=field)
