"""Offers: installment plans, payment deferrals, and which case gets which.

Three actions are compared for every case (``docs/offers.md`` has the whole story):

``"none"``
    Pay in full: the standard reminder, no offer.
``"deferral"``
    A payment deferral (Stundung): a new due date ``offers.deferral_days`` after the
    letter date, rolled to a business day (:func:`deferral`).
``"installment_plan"``
    An installment plan (Ratenzahlung) of ``offers.installments`` monthly instalments
    (:func:`installment_plan`).

Eligibility (rules of :class:`~dunning.policy.OfferRules`)
-----------------------------------------------------------
An offer of either kind needs **all** of, checked in this order (the first that fails is
the ``offer_code``): not disputed (a disputed claim is clarified first); a risk score; a
segment in ``offers.segments``; a risk not below the low end of
``offers.installment_risk_range`` (low-risk customers pay anyway) **unless** the customer
is in the top ``offers.high_clv_share`` of CLV (the relationship is worth the offer); a
risk not above its high end (high-risk customers rarely keep a promise); a level of at
least ``offers.installment_min_level`` (a payment reminder only asks for payment); at most
``offers.max_broken_promises`` broken payment promises. An installment plan further needs a
total of at least ``offers.installment_min_total`` and at most ``offers.max_earlier_plans``
earlier plans.

Choice by expected value
------------------------
Among the eligible actions the one with the highest expected value is chosen::

    EV(action) = P(recovery | action) x total - cost(action)
    P(recovery | none)   = 1 - risk
    P(recovery | action) = min(1, 1 - risk + offers.recovery_uplift.<action>)
    cost(none) = 0,  cost(action) = offers.costs.<action>

Costs are the policy's *incremental* costs over a plain demand for payment; uplifts and
costs are stated assumptions (``offers.assumptions``). EVs are computed in integer minor
units (the product rounded half to even to a minor unit: an estimate, not an amount owed).
Ties go to the simpler action: none, then deferral, then installment plan.

Output columns of :func:`choose_offers`
---------------------------------------
``offer``
    ``"none"``, ``"deferral"`` or ``"installment_plan"``.
``offer_code``
    ``ELIGIBLE`` (installment plan), ``DEFERRAL``, ``PAY_IN_FULL_EV`` (an offer was
    eligible, but paying in full has the highest EV), or the first failed rule:
    ``DISPUTED``, ``RISK_MISSING``, ``SEGMENT_EXCLUDED``, ``RISK_TOO_LOW``,
    ``RISK_TOO_HIGH``, ``LEVEL_TOO_LOW``, ``BROKEN_PROMISES`` (:data:`OFFER_CODES`).
``offer_reason``, ``offer_reason_de``
    The rule trace in English and German, numbers formatted by Babel for ``en_GB`` and
    ``de_DE``: ``"Ratenzahlung angeboten: CLV im oberen Fünftel, Risiko mittel (0,34),
    Betrag ≥ 500,00 €, kein gebrochenes Zahlungsversprechen; Erwartungswert: ..."``.
``installments``
    Number of instalments offered, 0 without a plan.
``expected_value_none``, ``expected_value_deferral``, ``expected_value_installment_plan``
    EV of each action as ``Decimal`` in the case currency; ``None`` where the action is
    not eligible (``expected_value_none`` is ``None`` only without a risk score).
``deferral_due``
    New due date of a deferral (``datetime64``; ``NaT`` without a deferral or without
    ``as_of``).

Examples
--------
>>> from datetime import date
>>> from decimal import Decimal
>>> plan = installment_plan(Decimal("100.00"), 3, date(2027, 1, 31))
>>> [(i.due_date.isoformat(), str(i.amount)) for i in plan.installments]
[('2027-01-31', '33.34'), ('2027-02-28', '33.33'), ('2027-03-31', '33.33')]
"""

from __future__ import annotations

import calendar as _calendar
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd
from babel import Locale
from babel.numbers import format_decimal, get_currency_symbol

from dunning.calendar import BusinessCalendar
from dunning.errors import DataError, PolicyError
from dunning.money import from_minor, minor_units, quantize, to_minor
from dunning.policy import Policy

__all__ = [
    "ACTIONS",
    "DEFAULT_INSTALLMENTS",
    "MIN_LEVEL",
    "MIN_TOTAL",
    "OFFER_CODES",
    "RISK_RANGE",
    "Installment",
    "InstallmentPlan",
    "Interval",
    "PaymentDeferral",
    "choose_offers",
    "deferral",
    "high_clv_mask",
    "installment_plan",
]

logger = logging.getLogger(__name__)

#: Smallest total offered a plan by the German default (``offers.installment_min_total``).
MIN_TOTAL: Decimal = Decimal("500")
#: Risk range (inclusive) of the German default policy (``offers.installment_risk_range``).
RISK_RANGE: tuple[float, float] = (0.2, 0.7)
#: Lowest case level offered anything by the German default (``offers.installment_min_level``).
MIN_LEVEL: int = 2
#: Number of instalments of the German default policy (``offers.installments``).
DEFAULT_INSTALLMENTS: int = 3
#: The actions compared, simplest first (ties go to the simpler one).
ACTIONS: tuple[str, ...] = ("none", "deferral", "installment_plan")
#: Outcome codes of :func:`choose_offers`: failed rules in the order checked, then outcomes.
OFFER_CODES: tuple[str, ...] = (
    "DISPUTED",
    "RISK_MISSING",
    "SEGMENT_EXCLUDED",
    "RISK_TOO_LOW",
    "RISK_TOO_HIGH",
    "LEVEL_TOO_LOW",
    "BROKEN_PROMISES",
    "PAY_IN_FULL_EV",
    "DEFERRAL",
    "ELIGIBLE",
)
#: Spacing of instalment due dates.
Interval: TypeAlias = Literal["monthly", "biweekly", "weekly"]

_INTERVAL_DAYS = {"biweekly": 14, "weekly": 7}
# Share of a year one instalment period stands for (simple interest, act/365 for weeks).
_PERIOD_YEARS = {"monthly": Decimal(1) / Decimal(12), "biweekly": Decimal(14) / Decimal(365)}
_PERIOD_YEARS["weekly"] = Decimal(7) / Decimal(365)
_REQUIRED = ("total", "currency", "risk", "disputed", "level")
_LOCALES = {"en": "en_GB", "de": "de_DE"}


# -- schedules --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Installment:
    """One instalment of an :class:`InstallmentPlan`.

    Attributes
    ----------
    number : int
        1, 2, 3 ... in date order.
    due_date : datetime.date
        Due date, a business day when the plan was made with a calendar.
    amount : Decimal
        Principal part, in the plan currency.
    interest : Decimal
        Simple interest due with this instalment (0 without interest).

    Examples
    --------
    >>> from datetime import date
    >>> i = Installment(1, date(2026, 12, 1), Decimal("33.34"), Decimal("0.00"))
    >>> i.payment
    Decimal('33.34')
    """

    number: int
    due_date: date
    amount: Decimal
    interest: Decimal

    @property
    def payment(self) -> Decimal:
        """What is paid on the due date: ``amount + interest``.

        Examples
        --------
        >>> from datetime import date
        >>> Installment(2, date(2027, 1, 4), Decimal("50.00"), Decimal("0.42")).payment
        Decimal('50.42')
        """
        return self.amount + self.interest


@dataclass(frozen=True, slots=True)
class InstallmentPlan:
    """An installment plan: instalments whose amounts sum exactly to ``total``.

    Attributes
    ----------
    total : Decimal
        The principal split, in ``currency``.
    currency : str
        ISO 4217 code.
    installments : tuple of Installment
        In date order, due dates strictly increasing.
    interval : {"monthly", "biweekly", "weekly"}
        Spacing of the due dates.
    annual_interest_percent : Decimal or None
        Simple annual interest rate in percent, ``None`` without interest.

    Examples
    --------
    >>> from datetime import date
    >>> plan = installment_plan(Decimal("100.00"), 2, date(2026, 12, 1))
    >>> plan.total_interest, plan.total_payable
    (Decimal('0.00'), Decimal('100.00'))
    """

    total: Decimal
    currency: str
    installments: tuple[Installment, ...]
    interval: Interval = "monthly"
    annual_interest_percent: Decimal | None = None

    @property
    def total_interest(self) -> Decimal:
        """Sum of the instalments' interest.

        Examples
        --------
        >>> from datetime import date
        >>> installment_plan(Decimal("1200.00"), 2, date(2026, 12, 1),
        ...                  annual_interest_percent=Decimal("12")).total_interest
        Decimal('18.00')
        """
        return sum((i.interest for i in self.installments), quantize(Decimal(0), self.currency))

    @property
    def total_payable(self) -> Decimal:
        """Principal plus interest.

        Examples
        --------
        >>> from datetime import date
        >>> installment_plan(Decimal("1200.00"), 2, date(2026, 12, 1),
        ...                  annual_interest_percent=Decimal("12")).total_payable
        Decimal('1218.00')
        """
        return self.total + self.total_interest

    def to_frame(self) -> pd.DataFrame:
        """The instalments as a table: ``number, due_date, amount, interest, payment``.

        Amounts are ``Decimal`` objects; ``due_date`` is ``datetime64``.

        Examples
        --------
        >>> from datetime import date
        >>> frame = installment_plan(Decimal("100.00"), 3, date(2026, 12, 1)).to_frame()
        >>> print(frame.to_string(index=False))
         number   due_date amount interest payment
              1 2026-12-01  33.34     0.00   33.34
              2 2027-01-01  33.33     0.00   33.33
              3 2027-02-01  33.33     0.00   33.33
        """
        rows = self.installments
        return pd.DataFrame(
            {
                "number": pd.Series([i.number for i in rows], dtype=np.int64),
                "due_date": pd.to_datetime(pd.Series([i.due_date for i in rows], dtype=object)),
                "amount": pd.Series([i.amount for i in rows], dtype=object),
                "interest": pd.Series([i.interest for i in rows], dtype=object),
                "payment": pd.Series([i.payment for i in rows], dtype=object),
            }
        )


@dataclass(frozen=True, slots=True)
class PaymentDeferral:
    """A payment deferral (Stundung): the whole amount, due on a new date.

    Attributes
    ----------
    total : Decimal
        Amount deferred, in ``currency``.
    currency : str
        ISO 4217 code.
    requested_due : datetime.date
        The new due date asked for.
    due_date : datetime.date
        ``requested_due`` moved to the next business day (equal without a calendar).

    Examples
    --------
    >>> from datetime import date
    >>> deferral(Decimal("80.00"), date(2026, 12, 26), BusinessCalendar("DE")).due_date
    datetime.date(2026, 12, 28)
    """

    total: Decimal
    currency: str
    requested_due: date
    due_date: date


def _add_months(start: date, months: int) -> date:
    month0 = start.month - 1 + months
    year, month = start.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(start.day, _calendar.monthrange(year, month)[1]))


def _check_total(total: Decimal, currency: str, where: str) -> int:
    if not isinstance(total, Decimal):
        msg = f"{where}: total must be a Decimal, got {type(total).__name__}; money is never float."
        raise DataError(msg)
    if not total.is_finite() or total <= 0:
        msg = f"{where}: total must be a positive amount. Got {total} {currency} instead."
        raise PolicyError(msg, field="total")
    return to_minor(total, currency)


def installment_plan(
    total: Decimal,
    n: int,
    first_due: date,
    *,
    currency: str = "EUR",
    interval: Interval = "monthly",
    min_installment: Decimal | None = None,
    calendar: BusinessCalendar | None = None,
    annual_interest_percent: Decimal | None = None,
) -> InstallmentPlan:
    """Split ``total`` into ``n`` instalments that sum exactly to it.

    **Amounts.** The total is split in minor units (cents): every instalment gets
    ``total // n`` cents, and the whole remainder (fewer than ``n`` cents) goes on the
    **first** instalment, so that every later instalment is the same amount and the first
    is the largest (100.00 in 3: 33.34, 33.33, 33.33; 0.05 in 3: 0.03, 0.01, 0.01).

    **Dates.** Instalment ``k`` (counted from 0) is nominally due ``k`` months after
    ``first_due`` on the same day of the month, moved back to the month's last day where
    that day does not exist (31 January → 28/29 February → 31 March: always counted from
    ``first_due``, so the day is not lost), or ``7k`` / ``14k`` days after it
    (``"weekly"`` / ``"biweekly"``). With a ``calendar``, each date is moved to the next
    business day (§ 193 BGB); should that reach or pass the next date, the next one is
    moved to the business day after it, so due dates always strictly increase.

    **Interest** (optional). Simple interest on the principal still outstanding before
    each instalment, for one period: ``outstanding x rate / 100 x period``, where a
    period is 1/12 year (monthly), 14/365 or 7/365 (biweekly, weekly), rounded half up to
    the minor unit per instalment. The period length is nominal, not the days between
    rolled dates. Interest is shown beside the principal (``Installment.interest``).

    Parameters
    ----------
    total : Decimal
        The amount to split, positive and exact in the minor unit of ``currency``.
    n : int
        Number of instalments, at least 2.
    first_due : datetime.date
        Nominal due date of the first instalment.
    currency : str, default "EUR"
        ISO 4217 code of ``total``.
    interval : {"monthly", "biweekly", "weekly"}, default "monthly"
        Spacing of the due dates.
    min_installment : Decimal or None
        Smallest allowed instalment (principal), e.g. ``policy.offers.min_installment``.
    calendar : BusinessCalendar or None
        Business-day calendar; ``None`` keeps the nominal dates.
    annual_interest_percent : Decimal or None
        Simple annual interest in percent; ``None`` or 0: no interest.

    Returns
    -------
    InstallmentPlan

    Raises
    ------
    PolicyError
        If ``n`` is below 2, ``total`` is not positive or too small for ``n`` instalments
        of one minor unit, an instalment would fall below ``min_installment``, the
        interval is unknown or the interest rate negative (``.field`` names the argument).
    DataError
        If ``total`` is not a ``Decimal`` or has more decimals than ``currency`` allows.

    Examples
    --------
    >>> from datetime import date
    >>> plan = installment_plan(Decimal("100.00"), 3, date(2026, 12, 1))
    >>> [str(i.amount) for i in plan.installments]
    ['33.34', '33.33', '33.33']
    >>> plan = installment_plan(Decimal("90.00"), 3, date(2027, 1, 31),
    ...                         calendar=BusinessCalendar("DE"))
    >>> [i.due_date.isoformat() for i in plan.installments]  # 28 Feb is a Sunday
    ['2027-02-01', '2027-03-01', '2027-03-31']
    >>> installment_plan(Decimal("100.00"), 3, date(2026, 12, 1),
    ...                  min_installment=Decimal("50"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dunning.errors.PolicyError: installment_plan: 100.00 EUR in 3 ... offer at most 2 instalments.
    """
    where = "installment_plan"
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 2:
        msg = f"{where}: an installment plan needs at least 2 instalments. Got {n!r} instead."
        raise PolicyError(msg, field="n")
    if interval not in ("monthly", "biweekly", "weekly"):
        msg = f"{where}: unknown interval {interval!r}; expected 'monthly', 'biweekly' or 'weekly'."
        raise PolicyError(msg, field="interval")
    n = int(n)
    units = _check_total(total, currency, where)
    base, remainder = divmod(units, n)
    if base < 1:
        msg = (
            f"{where}: {total} {currency} cannot be split into {n} instalments of at least "
            "one minor unit each; offer fewer instalments."
        )
        raise PolicyError(msg, field="total")
    if min_installment is not None and from_minor(base, currency) < min_installment:
        most = max(int(units // max(to_minor(quantize(min_installment, currency), currency), 1)), 1)
        msg = (
            f"{where}: {total} {currency} in {n} instalments gives instalments of "
            f"{from_minor(base, currency)} {currency}, below the minimum instalment of "
            f"{min_installment} {currency}; offer at most {most} instalments."
        )
        raise PolicyError(msg, field="min_installment")
    rate = Decimal(0) if annual_interest_percent is None else annual_interest_percent
    if not isinstance(rate, Decimal) or not rate.is_finite() or rate < 0:
        msg = f"{where}: annual_interest_percent must be a Decimal >= 0. Got {rate!r} instead."
        raise PolicyError(msg, field="annual_interest_percent")

    amounts = [base + remainder] + [base] * (n - 1)
    step = _INTERVAL_DAYS.get(interval)
    dates: list[date] = []
    for k in range(n):
        nominal = (
            _add_months(first_due, k) if step is None else first_due + timedelta(days=step * k)
        )
        due = nominal if calendar is None else calendar.next_business_day(nominal)
        if dates and due <= dates[-1]:
            due = (
                dates[-1] + timedelta(days=1)
                if calendar is None
                else calendar.add_business_days(dates[-1], 1)
            )
        dates.append(due)

    period = _PERIOD_YEARS[interval]
    outstanding = units
    rows: list[Installment] = []
    for k, (due, amount) in enumerate(zip(dates, amounts, strict=True), start=1):
        interest = quantize(from_minor(outstanding, currency) * rate / 100 * period, currency)
        rows.append(Installment(k, due, from_minor(amount, currency), interest))
        outstanding -= amount
    return InstallmentPlan(
        total=total,
        currency=currency,
        installments=tuple(rows),
        interval=interval,
        annual_interest_percent=annual_interest_percent,
    )


def deferral(
    total: Decimal,
    new_due: date,
    calendar: BusinessCalendar | None = None,
    *,
    currency: str = "EUR",
) -> PaymentDeferral:
    """A payment deferral of ``total`` to ``new_due``, moved to the next business day.

    Parameters
    ----------
    total : Decimal
        The amount deferred, positive and exact in ``currency``.
    new_due : datetime.date
        The new due date asked for.
    calendar : BusinessCalendar or None
        Business-day calendar; ``None`` keeps ``new_due``.
    currency : str, default "EUR"
        ISO 4217 code of ``total``.

    Returns
    -------
    PaymentDeferral

    Raises
    ------
    PolicyError
        If ``total`` is not positive.
    DataError
        If ``total`` is not a ``Decimal`` or has more decimals than ``currency`` allows.

    Examples
    --------
    >>> from datetime import date
    >>> d = deferral(Decimal("250.00"), date(2027, 1, 1), BusinessCalendar("DE"))
    >>> d.requested_due.isoformat(), d.due_date.isoformat()
    ('2027-01-01', '2027-01-04')
    """
    _check_total(total, currency, "deferral")
    due = new_due if calendar is None else calendar.next_business_day(new_due)
    return PaymentDeferral(total=total, currency=currency, requested_due=new_due, due_date=due)


# -- choosing offers --------------------------------------------------------------------


def high_clv_mask(clv: npt.ArrayLike, share: float) -> npt.NDArray[np.bool_]:
    """Which values are in the top ``share`` of the known CLVs (``NaN``: never).

    The cut-off is the ``1 - share`` quantile of the known values, taken as the next
    higher observed value (``method="higher"``); values at or above it are high. So with
    ``share = 0.2`` one of five customers is high, two of ten. ``share = 0``: nobody.

    Examples
    --------
    >>> high_clv_mask([10.0, 50.0, float("nan"), 30.0, 20.0, 40.0], 0.2).tolist()
    [False, True, False, False, False, False]
    """
    values = np.asarray(clv, dtype=np.float64)
    known = ~np.isnan(values)
    if share <= 0 or not known.any():
        return np.zeros(values.shape, dtype=bool)
    cut = np.quantile(values[known], 1 - share, method="higher")
    return known & (values >= cut)


def _share_words(share: float) -> tuple[str, str]:
    named = {0.1: ("tenth", "Zehntel"), 0.2: ("fifth", "Fünftel"), 0.25: ("quarter", "Viertel")}
    for value, (en, de) in named.items():
        if abs(share - value) < 1e-9:
            return f"the top {en}", f"im oberen {de}"
    pct_en = format_decimal(Decimal(str(round(share * 100, 1))), locale="en_GB")
    pct_de = format_decimal(Decimal(str(round(share * 100, 1))), locale="de_DE")
    return f"the top {pct_en}%", f"in den oberen {pct_de}\u00a0%"


@cache
def _money_format(currency: str, locale: str) -> tuple[str, str, str, str, str, str, int]:
    """Babel's currency pattern pieces for ``locale``: prefixes, suffixes, symbols, digits."""
    loc = Locale.parse(locale)
    pattern = loc.currency_formats["standard"]
    symbol = get_currency_symbol(currency, locale=locale)
    symbols = loc.number_symbols["latn"]
    pos_pre, neg_pre = (p.replace("¤", symbol) for p in pattern.prefix)
    pos_suf, neg_suf = (s.replace("¤", symbol) for s in pattern.suffix)
    return (
        pos_pre,
        neg_pre,
        pos_suf,
        neg_suf,
        symbols["group"],
        symbols["decimal"],
        minor_units(currency),
    )


def _money_texts(minor: Sequence[int], currency: str, locale: str) -> list[str]:
    """Format minor units as Babel's ``format_currency`` does (standard pattern, grouping 3)."""
    return [str(text) for text in _money_array(np.asarray(minor, dtype=np.int64), currency, locale)]


@cache
def _digit_tables(
    places: int, dec: str, pos_suf: str, neg_suf: str
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_]]:
    """Lookup tables for :func:`_money_array`.

    ``groups``: the texts of 0-999 unpadded (index 0-999), zero-padded to three digits
    (1000-1999), and ``""`` (2000). ``ending[sign, fraction]``: decimal sign, the fraction
    in ``places`` digits and the suffix, for positive (0) and negative (1) amounts.
    """
    plain = [str(i) for i in range(1000)]
    padded = [f"{i:03d}" for i in range(1000)]
    groups = np.array([*plain, *padded, ""], dtype=object)
    digits = [dec + str(i).rjust(places, "0") if places else "" for i in range(10**places)]
    ending = np.array([[d + pos_suf for d in digits], [d + neg_suf for d in digits]], dtype=object)
    return groups, ending


def _join(columns: Sequence[npt.NDArray[np.object_]]) -> npt.NDArray[np.object_]:
    """Row-wise concatenation of columns of ``str``: one ``str.join`` per row, run by
    ``map`` in C (each text is built once, not copied again for every column added)."""
    count = len(columns[0])
    return np.fromiter(map("".join, zip(*columns, strict=True)), dtype=object, count=count)


def _money_array(
    minor: npt.NDArray[np.int64], currency: str, locale: str
) -> npt.NDArray[np.object_]:
    """:func:`_money_texts` as an object array: each distinct amount once, no per-row Python.

    The thousands groups are looked up in tables of the 1000 three-digit texts, the
    ending (decimal sign, fraction, suffix) in a table of every fraction, and the pieces
    joined with :func:`_join`.
    """
    pos_pre, neg_pre, pos_suf, neg_suf, group, dec, places = _money_format(currency, locale)
    groups, ending = _digit_tables(places, dec, pos_suf, neg_suf)
    uniq, inverse = np.unique(np.asarray(minor, dtype=np.int64), return_inverse=True)
    negative = (uniq < 0).astype(np.intp)
    whole, frac = np.divmod(np.abs(uniq), 10**places)
    parts = [whole % 1000]  # thousands groups, least significant first
    count = np.ones(len(uniq), dtype=np.int64)  # groups each amount has
    rest = whole // 1000
    while rest.any():
        parts.append(rest % 1000)
        count += rest > 0
        rest //= 1000
    columns = [np.array([pos_pre, neg_pre], dtype=object)[negative]]
    for k in range(len(parts) - 1, -1, -1):
        # Group k: unpadded if it is the leading one, padded below it, absent above it.
        which = np.where(count == k + 1, 0, np.where(count > k, 1, 2))
        columns.append(groups[which * 1000 + parts[k] * (which < 2)])
        if k:
            columns.append(np.array(["", group], dtype=object)[(count > k).astype(np.intp)])
    columns.append(ending[negative, frac])
    text = _join(columns)
    return np.asarray(text[inverse].reshape(np.shape(minor)), dtype=object)


def _int_column(cases: pd.DataFrame, name: str) -> npt.NDArray[np.int64]:
    if name not in cases.columns:
        return np.zeros(len(cases), dtype=np.int64)
    values = pd.to_numeric(cases[name], errors="coerce").fillna(0)
    return np.asarray(values.to_numpy(dtype=np.float64).astype(np.int64))


def _per_currency_minor(
    amount: Decimal, currencies: npt.NDArray[np.object_]
) -> npt.NDArray[np.int64]:
    """A policy amount in minor units of each case's currency (same number, no FX)."""
    out = np.zeros(len(currencies), dtype=np.int64)
    for cur in pd.unique(currencies):
        out[currencies == cur] = to_minor(quantize(amount, str(cur)), str(cur))
    return out


def choose_offers(
    cases: pd.DataFrame, policy: Policy | None = None, *, as_of: date | None = None
) -> pd.DataFrame:
    """Choose an offer for every case: eligibility rules, then the highest expected value.

    The rules, the EV formula and the trace are described in the module docstring and in
    ``docs/offers.md``. Policy amounts (minimum total, costs) are compared with case totals
    as the same number in the case currency (no exchange rates).

    Parameters
    ----------
    cases : pandas.DataFrame
        One row per case with ``total`` (``Decimal``), ``currency``, ``risk`` (float in
        [0, 1]; ``NaN``: no offer), ``disputed`` (bool; missing: not disputed) and
        ``level`` (int). Optional: ``total_minor`` (int64, used if present), ``segment``
        (``"B2C"``/``"B2B"``), ``clv`` (float, ``NaN`` allowed), ``broken_promises`` and
        ``earlier_plans`` (ints; missing: 0).
    policy : Policy or None
        The policy; ``None``: ``Policy.default("DE")``.
    as_of : datetime.date or None
        The letter date, for ``deferral_due``; ``None`` leaves ``deferral_due`` empty.

    Returns
    -------
    pandas.DataFrame
        Same index as ``cases``: ``offer, offer_code, offer_reason, offer_reason_de,
        installments, expected_value_none, expected_value_deferral,
        expected_value_installment_plan, deferral_due``.

    Raises
    ------
    DataError
        If a required column is missing.

    Examples
    --------
    >>> from datetime import date
    >>> from decimal import Decimal
    >>> import pandas as pd
    >>> cases = pd.DataFrame({"total": [Decimal("1000.00"), Decimal("300.00"), Decimal("80.00")],
    ...     "currency": ["EUR"] * 3, "risk": [0.34, 0.34, 0.34], "disputed": [False] * 3,
    ...     "level": [2, 2, 2], "clv": [900.0, 100.0, 50.0]})
    >>> out = choose_offers(cases, as_of=date(2026, 12, 18))
    >>> out["offer"].tolist()
    ['installment_plan', 'deferral', 'none']
    >>> def show(text):  # one clause a line; Babel puts no-break spaces before "€"
    ...     print(*text.replace("\\xa0", " ").replace("; ", ", ").split(", "), sep="\\n")
    >>> show(out["offer_reason_de"].iloc[0])
    Ratenzahlung angeboten: CLV im oberen Fünftel
    Risiko mittel (0,34)
    Betrag ≥ 500,00 €
    kein gebrochenes Zahlungsversprechen
    Erwartungswert: Ratenzahlung 795,00 €
    Stundung 705,00 €
    Zahlung in voller Höhe 660,00 €
    >>> out["expected_value_deferral"].iloc[1], out["deferral_due"].iloc[1].date()
    (Decimal('208.00'), datetime.date(2027, 1, 4))
    >>> show(out["offer_reason"].iloc[2])
    no offer: CLV not in the top fifth
    medium risk (0.34)
    amount < €500.00
    no broken payment promise
    expected value: pay in full €52.80
    deferral €51.80
    """
    missing = [c for c in _REQUIRED if c not in cases.columns]
    if missing:
        msg = f"choose_offers: cases lack the column(s) {missing}; expected {list(_REQUIRED)}."
        raise DataError(msg, path="<cases>", missing=missing)
    policy = Policy.default("DE") if policy is None else policy
    rules = policy.offers
    index = cases.index
    n = len(cases)

    currency = cases["currency"].astype("str").to_numpy(dtype=object)
    if "total_minor" in cases.columns:
        total = cases["total_minor"].to_numpy(dtype=np.int64)
    else:
        total = np.array(
            [to_minor(t, str(c)) for t, c in zip(cases["total"], currency, strict=True)],
            dtype=np.int64,
        )
    risk = cases["risk"].to_numpy(dtype=np.float64, na_value=np.nan)
    level = cases["level"].to_numpy(dtype=np.int64)
    disputed = cases["disputed"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    broken = _int_column(cases, "broken_promises")
    earlier = _int_column(cases, "earlier_plans")
    clv = (
        pd.to_numeric(cases["clv"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        if "clv" in cases.columns
        else np.full(n, np.nan)
    )
    high_clv = high_clv_mask(clv, rules.high_clv_share)
    allowed = set(rules.segments)
    if "segment" in cases.columns:
        segment = cases["segment"].astype("str")
        segment_ok = segment.isin(list(allowed)).to_numpy(dtype=bool) | (
            segment.isna().to_numpy(dtype=bool) & (allowed == {"B2C", "B2B"})
        )
    else:
        segment_ok = np.full(n, allowed == {"B2C", "B2B"})

    low, high = rules.installment_risk_range
    no_risk = np.isnan(risk)
    r = np.nan_to_num(risk, nan=1.0)
    min_total = _per_currency_minor(rules.installment_min_total, currency)
    big = total >= min_total

    failed = [
        disputed,
        no_risk,
        ~segment_ok,
        (r < low) & ~high_clv,
        r > high,
        level < rules.installment_min_level,
        broken > rules.max_broken_promises,
    ]
    offer_ok = ~np.logical_or.reduce(failed)
    plan_ok = offer_ok & big & (earlier <= rules.max_earlier_plans)

    # Expected values in minor units; columns in ACTIONS order (simplest first).
    p_none = 1.0 - r
    uplift = (rules.recovery_uplift.deferral, rules.recovery_uplift.installment_plan)
    costs = (
        _per_currency_minor(rules.costs.deferral, currency),
        _per_currency_minor(rules.costs.installment_plan, currency),
    )
    totals_f = total.astype(np.float64)
    ev = np.empty((n, 3), dtype=np.int64)
    ev[:, 0] = np.rint(p_none * totals_f).astype(np.int64)
    for j in (1, 2):
        p = np.minimum(1.0, p_none + uplift[j - 1])
        ev[:, j] = np.rint(p * totals_f).astype(np.int64) - costs[j - 1]
    eligible = np.column_stack([~no_risk, offer_ok, plan_ok])
    floor = np.iinfo(np.int64).min
    choice = np.argmax(np.where(eligible, ev, floor), axis=1)  # first maximum: the simpler
    offer = np.asarray(ACTIONS, dtype=object)[choice]

    first_fail = np.select(failed, list(OFFER_CODES[:7]), default="")
    codes = np.where(
        first_fail != "",
        first_fail,
        np.select([choice == 2, choice == 1], ["ELIGIBLE", "DEFERRAL"], default="PAY_IN_FULL_EV"),
    )

    reason_en, reason_de = _traces(
        codes, choice, eligible, ev, total, min_total, risk, level, broken, earlier,
        high_clv, np.isnan(clv), currency, policy,
    )  # fmt: skip

    ev_columns = {}
    for j, action in enumerate(ACTIONS):
        values: list[Decimal | None] = [
            from_minor(int(v), str(c)) if ok else None
            for v, c, ok in zip(ev[:, j], currency, eligible[:, j], strict=True)
        ]
        ev_columns[f"expected_value_{action}"] = pd.Series(values, index=index, dtype=object)

    due = pd.Series(pd.NaT, index=index, dtype="datetime64[s]")
    if as_of is not None:
        new_due = policy.business_calendar().deadline(as_of, rules.deferral_days)
        due[choice == 1] = pd.Timestamp(new_due)

    return pd.DataFrame(
        {
            "offer": pd.Series(offer, index=index, dtype="str"),
            "offer_code": pd.Series(codes, index=index, dtype="str"),
            "offer_reason": pd.Series(reason_en, index=index, dtype="str"),
            "offer_reason_de": pd.Series(reason_de, index=index, dtype="str"),
            "installments": pd.Series(
                np.where(choice == 2, rules.installments, 0), index=index, dtype=np.int64
            ),
            **ev_columns,
            "deferral_due": due,
        },
        index=index,
    )


def _traces(
    codes: npt.NDArray[np.str_],
    choice: npt.NDArray[np.intp],
    eligible: npt.NDArray[np.bool_],
    ev: npt.NDArray[np.int64],
    total: npt.NDArray[np.int64],
    min_total: npt.NDArray[np.int64],
    risk: npt.NDArray[np.float64],
    level: npt.NDArray[np.int64],
    broken: npt.NDArray[np.int64],
    earlier: npt.NDArray[np.int64],
    high_clv: npt.NDArray[np.bool_],
    clv_missing: npt.NDArray[np.bool_],
    currency: npt.NDArray[np.object_],
    policy: Policy,
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_]]:
    """The rule traces in English and German, as object arrays of ``str``."""
    code = np.full(len(codes), len(OFFER_CODES), dtype=np.int64)
    for k, name in enumerate(OFFER_CODES):
        code[codes == name] = k
    args = (code, choice, eligible, ev, total, min_total, risk, level, broken, earlier)
    extra = (high_clv, clv_missing, currency, policy)
    return _trace_lang("en", *args, *extra), _trace_lang("de", *args, *extra)


def _group_rows(*columns: npt.ArrayLike) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Group the rows that agree in every column: one row of each group, and each row's group.

    Integer columns of a small range are used as they are, others are numbered by
    ``numpy.unique``; the combined key is numbered densely (a lookup table when its range
    is small, else ``numpy.unique``).
    """
    n = len(np.asarray(columns[0]))
    key = np.zeros(n, dtype=np.int64)
    radix = 1
    for column in columns:
        values = np.asarray(column)
        if values.dtype.kind in "biu" and n:
            low = int(values.min())
            size = int(values.max()) - low + 1
            if size <= n + 1024:
                code = values.astype(np.int64) - low
            else:
                uniq, code = np.unique(values, return_inverse=True)
                size = len(uniq)
        else:
            uniq, code = np.unique(values, return_inverse=True)
            size = max(len(uniq), 1)
        if radix * size >= 2**62:
            key = np.unique(key, return_inverse=True)[1].reshape(-1).astype(np.int64)
            radix = int(key.max()) + 1
        key = key * size + code.reshape(-1)
        radix *= size
    if radix <= 4 * n + 1024:
        seen = np.zeros(radix, dtype=np.intp)
        seen[key] = 1
        dense = np.cumsum(seen) - 1
        group = dense[key]
    else:
        group = np.unique(key, return_inverse=True)[1].reshape(-1)
    first = np.zeros(int(group.max()) + 1 if n else 0, dtype=np.intp)
    first[group] = np.arange(n)  # any row of the group: all agree in every column
    return first, group


def _trace_lang(
    lang: Literal["en", "de"],
    code: npt.NDArray[np.int64],
    choice: npt.NDArray[np.intp],
    eligible: npt.NDArray[np.bool_],
    ev: npt.NDArray[np.int64],
    total: npt.NDArray[np.int64],
    min_total: npt.NDArray[np.int64],
    risk: npt.NDArray[np.float64],
    level: npt.NDArray[np.int64],
    broken: npt.NDArray[np.int64],
    earlier: npt.NDArray[np.int64],
    high_clv: npt.NDArray[np.bool_],
    clv_missing: npt.NDArray[np.bool_],
    currency: npt.NDArray[np.object_],
    policy: Policy,
) -> npt.NDArray[np.object_]:
    """One language's traces, without a Python loop per case.

    ``code`` is the position of each case's code in :data:`OFFER_CODES`.

    A trace is a few texts that take few values (written once per distinct combination
    of what they depend on, by the same f-strings, then gathered) and the expected values,
    formatted once per distinct amount (:func:`_money_array`) and joined column-wise.
    """
    rules = policy.offers
    low, high = rules.installment_risk_range
    locale = _LOCALES[lang]
    t = _WORDS[lang]
    head = t["head"]
    n = len(code)
    refused = code < 7  # the first seven codes are failed rules
    rounded = np.round(np.nan_to_num(risk, nan=0.0), 2)
    out = np.empty(n, dtype=object)

    @cache
    def number(value: float) -> str:
        return format_decimal(Decimal(f"{value:.2f}"), format="0.00", locale=locale)

    @cache
    def money(minor: int, currency: str) -> str:
        return _money_texts([minor], currency, locale)[0]

    # Refusals: "<no offer>: <the first failed rule>", one text per distinct refusal.
    rows = np.flatnonzero(refused)
    if rows.size:
        c = code[rows]
        first, group = _group_rows(
            c,
            np.where((c == 3) | (c == 4), rounded[rows], -1.0),  # RISK_TOO_LOW / _HIGH
            np.where(c == 5, level[rows], 0),  # LEVEL_TOO_LOW
            np.where(c == 6, broken[rows], 0),  # BROKEN_PROMISES
        )
        texts = []
        for i in rows[first].tolist():
            name = OFFER_CODES[code[i]]
            if name == "RISK_TOO_LOW":
                detail = t["risk_low"].format(number(rounded[i]), number(low))
            elif name == "RISK_TOO_HIGH":
                detail = t["risk_high"].format(number(rounded[i]), number(high))
            elif name == "LEVEL_TOO_LOW":
                detail = t["level_low"].format(level[i], rules.installment_min_level)
            elif name == "BROKEN_PROMISES":
                detail = t["broken_many"].format(broken[i], rules.max_broken_promises)
            else:
                fixed = {"DISPUTED": "disputed", "RISK_MISSING": "no_risk"}
                detail = t[fixed.get(name, "segment")]
            texts.append(f"{head[0]}: {detail}")
        out[rows] = np.asarray(texts, dtype=object)[group]

    # Offers compared: "<head>: <facts>; <expected value>: <action> <EV>, <action> <EV>"
    # with the eligible actions by EV, highest first (ties: the simpler action first).
    rows = np.flatnonzero(~refused)
    if not rows.size:
        return out
    elig = eligible[rows]
    value = ev[rows]
    order = np.argsort(np.where(elig, -value, np.iinfo(np.int64).max), axis=1, kind="stable")
    n_elig = elig.sum(axis=1)
    at = np.arange(rows.size)
    ev_txt = np.full((rows.size, 3), "", dtype=object)
    cur = currency[rows]
    for c in pd.unique(cur):
        need = (cur == c)[:, None] & elig
        ev_txt[need] = _money_array(value[need], str(c), locale)

    # The part before the first EV in two pieces, each from few values.
    r = risk[rows]
    band = np.where(r < low, 0, np.where(r > high, 2, 1))
    clv_word = np.where(clv_missing[rows], 2, np.where(high_clv[rows], 0, 1))
    top_en, top_de = _share_words(rules.high_clv_share)
    top = top_de if lang == "de" else top_en
    first, group = _group_rows(np.asarray(choice)[rows], clv_word, band, rounded[rows])
    texts = []
    for k, i in zip(first.tolist(), rows[first].tolist(), strict=True):
        clv_part = t["clv"][clv_word[k]].format(top=top)
        texts.append(
            f"{head[int(choice[i])]}: {clv_part}, {t['bands'][band[k]]} ({number(rounded[i])}"
        )
    text = np.asarray(texts, dtype=object)[group]
    first, group = _group_rows(
        total[rows] >= min_total[rows], pd.factorize(cur)[0], min_total[rows], broken[rows],
        earlier[rows], np.where(n_elig > 0, order[:, 0], 3),
    )  # fmt: skip
    texts = []
    for k, i in zip(first.tolist(), rows[first].tolist(), strict=True):
        ge = " ≥ " if total[i] >= min_total[i] else " < "
        min_txt = money(int(min_total[i]), str(currency[i]))
        promises = t["no_broken"] if broken[i] == 0 else t["broken"].format(broken[i])
        plans = "" if earlier[i] == 0 else t["plans"].format(earlier[i], rules.max_earlier_plans)
        action = f"{t['actions'][order[k, 0]]} " if n_elig[k] else ""
        texts.append(f"), {t['amount']}{ge}{min_txt}, {promises}{plans}; {t['ev']}: {action}")
    # Then the first EV and the others, each after ", <action> " ("" where none: the
    # eligible actions come first in ``order`` and ``ev_txt`` is "" where not eligible).
    words = np.asarray([*(f", {w} " for w in t["actions"]), ""], dtype=object)
    columns = [text, np.asarray(texts, dtype=object)[group], ev_txt[at, order[:, 0]]]
    for position in (1, 2):
        columns.append(words[np.where(n_elig > position, order[:, position], 3)])
        columns.append(ev_txt[at, order[:, position]])
    out[rows] = _join(columns)
    return out


_WORDS: dict[str, dict[str, Any]] = {
    "en": {
        "head": ("no offer", "deferral offered", "installment plan offered"),
        "actions": ("pay in full", "deferral", "installment plan"),
        "bands": ("low risk", "medium risk", "high risk"),
        "clv": ("CLV in {top}", "CLV not in {top}", "CLV unknown"),
        "amount": "amount",
        "ev": "expected value",
        "no_broken": "no broken payment promise",
        "broken": "{} broken payment promise(s)",
        "plans": ", {} earlier plan(s) (at most {})",
        "disputed": "the claim is disputed",
        "no_risk": "no risk score",
        "segment": "segment receives no offers",
        "risk_low": "risk {} below {}",
        "risk_high": "risk {} above {}",
        "level_low": "level {} below {}",
        "broken_many": "{} broken payment promise(s) (at most {})",
    },
    "de": {
        "head": ("kein Angebot", "Stundung angeboten", "Ratenzahlung angeboten"),
        "actions": ("Zahlung in voller Höhe", "Stundung", "Ratenzahlung"),
        "bands": ("Risiko niedrig", "Risiko mittel", "Risiko hoch"),
        "clv": ("CLV {top}", "CLV nicht {top}", "CLV unbekannt"),
        "amount": "Betrag",
        "ev": "Erwartungswert",
        "no_broken": "kein gebrochenes Zahlungsversprechen",
        "broken": "{} gebrochene(s) Zahlungsversprechen",
        "plans": ", {} frühere Ratenzahlung(en) (höchstens {})",
        "disputed": "die Forderung ist bestritten",
        "no_risk": "kein Risikowert",
        "segment": "Segment erhält keine Angebote",
        "risk_low": "Risiko {} unter {}",
        "risk_high": "Risiko {} über {}",
        "level_low": "Stufe {} unter {}",
        "broken_many": "{} gebrochene(s) Zahlungsversprechen (höchstens {})",
    },
}
